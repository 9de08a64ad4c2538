//! The type model: what C types a kernel has, independent of where they were read
//! from (BTF today, DWARF later). Types live in an arena and refer to each other by
//! [`TypeId`]; names are [`Name`] handles into the arena's text. A [`Types`] is only
//! ever built by [`crate::TypesBuilder`], which checks that every id exists and that
//! no type contains itself, so every walk over a `Types` ends.

use std::fmt;
use std::sync::Arc;

pub use crate::text::Name;
use crate::text::Text;

/// Index of a type in a [`Types`]. `TypeId::VOID` is `void`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub(crate) u32);

impl TypeId {
    pub const VOID: TypeId = TypeId(0);

    pub fn index(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Void,
    Int(Int),
    Float(Float),
    Pointer(TypeId),
    Array(Array),
    Struct(Composite),
    Union(Composite),
    Enum(Enum),
    /// `struct foo;` / `union foo;` / `enum foo;` without a definition.
    Forward(Forward),
    Typedef(Typedef),
    /// `const`, `volatile`, `restrict`, or a type attribute such as `__rcu`.
    Qualified(Qualifier, TypeId),
    /// A function prototype; a function pointer is a `Pointer` to one.
    Function(Function),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Int {
    pub name: Name,
    /// Bytes.
    pub size: u32,
    pub signed: bool,
    pub encoding: IntEncoding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntEncoding {
    Number,
    Char,
    Bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Float {
    pub name: Name,
    /// Bytes.
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Array {
    pub element: TypeId,
    /// `None` when the source records no bound (a flexible array member, `T x[]`).
    pub count: Option<u64>,
}

/// A struct or a union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composite {
    /// `None` for an anonymous struct or union.
    pub name: Option<Name>,
    /// Bytes.
    pub size: u64,
    /// Alignment in bytes when the source records it (DWARF 5 does, BTF does not).
    pub align: Option<u64>,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `None` for an anonymous struct or union member, whose members C reaches
    /// as if they were the container's own.
    pub name: Option<Name>,
    pub ty: TypeId,
    /// From the start of the containing struct or union.
    pub bit_offset: u64,
    /// Width of a bitfield; `None` for an ordinary member.
    pub bit_size: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum {
    pub name: Option<Name>,
    /// Bytes.
    pub size: u32,
    pub signed: bool,
    pub values: Vec<Enumerator>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerator {
    pub name: Name,
    /// Wide enough for every signed and unsigned 64-bit enumerator.
    pub value: i128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub name: Name,
    pub kind: ForwardKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardKind {
    Struct,
    Union,
    Enum,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typedef {
    pub name: Name,
    pub target: TypeId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qualifier {
    Const,
    Volatile,
    Restrict,
    /// A type attribute the compiler recorded, such as `rcu`, `user` or `percpu`.
    Tag(Name),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub ret: TypeId,
    pub params: Vec<Param>,
    /// Ends in `...`.
    pub variadic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Option<Name>,
    pub ty: TypeId,
}

/// The name spaces a type can be looked up in, as C and crash separate them:
/// `struct foo`, `union foo`, `enum foo` and the typedef `foo` are four lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    Struct,
    Union,
    Enum,
    Typedef,
}

impl Namespace {
    /// The order [`Types::find`] searches in.
    pub(crate) const SEARCH_ORDER: [Namespace; 4] = [
        Namespace::Struct,
        Namespace::Union,
        Namespace::Typedef,
        Namespace::Enum,
    ];

    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// A set of types, possibly stacked on a base set whose ids come first (a module's
/// types on the kernel's).
#[derive(Debug)]
pub struct Types {
    pub(crate) base: Option<Arc<Types>>,
    /// Id of `types[0]`; ids below belong to the base.
    pub(crate) first_id: u32,
    pub(crate) types: Vec<Type>,
    pub(crate) text: Text,
    pub(crate) pointer_size: u64,
    /// Functions with their prototypes (a `Type::Function` each), and variables
    /// with their types, as the source listed them.
    pub(crate) functions: Vec<(Name, TypeId)>,
    pub(crate) variables: Vec<(Name, TypeId)>,
    /// Name indexes, built on first use: decoding should not pay for hashing
    /// tens of thousands of names a caller may never look up.
    pub(crate) indexes: crate::index::Indexes,
    /// Per own type: log2 of its alignment + 1, or 0 when it has none (see
    /// [`Types::alignment`]); computed once, since a walk could take exponential
    /// time on types shared many times over.
    pub(crate) alignments: Vec<u8>,
}

impl Types {
    /// The type with this id; `None` only for an id from another `Types`.
    pub fn get(&self, id: TypeId) -> Option<&Type> {
        match id.0.checked_sub(self.first_id) {
            Some(local) => self.types.get(local as usize),
            None => self.base.as_ref()?.get(id),
        }
    }

    /// The text of a name ("" for a name from another `Types`).
    pub fn str(&self, name: Name) -> &str {
        match &self.base {
            Some(base) if self.text.belongs_below(name) => base.str(name),
            _ => self.text.get(name).unwrap_or(""),
        }
    }

    /// The ids of this layer's own types (not the base's), in order.
    pub fn ids(&self) -> impl Iterator<Item = TypeId> + '_ {
        (0..self.types.len() as u32).map(|i| TypeId(self.first_id + i))
    }

    /// Number of ids, the base's included.
    pub fn len(&self) -> usize {
        self.first_id as usize + self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn base(&self) -> Option<&Arc<Types>> {
        self.base.as_ref()
    }

    /// Bytes in a pointer (8 unless the source said otherwise).
    pub fn pointer_size(&self) -> u64 {
        self.pointer_size
    }

    /// A type by name in one name space: this layer's definition first, then the
    /// base's. A definition wins over a forward declaration of the same name.
    pub fn lookup(&self, namespace: Namespace, name: &str) -> Option<TypeId> {
        let own = self.type_index()[namespace.slot()].get(self, name);
        if let Some(id) = own.filter(|&id| !self.is_forward(id)) {
            return Some(id);
        }
        let Some(base) = &self.base else { return own };
        match base.lookup(namespace, name) {
            Some(id) if !base.is_forward(id) => Some(id),
            from_base => own.or(from_base),
        }
    }

    /// What crash's `struct NAME` / `union NAME` / `whatis NAME` find: a struct,
    /// else a union, else a typedef, else an enum of that name. A leading `struct `,
    /// `union ` or `enum ` keyword restricts the search to that name space.
    pub fn find(&self, name: &str) -> Option<TypeId> {
        let name = name.trim();
        for (keyword, namespace) in [
            ("struct ", Namespace::Struct),
            ("union ", Namespace::Union),
            ("enum ", Namespace::Enum),
        ] {
            if let Some(rest) = name.strip_prefix(keyword) {
                return self.lookup(namespace, rest.trim());
            }
        }
        Namespace::SEARCH_ORDER
            .iter()
            .find_map(|&namespace| self.lookup(namespace, name))
    }

    /// The prototype (a `Type::Function`) of a function the source describes.
    pub fn function(&self, name: &str) -> Option<TypeId> {
        self.function_index()
            .get(self, name)
            .or_else(|| self.base.as_ref()?.function(name))
    }

    /// The type of a variable the source describes (in kernel BTF: per-CPU ones).
    pub fn variable(&self, name: &str) -> Option<TypeId> {
        self.variable_index()
            .get(self, name)
            .or_else(|| self.base.as_ref()?.variable(name))
    }

    /// The name a type is declared with, if it has one (`task_struct`, `u64`, `int`).
    pub fn name_of(&self, id: TypeId) -> Option<&str> {
        let name = match self.get(id)? {
            Type::Int(t) => t.name,
            Type::Float(t) => t.name,
            Type::Struct(c) | Type::Union(c) => c.name?,
            Type::Enum(e) => e.name?,
            Type::Forward(f) => f.name,
            Type::Typedef(t) => t.name,
            Type::Void
            | Type::Pointer(_)
            | Type::Array(_)
            | Type::Qualified(..)
            | Type::Function(_) => return None,
        };
        Some(self.str(name))
    }

    pub(crate) fn is_forward(&self, id: TypeId) -> bool {
        match self.get(id) {
            Some(Type::Forward(_)) => true,
            Some(Type::Enum(e)) => e.values.is_empty(),
            _ => false,
        }
    }

    /// Ids this type refers to, in order (members, target, element, return and
    /// parameters). Qualifier tags and names are not types.
    pub fn references(ty: &Type) -> impl Iterator<Item = TypeId> + '_ {
        let single = match ty {
            Type::Pointer(t) | Type::Qualified(_, t) => Some(*t),
            Type::Typedef(t) => Some(t.target),
            Type::Array(a) => Some(a.element),
            Type::Function(f) => Some(f.ret),
            _ => None,
        };
        let members = match ty {
            Type::Struct(c) | Type::Union(c) => c.members.as_slice(),
            _ => &[],
        };
        let params = match ty {
            Type::Function(f) => f.params.as_slice(),
            _ => &[],
        };
        single
            .into_iter()
            .chain(members.iter().map(|m| m.ty))
            .chain(params.iter().map(|p| p.ty))
    }
}
