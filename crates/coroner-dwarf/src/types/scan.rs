//! One compilation unit's types as a graph of nodes that refer to each other by
//! DIE offset. Only the unit's top-level DIEs are walked (function bodies are
//! skipped through `DW_AT_sibling`); a reference to a DIE nested elsewhere, such
//! as a type local to a function, is read when it is met. Units are independent,
//! so several threads scan at once.

use coroner_types::ForwardKind;
use gimli::constants;
use hashbrown::HashMap;

use super::attrs::{self, Attrs, Constant};
use crate::{DwarfError, Reader};

/// A type reference: the referenced DIE's global offset; `None` is `void`.
pub(super) type Ref = Option<usize>;

/// A prototype's parameters: names (when the DIE has them) and types.
pub(super) type Params<'data> = Vec<(Option<&'data str>, Ref)>;

pub(super) enum Node<'data> {
    Base {
        name: &'data str,
        size: u32,
        encoding: gimli::DwAte,
    },
    Pointer(Ref),
    Const(Ref),
    Volatile(Ref),
    Restrict(Ref),
    /// A type the model has no word for (`_Atomic`): its target stands in.
    Alias(Ref),
    Typedef {
        name: &'data str,
        target: Ref,
    },
    /// Dimensions outermost first; `None` for an unbounded one (`x[]`).
    Array {
        element: Ref,
        dims: Vec<Option<u64>>,
    },
    Composite {
        union: bool,
        name: Option<&'data str>,
        size: u64,
        members: Vec<MemberNode<'data>>,
    },
    Enum {
        name: Option<&'data str>,
        size: u32,
        signed: bool,
        values: Vec<(&'data str, i128)>,
    },
    Forward {
        kind: ForwardKind,
        name: &'data str,
    },
    Function {
        ret: Ref,
        params: Params<'data>,
        variadic: bool,
    },
    /// `DW_TAG_unspecified_type` and the like.
    Void,
    /// A DIE of another unit (`DW_FORM_ref_addr`, as dwz writes references
    /// into its partial units); the merge knows that unit's types.
    Elsewhere,
}

pub(super) struct MemberNode<'data> {
    pub name: Option<&'data str>,
    pub ty: Ref,
    pub bit_offset: u64,
    pub bit_size: Option<u32>,
}

pub(super) struct VariableNode<'data> {
    pub name: &'data str,
    pub address: u64,
    pub ty: Ref,
}

/// A unit's nodes, with its variables and functions (whose prototypes are nodes
/// at the offsets of their `DW_TAG_subprogram`s).
pub(super) struct UnitGraph<'data> {
    pub offsets: Vec<usize>,
    pub nodes: Vec<Node<'data>>,
    pub index: HashMap<usize, usize>,
    pub variables: Vec<VariableNode<'data>>,
    pub functions: Vec<(&'data str, usize)>,
    pub address_size: u8,
    /// A `DW_TAG_partial_unit` (dwz's), whose types other units refer to.
    pub partial: bool,
}

impl UnitGraph<'_> {
    /// The node a DIE offset names; every reference a node holds has one.
    pub fn node(&self, offset: usize) -> Option<usize> {
        self.index.get(&offset).copied()
    }
}

/// Deepest chain of type DIEs followed to find a bitfield's storage size.
const SIZE_HOPS: usize = 16;

struct Scanner<'a, 'data> {
    dwarf: &'a gimli::Dwarf<Reader<'data>>,
    unit: &'a gimli::Unit<Reader<'data>>,
    /// Every unit's header, by offset: a declaration may sit in another unit.
    headers: &'a [gimli::UnitHeader<Reader<'data>>],
    graph: UnitGraph<'data>,
}

type TreeNode<'a, 'b, 'c, 'data> = gimli::EntriesTreeNode<'a, 'b, 'c, Reader<'data>>;

