//! Finding VMCOREINFO when the container has no note for it (QEMU without the
//! vmcoreinfo device, raw memory images, conversions): the kernel keeps the same
//! text in a page of its own memory, starting with `OSRELEASE=`. When even that is
//! gone, the `Linux version ...` banner still names the release.

use crate::memory::{Dump, PageState, PhysMemory};

const MARKER: &[u8] = b"OSRELEASE=";
/// The kernel's buffer is one page; read two in case the text is not page-aligned.
const WINDOW: usize = 8192;

/// Scans every stored page in physical order for a VMCOREINFO text and returns the
/// first that looks real (several `KEY=VALUE` lines including `PAGESIZE=`), which
/// excludes the `OSRELEASE=%s` format string in the kernel image.
pub fn scan(dump: &Dump) -> Option<Vec<u8>> {
    find_in_pages(dump, MARKER, |paddr| candidate(dump, paddr))
}

const BANNER: &[u8] = b"Linux version ";

/// The release named by the first `Linux version <release> (` banner in memory.
pub fn banner_release(dump: &Dump) -> Option<String> {
    find_in_pages(dump, BANNER, |paddr| {
        let mut buf = [0u8; 128];
        let n = readable_prefix(dump, paddr + BANNER.len() as u64, &mut buf);
        release_from_banner_tail(&buf[..n])
    })
}

/// `6.1.0-56-amd64 (debian-kernel@...` -> `6.1.0-56-amd64`: a version-like word
/// followed by " (", which the format string "Linux version %s" never is.
fn release_from_banner_tail(tail: &[u8]) -> Option<String> {
    let end = tail.iter().position(|&b| b == b' ')?;
    let release = std::str::from_utf8(&tail[..end]).ok()?;
    let plausible = release.len() >= 3
        && release.starts_with(|c: char| c.is_ascii_digit())
        && release.contains('.')
        && release.bytes().all(|b| b.is_ascii_graphic());
    (plausible && tail[end..].starts_with(b" (")).then(|| release.to_string())
}

/// Reads as much of `buf` as the dump holds at `paddr` (the page may end early).
fn readable_prefix(dump: &Dump, paddr: u64, buf: &mut [u8]) -> usize {
    if dump.read_phys(paddr, buf).is_ok() {
        return buf.len();
    }
    let first = ((dump.page_size() - paddr % dump.page_size()) as usize).min(buf.len());
    if dump.read_phys(paddr, &mut buf[..first]).is_ok() {
        first
    } else {
        0
    }
}

/// Searches stored pages in physical order for `needle`; returns the first hit that
/// `accept` turns into a value. A match straddling two pages is not seen: both texts
/// searched for sit page-aligned or well inside a page in real kernels.
fn find_in_pages<T>(dump: &Dump, needle: &[u8], accept: impl Fn(u64) -> Option<T>) -> Option<T> {
    let page_size = dump.page_size();
    let mut page = vec![0u8; page_size as usize];
    let finder = memchr::memmem::Finder::new(needle);
    for (start, end) in dump.stored_ranges() {
        let mut paddr = start - start % page_size;
        while paddr < end {
            let pfn = paddr / page_size;
            if dump.page_state(pfn) == PageState::Present
                && dump.read_phys(paddr, &mut page).is_ok()
            {
                for hit in finder.find_iter(&page) {
                    if let Some(found) = accept(paddr + hit as u64) {
                        return Some(found);
                    }
                }
            }
            paddr += page_size;
        }
    }
    None
}

fn candidate(dump: &Dump, paddr: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; WINDOW];
    // The second page may be absent; a short text still fits in the first.
    let len = readable_prefix(dump, paddr, &mut buf);
    let text = &buf[..len];
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(len)];
    looks_like_vmcoreinfo(text).then(|| text.to_vec())
}

/// Real VMCOREINFO is printable `KEY=VALUE\n` lines, one of them `PAGESIZE=`.
pub(crate) fn looks_like_vmcoreinfo(text: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(text) else {
        return false;
    };
    let lines: Vec<&str> = s.lines().collect();
    lines.len() >= 4
        && lines.iter().all(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()))
        })
        && lines.iter().any(|l| l.starts_with("PAGESIZE="))
        && !s.contains('%')
}

#[cfg(test)]
mod tests {
    use super::{looks_like_vmcoreinfo, release_from_banner_tail};

    #[test]
    fn banner_release_needs_a_version_then_a_parenthesis() {
        let tail = b"6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12";
        assert_eq!(
            release_from_banner_tail(tail).as_deref(),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(release_from_banner_tail(b"%s (%s@%s)"), None);
        assert_eq!(release_from_banner_tail(b"6.1.0-56-amd64"), None);
        assert_eq!(release_from_banner_tail(b"is great ("), None);
    }

    #[test]
    fn accepts_real_text_and_rejects_format_strings() {
        let real = b"OSRELEASE=6.1.0-56-amd64\nBUILD-ID=eb4f\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff\n";
        assert!(looks_like_vmcoreinfo(real));
        assert!(!looks_like_vmcoreinfo(
            b"OSRELEASE=%s\nPAGESIZE=%ld\nA=1\nB=2\n"
        ));
        assert!(!looks_like_vmcoreinfo(b"OSRELEASE=6.1\nPAGESIZE=4096\n"));
        assert!(!looks_like_vmcoreinfo(
            b"OSRELEASE=6.1\n\xff\xfe\nPAGESIZE=4096\nX=1\n"
        ));
    }
}
