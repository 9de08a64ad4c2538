//! Building a [`Types`]. A source adds types in any order, referring to ids it has
//! assigned or will assign; [`TypesBuilder::finish`] checks the whole before anyone
//! walks it: every id exists, nothing contains itself, nothing nests absurdly deep.
//! Those checks are what let the rest of the crate recurse without counting.

use std::sync::Arc;

use crate::model::{Name, Type, TypeId, Types};
use crate::text::Text;

/// Deepest chain of types one walk may follow, per layer: typedefs, qualifiers,
/// arrays and members by value, or pointers, arrays, functions and anonymous
/// structs in one declarator. The 6.1 kernel needs 20 (by value) and 20
/// (declarators), 6.18 needs 33 and 16; the cap keeps the recursion that corrupt
/// input can cause far from the end of even a 2 MiB thread stack.
pub const MAX_NESTING: u32 = 200;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("type {ty} refers to type {target}, which does not exist")]
    Dangling { ty: TypeId, target: TypeId },
    #[error("function or variable {name:?} has type {ty}, which is not {expected}")]
    WrongKind {
        name: String,
        ty: TypeId,
        expected: &'static str,
    },
    #[error("type {ty} contains itself")]
    Cycle { ty: TypeId },
    #[error("type {ty} nests more than {MAX_NESTING} types deep")]
    TooDeep { ty: TypeId },
    #[error("more than 2^32 types or bytes of names")]
    TooBig,
}

pub struct TypesBuilder {
    base: Option<Arc<Types>>,
    first_id: u32,
    types: Vec<Type>,
    text: Text,
    pointer_size: Option<u64>,
    functions: Vec<(Name, TypeId)>,
    variables: Vec<(Name, TypeId)>,
}

impl Default for TypesBuilder {
    fn default() -> Self {
        TypesBuilder::new()
    }
}

impl TypesBuilder {
    /// A set of types of its own; id 0 is already `void`.
    pub fn new() -> TypesBuilder {
        TypesBuilder::with_text(None, Text::new(0))
    }

    /// Types stacked on `base`: their ids and names continue after the base's.
    pub fn on(base: Arc<Types>) -> Result<TypesBuilder, ModelError> {
        let end = u32::try_from(base.text.end()).map_err(|_| ModelError::TooBig)?;
        Ok(TypesBuilder::with_text(Some(base), Text::new(end)))
    }

    /// A builder whose names are positions in `text` (a copy of a string section).
    /// Without a base, id 0 is already `void`.
    pub(crate) fn with_text(base: Option<Arc<Types>>, text: Text) -> TypesBuilder {
        let first_id = base.as_ref().map_or(0, |b| b.len() as u32);
        TypesBuilder {
            types: if base.is_none() {
                vec![Type::Void]
            } else {
                Vec::new()
            },
            base,
            first_id,
            text,
            pointer_size: None,
            functions: Vec::new(),
            variables: Vec::new(),
        }
    }

    pub fn base(&self) -> Option<&Arc<Types>> {
        self.base.as_ref()
    }

    /// The id the next [`TypesBuilder::add`] returns.
    pub fn next_id(&self) -> TypeId {
        TypeId(self.first_id + self.types.len() as u32)
    }

    /// The id the type added `n` adds from now gets (`n` = 0 is
    /// [`TypesBuilder::next_id`]): a source that numbers its types before adding
    /// them, so they can refer forward, names them with this. `None` past 2^32.
    pub fn id_ahead(&self, n: u32) -> Option<TypeId> {
        self.next_id().0.checked_add(n).map(TypeId)
    }

    pub fn intern(&mut self, name: &str) -> Result<Name, ModelError> {
        self.text.intern(name).ok_or(ModelError::TooBig)
    }

    /// The name at a text position of this builder or of its base.
    pub(crate) fn name_at(&self, pos: u32) -> Option<Name> {
        if pos < self.text.first() {
            return self.base.as_ref()?.name_at(pos);
        }
        self.text.name_at(pos)
    }

    /// Where this builder's own text positions start.
    pub(crate) fn text_first(&self) -> u32 {
        self.text.first()
    }

    /// The text of a name of this builder or of its base.
    pub fn str(&self, name: Name) -> &str {
        match &self.base {
            Some(base) if self.text.belongs_below(name) => base.str(name),
            _ => self.text.get(name).unwrap_or(""),
        }
    }

    /// Room for `types`, `functions` and `variables` more: a source that knows its
    /// counts (BTF does) spares the copies of growing vectors.
    pub fn reserve(&mut self, types: usize, functions: usize, variables: usize) {
        self.types.reserve_exact(types);
        self.functions.reserve_exact(functions);
        self.variables.reserve_exact(variables);
    }

    pub fn add(&mut self, ty: Type) -> Result<TypeId, ModelError> {
        let id = self.next_id();
        id.0.checked_add(1).ok_or(ModelError::TooBig)?;
        self.types.push(ty);
        Ok(id)
    }

    pub fn add_function(&mut self, name: Name, prototype: TypeId) {
        self.functions.push((name, prototype));
    }

    pub fn add_variable(&mut self, name: Name, ty: TypeId) {
        self.variables.push((name, ty));
    }

    pub fn set_pointer_size(&mut self, bytes: u64) {
        self.pointer_size = Some(bytes);
    }

