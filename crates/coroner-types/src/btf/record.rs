//! The type section: a sequence of `struct btf_type` records (name offset, info
//! word, size-or-type word), each followed by data whose length its kind and
//! `vlen` fix. Record `n` of a blob has BTF id `first_id + n`. Decoding takes two
//! passes: the first finds every record (so references can point forward), the
//! second turns each into a model type.

use std::collections::HashMap;

use super::header::Reader;
use super::{Btf, BtfError};
use crate::builder::TypesBuilder;
use crate::model::{
    Array, Composite, Enum, Enumerator, Float, Forward, ForwardKind, Function, Int, IntEncoding,
    Member, Name, Param, Qualifier, Type, TypeId, Typedef,
};

/// `BTF_KIND_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_number(n: u32) -> Option<Kind> {
        use Kind::*;
        const KINDS: [Kind; 19] = [
            Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const, Restrict, Func,
            FuncProto, Var, Datasec, Float, DeclTag, TypeTag, Enum64,
        ];
        KINDS.get((n as usize).checked_sub(1)?).copied()
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// Functions, variables, sections and declaration tags describe declarations,
    /// not types; the model keeps functions and variables in tables of their own.
    pub(super) fn is_type(self) -> bool {
        !matches!(self, Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag)
    }

    /// Bytes after the 12-byte common part: (fixed, per `vlen` item).
    fn trailer(self) -> (u64, u64) {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => (4, 0),
            Kind::Array => (12, 0),
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => (0, 12),
            Kind::Enum | Kind::FuncProto => (0, 8),
            _ => (0, 0),
        }
    }
}

/// One record: where it starts, its kind, `vlen` and `kind_flag`.
#[derive(Clone, Copy)]
pub(super) struct Record {
    pub at: usize,
    pub kind: Kind,
    vlen: u32,
    flag: bool,
}

/// Pass one: every record's place, checked to lie inside the type section. The
/// count of records is bounded by the section's length / 12. With `readable_end`
/// inside the section (damaged BTF: nothing past it can be read), records stop at
/// the last one wholly before it.
pub(super) fn index(
    reader: Reader,
    section: std::ops::Range<usize>,
    readable_end: usize,
) -> Result<Vec<Record>, BtfError> {
    let mut records = Vec::new();
    let mut at = section.start;
    while at < section.end {
        if at + 12 > readable_end {
            break;
        }
        if section.end - at < 12 {
            return Err(BtfError::new(
                at,
                "a type record is cut off by the end of the type section",
            ));
        }
        let info = reader.u32(at + 4, "type info")?;
        let number = (info >> 24) & 0x7f;
        let kind = Kind::from_number(number)
            .ok_or_else(|| BtfError::new(at + 4, format!("unknown BTF kind {number}")))?;
        // vlen is 16 bits in released kernels; bits 16-23 were unused (zero) then.
        let vlen = info & 0xff_ffff;
        let (fixed, each) = kind.trailer();
        let len = 12 + fixed + each * u64::from(vlen);
        if len > (section.end - at) as u64 {
            return Err(BtfError::new(
                at,
                format!(
                    "{} record with vlen {vlen} needs {len} bytes, the type section has {} left",
                    kind.name(),
                    section.end - at
                ),
            ));
        }
        if at as u64 + len > readable_end as u64 {
            break;
        }
        records.push(Record {
            at,
            kind,
            vlen,
            flag: info >> 31 == 1,
        });
        at += len as usize;
    }
    Ok(records)
}

/// An INT whose `BTF_INT_BITS`/`BTF_INT_OFFSET` describe a bitfield rather than
/// its size: how members of `kind_flag` 0 structs encode bitfields.
#[derive(Clone, Copy, Debug)]
pub(super) struct IntBits {
    offset: u8,
    bits: u8,
}

pub(super) enum Decoded {
    Type(Type),
    Function(Name, TypeId),
    Variable(Name, TypeId),
    Nothing,
}

