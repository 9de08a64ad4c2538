//! Layout answered from the model: sizes, alignment, and members by name, looking
//! through anonymous structs and unions as C does (`task_struct.__state`, the
//! members of `struct page`'s anonymous unions). Walks recurse freely: the builder
//! guaranteed that nothing contains itself and that chains are short.

use std::collections::HashSet;

use crate::model::{Composite, Member, Type, TypeId, Types};

/// What a member path names: a member, or an element of an array member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub ty: TypeId,
    /// From the start of the outermost type.
    pub bit_offset: u64,
    /// Width of a bitfield; `None` for anything else.
    pub bit_size: Option<u32>,
}

impl Field {
    /// Offset of the byte holding the field's first bit.
    pub fn byte_offset(&self) -> u64 {
        self.bit_offset / 8
    }

    /// Bit of that byte where the field starts (0 unless a bitfield).
    pub fn bit_in_byte(&self) -> u8 {
        (self.bit_offset % 8) as u8
    }
}

/// A member found by name, and where it lies.
#[derive(Clone, Copy, Debug)]
pub struct Found<'a> {
    pub member: &'a Member,
    /// Bit offset of the member from the start of the searched type.
    pub bit_offset: u64,
}

impl Types {
    /// Follows typedefs and qualifiers to the type that has a layout.
    pub fn resolve(&self, mut id: TypeId) -> TypeId {
        loop {
            match self.get(id) {
                Some(Type::Typedef(t)) => id = t.target,
                Some(Type::Qualified(_, target)) => id = *target,
                _ => return id,
            }
        }
    }

