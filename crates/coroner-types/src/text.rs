//! Names live in one text arena per layer of types. A layer stacked on a base (a
//! module's types on the kernel's) numbers its text after the base's, so a [`Name`]
//! from either layer stays valid in the stacked one — the same numbering split BTF
//! uses for its strings, which lets BTF string offsets serve directly as positions.

/// A handle to a name in a [`crate::Types`]; [`crate::Types::str`] gives its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    start: u32,
    len: u32,
}

impl Name {
    /// The empty name, which BTF gives anonymous types and members.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

/// One layer's text: names separated by NUL bytes, at positions `first..`.
#[derive(Debug, Default)]
pub(crate) struct Text {
    first: u32,
    text: String,
}

impl Text {
    /// An empty arena whose positions start at `first` (the base layer's end).
    pub(crate) fn new(first: u32) -> Text {
        Text {
            first,
            text: String::new(),
        }
    }

    /// A copy of a string section. Bytes that are not UTF-8 become `?` one for one,
    /// so every position still means what it meant in the section.
    pub(crate) fn from_section(first: u32, bytes: &[u8]) -> Text {
        // The common case, checked at memory speed; chunking is for damaged sections.
        if let Ok(valid) = std::str::from_utf8(bytes) {
            return Text {
                first,
                text: valid.to_owned(),
            };
        }
        let mut text = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            text.extend(chunk.invalid().iter().map(|_| '?'));
        }
        Text { first, text }
    }

    /// Position just past this layer's text: where a layer stacked on it starts.
    pub(crate) fn end(&self) -> u64 {
        u64::from(self.first) + self.text.len() as u64
    }

    pub(crate) fn first(&self) -> u32 {
        self.first
    }

    /// Appends a name; `None` when positions would pass `u32::MAX`.
    pub(crate) fn intern(&mut self, name: &str) -> Option<Name> {
        let start = u32::try_from(self.end()).ok()?;
        let len = u32::try_from(name.len()).ok()?;
        u32::try_from(self.end() + u64::from(len) + 1).ok()?;
        self.text.push_str(name);
        self.text.push('\0');
        Some(Name { start, len })
    }

    /// The NUL-terminated name at `pos`, if `pos` lies in this layer, starts a
    /// character and the name ends before the arena does.
    pub(crate) fn name_at(&self, pos: u32) -> Option<Name> {
        let local = usize::try_from(pos.checked_sub(self.first)?).ok()?;
        if !self.text.is_char_boundary(local) || local >= self.text.len() {
            return None;
        }
        let len = self.text.as_bytes()[local..].iter().position(|&b| b == 0)?;
        Some(Name {
            start: pos,
            len: u32::try_from(len).ok()?,
        })
    }

    /// The text of a name of this layer; `None` for a name of another layer.
    pub(crate) fn get(&self, name: Name) -> Option<&str> {
        let local = usize::try_from(name.start.checked_sub(self.first)?).ok()?;
        self.text.get(local..local + name.len as usize)
    }

    pub(crate) fn belongs_below(&self, name: Name) -> bool {
        name.start < self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_section_offsets_even_across_bad_utf8() {
        let text = Text::from_section(100, b"\0int\0\xffx\0long\0");
        let int = text.name_at(101).unwrap();
        assert_eq!(text.get(int), Some("int"));
        assert_eq!(text.get(text.name_at(105).unwrap()), Some("?x"));
        assert_eq!(text.get(text.name_at(108).unwrap()), Some("long"));
        assert_eq!(text.name_at(99), None, "below this layer");
        assert_eq!(text.name_at(113), None, "past the end");
        assert_eq!(text.end(), 113);
    }

    #[test]
    fn a_name_must_start_a_character_and_end_in_a_nul() {
        let text = Text::from_section(0, "\0é\0abc".as_bytes());
        assert_eq!(text.name_at(2), None, "inside a character");
        assert_eq!(text.name_at(5), None, "no NUL before the end");
        assert_eq!(text.get(text.name_at(1).unwrap()), Some("é"));
    }

    #[test]
    fn interned_names_follow_the_base() {
        let mut text = Text::new(10);
        let a = text.intern("task_struct").unwrap();
        let b = text.intern("").unwrap();
        assert_eq!(text.get(a), Some("task_struct"));
        assert_eq!(text.get(b), Some(""));
        assert_eq!(text.name_at(10), Some(a));
        assert!(!text.belongs_below(a));
        assert_eq!(Text::new(0).get(a), None, "a name of another layer");
    }
}
