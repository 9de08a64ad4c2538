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
}

impl Btf {
    /// Decodes a kernel's BTF (vmlinux's `.BTF`, or `__start_BTF..__stop_BTF`).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        decode(data, None)
    }

    /// Decodes split BTF (a module's `.BTF`) on top of the kernel's.
    pub fn parse_split(base: &Arc<Btf>, data: &[u8]) -> Result<Btf, BtfError> {
        decode(data, Some(base))
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

fn decode(data: &[u8], base: Option<&Arc<Btf>>) -> Result<Btf, BtfError> {
    let sections = header::parse(data)?;
    let strings = &data[sections.strings.clone()];
    if base.is_none() && strings.first() != Some(&0) {
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
    let records = record::index(sections.reader, sections.types.clone())?;
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
    };
    for (index, record) in records.iter().enumerate() {
        match decoder.decode(index, &builder)? {
            Decoded::Type(ty) => {
                builder
                    .add(ty)
                    .map_err(|e| BtfError::new(record.at, e.to_string()))?;
            }
            Decoded::Function(name, proto) => builder.add_function(name, proto),
            Decoded::Variable(name, ty) => builder.add_variable(name, ty),
            Decoded::Nothing => {}
        }
    }
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
    })
}
