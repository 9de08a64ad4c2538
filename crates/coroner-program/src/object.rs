//! [`Object`]: a value of a kernel type at an address (a `task_struct`, one of its
//! members, an array element), read from the dump on demand. Commands ask objects
//! for members by path and read scalars, pointers and strings through them,
//! instead of computing offsets and walking memory themselves.

use crate::program::Program;
use crate::value::{Field, PointedString, Pointer, Text, Value, PRINT_MAX};
use coroner_kernel::MemError;
use coroner_types::{gdb, IntEncoding, Type, TypeId, Types};

/// Most values one [`Object::value`] builds: far more than the largest kernel
/// struct holds (a `task_struct` is ~1,500), few enough to print in a second.
pub const MAX_VALUES: usize = 1 << 18;

/// A kernel data symbol followed by another within this many bytes extends to it.
const DENSE_GAP: u64 = 64 << 10;
/// How far past a kernel data symbol followed by no other for longer an address
/// is still named after it.
const SPARSE_EXTENT: u64 = 4 << 10;

/// Most bytes of a `char` array read to print it as a string: a string is cut
/// after its first [`PRINT_MAX`] characters, unless they end in a long run.
const MAX_TEXT: u64 = 1 << 16;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Read(#[from] MemError),
    #[error("{ty} has no member {path}")]
    NoMember { ty: String, path: String },
    #[error("{ty} is not {what}")]
    Kind { ty: String, what: &'static str },
    #[error("index {index} is past the end of {ty}")]
    Index { ty: String, index: u64 },
    #[error("more than {MAX_VALUES} values: print one member at a time")]
    TooLarge,
}

/// A bitfield: the bit of the first byte where it starts, and its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bits {
    shift: u8,
    width: u32,
}

/// A typed object in the dump's kernel memory.
#[derive(Clone, Copy)]
pub struct Object<'a> {
    program: &'a Program,
    types: &'a Types,
    ty: TypeId,
    address: u64,
    bits: Option<Bits>,
}

impl<'a> Object<'a> {
    /// The object of type `ty` at `address`; `types` are the program's (or a
    /// module's, stacked on them).
    pub fn new(program: &'a Program, types: &'a Types, ty: TypeId, address: u64) -> Self {
        Object {
            program,
            types,
            ty,
            address,
            bits: None,
        }
    }

    pub fn type_id(&self) -> TypeId {
        self.ty
    }

