//! BTF, the kernel's compact type format (Documentation/bpf/btf.rst), decoded into
//! the type model. The kernel keeps its own BTF between `__start_BTF` and
//! `__stop_BTF` (and in vmlinux's `.BTF` section), so a dump carries every struct
//! layout of its kernel. A module's BTF is "split": its type ids continue after the
//! kernel's, and so do its string offsets.
//!
//! Every offset, count and id is checked against the blob before it is used, so
//! corrupt BTF is a [`BtfError`] naming the byte where it went wrong, work and
//! memory stay proportional to the blob, and nothing read from it can make a later
//! walk loop (the model's builder rejects types that contain themselves).

mod header;
mod record;

use std::collections::HashMap;
use std::sync::Arc;

use crate::builder::{ModelError, TypesBuilder};
use crate::model::{TypeId, Types};
use crate::text::Text;
use record::{Decoded, Decoder, IntBits};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("BTF at byte {offset}: {what}")]
pub struct BtfError {
    /// From the start of the blob.
    pub offset: usize,
    pub what: String,
}

impl BtfError {
    pub(crate) fn new(offset: usize, what: impl Into<String>) -> BtfError {
        BtfError {
            offset,
            what: what.into(),
        }
    }
}

/// A decoded BTF blob: its types in the model, and how BTF ids map onto them.
#[derive(Debug)]
pub struct Btf {
    types: Arc<Types>,
    base: Option<Arc<Btf>>,
    /// BTF id of this blob's first record (1 for a kernel's, after the base's for
    /// split BTF; id 0 is `void`).
    first_id: u32,
    /// Per record: its model id, or `None` for a function, variable, section or tag.
    model_ids: Vec<Option<TypeId>>,
    odd_ints: HashMap<u32, IntBits>,
    damage: Option<BtfDamage>,
}

/// What damaged BTF ([`Btf::parse_damaged`]) lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfDamage {
    /// The blob's length, and the first unreadable byte.
    pub len: usize,
    pub first_unreadable: usize,
    /// When the type section is cut: the BTF id of the first record lost (every
    /// later one is lost too: records have no fixed size, so none can be found
    /// after a hole).
    pub first_lost_id: Option<u32>,
    /// How many ids at least were lost: kept types refer up to `referenced_end - 1`.
    pub referenced_end: u32,
    /// Records kept (types, functions, variables, ...).
    pub records_kept: usize,
    /// Kept records whose name (or a member's, an enumerator's) is unreadable:
    /// their types are `void`, functions and variables dropped.
    pub unnamed: usize,
}

impl BtfDamage {
    /// Ids known to be lost: up to the highest a kept type refers to (more may be).
    pub fn lost_at_least(&self) -> u32 {
        self.first_lost_id
            .map_or(0, |first| self.referenced_end.saturating_sub(first))
    }
}

impl std::fmt::Display for BtfDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unreadable from byte {} of {}",
            self.first_unreadable, self.len
        )?;
        if let Some(first) = self.first_lost_id {
            write!(
                f,
                "; types from id {first} on are lost (at least {}; {} records kept), \
                 references to them read as void",
                self.lost_at_least(),
                self.records_kept
            )?;
        }
        if self.unnamed > 0 {
            write!(
                f,
                "; {} types whose names are unreadable are void",
                self.unnamed
            )?;
        }
        Ok(())
    }
}

impl Btf {
    /// Decodes a kernel's BTF (vmlinux's `.BTF`, or `__start_BTF..__stop_BTF`).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        decode(data, None, &[])
    }

    /// Decodes a kernel's BTF of which the byte ranges `unreadable` (sorted,
    /// disjoint) could not be read: the header must be readable; types are
    /// decoded up to the first unreadable byte of the type section, and
    /// references to later ids read as `void`; a type whose name lies in an
    /// unreadable part of the string section is `void` (a function or variable
    /// is dropped). [`Btf::damage`] says what was lost. Without unreadable
    /// ranges this is [`Btf::parse`].
    pub fn parse_damaged(
        data: &[u8],
        unreadable: &[std::ops::Range<usize>],
    ) -> Result<Btf, BtfError> {
        decode(data, None, unreadable)
    }

    /// What [`Btf::parse_damaged`] could not decode; `None` for whole BTF.
    pub fn damage(&self) -> Option<&BtfDamage> {
        self.damage.as_ref()
    }

    /// Decodes split BTF (a module's `.BTF`) on top of the kernel's.
    pub fn parse_split(base: &Arc<Btf>, data: &[u8]) -> Result<Btf, BtfError> {
        decode(data, Some(base), &[])
    }

    /// The types, shared: a split blob's `Types` is stacked on its base's.
    pub fn types(&self) -> &Arc<Types> {
        &self.types
    }

    /// The model id of a BTF type id (`None` for functions, variables, sections,
    /// declaration tags and ids past the end).
    pub fn type_id(&self, btf_id: u32) -> Option<TypeId> {
        if btf_id < self.first_id {
            return match &self.base {
                Some(base) => base.type_id(btf_id),
                None => (btf_id == 0).then_some(TypeId::VOID),
            };
        }
        *self.model_ids.get((btf_id - self.first_id) as usize)?
    }

    /// One past the last BTF id: where a split blob on this one starts.
    pub fn end_id(&self) -> u32 {
        self.first_id + self.model_ids.len() as u32
    }

    fn odd_int(&self, btf_id: u32) -> Option<IntBits> {
        if btf_id < self.first_id {
            return self.base.as_ref()?.odd_int(btf_id);
        }
        self.odd_ints.get(&btf_id).copied()
    }
}

