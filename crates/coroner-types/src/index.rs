//! Name indexes of a [`Types`], built on first use: decoding should not pay for
//! hashing tens of thousands of names (a kernel's BTF names 45k functions) that
//! a caller may never look up.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{ForwardKind, Name, Namespace, Type, TypeId, Types};

#[derive(Debug, Default)]
pub(crate) struct Indexes {
    /// Per [`Namespace`]: name to the first complete definition (a forward
    /// declaration only when there is no definition).
    pub(crate) types: OnceLock<[HashMap<Box<str>, TypeId>; 4]>,
    pub(crate) functions: OnceLock<HashMap<Box<str>, TypeId>>,
    pub(crate) variables: OnceLock<HashMap<Box<str>, TypeId>>,
}

impl Types {
    /// Per name space, the first complete definition of each name; a forward
    /// declaration only when there is none.
    pub(crate) fn type_index(&self) -> &[HashMap<Box<str>, TypeId>; 4] {
        self.indexes.types.get_or_init(|| {
            let mut names: [HashMap<Box<str>, TypeId>; 4] = Default::default();
            for id in self.ids() {
                let Some((namespace, name)) = self.get(id).and_then(namespace_and_name) else {
                    continue;
                };
                let text = self.str(name);
                if text.is_empty() {
                    continue;
                }
                let slot = &mut names[namespace.slot()];
                match slot.get(text) {
                    None => {
                        slot.insert(text.into(), id);
                    }
                    Some(&old) if !self.is_forward(id) && self.is_forward(old) => {
                        slot.insert(text.into(), id);
                    }
                    Some(_) => {}
                }
            }
            names
        })
    }

    pub(crate) fn function_index(&self) -> &HashMap<Box<str>, TypeId> {
        self.indexes
            .functions
            .get_or_init(|| first_of_each(self, &self.functions))
    }

    pub(crate) fn variable_index(&self) -> &HashMap<Box<str>, TypeId> {
        self.indexes
            .variables
            .get_or_init(|| first_of_each(self, &self.variables))
    }
}

/// Name to id, the first entry of each name winning.
fn first_of_each(types: &Types, entries: &[(Name, TypeId)]) -> HashMap<Box<str>, TypeId> {
    let mut map = HashMap::with_capacity(entries.len());
    for &(name, id) in entries {
        map.entry(types.str(name).into()).or_insert(id);
    }
    map
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