    /// The types the object's type belongs to.
    pub fn types(&self) -> &'a Types {
        self.types
    }

    /// A member that is a bitfield has no address of its own.
    pub fn is_bitfield(&self) -> bool {
        self.bits.is_some()
    }

    /// Where the object starts (for a bitfield, the byte holding its first bit).
    pub fn address(&self) -> u64 {
        self.address
    }

    /// gdb's name of the type: `struct list_head *`, `char [16]`.
    pub fn type_name(&self) -> String {
        gdb::type_name(self.types, self.ty)
    }

    /// Bytes the object takes (`None` for an incomplete type); a bitfield takes
    /// its type's size.
    pub fn size(&self) -> Option<u64> {
        self.types.size_of(self.ty)
    }

    fn layout(&self) -> &'a Type {
        self.types
            .get(self.types.resolve(self.ty))
            .unwrap_or(&Type::Void)
    }

    fn kind_error(&self, what: &'static str) -> ObjectError {
        ObjectError::Kind {
            ty: self.type_name(),
            what,
        }
    }

    /// The member at `path` (`pid`, `se.on_rq`, `pid_links[1].next`; members of
    /// anonymous structs and unions are found as C finds them).
    pub fn member(&self, path: &str) -> Result<Object<'a>, ObjectError> {
        let field = self
            .types
            .member(self.ty, path)
            .filter(|_| self.bits.is_none())
            .ok_or_else(|| ObjectError::NoMember {
                ty: self.type_name(),
                path: path.to_string(),
            })?;
        Ok(Object {
            ty: field.ty,
            address: self.address.wrapping_add(field.byte_offset()),
            bits: field.bit_size.map(|width| Bits {
                shift: field.bit_in_byte(),
                width,
            }),
            ..*self
        })
    }

    /// Element `index` of an array (checked against its bound, when it has one).
    pub fn element(&self, index: u64) -> Result<Object<'a>, ObjectError> {
        let Type::Array(array) = self.layout() else {
            return Err(self.kind_error("an array"));
        };
        if array.count.is_some_and(|n| n > 0 && index >= n) {
            return Err(ObjectError::Index {
                ty: self.type_name(),
                index,
            });
        }
        let step = self.types.size_of(array.element).unwrap_or(0);
        Ok(Object {
            ty: array.element,
            address: self.address.wrapping_add(step.wrapping_mul(index)),
            bits: None,
            ..*self
        })
    }

    /// The object a pointer points to.
    pub fn deref(&self) -> Result<Object<'a>, ObjectError> {
        let Type::Pointer(target) = self.layout() else {
            return Err(self.kind_error("a pointer"));
        };
        Ok(Object {
            ty: *target,
            address: self.read_unsigned()? as u64,
            bits: None,
            ..*self
        })
    }

    /// Reads `len` bytes from the object's start.
    pub fn read_bytes(&self, len: u64) -> Result<Vec<u8>, ObjectError> {
        let mut buf = vec![0u8; len as usize];
        self.program.read(self.address, &mut buf)?;
        Ok(buf)
    }

    /// The object's bits, zero-extended: an integer, enum, `_Bool`, pointer or
    /// bitfield (masked to its width) of at most 16 bytes.
    pub fn read_unsigned(&self) -> Result<u128, ObjectError> {
        let scalar = matches!(
            self.layout(),
            Type::Int(_) | Type::Enum(_) | Type::Pointer(_)
        );
        let size = self.size().filter(|&s| scalar && (1..=16).contains(&s));
        let size = size.ok_or_else(|| self.kind_error("a scalar"))?;
        let Some(bits) = self.bits else {
            let mut raw = [0u8; 16];
            self.program.read(self.address, &mut raw[..size as usize])?;
            return Ok(u128::from_le_bytes(raw));
        };
        let width = bits.width.min(size as u32 * 8);
        let span = (u32::from(bits.shift) + width).div_ceil(8) as usize;
        let mut raw = [0u8; 32];
        self.program.read(self.address, &mut raw[..span])?;
        let low = u128::from_le_bytes(raw[..16].try_into().expect("16 bytes"));
        let high = u128::from_le_bytes(raw[16..].try_into().expect("16 bytes"));
        let shifted = match bits.shift {
            0 => low,
            s => (low >> s) | (high << (128 - u32::from(s))),
        };
        Ok(mask(shifted, width))
    }

    /// [`Object::read_unsigned`] sign-extended from the object's width.
    pub fn read_signed(&self) -> Result<i128, ObjectError> {
        let raw = self.read_unsigned()?;
        let width = self.width();
        Ok(if width == 0 || width >= 128 {
            raw as i128
        } else {
            ((raw << (128 - width)) as i128) >> (128 - width)
        })
    }

    /// Bits the object's value has: a bitfield's width, else its size.
    fn width(&self) -> u32 {
        let size = self.size().unwrap_or(0).min(16) as u32 * 8;
        self.bits.map_or(size, |b| b.width.min(size))
    }

    /// The NUL-terminated string a `char` array holds or a pointer points to, at
    /// most `max` bytes of it.
    pub fn c_string(&self, max: u64) -> Result<String, ObjectError> {
        let (start, bound) = match self.layout() {
            Type::Array(a) if is_char(self.types, a.element) => {
                (self.address, a.count.unwrap_or(max).min(max))
            }
            Type::Pointer(t) if is_char(self.types, *t) => (self.read_unsigned()? as u64, max),
            _ => return Err(self.kind_error("a string")),
        };
        let read = read_string(self.program, start, bound as usize);
        match read.error {
            Some((_, e)) => Err(ObjectError::Read(e)),
            None => Ok(crate::program::c_string(&read.bytes)),
        }
    }

    /// The whole value, as gdb shows it: members, elements up to [`PRINT_MAX`],
    /// pointers with their symbols and the strings `char *` point to. Fails on
    /// unreadable memory (but a string a pointer points to may be unreadable)
    /// and past [`MAX_VALUES`] values.
    pub fn value(&self) -> Result<Value, ObjectError> {
        let mut budget = MAX_VALUES;
        self.build(&mut budget)
    }

    fn build(&self, budget: &mut usize) -> Result<Value, ObjectError> {
        *budget = budget.checked_sub(1).ok_or(ObjectError::TooLarge)?;
        Ok(match self.layout() {
            Type::Int(int) if int.encoding == IntEncoding::Bool => Value::Bool {
                value: self.read_unsigned()? as i128,
            },
            Type::Int(int) => {
                let value = if int.signed {
                    self.read_signed()?
                } else {
                    self.read_unsigned()? as i128
                };
                match int.size {
                    1 => Value::Char { value },
                    size => Value::Int { value, size },
                }
            }
            Type::Enum(e) => {
                // gdb reads an enum as unsigned unless an enumerator is negative.
                let value = if e.values.iter().any(|v| v.value < 0) {
                    self.read_signed()?
                } else {
                    self.read_unsigned()? as i128
                };
                Value::Enum {
                    value,
                    label: enum_label(self.types, e, value),
                }
            }
            Type::Float(f) => {
                let raw = self.read_bytes(u64::from(f.size))?;
                match f.size {
                    4 => Value::Float(f64::from(f32::from_le_bytes(
                        raw[..4].try_into().expect("4 bytes"),
                    ))),
                    8 => Value::Float(f64::from_le_bytes(raw[..8].try_into().expect("8 bytes"))),
                    // `long double`, which no kernel struct holds: not decoded.
                    _ => Value::Incomplete,
                }
            }
            Type::Pointer(target) => {
                Value::Pointer(self.pointer(self.read_unsigned()? as u64, *target))
            }
            Type::Array(array) => {
                let count = array.count.unwrap_or(0);
                let element_size = self.types.size_of(array.element).unwrap_or(0);
                if count == 0 || element_size == 0 {
                    // gdb shows an array of no length as a pointer to its start.
                    return Ok(Value::Pointer(self.pointer(self.address, array.element)));
                }
                if is_char(self.types, array.element) && element_size == 1 {
                    let bytes = self.read_bytes(count.min(MAX_TEXT))?;
                    let mut text = Text::from_bytes(&bytes, false);
                    text.more |= count > MAX_TEXT && text.bytes.len() == bytes.len();
                    return Ok(Value::Text(text));
                }
                let shown = count.min(PRINT_MAX as u64);
                let elements = (0..shown)
                    .map(|i| self.element(i)?.build(budget))
                    .collect::<Result<_, _>>()?;
                Value::Array {
                    elements,
                    more: count > shown,
                }
            }
            Type::Struct(c) | Type::Union(c) => {
                let mut fields = Vec::with_capacity(c.members.len());
                for member in &c.members {
                    let object = Object {
                        ty: member.ty,
                        address: self.address.wrapping_add(member.bit_offset / 8),
                        bits: member.bit_size.map(|width| Bits {
                            shift: (member.bit_offset % 8) as u8,
                            width,
                        }),
                        ..*self
                    };
                    fields.push(Field {
                        name: member.name.map(|n| self.types.str(n).to_string()),
                        value: object.build(budget)?,
                    });
                }
                Value::Composite(fields)
            }
            Type::Void
            | Type::Forward(_)
            | Type::Function(_)
            | Type::Typedef(_)
            | Type::Qualified(..) => Value::Incomplete,
        })
    }

    /// A pointer value to `target`: its symbol, and for `char` the string.
    pub fn pointer(&self, address: u64, target: TypeId) -> Pointer {
        let string = (address != 0 && is_char(self.types, target)).then(|| {
            let read = read_string(self.program, address, PRINT_MAX);
            match read.error {
                Some((at, _)) => PointedString::Error {
                    read: Text::from_bytes(&read.bytes, false),
                    address: at,
                },
                None => {
                    // gdb adds `...` when no NUL came and the next byte is not one.
                    let end = address.wrapping_add(read.bytes.len() as u64);
                    let mut next = [0u8];
                    let more =
                        !read.nul && self.program.read(end, &mut next).is_ok() && next[0] != 0;
                    PointedString::Text(Text::from_bytes(&read.bytes, more))
                }
            }
        });
        Pointer {
            address,
            symbol: self.symbol(address),
            string,
        }
    }

    /// The symbol gdb names for an address: one of vmlinux's (the kernel image,
    /// `_text` to `_end`; see [`DENSE_GAP`] for data) or of the
    /// module whose core memory holds it; nothing for the direct map, vmalloc or
    /// user addresses.
    fn symbol(&self, address: u64) -> Option<(String, u64)> {
        let program = self.program;
        let in_image = program
            .address_of("_text")
            .zip(program.address_of("_end"))
            .is_some_and(|(start, end)| (start..end).contains(&address));
        let module = program
            .modules()
            .iter()
            .find(|m| (m.base..m.base.saturating_add(m.size)).contains(&address));
        if !in_image && module.is_none() {
            return None;
        }
        let symbols = program.symbols();
        let (symbol, offset) = match (symbols.lookup(address), module) {
            (Some(found), _) => found,
            // The table ends its last symbol there; a module's last one spans the
            // rest of the module, as crash's module lookup has it.
            (None, Some(m)) => symbols
                .iter()
                .filter(|s| s.module.as_deref() == Some(m.name.as_str()) && s.address <= address)
                .max_by_key(|s| s.address)
                .map(|s| (s, address - s.address))?,
            (None, None) => return None,
        };
        let owner_matches = match module {
            Some(m) => symbol.module.as_deref() == Some(m.name.as_str()),
            // gdb names an address only inside its symbol, and kallsyms has no
            // sizes: functions end at the next symbol, and so does data where
            // symbols are close together, but a symbol before a long stretch of
            // unnamed string literals would claim them all.
            None => {
                symbol.module.is_none()
                    && (symbol.is_text()
                        || offset < SPARSE_EXTENT
                        || symbols.size(symbol).is_some_and(|gap| gap <= DENSE_GAP))
            }
        };
        owner_matches.then(|| (symbol.name.clone(), offset))
    }
}

