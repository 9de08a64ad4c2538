//! Name indexes of a [`Types`], built on first use: decoding should not pay for
//! hashing tens of thousands of names (a kernel's BTF names 45k functions) that
//! a caller may never look up.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;
use std::sync::OnceLock;

use crate::model::{ForwardKind, Name, Namespace, Type, TypeId, Types};

#[derive(Debug, Default)]
pub(crate) struct Indexes {
    /// Per [`Namespace`]: name to the first complete definition (a forward
    /// declaration only when there is no definition).
    pub(crate) types: OnceLock<[NameIndex; 4]>,
    pub(crate) functions: OnceLock<NameIndex>,
    pub(crate) variables: OnceLock<NameIndex>,
}

/// Names to ids, hashed by the names' text; entries hold the names as handles, so
/// indexing copies no text.
#[derive(Default)]
pub(crate) struct NameIndex {
    entries: HashTable<(Name, TypeId)>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameIndex({} names)", self.entries.len())
    }
}

impl NameIndex {
    pub(crate) fn get(&self, types: &Types, name: &str) -> Option<TypeId> {
        let hash = self.hasher.hash_one(name);
        let found = self.entries.find(hash, |(n, _)| types.str(*n) == name)?;
        Some(found.1)
    }

    /// Adds `name`, or replaces its entry when `replace` says so of the old id.
    fn put(&mut self, types: &Types, name: Name, id: TypeId, replace: impl Fn(TypeId) -> bool) {
        let text = types.str(name);
        let hash = self.hasher.hash_one(text);
        let hasher = &self.hasher;
        let entry = self.entries.entry(
            hash,
            |(n, _)| types.str(*n) == text,
            |(n, _)| hasher.hash_one(types.str(*n)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut old) => {
                if replace(old.get().1) {
                    *old.get_mut() = (name, id);
                }
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((name, id));
            }
        }
    }
}

impl Types {
    /// Per name space, the first complete definition of each name; a forward
    /// declaration only when there is none.
    pub(crate) fn type_index(&self) -> &[NameIndex; 4] {
        self.indexes.types.get_or_init(|| {
            let mut names: [NameIndex; 4] = Default::default();
            for id in self.ids() {
                let Some((namespace, name)) = self.get(id).and_then(namespace_and_name) else {
                    continue;
                };
                if name.is_empty() {
                    continue;
                }
                let definition = !self.is_forward(id);
                names[namespace.slot()]
                    .put(self, name, id, |old| definition && self.is_forward(old));
            }
            names
        })
    }

    pub(crate) fn function_index(&self) -> &NameIndex {
        self.indexes
            .functions
            .get_or_init(|| first_of_each(self, &self.functions))
    }

    pub(crate) fn variable_index(&self) -> &NameIndex {
        self.indexes
            .variables
            .get_or_init(|| first_of_each(self, &self.variables))
    }
}

/// Name to id, the first entry of each name winning.
fn first_of_each(types: &Types, entries: &[(Name, TypeId)]) -> NameIndex {
    let mut index = NameIndex::default();
    index.entries.reserve(entries.len(), |_| 0);
    for &(name, id) in entries {
        index.put(types, name, id, |_| false);
    }
    index
}

fn namespace_and_name(ty: &Type) -> Option<(Namespace, Name)> {
    match ty {
        Type::Struct(c) => Some((Namespace::Struct, c.name?)),
        Type::Union(c) => Some((Namespace::Union, c.name?)),
        Type::Enum(e) => Some((Namespace::Enum, e.name?)),
        Type::Typedef(t) => Some((Namespace::Typedef, t.name)),
        Type::Forward(f) => Some((
            match f.kind {
                ForwardKind::Struct => Namespace::Struct,
                ForwardKind::Union => Namespace::Union,
                ForwardKind::Enum => Namespace::Enum,
            },
            f.name,
        )),
        _ => None,
    }
}