pub(super) fn scan<'data>(
    dwarf: &gimli::Dwarf<Reader<'data>>,
    headers: &[gimli::UnitHeader<Reader<'data>>],
    header: gimli::UnitHeader<Reader<'data>>,
) -> Result<UnitGraph<'data>, DwarfError> {
    let start = header_offset(&header);
    let unit = dwarf
        .unit(header)
        .map_err(|e| DwarfError::info(start as u64, e))?;
    let mut scanner = Scanner {
        dwarf,
        unit: &unit,
        headers,
        graph: UnitGraph {
            offsets: Vec::new(),
            nodes: Vec::new(),
            index: HashMap::new(),
            variables: Vec::new(),
            functions: Vec::new(),
            address_size: unit.header.address_size(),
            partial: false,
        },
    };
    let fail = |e| DwarfError::info(start as u64, e);
    let mut tree = unit.entries_tree(None).map_err(fail)?;
    let root = tree.root().map_err(fail)?;
    scanner.graph.partial = root.entry().tag() == constants::DW_TAG_partial_unit;
    let mut children = root.children();
    while let Some(child) = children.next().map_err(fail)? {
        scanner.top_level(child)?;
    }
    scanner.follow_references()?;
    Ok(scanner.graph)
}

fn is_type(tag: gimli::DwTag) -> bool {
    matches!(
        tag,
        constants::DW_TAG_base_type
            | constants::DW_TAG_pointer_type
            | constants::DW_TAG_const_type
            | constants::DW_TAG_volatile_type
            | constants::DW_TAG_restrict_type
            | constants::DW_TAG_atomic_type
            | constants::DW_TAG_typedef
            | constants::DW_TAG_array_type
            | constants::DW_TAG_structure_type
            | constants::DW_TAG_union_type
            | constants::DW_TAG_enumeration_type
            | constants::DW_TAG_subroutine_type
            | constants::DW_TAG_unspecified_type
    )
}

