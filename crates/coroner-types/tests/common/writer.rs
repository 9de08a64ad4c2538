//! Writes BTF blobs record by record, so tests can state exactly which bytes a
//! kernel (or a corruption of one) would produce. Follows Documentation/bpf/btf.rst.

pub const INT: u32 = 1;
pub const PTR: u32 = 2;
pub const ARRAY: u32 = 3;
pub const STRUCT: u32 = 4;
pub const UNION: u32 = 5;
pub const ENUM: u32 = 6;
pub const FWD: u32 = 7;
pub const TYPEDEF: u32 = 8;
pub const VOLATILE: u32 = 9;
pub const CONST: u32 = 10;
pub const RESTRICT: u32 = 11;
pub const FUNC: u32 = 12;
pub const FUNC_PROTO: u32 = 13;
pub const VAR: u32 = 14;
pub const DATASEC: u32 = 15;
pub const FLOAT: u32 = 16;
pub const DECL_TAG: u32 = 17;
pub const TYPE_TAG: u32 = 18;
pub const ENUM64: u32 = 19;

pub struct Blob {
    /// Type section as u32 words (every record is a whole number of words).
    words: Vec<u32>,
    strings: Vec<u8>,
    /// Offset of `strings[0]` (the base's string section length for split BTF).
    string_base: u32,
    next_id: u32,
    pub big_endian: bool,
    /// Bytes beyond the 24 of a version 1 header.
    pub header_extra: u32,
}

impl Blob {
    /// A kernel's BTF: ids from 1, strings from the empty string at 0.
    pub fn new() -> Blob {
        Blob {
            words: Vec::new(),
            strings: vec![0],
            string_base: 0,
            next_id: 1,
            big_endian: false,
            header_extra: 0,
        }
    }

    /// Split BTF on a base with `base_ids` ids and `base_strings` bytes of strings.
    pub fn split(base_ids: u32, base_strings: u32) -> Blob {
        Blob {
            words: Vec::new(),
            strings: Vec::new(),
            string_base: base_strings,
            next_id: base_ids,
            big_endian: false,
            header_extra: 0,
        }
    }

    pub fn string(&mut self, s: &str) -> u32 {
        let at = self.string_base + self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        at
    }

    /// A raw record: common part then `extra` words. Returns its id.
    pub fn record(
        &mut self,
        name: u32,
        kind: u32,
        vlen: u32,
        flag: bool,
        word: u32,
        extra: &[u32],
    ) -> u32 {
        self.words.push(name);
        self.words
            .push((u32::from(flag) << 31) | (kind << 24) | vlen);
        self.words.push(word);
        self.words.extend_from_slice(extra);
        self.next_id += 1;
        self.next_id - 1
    }

    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let n = self.string(name);
        self.record(
            n,
            INT,
            0,
            false,
            size,
            &[(u32::from(signed) << 24) | (size * 8)],
        )
    }

    pub fn ptr(&mut self, target: u32) -> u32 {
        self.record(0, PTR, 0, false, target, &[])
    }

    pub fn array(&mut self, elem: u32, index: u32, count: u32) -> u32 {
        self.record(0, ARRAY, 0, false, 0, &[elem, index, count])
    }

    /// A struct (or union) of `kind_flag` 1: members are (name, type, bit offset,
    /// bitfield size).
    pub fn composite(
        &mut self,
        kind: u32,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let n = if name.is_empty() {
            0
        } else {
            self.string(name)
        };
        let mut extra = Vec::new();
        for &(m, ty, bit, bits) in members {
            let mn = if m.is_empty() { 0 } else { self.string(m) };
            extra.extend_from_slice(&[mn, ty, (bits << 24) | bit]);
        }
        self.record(n, kind, members.len() as u32, true, size, &extra)
    }

    pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
        let n = self.string(name);
        self.record(n, TYPEDEF, 0, false, target, &[])
    }

    pub fn proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let mut extra = Vec::new();
        for &(p, ty) in params {
            let pn = if p.is_empty() { 0 } else { self.string(p) };
            extra.extend_from_slice(&[pn, ty]);
        }
        self.record(0, FUNC_PROTO, params.len() as u32, false, ret, &extra)
    }

    pub fn bytes(&self) -> Vec<u8> {
        let word = |v: u32| {
            if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let hdr_len = 24 + self.header_extra;
        let type_len = 4 * self.words.len() as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&if self.big_endian {
            0xeb9fu16.to_be_bytes()
        } else {
            0xeb9fu16.to_le_bytes()
        });
        out.extend_from_slice(&[1, 0]);
        for v in [hdr_len, 0, type_len, type_len, self.strings.len() as u32] {
            out.extend_from_slice(&word(v));
        }
        out.resize(hdr_len as usize, 0);
        for &w in &self.words {
            out.extend_from_slice(&word(w));
        }
        out.extend_from_slice(&self.strings);
        out
    }

    /// Byte offset (in `bytes()`) of the type section's word `index`.
    pub fn word_offset(&self, index: usize) -> usize {
        24 + self.header_extra as usize + 4 * index
    }

    /// The id the next record gets.
    pub fn peek_next_id(&self) -> u32 {
        self.next_id
    }

    pub fn words(&self) -> usize {
        self.words.len()
    }
}
