//! Reading the inputs `Store::add` takes: a file is known by its first bytes
//! (ELF, ar, RPM lead), never by its name; in a package only members that look
//! like a kernel's debug image (`vmlinux*` under `usr/lib/debug`) are filed, each
//! streamed to the store without holding it in memory.

use crate::error::DebuginfoError;
use crate::store::{Added, Store};
use std::io::{BufReader, Read};
use std::path::Path;

const ELF: &[u8] = b"\x7fELF";
const AR: &[u8] = b"!<arch>\n";
const RPM_LEAD: &[u8] = &[0xed, 0xab, 0xee, 0xdb];
/// How deep a directory is walked (`usr/lib/debug/lib/modules/R/vmlinux` is 6).
const MAX_DEPTH: usize = 12;

/// A member path a kernel's debug image has: Debian's `usr/lib/debug/boot/vmlinux-R`,
/// Fedora/RHEL's `usr/lib/debug/lib/modules/R/vmlinux`, SUSE's `vmlinux.debug`.
fn is_vmlinux(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.contains("usr/lib/debug/") && name.starts_with("vmlinux")
}

pub(crate) fn walk(store: &Store, dir: &Path) -> Result<Vec<Added>, DebuginfoError> {
    let mut added = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| DebuginfoError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DebuginfoError::io(&dir, e))?;
            // Symbolic links are not followed: a tree cannot loop or leave itself.
            let kind = entry.file_type().map_err(|e| DebuginfoError::io(&dir, e))?;
            let path = entry.path();
            if kind.is_dir() && depth < MAX_DEPTH {
                pending.push((path, depth + 1));
            } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with("vmlinux") {
                if let Some(a) = elf_file(store, &path)? {
                    added.push(a);
                }
            }
        }
    }
    Ok(added)
}

pub(crate) fn file(store: &Store, path: &Path) -> Result<Vec<Added>, DebuginfoError> {
    let mut magic = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| DebuginfoError::io(path, e))?;
    let n = read_up_to(&mut f, &mut magic).map_err(|e| DebuginfoError::io(path, e))?;
    let magic = &magic[..n];
    if magic.starts_with(ELF) {
        return Ok(elf_file(store, path)?.into_iter().collect());
    }
    if magic.starts_with(AR) {
        return deb(store, path);
    }
    if magic.starts_with(RPM_LEAD) {
        return rpm(store, path);
    }
    Err(DebuginfoError::format(
        path,
        format!("not a vmlinux, .deb/.ddeb or .rpm (it starts with {magic:02x?})"),
    ))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn elf_file(store: &Store, path: &Path) -> Result<Option<Added>, DebuginfoError> {
    let f = std::fs::File::open(path).map_err(|e| DebuginfoError::io(path, e))?;
    store.file_from(f, &path.display().to_string())
}

/// A decompressor chosen by the stream's own magic.
fn decompressed<'r>(
    path: &Path,
    what: &str,
    reader: impl Read + 'r,
) -> Result<Box<dyn Read + 'r>, DebuginfoError> {
    let mut reader = BufReader::new(reader);
    let head = {
        use std::io::BufRead;
        reader
            .fill_buf()
            .map_err(|e| DebuginfoError::io(path, e))?
            .to_vec()
    };
    let bad = |e: std::io::Error| DebuginfoError::format(path, format!("{what}: {e}"));
    Ok(if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(xz2::read::XzDecoder::new_multi_decoder(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(reader).map_err(bad)?)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// A Debian package: `data.tar.*` in the ar archive, its `vmlinux*` members.
fn deb(store: &Store, path: &Path) -> Result<Vec<Added>, DebuginfoError> {
    let f = std::fs::File::open(path).map_err(|e| DebuginfoError::io(path, e))?;
    let mut archive = ar::Archive::new(f);
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| DebuginfoError::format(path, format!("ar archive: {e}")))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        if !name.starts_with("data.tar") {
            continue;
        }
        let what = format!("{name} in the .deb");
        let data = decompressed(path, &what, entry)?;
        return tar_members(store, path, &what, data);
    }
    Err(DebuginfoError::format(
        path,
        "an ar archive without data.tar: not a .deb",
    ))
}

fn tar_members(
    store: &Store,
    path: &Path,
    what: &str,
    data: impl Read,
) -> Result<Vec<Added>, DebuginfoError> {
    let bad = |e: std::io::Error| DebuginfoError::format(path, format!("{what}: {e}"));
    let mut added = Vec::new();
    let mut tar = tar::Archive::new(data);
    for member in tar.entries().map_err(bad)? {
        let mut member = member.map_err(bad)?;
        let name = member.path().map_err(bad)?.to_string_lossy().into_owned();
        if member.header().entry_type().is_file() && is_vmlinux(&name) {
            // A member cut short is a read error from the tar reader.
            let from = format!("{}:{name}", path.display());
            added.extend(store.file_from(&mut member, &from)?);
        }
    }
    Ok(added)
}