impl<'data> Scanner<'_, 'data> {
    fn offset(&self, node: &TreeNode<'_, '_, '_, 'data>) -> usize {
        node.entry()
            .offset()
            .to_debug_info_offset(&self.unit.header)
            .map_or(0, |o| o.0)
    }

    fn attrs(&self, node: &TreeNode<'_, '_, '_, 'data>) -> Result<Attrs<'data>, DwarfError> {
        attrs::read(self.dwarf, self.unit, node.entry(), self.offset(node))
    }

    fn add(&mut self, offset: usize, node: Node<'data>) {
        self.graph.index.insert(offset, self.graph.nodes.len());
        self.graph.offsets.push(offset);
        self.graph.nodes.push(node);
    }

    fn top_level(&mut self, child: TreeNode<'_, '_, '_, 'data>) -> Result<(), DwarfError> {
        let tag = child.entry().tag();
        let at = self.offset(&child);
        if is_type(tag) {
            let node = self.type_node(child)?;
            self.add(at, node);
        } else if tag == constants::DW_TAG_variable {
            self.variable(child)?;
        } else if tag == constants::DW_TAG_subprogram {
            let a = self.attrs(&child)?;
            // Declarations and out-of-line copies of inline functions repeat a
            // function whose own DIE is read where it is defined.
            if let (Some(name), false, None) = (a.name, a.declaration, a.origin) {
                let (params, variadic) = self.params(child)?;
                self.add(
                    at,
                    Node::Function {
                        ret: a.ty,
                        params,
                        variadic,
                    },
                );
                self.graph.functions.push((name, at));
            }
        }
        Ok(())
    }

    /// A variable with a static address; its name (and type) may sit on the
    /// declaration its `DW_AT_specification` points to.
    fn variable(&mut self, child: TreeNode<'_, '_, '_, 'data>) -> Result<(), DwarfError> {
        let a = self.attrs(&child)?;
        let Some(address) = a
            .location
            .and_then(|l| attrs::static_address(l, self.graph.address_size))
        else {
            return Ok(());
        };
        // The definition's own type wins: `extern char x[];` declares no bound.
        let (name, ty) = match a.origin {
            Some(origin) if a.name.is_none() || a.ty.is_none() => {
                let decl = self.attrs_at(origin)?;
                (a.name.or(decl.name), a.ty.or(decl.ty))
            }
            _ => (a.name, a.ty),
        };
        if let Some(name) = name {
            self.graph
                .variables
                .push(VariableNode { name, address, ty });
        }
        Ok(())
    }

    /// The attributes of the DIE at a global offset, in this unit or another.
    fn attrs_at(&self, offset: usize) -> Result<Attrs<'data>, DwarfError> {
        let fail = |e| DwarfError::info(offset as u64, e);
        let global = gimli::DebugInfoOffset(offset);
        if let Some(unit_offset) = global.to_unit_offset(&self.unit.header) {
            let entry = self.unit.entry(unit_offset).map_err(fail)?;
            return attrs::read(self.dwarf, self.unit, &entry, offset);
        }
        let after = self.headers.partition_point(|h| header_offset(h) <= offset);
        let header = after
            .checked_sub(1)
            .map(|i| self.headers[i])
            .ok_or_else(|| outside(offset))?;
        let unit_offset = global
            .to_unit_offset(&header)
            .ok_or_else(|| outside(offset))?;
        let unit = self.dwarf.unit(header).map_err(fail)?;
        let entry = unit.entry(unit_offset).map_err(fail)?;
        attrs::read(self.dwarf, &unit, &entry, offset)
    }

    /// `DW_TAG_formal_parameter` children, and whether `...` follows them.
    fn params(
        &self,
        node: TreeNode<'_, '_, '_, 'data>,
    ) -> Result<(Params<'data>, bool), DwarfError> {
        let at = self.offset(&node) as u64;
        let mut params = Vec::new();
        let mut variadic = false;
        let mut children = node.children();
        while let Some(child) = children.next().map_err(|e| DwarfError::info(at, e))? {
            match child.entry().tag() {
                constants::DW_TAG_formal_parameter => {
                    let a = self.attrs(&child)?;
                    params.push((a.name, a.ty));
                }
                constants::DW_TAG_unspecified_parameters => variadic = true,
                // Parameters come first; locals and blocks follow.
                _ => break,
            }
        }
        Ok((params, variadic))
    }

    fn type_node(&self, node: TreeNode<'_, '_, '_, 'data>) -> Result<Node<'data>, DwarfError> {
        let at = self.offset(&node);
        let fail = |what: &str| DwarfError::new(".debug_info", at as u64, what.to_string());
        let a = self.attrs(&node)?;
        Ok(match node.entry().tag() {
            constants::DW_TAG_base_type => Node::Base {
                name: a.name.ok_or_else(|| fail("a base type without a name"))?,
                size: size32(a.byte_size).ok_or_else(|| fail("a base type without a size"))?,
                encoding: a.encoding.unwrap_or(constants::DW_ATE_signed),
            },
            constants::DW_TAG_pointer_type => Node::Pointer(a.ty),
            constants::DW_TAG_const_type => Node::Const(a.ty),
            constants::DW_TAG_volatile_type => Node::Volatile(a.ty),
            constants::DW_TAG_restrict_type => Node::Restrict(a.ty),
            constants::DW_TAG_atomic_type => Node::Alias(a.ty),
            constants::DW_TAG_typedef => Node::Typedef {
                name: a.name.ok_or_else(|| fail("a typedef without a name"))?,
                target: a.ty,
            },
            constants::DW_TAG_array_type => self.array(node, a.ty)?,
            tag @ (constants::DW_TAG_structure_type | constants::DW_TAG_union_type) => {
                let union = tag == constants::DW_TAG_union_type;
                match (a.declaration, a.name) {
                    (true, Some(name)) => Node::Forward {
                        kind: if union {
                            ForwardKind::Union
                        } else {
                            ForwardKind::Struct
                        },
                        name,
                    },
                    _ => Node::Composite {
                        union,
                        name: a.name,
                        size: a.byte_size.unwrap_or(0),
                        members: self.members(node)?,
                    },
                }
            }
            constants::DW_TAG_enumeration_type => match (a.declaration, a.name) {
                (true, Some(name)) => Node::Forward {
                    kind: ForwardKind::Enum,
                    name,
                },
                _ => self.enumeration(node, &a)?,
            },
            constants::DW_TAG_subroutine_type => {
                let (params, variadic) = self.params(node)?;
                Node::Function {
                    ret: a.ty,
                    params,
                    variadic,
                }
            }
            _ => Node::Void,
        })
    }

    fn array(
        &self,
        node: TreeNode<'_, '_, '_, 'data>,
        element: Ref,
    ) -> Result<Node<'data>, DwarfError> {
        let at = self.offset(&node) as u64;
        let mut dims = Vec::new();
        let mut children = node.children();
        while let Some(child) = children.next().map_err(|e| DwarfError::info(at, e))? {
            if child.entry().tag() == constants::DW_TAG_subrange_type {
                dims.push(count(&self.attrs(&child)?));
            }
        }
        if dims.is_empty() {
            dims.push(None);
        }
        Ok(Node::Array { element, dims })
    }

    fn members(
        &self,
        node: TreeNode<'_, '_, '_, 'data>,
    ) -> Result<Vec<MemberNode<'data>>, DwarfError> {
        let at = self.offset(&node) as u64;
        let mut members = Vec::new();
        let mut children = node.children();
        while let Some(child) = children.next().map_err(|e| DwarfError::info(at, e))? {
            if child.entry().tag() != constants::DW_TAG_member {
                continue;
            }
            let member_at = self.offset(&child);
            let a = self.attrs(&child)?;
            let bit_size = match a.bit_size {
                Some(bits) => Some(u32::try_from(bits).map_err(|_| {
                    DwarfError::new(
                        ".debug_info",
                        member_at as u64,
                        "a bitfield wider than 2^32 bits",
                    )
                })?),
                None => None,
            };
            let bit_offset = self.bit_offset(&a, member_at)?;
            members.push(MemberNode {
                name: a.name,
                ty: a.ty,
                bit_offset,
                bit_size,
            });
        }
        Ok(members)
    }

    /// A member's offset in bits from the start of its container. DWARF 4+ says
    /// it (`DW_AT_data_bit_offset`); DWARF 2/3 bitfields count `DW_AT_bit_offset`
    /// from the most significant bit of a storage unit of `DW_AT_byte_size` bytes
    /// (else the member type's size) at `DW_AT_data_member_location`.
    fn bit_offset(&self, a: &Attrs<'data>, at: usize) -> Result<u64, DwarfError> {
        let fail = |what: &str| DwarfError::new(".debug_info", at as u64, what.to_string());
        if let Some(bits) = a.data_bit_offset {
            return Ok(bits);
        }
        let base = a
            .member_location
            .unwrap_or(0)
            .checked_mul(8)
            .ok_or_else(|| fail("member offset overflows"))?;
        let (Some(from_msb), Some(width)) = (a.bit_offset, a.bit_size) else {
            return Ok(base);
        };
        let storage = match a.byte_size {
            Some(bytes) => bytes,
            None => self
                .size_of(a.ty)?
                .ok_or_else(|| fail("a DWARF 2 bitfield whose storage size is unknown"))?,
        };
        let offset =
            i128::from(base) + i128::from(storage) * 8 - i128::from(from_msb) - i128::from(width);
        u64::try_from(offset).map_err(|_| fail("a bitfield before the start of its container"))
    }

    /// The byte size of a type DIE, through typedefs and qualifiers.
    fn size_of(&self, mut ty: Ref) -> Result<Option<u64>, DwarfError> {
        for _ in 0..SIZE_HOPS {
            let Some(offset) = ty else { return Ok(None) };
            let a = self.attrs_at(offset)?;
            if a.byte_size.is_some() {
                return Ok(a.byte_size);
            }
            ty = a.ty;
        }
        Ok(None)
    }

    fn enumeration(
        &self,
        node: TreeNode<'_, '_, '_, 'data>,
        a: &Attrs<'data>,
    ) -> Result<Node<'data>, DwarfError> {
        let at = self.offset(&node);
        let mut raw: Vec<(&'data str, Constant)> = Vec::new();
        let mut children = node.children();
        while let Some(child) = children
            .next()
            .map_err(|e| DwarfError::info(at as u64, e))?
        {
            if child.entry().tag() != constants::DW_TAG_enumerator {
                continue;
            }
            let e = self.attrs(&child)?;
            let fail = |what: &str| {
                DwarfError::new(".debug_info", self.offset(&child) as u64, what.to_string())
            };
            raw.push((
                e.name.ok_or_else(|| fail("an enumerator without a name"))?,
                e.const_value
                    .ok_or_else(|| fail("an enumerator without a value"))?,
            ));
        }
        // The underlying type says the sign (GCC records it); without it, an
        // explicitly negative value makes the enum signed.
        let signed = match a.ty {
            Some(ty) => matches!(
                self.attrs_at(ty)?.encoding,
                Some(constants::DW_ATE_signed | constants::DW_ATE_signed_char)
            ),
            None => raw
                .iter()
                .any(|(_, v)| matches!(v, Constant::Signed(s) if *s < 0)),
        };
        let values = raw
            .into_iter()
            .map(|(name, v)| {
                let value = match (signed, v) {
                    (true, v) => v.signed(),
                    (false, v) => v.unsigned().map_or_else(|| v.signed(), i128::from),
                };
                (name, value)
            })
            .collect();
        Ok(Node::Enum {
            name: a.name,
            size: size32(a.byte_size).unwrap_or(4),
            signed,
            values,
        })
    }

    /// Reads every DIE a node refers to that the top-level walk did not reach.
    fn follow_references(&mut self) -> Result<(), DwarfError> {
        let mut wanted: Vec<usize> = self.graph.variables.iter().filter_map(|v| v.ty).collect();
        let mut next = 0;
        loop {
            while next < self.graph.nodes.len() {
                wanted.extend(references(&self.graph.nodes[next]));
                next += 1;
            }
            let Some(offset) = wanted.pop() else { break };
            if self.graph.index.contains_key(&offset) {
                continue;
            }
            let Some(unit_offset) =
                gimli::DebugInfoOffset(offset).to_unit_offset(&self.unit.header)
            else {
                self.add(offset, Node::Elsewhere);
                continue;
            };
            let mut tree = self
                .unit
                .entries_tree(Some(unit_offset))
                .map_err(|e| DwarfError::info(offset as u64, e))?;
            let root = tree
                .root()
                .map_err(|e| DwarfError::info(offset as u64, e))?;
            if !is_type(root.entry().tag()) {
                return Err(DwarfError::new(
                    ".debug_info",
                    offset as u64,
                    format!("{} used as a type", root.entry().tag()),
                ));
            }
            let node = self.type_node(root)?;
            self.add(offset, node);
        }
        Ok(())
    }
}

