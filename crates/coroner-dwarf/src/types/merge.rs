//! Units' graphs into one set of types, each type once. The kernel's DWARF
//! repeats every header's types in every unit that includes it, so a type is
//! kept once per:
//!
//! - named struct or union: (kind, name, size, shape), where the shape is a hash
//!   of its members' names, offsets and widths — not of their types, which may
//!   lead back to the struct itself. Two definitions that differ (a name reused
//!   by two files) stay two types; `ptype struct X` shows the first, as gdb does.
//!   A definition's members are read only from the first unit that has it.
//! - anything else: its whole structure, after its parts have been made
//!   canonical (hash-consing). Without a named struct in between, C types
//!   cannot refer to themselves, so this terminates on valid input; malformed
//!   input that loops is an error naming the DIE.

use std::hash::{BuildHasher, Hash, Hasher};

use coroner_types::{
    Array, Composite, Enum, Enumerator, Float, Forward, ForwardKind, Function, Int, IntEncoding,
    Member, Name, Param, Qualifier, Type, TypeId, Typedef, Types, TypesBuilder, MAX_NESTING,
};
use gimli::constants;
use hashbrown::{DefaultHashBuilder, HashMap, HashSet};

use super::scan::{MemberNode, Node, Ref, UnitGraph};
use super::Variable;
use crate::DwarfError;

#[derive(Hash, PartialEq, Eq)]
enum Key {
    Int(Name, u32, bool, u8),
    Float(Name, u32),
    Pointer(TypeId),
    Qualified(u8, TypeId),
    Typedef(Name, TypeId),
    Array(TypeId, Option<u64>),
    Anonymous(bool, u64, Vec<(Option<Name>, TypeId, u64, Option<u32>)>),
    Named(bool, Name, u64, u64),
    Enum(Option<Name>, u32, bool, Vec<(Name, i128)>),
    Forward(u8, Name),
    Function(TypeId, Vec<(Option<Name>, TypeId)>, bool),
}

pub(super) struct Merger<'data> {
    builder: TypesBuilder,
    /// The canonical types, in id order from the builder's next id; a named
    /// struct's slot stays empty until its members are known.
    slots: Vec<Option<Type>>,
    /// Per slot: the DIE it was made from, to name it in errors.
    origins: Vec<usize>,
    keys: HashMap<Key, TypeId>,
    names: HashMap<&'data str, Name>,
    functions: HashSet<(Name, TypeId)>,
    variable_names: HashSet<Name>,
    variables: Vec<Variable>,
    pointer_size: Option<u8>,
    shapes: DefaultHashBuilder,
    /// The types of partial units (dwz's), by DIE offset, for the units that
    /// refer to them; dwz places them before their users.
    imported: HashMap<usize, TypeId>,
}

/// Per unit: the canonical id of each node, and which are being resolved.
struct UnitState {
    done: Vec<Option<TypeId>>,
    open: Vec<bool>,
    /// Named structs given an id whose members are still to be read: (node, slot).
    fill: Vec<(usize, usize)>,
}

fn error(offset: usize, what: impl Into<String>) -> DwarfError {
    DwarfError::new(".debug_info", offset as u64, what)
}

