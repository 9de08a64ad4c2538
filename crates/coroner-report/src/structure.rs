//! `struct` (and `union`): crash's `struct` from the BTF of the kernel and its
//! loaded modules — the declaration as gdb's `ptype` spells it, member offsets
//! (`-o`), or the object at ADDR as gdb pretty-prints it — and the same as JSON.
//! crash's layout rules live here; types, objects and values come from the program.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::symbols::resolve;
use coroner_program::{AnalysisError, Field, FoundType, Object, ObjectError, Program, Value};
use coroner_types::crash::{struct_offsets_in, Radix, Scope};
use coroner_types::{gdb, Member, Type, TypeId, Types};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::io::{self, Write};

#[derive(Debug, Clone, Default)]
pub struct StructQuery {
    /// `task_struct`, `struct page`, `cpumask_t`, optionally with members:
    /// `task_struct.pid`, `task_struct.comm,pid`, `task_struct.se.on_rq`.
    pub target: String,
    /// Where the object is: hex, a symbol, or `symbol+offset`.
    pub address: Option<String>,
    /// Member offsets (with ADDR: member addresses) instead of values.
    pub offsets: bool,
    /// Numbers in hex.
    pub hex: bool,
    /// Look the type up in this module's BTF only.
    pub module: Option<String>,
}

/// A lookup that found nothing (no such type or member, exit status 1 as for
/// `sym`'s misses), or anything else.
#[derive(Debug, thiserror::Error)]
pub enum StructError {
    #[error("{0}")]
    Lookup(String),
    #[error("{0}")]
    Failed(String),
}

impl From<AnalysisError> for StructError {
    fn from(e: AnalysisError) -> Self {
        match e {
            AnalysisError::NotFound(what) => StructError::Lookup(what),
            other => StructError::Failed(other.to_string()),
        }
    }
}

impl From<ObjectError> for StructError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::NoMember { .. } | ObjectError::Index { .. } => {
                StructError::Lookup(e.to_string())
            }
            _ => StructError::Failed(e.to_string()),
        }
    }
}

/// A member in a declaration: anonymous members nest their own `members`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberLayout {
    pub name: Option<String>,
    /// gdb's name of the member's type.
    #[serde(rename = "type")]
    pub type_name: String,
    pub offset: u64,
    pub bit_offset: u64,
    pub bit_size: Option<u32>,
    pub size: Option<u64>,
    /// With ADDR: where the member is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberLayout>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Declaration {
    pub name: String,
    /// `struct` or `union`.
    pub kind: &'static str,
    /// The module whose BTF defines it (null: vmlinux).
    pub module: Option<String>,
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Addr>,
    pub members: Vec<MemberLayout>,
}