fn decode(
    data: &[u8],
    base: Option<&Arc<Btf>>,
    unreadable: &[std::ops::Range<usize>],
) -> Result<Btf, BtfError> {
    let unreadable: Vec<std::ops::Range<usize>> = unreadable
        .iter()
        .filter(|h| h.start < h.end && h.start < data.len())
        .map(|h| h.start..h.end.min(data.len()))
        .collect();
    let sections = header::parse(data, &unreadable)?;
    let strings = &data[sections.strings.clone()];
    if base.is_none() && strings.first() != Some(&0) && unreadable.is_empty() {
        return Err(BtfError::new(
            sections.strings.start,
            "the string section does not start with the empty string",
        ));
    }
    let text_start = match base {
        Some(b) => u32::try_from(b.types.text.end()).ok(),
        None => Some(0),
    };
    let too_big = || BtfError::new(16, "string offsets past 4 GiB");
    let text_start = text_start.ok_or_else(too_big)?;
    u32::try_from(u64::from(text_start) + strings.len() as u64).map_err(|_| too_big())?;
    let types_end = unreadable
        .iter()
        .find(|h| h.end > sections.types.start && h.start < sections.types.end)
        .map_or(sections.types.end, |h| h.start.max(sections.types.start));
    let string_holes: Vec<std::ops::Range<usize>> = unreadable
        .iter()
        .filter(|h| h.end > sections.strings.start && h.start < sections.strings.end)
        .map(|h| {
            h.start.max(sections.strings.start) - sections.strings.start
                ..h.end.min(sections.strings.end) - sections.strings.start
        })
        .collect();
    let records = record::index(sections.reader, sections.types.clone(), types_end)?;
    let cut = types_end < sections.types.end;
    let first_id = base.map_or(1, |b| b.end_id());
    if u64::from(first_id) + records.len() as u64 > u64::from(u32::MAX) {
        return Err(BtfError::new(
            sections.types.start,
            "more than 2^32 type ids",
        ));
    }

    let mut builder = TypesBuilder::with_text(
        base.map(|b| Arc::clone(&b.types)),
        Text::from_section(text_start, strings),
    );
    let count = |kind: record::Kind| records.iter().filter(|r| r.kind == kind).count();
    let types = records.iter().filter(|r| r.kind.is_type()).count();
    builder.reserve(types, count(record::Kind::Func), count(record::Kind::Var));
    let mut next = builder.next_id().0;
    let model_ids: Vec<Option<TypeId>> = records
        .iter()
        .map(|r| {
            r.kind.is_type().then(|| {
                next += 1;
                TypeId(next - 1)
            })
        })
        .collect();

    let mut odd_ints = HashMap::new();
    let mut decoder = Decoder {
        reader: sections.reader,
        records: &records,
        base: base.map(|b| &**b),
        first_id,
        model_ids: &model_ids,
        odd_ints: &mut odd_ints,
        pointer_size: None,
        lost_from: cut.then(|| first_id.saturating_add(records.len() as u32)),
        string_holes: &string_holes,
        unreadable_name: std::cell::Cell::new(false),
        highest_ref: std::cell::Cell::new(0),
    };
    let mut unnamed = 0;
    // Damaged BTF: types made void, and functions held back until every type is
    // known (a function whose prototype was made void is dropped).
    let mut voided = Vec::new();
    let mut functions = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let decoded = match decoder.decode(index, &builder) {
            Ok(decoded) => decoded,
            Err(_) if decoder.unreadable_name.replace(false) => {
                unnamed += 1;
                if let Some(id) = model_ids[index] {
                    voided.push(id);
                }
                match record.kind.is_type() {
                    true => Decoded::Type(crate::model::Type::Void),
                    false => Decoded::Nothing,
                }
            }
            Err(e) => return Err(e),
        };
        match decoded {
            Decoded::Type(ty) => {
                builder
                    .add(ty)
                    .map_err(|e| BtfError::new(record.at, e.to_string()))?;
            }
            Decoded::Function(name, proto) if !unreadable.is_empty() => {
                functions.push((name, proto))
            }
            Decoded::Function(name, proto) => builder.add_function(name, proto),
            Decoded::Variable(name, ty) => builder.add_variable(name, ty),
            Decoded::Nothing => {}
        }
    }
    for (name, proto) in functions {
        if voided.binary_search(&proto).is_ok() {
            unnamed += 1;
        } else {
            builder.add_function(name, proto);
        }
    }
    let damage = (!unreadable.is_empty()).then(|| BtfDamage {
        len: data.len(),
        first_unreadable: unreadable[0].start,
        first_lost_id: decoder.lost_from,
        referenced_end: decoder.highest_ref.get().saturating_add(1),
        records_kept: records.len(),
        unnamed,
    });
    if let Some(bytes) = decoder.pointer_size {
        builder.set_pointer_size(bytes);
    }
    // The builder names types by model id; errors point at the record instead.
    let record_of = |id: TypeId| {
        let index = model_ids.iter().position(|m| *m == Some(id))?;
        Some(records[index].at)
    };
    let types = builder.finish().map_err(|e| {
        let ty = match &e {
            ModelError::Dangling { ty, .. }
            | ModelError::WrongKind { ty, .. }
            | ModelError::Cycle { ty }
            | ModelError::TooDeep { ty } => Some(*ty),
            ModelError::TooBig => None,
        };
        let offset = ty.and_then(record_of).unwrap_or(sections.types.start);
        BtfError::new(offset, e.to_string())
    })?;
    Ok(Btf {
        types: Arc::new(types),
        base: base.cloned(),
        first_id,
        model_ids,
        odd_ints,
        damage,
    })
}