/// An RPM: the 96-byte lead, the signature header (padded to 8), the main header,
/// then the payload: a compressed SVR4 (`070701`) cpio archive.
fn rpm(store: &Store, path: &Path) -> Result<Vec<Added>, DebuginfoError> {
    let f = std::fs::File::open(path).map_err(|e| DebuginfoError::io(path, e))?;
    let mut r = BufReader::new(f);
    let bad = |what: String| DebuginfoError::format(path, what);
    let mut lead = [0u8; 96];
    r.read_exact(&mut lead)
        .map_err(|e| bad(format!("RPM lead: {e}")))?;
    skip_header(&mut r, true).map_err(|e| bad(format!("RPM signature header: {e}")))?;
    skip_header(&mut r, false).map_err(|e| bad(format!("RPM header: {e}")))?;
    let payload = decompressed(path, "RPM payload", r)?;
    cpio_members(store, path, payload)
}

/// Skips one RPM header structure (magic, index entries, data store).
fn skip_header(r: &mut impl Read, padded: bool) -> Result<(), String> {
    let mut head = [0u8; 16];
    r.read_exact(&mut head).map_err(|e| e.to_string())?;
    if head[..4] != [0x8e, 0xad, 0xe8, 0x01] {
        return Err(format!("bad magic {:02x?}", &head[..4]));
    }
    let count = u32::from_be_bytes(head[8..12].try_into().expect("4 bytes")) as u64;
    let size = u32::from_be_bytes(head[12..16].try_into().expect("4 bytes")) as u64;
    // rpm's own limits (lib/header.c: hdrchkTags, hdrchkData).
    if count > 0xffff || size > 0x0fff_ffff {
        return Err(format!(
            "{count} entries, {size} bytes: beyond rpm's limits"
        ));
    }
    let mut len = count * 16 + size;
    if padded {
        len += (8 - (16 + len) % 8) % 8;
    }
    let skipped =
        std::io::copy(&mut r.take(len), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if skipped != len {
        return Err("cut short".into());
    }
    Ok(())
}

/// The `vmlinux*` members of a `newc` cpio stream.
fn cpio_members(
    store: &Store,
    path: &Path,
    mut r: impl Read,
) -> Result<Vec<Added>, DebuginfoError> {
    let bad = |what: String| DebuginfoError::format(path, format!("RPM payload (cpio): {what}"));
    let mut added = Vec::new();
    loop {
        let mut head = [0u8; 110];
        r.read_exact(&mut head)
            .map_err(|e| bad(format!("header: {e}")))?;
        match &head[..6] {
            b"070701" | b"070702" => {}
            b"07070X" => {
                return Err(bad(
                    "rpm's stripped headers (files over 4 GiB) are not read".into(),
                ))
            }
            other => {
                return Err(bad(format!(
                    "bad magic {:?}",
                    String::from_utf8_lossy(other)
                )))
            }
        }
        let field = |i: usize| -> Result<u64, DebuginfoError> {
            let text = std::str::from_utf8(&head[6 + i * 8..14 + i * 8])
                .map_err(|_| bad("header field is not hex".into()))?;
            u64::from_str_radix(text, 16).map_err(|_| bad(format!("header field {text:?}")))
        };
        let (mode, size, name_size) = (field(1)?, field(6)?, field(11)?);
        if name_size == 0 || name_size > 4096 {
            return Err(bad(format!("name of {name_size} bytes")));
        }
        let mut name = vec![0u8; name_size as usize];
        r.read_exact(&mut name)
            .map_err(|e| bad(format!("name: {e}")))?;
        skip(&mut r, (4 - (110 + name_size) % 4) % 4).map_err(bad)?;
        let name = String::from_utf8_lossy(&name[..name.len() - 1]).into_owned();
        if name == "TRAILER!!!" {
            return Ok(added);
        }
        let regular = mode & 0o170000 == 0o100000;
        if regular && is_vmlinux(&name) {
            let mut member = (&mut r).take(size);
            let from = format!("{}:{name}", path.display());
            let filed = store.file_from(&mut member, &from)?;
            if member.limit() != 0 {
                return Err(bad(format!("{name}: cut short")));
            }
            added.extend(filed);
        } else {
            skip(&mut r, size).map_err(bad)?;
        }
        skip(&mut r, (4 - size % 4) % 4).map_err(bad)?;
    }
}

fn skip(r: &mut impl Read, len: u64) -> Result<(), String> {
    let n = std::io::copy(&mut r.take(len), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if n != len {
        return Err("cut short".into());
    }
    Ok(())
}