fn outside(offset: usize) -> DwarfError {
    DwarfError::new(
        ".debug_info",
        offset as u64,
        "a reference outside every unit",
    )
}

fn header_offset(header: &gimli::UnitHeader<Reader<'_>>) -> usize {
    header.offset().as_debug_info_offset().map_or(0, |o| o.0)
}

fn size32(bytes: Option<u64>) -> Option<u32> {
    u32::try_from(bytes?).ok()
}

/// Elements in one dimension: `DW_AT_count`, else the bounds (C's lower bound is
/// 0). GCC writes `x[0]` as upper bound -1, in a signed or an all-ones form.
fn count(a: &Attrs<'_>) -> Option<u64> {
    if let Some(n) = a.count {
        return n.unsigned();
    }
    let upper = match a.upper_bound? {
        Constant::Data(v, 8) | Constant::Unsigned(v) if v == u64::MAX => -1,
        Constant::Signed(v) => i128::from(v),
        Constant::Data(v, _) | Constant::Unsigned(v) => i128::from(v),
    };
    let lower = a.lower_bound.map_or(0, |l| l.signed());
    u64::try_from(upper - lower + 1).ok()
}

pub(super) fn references<'n>(node: &'n Node<'_>) -> Box<dyn Iterator<Item = usize> + 'n> {
    match node {
        Node::Pointer(r)
        | Node::Const(r)
        | Node::Volatile(r)
        | Node::Restrict(r)
        | Node::Alias(r) => Box::new(r.iter().copied()),
        Node::Typedef { target, .. } => Box::new(target.iter().copied()),
        Node::Array { element, .. } => Box::new(element.iter().copied()),
        Node::Composite { members, .. } => Box::new(members.iter().filter_map(|m| m.ty)),
        Node::Function { ret, params, .. } => {
            Box::new(ret.iter().copied().chain(params.iter().filter_map(|p| p.1)))
        }
        Node::Base { .. }
        | Node::Enum { .. }
        | Node::Forward { .. }
        | Node::Void
        | Node::Elsewhere => Box::new(std::iter::empty()),
    }
}