/// A value as plain JSON: numbers, booleans, enumerator names, pointers as hex
/// strings, `char` arrays as their C string, structs as objects (an anonymous
/// member's members merged in, as C reaches them), arrays as arrays.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Integer(i128),
    Bool(bool),
    Float(f64),
    Text(String),
    Pointer(Addr),
    Array(Vec<JsonValue>),
    Object(Vec<(String, JsonValue)>),
    Null,
}

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Integer(v) => {
                if let Ok(v) = i64::try_from(*v) {
                    s.serialize_i64(v)
                } else if let Ok(v) = u64::try_from(*v) {
                    s.serialize_u64(v)
                } else {
                    s.serialize_str(&v.to_string())
                }
            }
            JsonValue::Bool(b) => s.serialize_bool(*b),
            JsonValue::Float(f) if f.is_finite() => s.serialize_f64(*f),
            JsonValue::Float(_) | JsonValue::Null => s.serialize_none(),
            JsonValue::Text(t) => s.serialize_str(t),
            JsonValue::Pointer(a) => a.serialize(s),
            JsonValue::Array(items) => items.serialize(s),
            JsonValue::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (name, value) in fields {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

impl From<&Value> for JsonValue {
    fn from(value: &Value) -> Self {
        match value {
            Value::Int { value, .. } | Value::Char { value } => JsonValue::Integer(*value),
            Value::Bool { value: 0 } => JsonValue::Bool(false),
            Value::Bool { value: 1 } => JsonValue::Bool(true),
            Value::Bool { value } => JsonValue::Integer(*value),
            Value::Enum { label: Some(l), .. } => JsonValue::Text(l.clone()),
            Value::Enum { value, .. } => JsonValue::Integer(*value),
            Value::Float(f) => JsonValue::Float(*f),
            Value::Pointer(p) => JsonValue::Pointer(Addr(p.address)),
            Value::Text(t) => JsonValue::Text(t.c_str()),
            Value::Array { elements, .. } => {
                JsonValue::Array(elements.iter().map(JsonValue::from).collect())
            }
            Value::Composite(fields) => {
                let mut merged = Vec::new();
                merge_fields(&mut merged, fields);
                JsonValue::Object(merged)
            }
            Value::Incomplete => JsonValue::Null,
        }
    }
}

fn merge_fields(out: &mut Vec<(String, JsonValue)>, fields: &[Field]) {
    for field in fields {
        match (&field.name, &field.value) {
            (Some(name), value) => out.push((name.clone(), value.into())),
            (None, Value::Composite(inner)) => merge_fields(out, inner),
            (None, _) => {}
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectValue {
    /// `struct task_struct`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub module: Option<String>,
    pub address: Addr,
    /// The whole object, or with member paths an object of each path's value.
    pub value: JsonValue,
    /// An array or string was cut at 256 elements, as crash prints them.
    pub truncated: bool,
}

/// What `struct` shows: a layout or a value.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum StructBody {
    Declaration(Declaration),
    Value(ObjectValue),
}

#[derive(Debug, Clone, Serialize)]
pub struct StructReport {
    #[serde(flatten)]
    pub body: StructBody,
    /// crash's text, made with the types at hand (gdb's spelling of declarations
    /// needs the whole type graph, which the report does not carry).
    #[serde(skip)]
    pub text: String,
    pub warnings: Vec<Warning>,
}

impl Render for StructReport {
    fn schema(&self) -> &'static str {
        "coroner.struct/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.text.as_bytes())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// The type asked for, as crash takes it.
struct Target<'t> {
    types: &'t Types,
    /// As found by name: a typedef stays a typedef.
    id: TypeId,
    module: Option<&'t str>,
    kind: &'static str,
    /// The name without its keyword (`list_head`, `cpumask_t`).
    name: String,
    /// Named by a typedef: crash prints `typedef struct cpumask {...} cpumask_t;`.
    typedef: bool,
}

pub fn structure(program: &Program, q: &StructQuery) -> Result<StructReport, StructError> {
    // crash splits `TYPE.member,member` at the first dot.
    let (type_name, members) = match q.target.split_once('.') {
        Some((name, list)) => {
            let members: Vec<&str> = list.split(',').map(str::trim).collect();
            if members.iter().any(|m| m.is_empty()) {
                return Err(StructError::Lookup(format!(
                    "{}: empty member name",
                    q.target
                )));
            }
            (name, members)
        }
        None => (q.target.as_str(), Vec::new()),
    };
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let target = find_type(program, type_name, q.module.as_deref(), &mut warnings)?;
    let types = target.types;
    for member in &members {
        if types.member(target.id, member).is_none() {
            return Err(StructError::Lookup(format!(
                "{} {} has no member {member}",
                target.kind, target.name
            )));
        }
    }
    let radix = if q.hex { Radix::Hex } else { Radix::Decimal };
    let address = q
        .address
        .as_deref()
        .map(|a| resolve(program, a))
        .transpose()
        .map_err(|e| StructError::Failed(e.to_string()))?;
    let report = |body, text| StructReport {
        body,
        text,
        warnings: warnings.clone(),
    };

    if address.is_none() || q.offsets {
        let member = match members.as_slice() {
            [] => None,
            [one] if !one.contains(['.', '[']) => Some(*one),
            [_] => {
                return Err(StructError::Lookup(format!(
                    "{}: offsets are shown for direct members only",
                    q.target
                )))
            }
            _ => {
                return Err(StructError::Lookup(format!(
                    "{}: offsets are shown for one member at a time",
                    q.target
                )))
            }
        };
        let text = match (member, address, q.offsets) {
            (None, None, false) => {
                let size = types.size_of(target.id).unwrap_or(0);
                let size = match radix {
                    Radix::Decimal => size.to_string(),
                    Radix::Hex => format!("{size:#x}"),
                };
                format!("{}\nSIZE: {size}\n", gdb::ptype(types, target.id))
            }
            _ => {
                let scope = Scope { address, member };
                struct_offsets_in(types, target.id, radix, scope)
                    .ok_or_else(|| StructError::Failed(format!("{}: no layout", target.name)))?
            }
        };
        let body = StructBody::Declaration(declaration(&target, member, address));
        return Ok(report(body, typedef_wrapped(&target, &text)));
    }

    let address = address.expect("offsets or declarations returned above");
    let object = Object::new(program, types, target.id, address);
    let type_name = format!("{} {}", target.kind, target.name);
    let object_value = |value: JsonValue, values: &[Value]| ObjectValue {
        type_name: type_name.clone(),
        module: target.module.map(str::to_string),
        address: Addr(address),
        value,
        truncated: values.iter().any(Value::is_cut),
    };
    if members.is_empty() {
        let value = object.value()?;
        let text = format!("{type_name} {}\n", value.gdb_text(radix, 0));
        let body = StructBody::Value(object_value((&value).into(), &[value]));
        return Ok(report(body, text));
    }
    let values = members
        .iter()
        .map(|m| object.member(m)?.value())
        .collect::<Result<Vec<_>, _>>()?;
    let mut text = String::new();
    for (path, value) in members.iter().zip(&values) {
        let (recurse, followed) = member_line(types, target.id, path);
        text.push_str(&format!(
            "{:indent$}{path} = {}{}\n",
            "",
            value.gdb_text(radix, recurse),
            if followed { "," } else { "" },
            indent = 2 * recurse
        ));
    }
    let by_path = members
        .iter()
        .zip(&values)
        .map(|(m, v)| (m.to_string(), v.into()))
        .collect();
    let body = StructBody::Value(object_value(JsonValue::Object(by_path), &values));
    Ok(report(body, text))
}

/// The type in vmlinux's BTF or a module's (only `module`'s when given).
fn find_type<'p>(
    program: &'p Program,
    name: &str,
    module: Option<&str>,
    warnings: &mut Vec<Warning>,
) -> Result<Target<'p>, StructError> {
    let found = match module {
        Some(m) => program.find_module_type(m, name),
        None => program.find_type(name),
    };
    // Modules whose BTF did not load may be why a type is missing.
    warnings.extend(Warning::all(
        Stage::ModuleTypes,
        program.module_type_warnings(),
    ));
    let FoundType { types, id, module } =
        found?.ok_or_else(|| StructError::Lookup(format!("{name}: no such struct or union")))?;
    let kind = match types.get(types.resolve(id)) {
        Some(Type::Struct(_)) => "struct",
        Some(Type::Union(_)) => "union",
        Some(Type::Forward(_)) => {
            return Err(StructError::Lookup(format!(
                "{name}: declared but not defined in the BTF of the kernel or its modules"
            )))
        }
        _ => {
            return Err(StructError::Lookup(format!(
                "{name}: not a struct or union"
            )))
        }
    };
    let bare = ["struct ", "union ", "enum "]
        .iter()
        .find_map(|k| name.trim().strip_prefix(k))
        .unwrap_or(name)
        .trim();
    Ok(Target {
        types,
        id,
        module,
        kind,
        name: bare.to_string(),
        typedef: matches!(types.get(id), Some(Type::Typedef(_))),
    })
}

/// crash's declaration of a type named by a typedef: `typedef` before, the name
/// after the closing brace.
fn typedef_wrapped(target: &Target, text: &str) -> String {
    if !target.typedef {
        return text.to_string();
    }
    let mut out = String::from("typedef ");
    for line in text.lines() {
        match line {
            "}" => out.push_str(&format!("}} {};\n", target.name)),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// How crash prints `TYPE.path ADDR`: the depth gdb's print puts the member at,
/// and whether a member follows it there (then its line ends in a comma). A
/// plain name is cut out of the whole struct's print, so a member of an
/// anonymous struct or union sits deeper; a path starts at the first level.
fn member_line(types: &Types, root: TypeId, path: &str) -> (usize, bool) {
    if let Some(open) = path.rfind('[').filter(|_| path.ends_with(']')) {
        let count =
            types
                .member(root, &path[..open])
                .and_then(|f| match types.get(types.resolve(f.ty)) {
                    Some(Type::Array(a)) => a.count,
                    _ => None,
                });
        let index: Option<u64> = path[open + 1..path.len() - 1].trim().parse().ok();
        let followed = count.zip(index).is_some_and(|(n, i)| i + 1 < n);
        return (1, followed);
    }
    let (container, name) = match path.rsplit_once('.') {
        Some((parent, name)) => (types.member(root, parent).map(|f| f.ty), name),
        None => (Some(root), path),
    };
    let (depth, followed) = container
        .and_then(|c| place(types, c, name))
        .unwrap_or((0, false));
    match path.contains('.') {
        true => (1, followed),
        false => (1 + depth, followed),
    }
}

/// How many anonymous members deep `name` sits in `container`, and whether
/// another member follows it in the struct or union that directly holds it.
fn place(types: &Types, container: TypeId, name: &str) -> Option<(usize, bool)> {
    let members = types.members(container);
    members.iter().enumerate().find_map(|(i, m)| match m.name {
        Some(n) if types.str(n) == name => Some((0, i + 1 < members.len())),
        Some(_) => None,
        None => place(types, m.ty, name).map(|(depth, followed)| (depth + 1, followed)),
    })
}

/// Each member's name, gdb type name, byte and bit offset, bitfield width and
/// size, with `address` when ADDR was given.
fn declaration(target: &Target, member: Option<&str>, address: Option<u64>) -> Declaration {
    let types = target.types;
    let at = |offset: u64| address.map(|a| Addr(a.wrapping_add(offset)));
    let members = match member.and_then(|path| Some((path, types.member(target.id, path)?))) {
        Some((path, field)) => vec![MemberLayout {
            name: Some(path.to_string()),
            type_name: gdb::type_name(types, field.ty),
            offset: field.byte_offset(),
            bit_offset: field.bit_offset,
            bit_size: field.bit_size,
            size: types.size_of(field.ty),
            address: at(field.byte_offset()),
            members: None,
        }],
        None => member_layouts(types, types.members(target.id), 0, &at),
    };
    Declaration {
        name: target.name.clone(),
        kind: target.kind,
        module: target.module.map(str::to_string),
        size: types.size_of(target.id),
        address: address.map(Addr),
        members,
    }
}

fn member_layouts(
    types: &Types,
    members: &[Member],
    base: u64,
    at: &dyn Fn(u64) -> Option<Addr>,
) -> Vec<MemberLayout> {
    members
        .iter()
        .map(|m| {
            let bit_offset = base + m.bit_offset;
            MemberLayout {
                name: m.name.map(|n| types.str(n).to_string()),
                type_name: gdb::type_name(types, m.ty),
                offset: bit_offset / 8,
                bit_offset,
                bit_size: m.bit_size,
                size: types.size_of(m.ty),
                address: at(bit_offset / 8),
                members: m
                    .name
                    .is_none()
                    .then(|| member_layouts(types, types.members(m.ty), bit_offset, at)),
            }
        })
        .collect()
}
