//! BTF, the kernel's compact type format (Documentation/bpf/btf.rst): a header, a
//! type section and a string section. The kernel keeps its own between `__start_BTF`
//! and `__stop_BTF`, so a dump carries every struct layout of its kernel. Module BTF
//! is "split": its type ids continue after the kernel's.
//!
//! Decoding checks every offset and count against the input, so a corrupt blob is a
//! [`BtfError`] naming where it went wrong, and memory stays proportional to it.

use std::collections::HashMap;

const MAGIC: u16 = 0xeb9f;
const HEADER_MIN: usize = 24;

/// A BTF type id; 0 is `void`.
pub type TypeId = u32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("BTF at byte {offset}: {what}")]
    Corrupt { offset: usize, what: String },
}

fn corrupt(offset: usize, what: impl Into<String>) -> BtfError {
    BtfError::Corrupt {
        offset,
        what: what.into(),
    }
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `None` for anonymous struct/union members.
    pub name: Option<String>,
    pub type_id: TypeId,
    pub bit_offset: u64,
    /// Width of a bitfield; 0 for ordinary members.
    pub bitfield_size: u32,
}

/// One BTF type. References are type ids into the same [`Btf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Void,
    Int {
        name: String,
        size: u32,
        signed: bool,
        bits: u32,
    },
    Ptr(TypeId),
    Array {
        elem: TypeId,
        len: u32,
    },
    Struct {
        name: Option<String>,
        size: u32,
        members: Vec<Member>,
    },
    Union {
        name: Option<String>,
        size: u32,
        members: Vec<Member>,
    },
    Enum {
        name: Option<String>,
        size: u32,
        values: Vec<(String, i64)>,
    },
    Fwd {
        name: String,
        is_union: bool,
    },
    Typedef {
        name: String,
        target: TypeId,
    },
    Volatile(TypeId),
    Const(TypeId),
    Restrict(TypeId),
    Func {
        name: String,
        proto: TypeId,
    },
    FuncProto {
        ret: TypeId,
        params: Vec<(Option<String>, TypeId)>,
    },
    Var {
        name: String,
        target: TypeId,
    },
    Datasec {
        name: String,
        size: u32,
    },
    Float {
        name: String,
        size: u32,
    },
    DeclTag {
        target: TypeId,
    },
    TypeTag {
        target: TypeId,
    },
}

/// A decoded BTF blob (or a module's blob on top of the kernel's).
#[derive(Debug, Clone, Default)]
pub struct Btf {
    /// Index = type id; entry 0 is `void`.
    types: Vec<Type>,
    /// Struct, union, typedef and enum names, first definition wins.
    by_name: HashMap<String, TypeId>,
}

/// Reads a little-endian u32 at `at`, or says where the data ran out.
fn u32_at(data: &[u8], at: usize, what: &str) -> Result<u32, BtfError> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| corrupt(at, format!("{what} runs past the end of the data")))
}

struct Strings<'a> {
    bytes: &'a [u8],
    base: usize,
}

impl Strings<'_> {
    fn get(&self, off: u32) -> Result<Option<String>, BtfError> {
        let rest = self.bytes.get(off as usize..).ok_or_else(|| {
            corrupt(
                self.base,
                format!("string offset {off} past the string section"),
            )
        })?;
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Ok((end > 0).then(|| String::from_utf8_lossy(&rest[..end]).into_owned()))
    }

    fn name(&self, off: u32) -> Result<String, BtfError> {
        Ok(self.get(off)?.unwrap_or_default())
    }
}