/// Pass two: record to model, with every reference checked and renumbered.
pub(super) struct Decoder<'a> {
    pub reader: Reader<'a>,
    pub records: &'a [Record],
    pub base: Option<&'a Btf>,
    /// BTF id of `records[0]`.
    pub first_id: u32,
    /// Per record: its model id, when it is a type.
    pub model_ids: &'a [Option<TypeId>],
    pub odd_ints: &'a mut HashMap<u32, IntBits>,
    pub pointer_size: Option<u64>,
    /// Damaged BTF: ids from here on were in the unreadable part of the type
    /// section; references to them become `void`.
    pub lost_from: Option<u32>,
    /// Damaged BTF: unreadable byte ranges of the string section (offsets in it).
    pub string_holes: &'a [std::ops::Range<usize>],
    /// Set when a name lay in `string_holes`: the record cannot be decoded whole.
    pub unreadable_name: std::cell::Cell<bool>,
    /// The highest id referred to by a decoded record.
    pub highest_ref: std::cell::Cell<u32>,
}

impl Decoder<'_> {
    fn u32(&self, at: usize, what: &str) -> Result<u32, BtfError> {
        self.reader.u32(at, what)
    }

    /// The record for a BTF id of this blob, if it is one.
    fn own(&self, id: u32) -> Option<&Record> {
        self.records.get(id.checked_sub(self.first_id)? as usize)
    }

    /// Whether `id` was in the unreadable part of damaged BTF.
    pub(super) fn is_lost(&self, id: u32) -> bool {
        self.lost_from.is_some_and(|from| id >= from)
    }

    /// The model type a BTF type id (read at `at`) refers to.
    fn type_ref(&self, id: u32, at: usize) -> Result<TypeId, BtfError> {
        self.highest_ref.set(self.highest_ref.get().max(id));
        if self.is_lost(id) {
            return Ok(TypeId::VOID);
        }
        let found = if id < self.first_id {
            match self.base {
                Some(base) => base.type_id(id),
                None => (id == 0).then_some(TypeId::VOID),
            }
        } else {
            let index = (id - self.first_id) as usize;
            if index >= self.records.len() {
                return Err(BtfError::new(
                    at,
                    format!(
                        "type id {id} is past the last one ({})",
                        self.first_id as u64 + self.records.len() as u64 - 1
                    ),
                ));
            }
            self.model_ids[index]
        };
        found.ok_or_else(|| {
            let kind = self.own(id).map_or("a declaration", |r| r.kind.name());
            BtfError::new(at, format!("type id {id} is {kind}, not a type"))
        })
    }

    /// Checks that a BTF id read at `at` exists, whatever it describes.
    fn any_ref(&self, id: u32, at: usize) -> Result<(), BtfError> {
        self.highest_ref.set(self.highest_ref.get().max(id));
        if self.is_lost(id) {
            return Ok(());
        }
        let end = self.first_id as u64 + self.records.len() as u64;
        if u64::from(id) >= end {
            return Err(BtfError::new(
                at,
                format!("id {id} is past the last one ({})", end - 1),
            ));
        }
        Ok(())
    }

    /// The name whose string offset is at `at` ("" for offset 0).
    fn required_name(&self, builder: &TypesBuilder, at: usize) -> Result<Name, BtfError> {
        let off = self.u32(at, "name offset")?;
        if off != 0 && !self.string_holes.is_empty() && self.name_unreadable(builder, off) {
            self.unreadable_name.set(true);
            return Err(BtfError::new(
                at,
                format!("name offset {off} is unreadable"),
            ));
        }
        builder.name_at(off).ok_or_else(|| {
            BtfError::new(
                at,
                format!("name offset {off} does not start a string of the string section"),
            )
        })
    }

    /// Whether the string at `off` (this blob's own) overlaps an unreadable range,
    /// up to and including its NUL.
    fn name_unreadable(&self, builder: &TypesBuilder, off: u32) -> bool {
        let Some(local) = off.checked_sub(builder.text_first()) else {
            return false;
        };
        let local = local as usize;
        let end = match builder.name_at(off) {
            Some(name) => local + name.len() + 1,
            None => local + 1,
        };
        let holes = self.string_holes;
        let i = holes.partition_point(|h| h.end <= local);
        holes.get(i).is_some_and(|h| h.start < end)
    }

    /// A name that may be absent (anonymous structs, unions, members).
    fn name(&self, builder: &TypesBuilder, at: usize) -> Result<Option<Name>, BtfError> {
        let name = self.required_name(builder, at)?;
        Ok((!name.is_empty()).then_some(name))
    }

    pub(super) fn decode(
        &mut self,
        index: usize,
        builder: &TypesBuilder,
    ) -> Result<Decoded, BtfError> {
        let record = self.records[index];
        let at = record.at;
        let word = self.u32(at + 8, "type size")?;
        let body = at + 12;
        let ty = match record.kind {
            Kind::Int => {
                let enc = self.u32(body, "int encoding")?;
                let (flags, offset, bits) = ((enc >> 24) & 0xf, (enc >> 16) & 0xff, enc & 0xff);
                if bits > 128 || u64::from(bits) + u64::from(offset) > 8 * u64::from(word) {
                    return Err(BtfError::new(
                        body,
                        format!("int of {word} bytes with {bits} bits at bit {offset}"),
                    ));
                }
                if u64::from(bits) != 8 * u64::from(word) || offset != 0 {
                    self.odd_ints.insert(
                        self.first_id + index as u32,
                        IntBits {
                            offset: offset as u8,
                            bits: bits as u8,
                        },
                    );
                }
                let name = self.required_name(builder, at)?;
                if matches!(builder.str(name), "long int" | "long unsigned int") {
                    self.pointer_size = Some(u64::from(word));
                }
                Type::Int(Int {
                    name,
                    size: word,
                    signed: flags & 1 != 0,
                    encoding: if flags & 4 != 0 {
                        IntEncoding::Bool
                    } else if flags & 2 != 0 {
                        IntEncoding::Char
                    } else {
                        IntEncoding::Number
                    },
                })
            }
            Kind::Ptr => Type::Pointer(self.type_ref(word, at + 8)?),
            Kind::Array => {
                self.type_ref(self.u32(body + 4, "array index type")?, body + 4)?;
                Type::Array(Array {
                    element: self.type_ref(self.u32(body, "array element type")?, body)?,
                    count: Some(u64::from(self.u32(body + 8, "array length")?)),
                })
            }
            Kind::Struct | Kind::Union => {
                let composite = Composite {
                    name: self.name(builder, at)?,
                    size: u64::from(word),
                    align: None,
                    members: self.members(&record, builder)?,
                };
                if record.kind == Kind::Struct {
                    Type::Struct(composite)
                } else {
                    Type::Union(composite)
                }
            }
            Kind::Enum | Kind::Enum64 => {
                let wide = record.kind == Kind::Enum64;
                let step = if wide { 12 } else { 8 };
                let mut values = Vec::with_capacity(record.vlen as usize);
                for i in 0..record.vlen as usize {
                    let item = body + i * step;
                    let lo = self.u32(item + 4, "enumerator value")?;
                    let raw = if wide {
                        u64::from(self.u32(item + 8, "enumerator value")?) << 32 | u64::from(lo)
                    } else {
                        u64::from(lo)
                    };
                    // kind_flag marks a signed enum; values are sign-extended to the
                    // record's 32 or 64 bits.
                    let value = match (record.flag, wide) {
                        (true, true) => i128::from(raw as i64),
                        (true, false) => i128::from(lo as i32),
                        (false, _) => i128::from(raw),
                    };
                    values.push(Enumerator {
                        name: self.required_name(builder, item)?,
                        value,
                    });
                }
                Type::Enum(Enum {
                    name: self.name(builder, at)?,
                    size: word,
                    signed: record.flag,
                    values,
                })
            }
            Kind::Fwd => Type::Forward(Forward {
                name: self.required_name(builder, at)?,
                kind: if record.flag {
                    ForwardKind::Union
                } else {
                    ForwardKind::Struct
                },
            }),
            Kind::Typedef => Type::Typedef(Typedef {
                name: self.required_name(builder, at)?,
                target: self.type_ref(word, at + 8)?,
            }),
            Kind::Volatile => Type::Qualified(Qualifier::Volatile, self.type_ref(word, at + 8)?),
            Kind::Const => Type::Qualified(Qualifier::Const, self.type_ref(word, at + 8)?),
            Kind::Restrict => Type::Qualified(Qualifier::Restrict, self.type_ref(word, at + 8)?),
            Kind::TypeTag => Type::Qualified(
                Qualifier::Tag(self.required_name(builder, at)?),
                self.type_ref(word, at + 8)?,
            ),
            Kind::FuncProto => self.prototype(&record, word, builder)?,
            Kind::Float => Type::Float(Float {
                name: self.required_name(builder, at)?,
                size: word,
            }),
            Kind::Func | Kind::Var if self.is_lost(word) => {
                self.highest_ref.set(self.highest_ref.get().max(word));
                return Ok(Decoded::Nothing);
            }
            Kind::Func => {
                let proto = self.type_ref(word, at + 8)?;
                if !self.is_prototype(word, proto, builder) {
                    return Err(BtfError::new(
                        at + 8,
                        format!("FUNC type {word} is not a FUNC_PROTO"),
                    ));
                }
                return Ok(Decoded::Function(self.required_name(builder, at)?, proto));
            }
            Kind::Var => {
                let ty = self.type_ref(word, at + 8)?;
                return Ok(Decoded::Variable(self.required_name(builder, at)?, ty));
            }
            Kind::Datasec => {
                for i in 0..record.vlen as usize {
                    let item = body + i * 12;
                    self.any_ref(self.u32(item, "section variable")?, item)?;
                }
                return Ok(Decoded::Nothing);
            }
            Kind::DeclTag => {
                self.any_ref(word, at + 8)?;
                self.required_name(builder, at)?;
                return Ok(Decoded::Nothing);
            }
        };
        Ok(Decoded::Type(ty))
    }

    fn is_prototype(&self, id: u32, proto: TypeId, builder: &TypesBuilder) -> bool {
        match self.own(id) {
            Some(r) => r.kind == Kind::FuncProto,
            None => builder
                .base()
                .is_some_and(|b| matches!(b.get(proto), Some(Type::Function(_)))),
        }
    }

    fn members(&self, record: &Record, builder: &TypesBuilder) -> Result<Vec<Member>, BtfError> {
        let mut members = Vec::with_capacity(record.vlen as usize);
        for i in 0..record.vlen as usize {
            let item = record.at + 12 + i * 12;
            let type_id = self.u32(item + 4, "member type")?;
            let offset = self.u32(item + 8, "member offset")?;
            // kind_flag 1: offset holds the bitfield size (top 8 bits) and the bit
            // offset (low 24). kind_flag 0: a plain bit offset, and a bitfield is a
            // member whose INT type has fewer bits than its size, or a bit offset.
            let (bit_offset, bit_size) = if record.flag {
                (
                    u64::from(offset & 0xff_ffff),
                    Some(offset >> 24).filter(|&s| s > 0),
                )
            } else {
                match self.odd_int(type_id) {
                    Some(int) => (
                        u64::from(offset) + u64::from(int.offset),
                        Some(u32::from(int.bits)),
                    ),
                    None => (u64::from(offset), None),
                }
            };
            members.push(Member {
                name: self.name(builder, item)?,
                ty: self.type_ref(type_id, item + 4)?,
                bit_offset,
                bit_size,
            });
        }
        Ok(members)
    }

    fn odd_int(&self, id: u32) -> Option<IntBits> {
        if id < self.first_id {
            return self.base?.odd_int(id);
        }
        self.odd_ints.get(&id).copied()
    }

    fn prototype(
        &self,
        record: &Record,
        ret: u32,
        builder: &TypesBuilder,
    ) -> Result<Type, BtfError> {
        let mut params = Vec::with_capacity(record.vlen as usize);
        let mut variadic = false;
        for i in 0..record.vlen as usize {
            let item = record.at + 12 + i * 8;
            let (name_off, type_id) = (
                self.u32(item, "parameter name")?,
                self.u32(item + 4, "parameter type")?,
            );
            // A last parameter with neither name nor type is the `...`.
            if type_id == 0 {
                if name_off == 0 && i + 1 == record.vlen as usize {
                    variadic = true;
                    continue;
                }
                return Err(BtfError::new(
                    item + 4,
                    format!("parameter {i} has type void"),
                ));
            }
            params.push(Param {
                name: self.name(builder, item)?,
                ty: self.type_ref(type_id, item + 4)?,
            });
        }
        Ok(Type::Function(Function {
            ret: self.type_ref(ret, record.at + 8)?,
            params,
            variadic,
        }))
    }
}
