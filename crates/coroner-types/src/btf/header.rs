//! The BTF header and the byte reader the rest of the decoder uses. A blob is
//! `struct btf_header` (magic 0xeb9f, version 1, `hdr_len`, then the type and the
//! string section as offset/length pairs counted from the header's end), in the
//! byte order of the machine that wrote it: the magic says which.

use super::BtfError;

const MAGIC: u16 = 0xeb9f;
/// `sizeof(struct btf_header)` in version 1; newer headers may be longer.
const HEADER_LEN: usize = 24;

/// Reads the blob's integers in its own byte order.
#[derive(Clone, Copy)]
pub(super) struct Reader<'a> {
    pub data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    /// The u32 at `at`, or an error naming `at` and what was being read.
    pub fn u32(&self, at: usize, what: &str) -> Result<u32, BtfError> {
        let bytes: [u8; 4] = at
            .checked_add(4)
            .and_then(|end| self.data.get(at..end))
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| BtfError::new(at, format!("{what} runs past the end of the data")))?;
        Ok(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }
}

/// Where the sections lie, as byte ranges of the whole blob.
pub(super) struct Sections<'a> {
    pub reader: Reader<'a>,
    pub types: std::ops::Range<usize>,
    pub strings: std::ops::Range<usize>,
}

/// `unreadable`: sorted byte ranges of `data` that could not be read (their bytes
/// are meaningless); the header must not be in one.
pub(super) fn parse<'a>(
    data: &'a [u8],
    unreadable: &[std::ops::Range<usize>],
) -> Result<Sections<'a>, BtfError> {
    if data.len() < HEADER_LEN {
        return Err(BtfError::new(
            0,
            format!(
                "{} bytes, fewer than a BTF header's {HEADER_LEN}",
                data.len()
            ),
        ));
    }
    let big_endian = match [data[0], data[1]] {
        m if u16::from_le_bytes(m) == MAGIC => false,
        m if u16::from_be_bytes(m) == MAGIC => true,
        m => {
            return Err(BtfError::new(
                0,
                format!("magic {:02x} {:02x}, not BTF's 0xeb9f", m[0], m[1]),
            ))
        }
    };
    if data[2] != 1 {
        return Err(BtfError::new(2, format!("version {}, expected 1", data[2])));
    }
    let reader = Reader { data, big_endian };
    let header_unreadable = |end: usize| unreadable.iter().find(|h| h.start < end);
    if let Some(h) = header_unreadable(HEADER_LEN) {
        return Err(BtfError::new(h.start, "the header is unreadable"));
    }
    let hdr_len = reader.u32(4, "header length")? as usize;
    if hdr_len < HEADER_LEN || hdr_len > data.len() {
        return Err(BtfError::new(
            4,
            format!(
                "header length {hdr_len} outside {HEADER_LEN}..={}",
                data.len()
            ),
        ));
    }
    let section = |at: usize, what: &str| -> Result<std::ops::Range<usize>, BtfError> {
        let off = reader.u32(at, what)? as usize;
        let len = reader.u32(at + 4, what)? as usize;
        let start = hdr_len + off;
        match start.checked_add(len) {
            Some(end) if end <= data.len() => Ok(start..end),
            _ => Err(BtfError::new(
                at,
                format!(
                    "{what} (offset {off}, length {len} after a {hdr_len}-byte header) ends past the data's {} bytes",
                    data.len()
                ),
            )),
        }
    };
    if let Some(h) = header_unreadable(hdr_len) {
        return Err(BtfError::new(h.start, "the header is unreadable"));
    }
    let types = section(8, "type section")?;
    let strings = section(16, "string section")?;
    let last_unreadable = unreadable
        .iter()
        .any(|h| h.start < strings.end && strings.end <= h.end);
    if strings.end > strings.start && data[strings.end - 1] != 0 && !last_unreadable {
        return Err(BtfError::new(
            strings.end - 1,
            "the string section does not end in a NUL",
        ));
    }
    Ok(Sections {
        reader,
        types,
        strings,
    })
}