    /// Checks the types and indexes their names.
    pub fn finish(self) -> Result<Types, ModelError> {
        let end = self.next_id().0;
        for (i, ty) in self.types.iter().enumerate() {
            let id = TypeId(self.first_id + i as u32);
            if let Some(target) = Types::references(ty).find(|t| t.0 >= end) {
                return Err(ModelError::Dangling { ty: id, target });
            }
        }
        let contained_first = check_graph(&self.types, self.first_id, Graph::ByValue)?;
        check_graph(&self.types, self.first_id, Graph::Declarator)?;
        let pointer_size = self
            .pointer_size
            .or(self.base.as_ref().map(|b| b.pointer_size))
            .unwrap_or(8);
        let mut types = Types {
            base: self.base,
            first_id: self.first_id,
            types: self.types,
            text: self.text,
            pointer_size,
            functions: self.functions,
            variables: self.variables,
            indexes: Default::default(),
            alignments: Vec::new(),
        };
        types.alignments = crate::layout::natural_alignments(&types, &contained_first);
        let wrong = |(name, ty): (Name, TypeId), expected: &'static str| ModelError::WrongKind {
            name: types.str(name).to_string(),
            ty,
            expected,
        };
        if let Some(&bad) = types
            .functions
            .iter()
            .find(|(_, id)| !matches!(types.get(*id), Some(Type::Function(_))))
        {
            return Err(wrong(bad, "a function prototype"));
        }
        if let Some(&bad) = types
            .variables
            .iter()
            .find(|(_, id)| types.get(*id).is_none())
        {
            return Err(wrong(bad, "a type"));
        }
        Ok(types)
    }
}

impl Types {
    pub(crate) fn name_at(&self, pos: u32) -> Option<Name> {
        if pos < self.text.first() {
            return self.base.as_ref()?.name_at(pos);
        }
        self.text.name_at(pos)
    }
}

/// The two walks every user of a `Types` makes, as graphs that must be acyclic.
#[derive(Clone, Copy)]
enum Graph {
    /// What contains what: typedef and qualifier targets, array elements, members.
    /// Sizes, member lookups and anonymous members follow these.
    ByValue,
    /// What a C declarator spells out before reaching a struct, union or enum
    /// with a tag, or a base type: pointer targets, array elements, function
    /// return and parameter types, qualifier and typedef targets, members of
    /// anonymous structs. Printing a type follows these. (C cannot close a loop
    /// without a tag: `typedef T *T;` does not compile.)
    Declarator,
}

/// Whether a declarator ends at this type: a tagged struct, union or enum, or a
/// base type.
fn ends_declarator(ty: &Type) -> bool {
    match ty {
        Type::Struct(c) | Type::Union(c) => c.name.is_some(),
        Type::Enum(e) => e.name.is_some(),
        Type::Void | Type::Int(_) | Type::Float(_) | Type::Forward(_) => true,
        Type::Pointer(_)
        | Type::Array(_)
        | Type::Qualified(..)
        | Type::Function(_)
        | Type::Typedef(_) => false,
    }
}

fn edges(ty: &Type, graph: Graph) -> impl Iterator<Item = TypeId> + '_ {
    let followed = match graph {
        Graph::ByValue => matches!(
            ty,
            Type::Typedef(_)
                | Type::Qualified(..)
                | Type::Array(_)
                | Type::Struct(_)
                | Type::Union(_)
        ),
        Graph::Declarator => !ends_declarator(ty),
    };
    Types::references(ty).filter(move |_| followed)
}

/// Depth-first search with an explicit stack (corrupt input may nest deeply):
/// fails on a cycle or on a chain deeper than [`MAX_NESTING`]. Ids of the base
/// are leaves: the base was checked when it was built. Returns this layer's
/// types (as indexes), each after every type it reaches.
fn check_graph(types: &[Type], first_id: u32, graph: Graph) -> Result<Vec<usize>, ModelError> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    let local = |id: TypeId| id.0.checked_sub(first_id).map(|i| i as usize);
    let mut state = vec![NEW; types.len()];
    let mut depth = vec![0u32; types.len()];
    // Children of every open node, stacked; a frame owns `children[start..]`.
    let mut children: Vec<usize> = Vec::new();
    let mut frames: Vec<(usize, usize, usize)> = Vec::new();
    let mut finished = Vec::with_capacity(types.len());
    let push = |node: usize,
                children: &mut Vec<usize>,
                frames: &mut Vec<(usize, usize, usize)>,
                state: &mut Vec<u8>| {
        state[node] = OPEN;
        let start = children.len();
        children.extend(
            edges(&types[node], graph)
                .filter_map(local)
                .filter(|&c| matches!(graph, Graph::ByValue) || !ends_declarator(&types[c])),
        );
        frames.push((node, start, start));
    };
    for root in 0..types.len() {
        if state[root] != NEW {
            continue;
        }
        push(root, &mut children, &mut frames, &mut state);
        while let Some(frame) = frames.last_mut() {
            let (node, start, cursor) = *frame;
            if cursor < children.len() {
                frame.2 += 1;
                let child = children[cursor];
                match state[child] {
                    NEW => push(child, &mut children, &mut frames, &mut state),
                    OPEN => {
                        return Err(ModelError::Cycle {
                            ty: TypeId(first_id + child as u32),
                        })
                    }
                    _ => {}
                }
            } else {
                let d = 1 + children[start..]
                    .iter()
                    .map(|&c| depth[c])
                    .max()
                    .unwrap_or(0);
                if d > MAX_NESTING {
                    return Err(ModelError::TooDeep {
                        ty: TypeId(first_id + node as u32),
                    });
                }
                depth[node] = d;
                state[node] = 2;
                finished.push(node);
                children.truncate(start);
                frames.pop();
            }
        }
    }
    Ok(finished)
}