fn mask(value: u128, width: u32) -> u128 {
    if width >= 128 {
        value
    } else {
        value & ((1u128 << width) - 1)
    }
}

/// A one-byte integer that is not `_Bool` (`char`, `u8`, `signed char`): gdb
/// prints arrays of and pointers to it as strings.
pub(crate) fn is_char(types: &Types, id: TypeId) -> bool {
    matches!(
        types.get(types.resolve(id)),
        Some(Type::Int(int)) if int.size == 1 && int.encoding != IntEncoding::Bool
    )
}

/// What [`read_string`] got: the bytes (with the NUL, if one came), whether a NUL
/// ended them, and where and why reading failed, if it did.
struct StringRead {
    bytes: Vec<u8>,
    nul: bool,
    error: Option<(u64, MemError)>,
}

/// Reads a NUL-terminated string of at most `max` bytes, page by page, so the
/// bytes before an unreadable page still count.
fn read_string(program: &Program, start: u64, max: usize) -> StringRead {
    const PAGE: u64 = 4096;
    let mut bytes = Vec::new();
    while bytes.len() < max {
        let at = start.wrapping_add(bytes.len() as u64);
        let chunk = ((PAGE - at % PAGE) as usize).min(max - bytes.len());
        let mut buf = vec![0u8; chunk];
        if let Err(e) = program.read(at, &mut buf) {
            return StringRead {
                bytes,
                nul: false,
                error: Some((at, e)),
            };
        }
        if let Some(nul) = buf.iter().position(|&b| b == 0) {
            bytes.extend_from_slice(&buf[..=nul]);
            return StringRead {
                bytes,
                nul: true,
                error: None,
            };
        }
        bytes.extend_from_slice(&buf);
    }
    StringRead {
        bytes,
        nul: false,
        error: None,
    }
}

/// gdb's `generic_val_print_enum_1`: the enumerator's name; for a flag enum
/// (every value a single bit, or 0), the flags set, `(A | B | unknown: 0x8)`;
/// else `None`, for the number.
fn enum_label(types: &Types, e: &coroner_types::Enum, value: i128) -> Option<String> {
    let name = |v: &coroner_types::Enumerator| types.str(v.name).to_string();
    if let Some(v) = e.values.iter().find(|v| v.value == value) {
        return Some(name(v));
    }
    let flag_enum = e
        .values
        .iter()
        .all(|v| v.value >= 0 && (v.value as u128).count_ones() <= 1);
    if !flag_enum {
        return None;
    }
    let mut left = value;
    let mut parts = Vec::new();
    for v in &e.values {
        if left & v.value != 0 {
            left &= !v.value;
            parts.push(name(v));
        }
    }
    if left != 0 {
        parts.push(format!("unknown: {left:#x}"));
    }
    Some(match parts.is_empty() {
        true => "0".to_string(),
        false => format!("({})", parts.join(" | ")),
    })
}
