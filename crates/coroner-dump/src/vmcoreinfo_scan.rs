//! Finding VMCOREINFO when the container has no note for it (QEMU without the
//! vmcoreinfo device, raw memory images, conversions): the kernel keeps the same
//! text in a page of its own memory, starting with `OSRELEASE=`.

use crate::memory::{Dump, PageState, PhysMemory};

const MARKER: &[u8] = b"OSRELEASE=";
/// The kernel's buffer is one page; read two in case the text is not page-aligned.
const WINDOW: usize = 8192;

/// Scans every stored page in physical order for a VMCOREINFO text and returns the
/// first that looks real (several `KEY=VALUE` lines including `PAGESIZE=`), which
/// excludes the `OSRELEASE=%s` format string in the kernel image.
pub fn scan(dump: &Dump) -> Option<Vec<u8>> {
    let page_size = dump.page_size();
    let mut page = vec![0u8; page_size as usize];
    let finder = memchr::memmem::Finder::new(MARKER);
    for (start, end) in dump.stored_ranges() {
        let mut paddr = start - start % page_size;
        while paddr < end {
            let pfn = paddr / page_size;
            if dump.page_state(pfn) == PageState::Present
                && dump.read_phys(paddr, &mut page).is_ok()
            {
                for hit in finder.find_iter(&page) {
                    if let Some(text) = candidate(dump, paddr + hit as u64) {
                        return Some(text);
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
    let len = if dump.read_phys(paddr, &mut buf).is_ok() {
        WINDOW
    } else {
        let in_page = (paddr % dump.page_size()) as usize;
        let first = dump.page_size() as usize - in_page;
        dump.read_phys(paddr, &mut buf[..first]).ok()?;
        first
    };
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
    use super::looks_like_vmcoreinfo;

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
