//! [`Value`]: what a typed object held, as a tree, and gdb's pretty print of it
//! with the settings crash gives gdb (`set print pretty on`, no `<repeats N
//! times>`, at most 256 elements or characters). crash's `struct NAME ADDR`
//! prints this text, so matching it lets coroner's output be compared with crash's.

use coroner_types::crash::Radix;

/// Elements (and characters of a string) gdb prints before `...`: crash sets
/// gdb's `print elements` to 256.
pub const PRINT_MAX: usize = 256;

/// A value read from memory, shaped by its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer (a bitfield's value extended to its type), `size` bytes wide.
    Int {
        value: i128,
        size: u32,
    },
    /// A one-byte integer of a `char` type, which gdb shows as `65 'A'`.
    Char {
        value: i128,
    },
    /// A `_Bool`: gdb prints `true` and `false`, any other value as a number.
    Bool {
        value: i128,
    },
    /// An enum: `label` is the enumerator's name, or the flags it decomposes into
    /// (`(A | B)`), or `None` when gdb prints the number.
    Enum {
        value: i128,
        label: Option<String>,
    },
    Float(f64),
    Pointer(Pointer),
    /// An array of `char` (signed, unsigned, `u8`...), which gdb prints as a string.
    Text(Text),
    /// Other arrays; `more` when elements past [`PRINT_MAX`] were left out.
    Array {
        elements: Vec<Value>,
        more: bool,
    },
    /// A struct or union's members in declaration order.
    Composite(Vec<Field>),
    /// A type with no definition (`struct foo;`).
    Incomplete,
}

/// A struct or union member; `name` is `None` for an anonymous struct or union.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Option<String>,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pointer {
    pub address: u64,
    /// The symbol the address falls in, and the offset into it.
    pub symbol: Option<(String, u64)>,
    /// For a pointer to `char`: the string it points to, or the address where
    /// reading it failed (gdb's `<error: Cannot access memory at address ...>`).
    pub string: Option<PointedString>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PointedString {
    Text(Text),
    /// The string could not be read from this address on; `read` is what was.
    Error {
        read: Text,
        address: u64,
    },
}

/// The characters gdb shows of a string: `more` when it adds `...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub bytes: Vec<u8>,
    pub more: bool,
}

impl Text {
    /// What gdb's `generic_printstr` prints of `bytes`: a trailing NUL is dropped
    /// (unless `more` is forced), then runs of equal characters are taken while
    /// fewer than [`PRINT_MAX`] were (so the last run may pass it).
    pub fn from_bytes(bytes: &[u8], force_more: bool) -> Text {
        let mut len = bytes.len();
        if !force_more && bytes.last() == Some(&0) {
            len -= 1;
        }
        let (mut shown, mut pos) = (0, 0);
        while shown < PRINT_MAX && pos < len {
            let run = bytes[pos..len]
                .iter()
                .take_while(|&&b| b == bytes[pos])
                .count();
            shown += run;
            pos += run;
        }
        Text {
            bytes: bytes[..pos].to_vec(),
            more: force_more || pos < len,
        }
    }

    /// The bytes before the first NUL, as a C string reads (lossy UTF-8).
    pub fn c_str(&self) -> String {
        let end = self.bytes.iter().position(|&b| b == 0);
        String::from_utf8_lossy(&self.bytes[..end.unwrap_or(self.bytes.len())]).into_owned()
    }
}

impl Value {
    /// gdb's text for this value as the member of a struct printed at depth
    /// `recurse` (0 for the outermost struct, whose members sit 2 spaces in).
    pub fn gdb_text(&self, radix: Radix, recurse: usize) -> String {
        let mut out = String::new();
        self.write(&mut out, radix, recurse);
        out
    }

    /// Whether any array or string in the value was cut at [`PRINT_MAX`].
    pub fn is_cut(&self) -> bool {
        match self {
            Value::Text(t) => t.more,
            Value::Array { elements, more } => *more || elements.iter().any(Value::is_cut),
            Value::Composite(fields) => fields.iter().any(|f| f.value.is_cut()),
            _ => false,
        }
    }

    fn write(&self, out: &mut String, radix: Radix, recurse: usize) {
        match self {
            Value::Int { value, size } => number(out, *value, *size, radix),
            Value::Char { value } => {
                number(out, *value, 1, radix);
                if radix == Radix::Decimal {
                    out.push_str(" '");
                    let mut escaped = false;
                    emit_char(out, *value as u8, b'\'', &mut escaped);
                    out.push('\'');
                }
            }
            Value::Bool { value } => match (radix, value) {
                (Radix::Decimal, 0) => out.push_str("false"),
                (Radix::Decimal, 1) => out.push_str("true"),
                _ => number(out, *value, 1, radix),
            },
            Value::Enum { value, label } => match label {
                Some(label) => out.push_str(label),
                None => out.push_str(&value.to_string()),
            },
            Value::Float(f) => out.push_str(&f.to_string()),
            Value::Pointer(p) => pointer(out, p),
            Value::Text(t) => text(out, t),
            Value::Array { elements, more } => {
                out.push('{');
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    element.write(out, radix, recurse + 1);
                }
                if *more {
                    out.push_str("...");
                }
                out.push('}');
            }
            Value::Composite(fields) if fields.is_empty() => out.push_str("{<No data fields>}"),
            Value::Composite(fields) => {
                out.push('{');
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    spaces(out, 2 + 2 * recurse);
                    if let Some(name) = &field.name {
                        out.push_str(name);
                        out.push_str(" = ");
                    }
                    field.value.write(out, radix, recurse + 1);
                }
                out.push('\n');
                spaces(out, 2 * recurse);
                out.push('}');
            }
            Value::Incomplete => out.push_str("<incomplete type>"),
        }
    }
}