impl<'data> Merger<'data> {
    pub fn new() -> Merger<'data> {
        Merger {
            builder: TypesBuilder::new(),
            slots: Vec::new(),
            origins: Vec::new(),
            keys: HashMap::new(),
            names: HashMap::new(),
            functions: HashSet::new(),
            variable_names: HashSet::new(),
            variables: Vec::new(),
            pointer_size: None,
            shapes: DefaultHashBuilder::default(),
            imported: HashMap::new(),
        }
    }

    pub fn merge(&mut self, g: &UnitGraph<'data>) -> Result<(), DwarfError> {
        self.pointer_size.get_or_insert(g.address_size);
        let mut cx = UnitState {
            done: vec![None; g.nodes.len()],
            open: vec![false; g.nodes.len()],
            fill: Vec::new(),
        };
        for i in 0..g.nodes.len() {
            self.node(g, &mut cx, i, 0)?;
            self.fill(g, &mut cx)?;
        }
        for &(name, at) in &g.functions {
            let proto = self.reference(g, &mut cx, Some(at), 0)?;
            self.fill(g, &mut cx)?;
            let name = self.name(name)?;
            if self.functions.insert((name, proto)) {
                self.builder.add_function(name, proto);
            }
        }
        for v in &g.variables {
            let ty = self.reference(g, &mut cx, v.ty, 0)?;
            self.fill(g, &mut cx)?;
            let name = self.name(v.name)?;
            if self.variable_names.insert(name) {
                self.builder.add_variable(name, ty);
            }
            self.variables.push(Variable {
                name: v.name.to_string(),
                address: v.address,
                ty,
            });
        }
        if g.partial {
            for (&offset, id) in g.offsets.iter().zip(&cx.done) {
                if let Some(id) = id {
                    self.imported.insert(offset, *id);
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(Types, Vec<Variable>), DwarfError> {
        let origins = std::mem::take(&mut self.origins);
        let first = self.builder.next_id().index();
        let slot_of = |id: TypeId| id.index().checked_sub(first).map(|s| s as usize);
        for (slot, ty) in std::mem::take(&mut self.slots).into_iter().enumerate() {
            let ty =
                ty.ok_or_else(|| error(origins[slot], "a struct whose members were never read"))?;
            self.builder
                .add(ty)
                .map_err(|e| error(origins[slot], e.to_string()))?;
        }
        if let Some(bytes) = self.pointer_size {
            self.builder.set_pointer_size(bytes.into());
        }
        let types = self.builder.finish().map_err(|e| {
            let at = match &e {
                coroner_types::ModelError::Dangling { ty, .. }
                | coroner_types::ModelError::WrongKind { ty, .. }
                | coroner_types::ModelError::Cycle { ty }
                | coroner_types::ModelError::TooDeep { ty } => {
                    slot_of(*ty).and_then(|s| origins.get(s).copied())
                }
                coroner_types::ModelError::TooBig => None,
            };
            error(at.unwrap_or(0), e.to_string())
        })?;
        let mut variables = self.variables;
        variables.sort_by(|a, b| (&a.name, a.address).cmp(&(&b.name, b.address)));
        variables.dedup_by(|a, b| a.name == b.name && a.address == b.address);
        Ok((types, variables))
    }

    fn name(&mut self, text: &'data str) -> Result<Name, DwarfError> {
        if let Some(&name) = self.names.get(text) {
            return Ok(name);
        }
        let name = self
            .builder
            .intern(text)
            .map_err(|e| error(0, e.to_string()))?;
        self.names.insert(text, name);
        Ok(name)
    }

    fn reserve(&mut self, origin: usize) -> Result<(usize, TypeId), DwarfError> {
        let slot = self.slots.len();
        let id = u32::try_from(slot)
            .ok()
            .and_then(|s| self.builder.id_ahead(s))
            .ok_or_else(|| error(origin, "more than 2^32 types"))?;
        self.slots.push(None);
        self.origins.push(origin);
        Ok((slot, id))
    }

    /// The id of the type `key` describes, adding `ty` when it is new.
    fn intern(&mut self, key: Key, ty: Type, origin: usize) -> Result<TypeId, DwarfError> {
        if let Some(&id) = self.keys.get(&key) {
            return Ok(id);
        }
        let (slot, id) = self.reserve(origin)?;
        self.slots[slot] = Some(ty);
        self.keys.insert(key, id);
        Ok(id)
    }

    fn reference(
        &mut self,
        g: &UnitGraph<'data>,
        cx: &mut UnitState,
        r: Ref,
        depth: u32,
    ) -> Result<TypeId, DwarfError> {
        let Some(offset) = r else {
            return Ok(TypeId::VOID);
        };
        let i = g
            .node(offset)
            .ok_or_else(|| error(offset, "a reference to a DIE that is not a type"))?;
        self.node(g, cx, i, depth)
    }

    fn node(
        &mut self,
        g: &UnitGraph<'data>,
        cx: &mut UnitState,
        i: usize,
        depth: u32,
    ) -> Result<TypeId, DwarfError> {
        if let Some(id) = cx.done[i] {
            return Ok(id);
        }
        let at = g.offsets[i];
        if cx.open[i] {
            return Err(error(at, "a type that contains itself"));
        }
        if depth > MAX_NESTING {
            return Err(error(
                at,
                format!("types nested more than {MAX_NESTING} deep"),
            ));
        }
        cx.open[i] = true;
        let id = self.build(g, cx, i, depth + 1)?;
        cx.open[i] = false;
        cx.done[i] = Some(id);
        Ok(id)
    }

    fn build(
        &mut self,
        g: &UnitGraph<'data>,
        cx: &mut UnitState,
        i: usize,
        depth: u32,
    ) -> Result<TypeId, DwarfError> {
        let at = g.offsets[i];
        Ok(match &g.nodes[i] {
            Node::Void => TypeId::VOID,
            Node::Elsewhere => *self.imported.get(&at).ok_or_else(|| {
                error(
                    at,
                    "a reference into a unit that is not a partial unit read before",
                )
            })?,
            Node::Alias(r) => self.reference(g, cx, *r, depth)?,
            &Node::Base {
                name,
                size,
                encoding,
            } => {
                let name = self.name(name)?;
                let (key, ty) = base(name, size, encoding);
                self.intern(key, ty, at)?
            }
            Node::Pointer(r) => {
                let t = self.reference(g, cx, *r, depth)?;
                self.intern(Key::Pointer(t), Type::Pointer(t), at)?
            }
            node @ (Node::Const(r) | Node::Volatile(r) | Node::Restrict(r)) => {
                let (qualifier, tag) = match node {
                    Node::Const(_) => (Qualifier::Const, 0),
                    Node::Volatile(_) => (Qualifier::Volatile, 1),
                    _ => (Qualifier::Restrict, 2),
                };
                let t = self.reference(g, cx, *r, depth)?;
                self.intern(Key::Qualified(tag, t), Type::Qualified(qualifier, t), at)?
            }
            &Node::Typedef { name, target } => {
                let target = self.reference(g, cx, target, depth)?;
                let name = self.name(name)?;
                self.intern(
                    Key::Typedef(name, target),
                    Type::Typedef(Typedef { name, target }),
                    at,
                )?
            }
            Node::Array { element, dims } => {
                let mut id = self.reference(g, cx, *element, depth)?;
                for &count in dims.iter().rev() {
                    id = self.intern(
                        Key::Array(id, count),
                        Type::Array(Array { element: id, count }),
                        at,
                    )?;
                }
                id
            }
            Node::Composite {
                union,
                name: Some(name),
                size,
                members,
            } => {
                let name = self.name(name)?;
                let mut shape = self.shapes.build_hasher();
                for m in members {
                    (m.name, m.bit_offset, m.bit_size).hash(&mut shape);
                }
                let shape = shape.finish();
                let key = Key::Named(*union, name, *size, shape);
                if let Some(&id) = self.keys.get(&key) {
                    return Ok(id);
                }
                let (slot, id) = self.reserve(at)?;
                self.keys.insert(key, id);
                cx.fill.push((i, slot));
                id
            }
            Node::Composite {
                union,
                name: None,
                size,
                members,
            } => {
                let members = self.members(g, cx, members, depth)?;
                let key = Key::Anonymous(
                    *union,
                    *size,
                    members
                        .iter()
                        .map(|m| (m.name, m.ty, m.bit_offset, m.bit_size))
                        .collect(),
                );
                let composite = Composite {
                    name: None,
                    size: *size,
                    align: None,
                    members,
                };
                let ty = if *union {
                    Type::Union(composite)
                } else {
                    Type::Struct(composite)
                };
                self.intern(key, ty, at)?
            }
            Node::Enum {
                name,
                size,
                signed,
                values,
            } => {
                let name = name.map(|n| self.name(n)).transpose()?;
                let mut named = Vec::with_capacity(values.len());
                for &(n, v) in values {
                    named.push((self.name(n)?, v));
                }
                let ty = Type::Enum(Enum {
                    name,
                    size: *size,
                    signed: *signed,
                    values: named
                        .iter()
                        .map(|&(name, value)| Enumerator { name, value })
                        .collect(),
                });
                self.intern(Key::Enum(name, *size, *signed, named), ty, at)?
            }
            &Node::Forward { kind, name } => {
                let name = self.name(name)?;
                let tag = match kind {
                    ForwardKind::Struct => 0,
                    ForwardKind::Union => 1,
                    ForwardKind::Enum => 2,
                };
                self.intern(
                    Key::Forward(tag, name),
                    Type::Forward(Forward { name, kind }),
                    at,
                )?
            }
            Node::Function {
                ret,
                params,
                variadic,
            } => {
                let ret = self.reference(g, cx, *ret, depth)?;
                let mut resolved = Vec::with_capacity(params.len());
                for &(name, ty) in params {
                    let name = name.map(|n| self.name(n)).transpose()?;
                    resolved.push((name, self.reference(g, cx, ty, depth)?));
                }
                let ty = Type::Function(Function {
                    ret,
                    params: resolved
                        .iter()
                        .map(|&(name, ty)| Param { name, ty })
                        .collect(),
                    variadic: *variadic,
                });
                self.intern(Key::Function(ret, resolved, *variadic), ty, at)?
            }
        })
    }

    fn members(
        &mut self,
        g: &UnitGraph<'data>,
        cx: &mut UnitState,
        members: &[MemberNode<'data>],
        depth: u32,
    ) -> Result<Vec<Member>, DwarfError> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            out.push(Member {
                name: m.name.map(|n| self.name(n)).transpose()?,
                ty: self.reference(g, cx, m.ty, depth)?,
                bit_offset: m.bit_offset,
                bit_size: m.bit_size,
            });
        }
        Ok(out)
    }

    /// Reads the members of the named structs that got an id in this unit.
    fn fill(&mut self, g: &UnitGraph<'data>, cx: &mut UnitState) -> Result<(), DwarfError> {
        while let Some((i, slot)) = cx.fill.pop() {
            let Node::Composite {
                union,
                name,
                size,
                members,
            } = &g.nodes[i]
            else {
                continue;
            };
            let members = self.members(g, cx, members, 0)?;
            let composite = Composite {
                name: name.map(|n| self.name(n)).transpose()?,
                size: *size,
                align: None,
                members,
            };
            self.slots[slot] = Some(if *union {
                Type::Union(composite)
            } else {
                Type::Struct(composite)
            });
        }
        Ok(())
    }
}

fn base(name: Name, size: u32, encoding: gimli::DwAte) -> (Key, Type) {
    let (signed, encoding_of) = match encoding {
        constants::DW_ATE_float => {
            return (Key::Float(name, size), Type::Float(Float { name, size }));
        }
        constants::DW_ATE_signed => (true, IntEncoding::Number),
        constants::DW_ATE_signed_char => (true, IntEncoding::Char),
        constants::DW_ATE_unsigned_char | constants::DW_ATE_UTF => (false, IntEncoding::Char),
        constants::DW_ATE_boolean => (false, IntEncoding::Bool),
        _ => (false, IntEncoding::Number),
    };
    (
        Key::Int(name, size, signed, encoding.0),
        Type::Int(Int {
            name,
            size,
            signed,
            encoding: encoding_of,
        }),
    )
}