impl Btf {
    /// Decodes the kernel's BTF.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let mut btf = Btf {
            types: vec![Type::Void],
            by_name: HashMap::new(),
        };
        btf.extend(data)?;
        Ok(btf)
    }

    /// Adds split BTF (a module's), whose ids continue after the ones already here.
    /// Its string offsets are relative to its own string section.
    pub fn extend(&mut self, data: &[u8]) -> Result<(), BtfError> {
        if data.len() < HEADER_MIN {
            return Err(corrupt(0, "shorter than a BTF header"));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != MAGIC {
            return Err(corrupt(
                0,
                format!("magic {magic:#06x}, expected {MAGIC:#06x}"),
            ));
        }
        if data[2] != 1 {
            return Err(corrupt(2, format!("version {}, expected 1", data[2])));
        }
        let hdr_len = u32_at(data, 4, "header length")? as usize;
        let field = |at: usize| u32_at(data, at, "header").map(|v| v as usize);
        let (type_off, type_len, str_off, str_len) =
            (field(8)?, field(12)?, field(16)?, field(20)?);
        let section = |off: usize, len: usize, what: &str| {
            hdr_len
                .checked_add(off)
                .and_then(|start| Some((start, start.checked_add(len)?)))
                .filter(|&(_, end)| end <= data.len())
                .map(|(start, end)| (start, &data[start..end]))
                .ok_or_else(|| corrupt(8, format!("{what} section lies outside the data")))
        };
        let (types_at, types) = section(type_off, type_len, "type")?;
        let (strings_at, strings) = section(str_off, str_len, "string")?;
        let strings = Strings {
            bytes: strings,
            base: strings_at,
        };
        let mut at = 0;
        while at < types.len() {
            let (ty, next) = decode_type(types, at, &strings).map_err(|e| match e {
                BtfError::Corrupt { offset, what } => BtfError::Corrupt {
                    offset: if offset < types.len() {
                        types_at + offset
                    } else {
                        offset
                    },
                    what,
                },
            })?;
            let id = self.types.len() as TypeId;
            if let Some(name) = indexed_name(&ty) {
                self.by_name.entry(name.to_string()).or_insert(id);
            }
            self.types.push(ty);
            at = next;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    pub fn get(&self, id: TypeId) -> Option<&Type> {
        self.types.get(id as usize)
    }

    /// A struct, union, enum or typedef by name (as crash's `struct NAME` finds it).
    pub fn find(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// Follows typedefs and qualifiers to the type that has a layout. Bounded, so a
    /// cycle in corrupt BTF ends.
    pub fn resolve(&self, mut id: TypeId) -> TypeId {
        for _ in 0..64 {
            match self.get(id) {
                Some(
                    Type::Typedef { target, .. }
                    | Type::Volatile(target)
                    | Type::Const(target)
                    | Type::Restrict(target)
                    | Type::TypeTag { target },
                ) => id = *target,
                _ => return id,
            }
        }
        id
    }

    /// Size in bytes, if the type has one.
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        self.size_bounded(id, 0)
    }

    fn size_bounded(&self, id: TypeId, depth: u32) -> Option<u64> {
        if depth > 64 {
            return None;
        }
        match self.get(self.resolve(id))? {
            Type::Int { size, .. }
            | Type::Struct { size, .. }
            | Type::Union { size, .. }
            | Type::Enum { size, .. }
            | Type::Float { size, .. } => Some(u64::from(*size)),
            Type::Ptr(_) => Some(8),
            Type::Array { elem, len } => self
                .size_bounded(*elem, depth + 1)?
                .checked_mul(u64::from(*len)),
            _ => None,
        }
    }

    /// The members of a struct or union (after typedefs), else empty.
    pub fn members(&self, id: TypeId) -> &[Member] {
        match self.get(self.resolve(id)) {
            Some(Type::Struct { members, .. } | Type::Union { members, .. }) => members,
            _ => &[],
        }
    }

    /// Finds `a.b.c` in a struct, looking through anonymous struct and union members
    /// as C does. Returns the bit offset from the start and the member.
    pub fn member(&self, id: TypeId, path: &str) -> Option<(u64, &Member)> {
        let mut base = 0u64;
        let mut current = id;
        let mut found = None;
        for part in path.split('.') {
            let (off, m) = self.member_named(current, part, 0)?;
            base += off;
            current = m.type_id;
            found = Some(m);
        }
        Some((base, found?))
    }

    fn member_named(&self, id: TypeId, name: &str, depth: u32) -> Option<(u64, &Member)> {
        if depth > 16 {
            return None;
        }
        for m in self.members(id) {
            match &m.name {
                Some(n) if n == name => return Some((m.bit_offset, m)),
                None => {
                    if let Some((off, inner)) = self.member_named(m.type_id, name, depth + 1) {
                        return Some((m.bit_offset + off, inner));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Byte offset of `path` in the named struct: `offset_of("task_struct", "pid")`.
    pub fn offset_of(&self, type_name: &str, path: &str) -> Option<u64> {
        let (bits, _) = self.member(self.find(type_name)?, path)?;
        Some(bits / 8)
    }

    /// `struct list_head *`, `char [16]`, ... as C and crash write a type.
    pub fn type_name(&self, id: TypeId) -> String {
        self.name_bounded(id, 0)
    }

    fn name_bounded(&self, id: TypeId, depth: u32) -> String {
        if depth > 32 {
            return "?".into();
        }
        let anon = |kw: &str, n: &Option<String>| match n {
            Some(n) => format!("{kw} {n}"),
            None => format!("{kw} {{...}}"),
        };
        match self.get(id) {
            None => format!("<bad type {id}>"),
            Some(t) => match t {
                Type::Void => "void".into(),
                Type::Int { name, .. } | Type::Float { name, .. } => name.clone(),
                Type::Ptr(t) => format!("{} *", self.name_bounded(*t, depth + 1)),
                Type::Array { elem, len } => {
                    format!("{} [{len}]", self.name_bounded(*elem, depth + 1))
                }
                Type::Struct { name, .. } => anon("struct", name),
                Type::Union { name, .. } => anon("union", name),
                Type::Enum { name, .. } => anon("enum", name),
                Type::Fwd { name, is_union } => {
                    format!("{} {name}", if *is_union { "union" } else { "struct" })
                }
                Type::Typedef { name, .. } => name.clone(),
                Type::Volatile(t) => format!("volatile {}", self.name_bounded(*t, depth + 1)),
                Type::Const(t) => format!("const {}", self.name_bounded(*t, depth + 1)),
                Type::Restrict(t) => self.name_bounded(*t, depth + 1),
                Type::FuncProto { ret, .. } => {
                    format!("{} (*)()", self.name_bounded(*ret, depth + 1))
                }
                Type::Func { name, .. } | Type::Var { name, .. } | Type::Datasec { name, .. } => {
                    name.clone()
                }
                Type::DeclTag { target } | Type::TypeTag { target } => {
                    self.name_bounded(*target, depth + 1)
                }
            },
        }
    }
}

fn indexed_name(ty: &Type) -> Option<&str> {
    match ty {
        Type::Struct { name: Some(n), .. }
        | Type::Union { name: Some(n), .. }
        | Type::Enum { name: Some(n), .. } => Some(n),
        Type::Typedef { name, .. } => Some(name),
        _ => None,
    }
}

/// Decodes the type at `at`; returns it and the offset of the next one.
fn decode_type(data: &[u8], at: usize, strings: &Strings) -> Result<(Type, usize), BtfError> {
    let name_off = u32_at(data, at, "type name")?;
    let info = u32_at(data, at + 4, "type info")?;
    let size_or_type = u32_at(data, at + 8, "type size")?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 == 1;
    let mut next = at + 12;
    // Each kind is followed by `vlen` records of a fixed size (or one extra word).
    let mut records = |size: usize| -> Result<Vec<usize>, BtfError> {
        let total = vlen
            .checked_mul(size)
            .filter(|&t| next + t <= data.len())
            .ok_or_else(|| {
                corrupt(
                    at,
                    format!("{vlen} records of kind {kind} run past the type section"),
                )
            })?;
        let starts = (0..vlen).map(|i| next + i * size).collect();
        next += total;
        Ok(starts)
    };
    let name = || strings.name(name_off);
    let ty = match kind {
        1 => {
            let enc = u32_at(data, next, "int encoding")?;
            next += 4;
            Type::Int {
                name: name()?,
                size: size_or_type,
                signed: enc >> 24 & 1 == 1,
                bits: enc & 0xff,
            }
        }
        2 => Type::Ptr(size_or_type),
        3 => {
            let a = next;
            next += 12;
            Type::Array {
                elem: u32_at(data, a, "array element type")?,
                len: u32_at(data, a + 8, "array length")?,
            }
        }
        4 | 5 => {
            let mut members = Vec::with_capacity(vlen);
            for m in records(12)? {
                let offset = u32_at(data, m + 8, "member offset")?;
                let (bit_offset, bitfield_size) = if kind_flag {
                    (offset & 0xff_ffff, offset >> 24)
                } else {
                    (offset, 0)
                };
                members.push(Member {
                    name: strings.get(u32_at(data, m, "member name")?)?,
                    type_id: u32_at(data, m + 4, "member type")?,
                    bit_offset: u64::from(bit_offset),
                    bitfield_size,
                });
            }
            let name = strings.get(name_off)?;
            if kind == 4 {
                Type::Struct {
                    name,
                    size: size_or_type,
                    members,
                }
            } else {
                Type::Union {
                    name,
                    size: size_or_type,
                    members,
                }
            }
        }
        6 | 19 => {
            let record = if kind == 6 { 8 } else { 12 };
            let mut values = Vec::with_capacity(vlen);
            for v in records(record)? {
                let lo = u32_at(data, v + 4, "enum value")?;
                let value = if kind == 6 {
                    i64::from(lo as i32)
                } else {
                    let hi = u32_at(data, v + 8, "enum64 value")?;
                    ((u64::from(hi) << 32) | u64::from(lo)) as i64
                };
                values.push((strings.name(u32_at(data, v, "enum name")?)?, value));
            }
            Type::Enum {
                name: strings.get(name_off)?,
                size: size_or_type,
                values,
            }
        }
        7 => Type::Fwd {
            name: name()?,
            is_union: kind_flag,
        },
        8 => Type::Typedef {
            name: name()?,
            target: size_or_type,
        },
        9 => Type::Volatile(size_or_type),
        10 => Type::Const(size_or_type),
        11 => Type::Restrict(size_or_type),
        12 => Type::Func {
            name: name()?,
            proto: size_or_type,
        },
        13 => {
            let mut params = Vec::with_capacity(vlen);
            for p in records(8)? {
                params.push((
                    strings.get(u32_at(data, p, "parameter name")?)?,
                    u32_at(data, p + 4, "parameter type")?,
                ));
            }
            Type::FuncProto {
                ret: size_or_type,
                params,
            }
        }
        14 => {
            next += 4;
            Type::Var {
                name: name()?,
                target: size_or_type,
            }
        }
        15 => {
            records(12)?;
            Type::Datasec {
                name: name()?,
                size: size_or_type,
            }
        }
        16 => Type::Float {
            name: name()?,
            size: size_or_type,
        },
        17 => {
            next += 4;
            Type::DeclTag {
                target: size_or_type,
            }
        }
        18 => Type::TypeTag {
            target: size_or_type,
        },
        other => return Err(corrupt(at, format!("unknown BTF kind {other}"))),
    };
    if next > data.len() {
        return Err(corrupt(at, "type record runs past the type section"));
    }
    Ok((ty, next))
}