fn spaces(out: &mut String, count: usize) {
    out.extend(std::iter::repeat_n(' ', count));
}

/// Decimal, or (crash's `-x`) hex of the value's `size`-byte two's complement.
fn number(out: &mut String, value: i128, size: u32, radix: Radix) {
    match radix {
        Radix::Decimal => out.push_str(&value.to_string()),
        Radix::Hex => {
            let bits = (size * 8).min(128);
            let mask = if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            out.push_str(&format!("{:#x}", value as u128 & mask));
        }
    }
}

fn pointer(out: &mut String, p: &Pointer) {
    out.push_str(&format!("{:#x}", p.address));
    if let Some((name, offset)) = &p.symbol {
        match offset {
            0 => out.push_str(&format!(" <{name}>")),
            _ => out.push_str(&format!(" <{name}+{offset}>")),
        }
    }
    match &p.string {
        Some(PointedString::Text(t)) => {
            out.push(' ');
            text(out, t);
        }
        Some(PointedString::Error { read, address }) => {
            out.push(' ');
            if !read.bytes.is_empty() {
                text(out, read);
            }
            out.push_str(&format!(
                "<error: Cannot access memory at address {address:#x}>"
            ));
        }
        None => {}
    }
}

fn text(out: &mut String, t: &Text) {
    // gdb prints an empty string bare, even when it would add `...`.
    if t.bytes.is_empty() {
        out.push_str("\"\"");
        return;
    }
    out.push('"');
    let mut escaped = false;
    for &b in &t.bytes {
        emit_char(out, b, b'"', &mut escaped);
    }
    out.push('"');
    if t.more {
        out.push_str("...");
    }
}

/// gdb's `print_wchar` for one byte of an ASCII target: C escapes, the quote and
/// backslash escaped, other unprintable bytes in octal; a digit right after an
/// octal escape is escaped too, so the escape cannot swallow it.
fn emit_char(out: &mut String, b: u8, quote: u8, escaped: &mut bool) {
    let after_octal = std::mem::take(escaped);
    let named = match b {
        7 => Some("\\a"),
        8 => Some("\\b"),
        12 => Some("\\f"),
        b'\n' => Some("\\n"),
        b'\r' => Some("\\r"),
        b'\t' => Some("\\t"),
        11 => Some("\\v"),
        _ => None,
    };
    if let Some(named) = named {
        out.push_str(named);
    } else if (0x20..0x7f).contains(&b) && !(after_octal && b.is_ascii_digit()) {
        if b == quote || b == b'\\' {
            out.push('\\');
        }
        out.push(b as char);
    } else {
        out.push_str(&format!("\\{b:03o}"));
        *escaped = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_gdb_prints_them() {
        let t = Text::from_bytes(b"init\0\0\0\0\0\0\0\0\0\0\0\0", false);
        assert_eq!(
            Value::Text(t).gdb_text(Radix::Decimal, 1),
            r#""init\000\000\000\000\000\000\000\000\000\000\000""#
        );
        // A digit after an octal escape is escaped too, and so on.
        let t = Text::from_bytes(b"\x0066.1\"q\\\n\xff", false);
        assert_eq!(
            Value::Text(t).gdb_text(Radix::Decimal, 1),
            r#""\000\066\066.1\"q\\\n\377""#
        );
        assert_eq!(
            Value::Text(Text::from_bytes(b"\0", false)).gdb_text(Radix::Hex, 0),
            "\"\""
        );
        // 300 bytes: cut after the run that passes 256.
        let mut long = vec![b'a'; 250];
        long.extend([b'b'; 10]);
        long.extend([b'c'; 40]);
        let t = Text::from_bytes(&long, false);
        assert_eq!((t.bytes.len(), t.more), (260, true));
    }

    #[test]
    fn scalars_and_structs_as_gdb_prints_them() {
        let s = Value::Composite(vec![
            Field {
                name: Some("a".into()),
                value: Value::Int { value: -1, size: 4 },
            },
            Field {
                name: None,
                value: Value::Composite(vec![Field {
                    name: Some("c".into()),
                    value: Value::Char { value: 39 },
                }]),
            },
            Field {
                name: Some("p".into()),
                value: Value::Pointer(Pointer {
                    address: 0xffffffff81000010,
                    symbol: Some(("_text".into(), 16)),
                    string: None,
                }),
            },
            Field {
                name: Some("e".into()),
                value: Value::Array {
                    elements: vec![Value::Composite(vec![])],
                    more: true,
                },
            },
        ]);
        assert_eq!(
            s.gdb_text(Radix::Decimal, 0),
            "{\n  a = -1,\n  {\n    c = 39 '\\''\n  },\n  p = 0xffffffff81000010 <_text+16>,\n  \
             e = {{<No data fields>}...}\n}"
        );
        assert!(s
            .gdb_text(Radix::Hex, 0)
            .contains("a = 0xffffffff,\n  {\n    c = 0x27\n"));
    }
}