    /// Size in bytes; `None` for `void`, functions and undefined types.
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        match self.get(self.resolve(id))? {
            Type::Int(t) => Some(u64::from(t.size)),
            Type::Float(t) => Some(u64::from(t.size)),
            Type::Enum(e) => Some(u64::from(e.size)),
            Type::Struct(c) | Type::Union(c) => Some(c.size),
            Type::Pointer(_) => Some(self.pointer_size),
            Type::Array(a) => self.size_of(a.element)?.checked_mul(a.count.unwrap_or(0)),
            Type::Void | Type::Forward(_) | Type::Function(_) => None,
            Type::Typedef(_) | Type::Qualified(..) => None,
        }
    }

    /// Alignment in bytes: what the source recorded, else what the type's members
    /// imply (the x86-64 and arm64 rule: scalars align to their size up to 16, a
    /// struct to its strictest member, and 1 when a member sits misaligned, as in
    /// a packed struct). An `__aligned` attribute the source did not record can
    /// make the real alignment larger; BTF records none.
    pub fn alignment(&self, id: TypeId) -> Option<u64> {
        let code = match id.0.checked_sub(self.first_id) {
            Some(local) => *self.alignments.get(local as usize)?,
            None => return self.base.as_ref()?.alignment(id),
        };
        code.checked_sub(1).map(|log| 1u64 << log)
    }

    /// The members of a struct or union (through typedefs and qualifiers), else none.
    pub fn members(&self, id: TypeId) -> &[Member] {
        match self.get(self.resolve(id)) {
            Some(Type::Struct(c) | Type::Union(c)) => &c.members,
            _ => &[],
        }
    }

    /// The member called `name`, looking through anonymous struct and union
    /// members in declaration order, depth first (the first match wins, as in
    /// crash; C forbids two matches).
    pub fn member_named(&self, id: TypeId, name: &str) -> Option<Found<'_>> {
        let mut found = None;
        self.each_reachable_member(id, &mut |member, bit_offset| {
            let hit = member.name.is_some_and(|n| self.str(n) == name);
            if hit {
                found = Some(Found { member, bit_offset });
            }
            !hit
        });
        found
    }

    /// Calls `visit` with each named member reachable from a struct or union
    /// through anonymous members, in declaration order, depth first, with its bit
    /// offset from the start, until `visit` returns false. An anonymous type met a
    /// second time is skipped: its names were all offered the first time, and
    /// revisiting types shared many times over could take exponential time.
    pub(crate) fn each_reachable_member<'a>(
        &'a self,
        id: TypeId,
        visit: &mut dyn FnMut(&'a Member, u64) -> bool,
    ) {
        let mut seen = HashSet::new();
        self.walk_members(id, 0, &mut seen, visit);
    }

    fn walk_members<'a>(
        &'a self,
        id: TypeId,
        base: u64,
        seen: &mut HashSet<TypeId>,
        visit: &mut dyn FnMut(&'a Member, u64) -> bool,
    ) -> bool {
        for member in self.members(id) {
            let offset = base.saturating_add(member.bit_offset);
            let go_on = match member.name {
                Some(_) => visit(member, offset),
                None => {
                    !seen.insert(self.resolve(member.ty))
                        || self.walk_members(member.ty, offset, seen, visit)
                }
            };
            if !go_on {
                return false;
            }
        }
        true
    }

    /// Follows a member path such as `se.on_rq`, `pid_links[1].next` or
    /// `mm_mt.ma_root` from a struct or union, members of anonymous members
    /// included. Array indexes must lie inside a known bound.
    pub fn member(&self, id: TypeId, path: &str) -> Option<Field> {
        let mut field = Field {
            ty: id,
            bit_offset: 0,
            bit_size: None,
        };
        for part in path.split('.') {
            let (name, mut indexes) = match part.find('[') {
                Some(at) => (&part[..at], &part[at..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                let found = self.member_named(field.ty, name)?;
                field = Field {
                    ty: found.member.ty,
                    bit_offset: field.bit_offset.checked_add(found.bit_offset)?,
                    bit_size: found.member.bit_size,
                };
            } else if part.is_empty() {
                return None;
            }
            while !indexes.is_empty() {
                let close = indexes.find(']')?;
                let index: u64 = indexes.get(1..close)?.trim().parse().ok()?;
                indexes = &indexes[close + 1..];
                let Some(Type::Array(array)) = self.get(self.resolve(field.ty)) else {
                    return None;
                };
                if array.count.is_some_and(|n| n > 0 && index >= n) {
                    return None;
                }
                let step = self.size_of(array.element)?.checked_mul(8)?;
                field = Field {
                    ty: array.element,
                    bit_offset: field.bit_offset.checked_add(step.checked_mul(index)?)?,
                    bit_size: None,
                };
            }
        }
        Some(field)
    }

    /// Byte offset of a member path in the struct or union found by
    /// [`Types::find`]: `offset_of("task_struct", "pid")`.
    pub fn offset_of(&self, type_name: &str, path: &str) -> Option<u64> {
        Some(self.member(self.find(type_name)?, path)?.byte_offset())
    }
}

/// Every own type's alignment (as `Types::alignments` codes), visiting `order`,
/// which lists each type after the types it contains.
pub(crate) fn natural_alignments(types: &Types, order: &[usize]) -> Vec<u8> {
    let mut codes = vec![0u8; types.types.len()];
    let scalar = |size: u64| (size.trailing_zeros().min(4) + 1) as u8;
    for &local in order {
        let of = |id: TypeId, codes: &[u8]| match id.0.checked_sub(types.first_id) {
            Some(l) => codes[l as usize],
            None => types
                .alignment(id)
                .map_or(0, |a| (a.trailing_zeros() + 1) as u8),
        };
        codes[local] = match &types.types[local] {
            Type::Int(t) => scalar(u64::from(t.size)),
            Type::Float(t) => scalar(u64::from(t.size)),
            Type::Enum(e) => scalar(u64::from(e.size)),
            Type::Pointer(_) => scalar(types.pointer_size),
            Type::Array(a) => of(a.element, &codes),
            Type::Typedef(t) => of(t.target, &codes),
            Type::Qualified(_, target) => of(*target, &codes),
            Type::Struct(c) | Type::Union(c) => match c.align {
                Some(align) => (align.max(1).trailing_zeros() + 1) as u8,
                None => members_code(c, |id| of(id, &codes)),
            },
            Type::Void | Type::Forward(_) | Type::Function(_) => 0,
        };
    }
    codes
}

/// Alignment code of a struct or union from its members': the strictest, or 1
/// (packed) when a member's offset or the size breaks it. Codes go up to 64
/// (2^63 bytes), so the arithmetic is in u128.
fn members_code(c: &Composite, of: impl Fn(TypeId) -> u8) -> u8 {
    let bits = |code: u8| 8u128 << (code - 1);
    let mut strictest = 1u8;
    for m in &c.members {
        let code = of(m.ty).max(1);
        if m.bit_size.is_none() && u128::from(m.bit_offset) % bits(code) != 0 {
            return 1;
        }
        strictest = strictest.max(code);
    }
    if u128::from(c.size) * 8 % bits(strictest) == 0 {
        strictest
    } else {
        1
    }
}
