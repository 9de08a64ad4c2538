//! ELF notes: the per-CPU register sets (PRSTATUS), QEMU's CPU state and VMCOREINFO,
//! found in an ELF dump's PT_NOTE segments or a kdump file's note area.

pub const NT_PRSTATUS: u32 = 1;
pub const NT_PRPSINFO: u32 = 3;

/// One note: its owner name (`CORE`, `VMCOREINFO`, `QEMU`, ...), type and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub name: String,
    pub kind: u32,
    pub desc: Vec<u8>,
}

impl Note {
    pub fn is_prstatus(&self) -> bool {
        self.name == "CORE" && self.kind == NT_PRSTATUS
    }

    pub fn is_vmcoreinfo(&self) -> bool {
        self.name == "VMCOREINFO"
    }
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

/// Parses a run of little-endian notes. Stops at the first malformed or zero-sized
/// header (areas are often zero-padded) and says where, so callers can warn.
pub fn parse(data: &[u8]) -> (Vec<Note>, Option<(usize, String)>) {
    let mut notes = Vec::new();
    let mut pos = 0;
    while pos + 12 <= data.len() {
        let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        let (namesz, descsz, kind) = (word(pos) as usize, word(pos + 4) as usize, word(pos + 8));
        if namesz == 0 && descsz == 0 && kind == 0 {
            break; // padding
        }
        let name_at = pos + 12;
        let desc_at = align4(namesz).and_then(|n| name_at.checked_add(n));
        let end = desc_at.and_then(|d| align4(descsz).and_then(|n| d.checked_add(n)));
        let (Some(desc_at), Some(end)) = (desc_at, end) else {
            return (notes, Some((pos, "note sizes overflow".into())));
        };
        // The last note's padding may be cut off; its payload may not.
        if desc_at + descsz > data.len() {
            let what = format!("note of {namesz}+{descsz} bytes runs past the note area");
            return (notes, Some((pos, what)));
        }
        let raw_name = &data[name_at..name_at + namesz];
        let name =
            String::from_utf8_lossy(raw_name.split(|&b| b == 0).next().unwrap_or(&[])).into_owned();
        notes.push(Note {
            name,
            kind,
            desc: data[desc_at..desc_at + descsz].to_vec(),
        });
        pos = end;
    }
    (notes, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((name.len() as u32).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(name);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v.extend(desc);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v
    }

    #[test]
    fn parses_notes_and_stops_at_padding() {
        let mut data = note(b"CORE\0", NT_PRSTATUS, &[1, 2, 3]);
        data.extend(note(b"VMCOREINFO\0", 0, b"OSRELEASE=6.1\n"));
        data.extend([0u8; 24]);
        let (notes, err) = parse(&data);
        assert_eq!(err, None);
        assert_eq!(notes.len(), 2);
        assert!(notes[0].is_prstatus());
        assert_eq!(notes[0].desc, vec![1, 2, 3]);
        assert!(notes[1].is_vmcoreinfo());
    }

    #[test]
    fn reports_a_note_running_past_the_area() {
        let mut data = note(b"CORE\0", NT_PRSTATUS, &[0; 16]);
        data.truncate(30);
        let (notes, err) = parse(&data);
        assert!(notes.is_empty());
        assert_eq!(err.map(|e| e.0), Some(0));
    }
}
