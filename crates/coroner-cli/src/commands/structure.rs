//! `coroner struct DUMP TYPE[.member[,member]] [ADDR] [-o] [-x] [-m MODULE]`: crash's
//! `struct` (and `union`) from the BTF of the kernel and its loaded modules: the
//! declaration as gdb's `ptype` spells it, member offsets (`-o`), or the object at
//! ADDR as gdb pretty-prints it. crash's layout rules live here; types, objects and
//! their values come from the program.

use super::address::{open_program, resolve, SymbolsArg};
use coroner_program::{FoundType, Object, ObjectError, Program, Value};
use coroner_types::crash::{struct_offsets_in, Radix, Scope};
use coroner_types::{gdb, Member, Type, TypeId, Types};
use serde_json::{json, Map, Value as Json};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    dump: PathBuf,
    /// A struct or union (`task_struct`, `struct page`, a typedef such as
    /// `cpumask_t`), optionally with members: `task_struct.pid`,
    /// `task_struct.comm,pid`, `task_struct.se.on_rq` (paths need ADDR).
    target: String,
    /// Where the object is: hex, a symbol, or `symbol+offset`.
    address: Option<String>,
    /// Show member offsets (with ADDR: member addresses) instead of values.
    #[arg(short = 'o')]
    offsets: bool,
    /// Numbers in hex (offsets, sizes, integer values).
    #[arg(short = 'x')]
    hex: bool,
    /// Look the type up in this module's BTF (when several modules define it).
    #[arg(short = 'm', long = "module", value_name = "MODULE")]
    module: Option<String>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    symbols: SymbolsArg,
}

/// A failed lookup (no such type or member: exit status 1, as `sym`'s misses) or
/// anything else (exit status 2).
enum Failure {
    Lookup(String),
    Fatal(String),
}

impl From<ObjectError> for Failure {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::NoMember { .. } | ObjectError::Index { .. } => {
                Failure::Lookup(e.to_string())
            }
            _ => Failure::Fatal(e.to_string()),
        }
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    match output(args, &program) {
        Ok(text) => {
            // A task_struct is 1,000 lines: `| head` closing the pipe is no error.
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("struct: writing the output: {e}"))
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Err(Failure::Lookup(e)) => {
            eprintln!("coroner: struct: {e}");
            Ok(ExitCode::from(1))
        }
        Err(Failure::Fatal(e)) => Err(format!("struct: {e}")),
    }
}

/// The type asked for, as crash takes it.
struct Target<'t> {
    types: &'t Types,
    /// As found by name: a typedef stays a typedef.
    id: TypeId,
    /// The module whose BTF defines it (`None`: vmlinux).
    module: Option<&'t str>,
    /// `struct` or `union`.
    kind: &'static str,
    /// The name without its keyword (`list_head`, `cpumask_t`).
    name: String,
    /// Named by a typedef: crash prints `typedef struct cpumask {...} cpumask_t;`.
    typedef: bool,
}

fn output(args: &Args, program: &Program) -> Result<String, Failure> {
    // crash splits `TYPE.member,member` at the first dot.
    let (type_name, members) = match args.target.split_once('.') {
        Some((name, list)) => {
            let members: Vec<&str> = list.split(',').map(str::trim).collect();
            if members.iter().any(|m| m.is_empty()) {
                return Err(Failure::Lookup(format!(
                    "{}: empty member name",
                    args.target
                )));
            }
            (name, members)
        }
        None => (args.target.as_str(), Vec::new()),
    };
    let target = find_type(program, type_name, args.module.as_deref())?;
    let types = target.types;
    for member in &members {
        if types.member(target.id, member).is_none() {
            return Err(Failure::Lookup(format!(
                "{} {} has no member {member}",
                target.kind, target.name
            )));
        }
    }
    let radix = if args.hex { Radix::Hex } else { Radix::Decimal };
    let address = args
        .address
        .as_deref()
        .map(|a| resolve(program, a))
        .transpose()
        .map_err(Failure::Fatal)?;

    if address.is_none() || args.offsets {
        let member = match members.as_slice() {
            [] => None,
            [one] if !one.contains(['.', '[']) => Some(*one),
            [_] => {
                return Err(Failure::Lookup(format!(
                    "{}: offsets are shown for direct members only",
                    args.target
                )))
            }
            _ => {
                return Err(Failure::Lookup(format!(
                    "{}: offsets are shown for one member at a time",
                    args.target
                )))
            }
        };
        if args.json {
            return Ok(declaration_json(&target, member, address));
        }
        let text = match (member, address, args.offsets) {
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
                    .ok_or_else(|| Failure::Fatal(format!("{}: no layout", target.name)))?
            }
        };
        return Ok(typedef_wrapped(&target, &text));
    }

    let address = address.expect("offsets or declarations returned above");
    let object = Object::new(program, types, target.id, address);
    if members.is_empty() {
        let value = object.value()?;
        if args.json {
            return Ok(value_json(&target, address, None, &[value]));
        }
        return Ok(format!(
            "{} {} {}\n",
            target.kind,
            target.name,
            value.gdb_text(radix, 0)
        ));
    }
    let values = members
        .iter()
        .map(|m| object.member(m)?.value())
        .collect::<Result<Vec<_>, _>>()?;
    if args.json {
        return Ok(value_json(&target, address, Some(&members), &values));
    }
    let mut out = String::new();
    for (path, value) in members.iter().zip(&values) {
        let (recurse, followed) = member_line(types, target.id, path);
        out.push_str(&format!(
            "{:indent$}{path} = {}{}\n",
            "",
            value.gdb_text(radix, recurse),
            if followed { "," } else { "" },
            indent = 2 * recurse
        ));
    }
    Ok(out)
}

/// The type in vmlinux's BTF or a module's (only `module`'s when given).
fn find_type<'p>(
    program: &'p Program,
    name: &str,
    module: Option<&str>,
) -> Result<Target<'p>, Failure> {
    let found = match module {
        Some(m) if !program.modules().iter().any(|loaded| loaded.name == m) => {
            return Err(Failure::Lookup(format!("no module {m} is loaded")))
        }
        Some(m) => program.find_module_type(m, name),
        None => program.find_type(name),
    };
    // Modules whose BTF did not load may be why a type is missing: say so first.
    for w in program.module_type_warnings() {
        eprintln!("coroner: warning: {w}");
    }
    let FoundType { types, id, module } = found
        .map_err(Failure::Fatal)?
        .ok_or_else(|| Failure::Lookup(format!("{name}: no such struct or union")))?;
    let kind = match types.get(types.resolve(id)) {
        Some(Type::Struct(_)) => "struct",
        Some(Type::Union(_)) => "union",
        Some(Type::Forward(_)) => {
            return Err(Failure::Lookup(format!(
                "{name}: declared but not defined in the BTF of the kernel or its modules"
            )))
        }
        _ => return Err(Failure::Lookup(format!("{name}: not a struct or union"))),
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

/// `{"name", "kind", "size", "members": [...]}`: each member's name, gdb type
/// name, byte and bit offset, bitfield width and size (anonymous members nest
/// their own `members`), with `address` when ADDR was given.
fn declaration_json(target: &Target, member: Option<&str>, address: Option<u64>) -> String {
    let types = target.types;
    let members: Vec<Json> = match member {
        Some(path) => {
            let field = types.member(target.id, path).expect("checked by output");
            let entry = json!({
                "name": path,
                "type": gdb::type_name(types, field.ty),
                "offset": field.byte_offset(),
                "bit_offset": field.bit_offset,
                "bit_size": field.bit_size,
                "size": types.size_of(field.ty),
            });
            vec![with_address(entry, address)]
        }
        None => member_entries(types, types.members(target.id), 0, address),
    };
    let mut out = json!({
        "name": target.name,
        "kind": target.kind,
        "module": target.module,
        "size": types.size_of(target.id),
        "members": members,
    });
    if let Some(a) = address {
        out["address"] = json!(format!("{a:#x}"));
    }
    pretty(&out)
}

fn member_entries(types: &Types, members: &[Member], base: u64, address: Option<u64>) -> Vec<Json> {
    members
        .iter()
        .map(|m| {
            let bit_offset = base + m.bit_offset;
            let mut entry = json!({
                "name": m.name.map(|n| types.str(n)),
                "type": gdb::type_name(types, m.ty),
                "offset": bit_offset / 8,
                "bit_offset": bit_offset,
                "bit_size": m.bit_size,
                "size": types.size_of(m.ty),
            });
            if m.name.is_none() {
                let inner = member_entries(types, types.members(m.ty), bit_offset, address);
                entry["members"] = Json::Array(inner);
            }
            with_address(entry, address)
        })
        .collect()
}

fn with_address(mut entry: Json, address: Option<u64>) -> Json {
    if let (Some(a), Some(offset)) = (address, entry["offset"].as_u64()) {
        entry["address"] = json!(format!("{:#x}", a.wrapping_add(offset)));
    }
    entry
}

/// `{"type", "address", "value", "truncated"}`; with member paths, `value` maps
/// each path to its value.
fn value_json(target: &Target, address: u64, paths: Option<&[&str]>, values: &[Value]) -> String {
    let value = match paths {
        None => to_json(&values[0]),
        Some(paths) => Json::Object(
            paths
                .iter()
                .zip(values)
                .map(|(m, v)| (m.to_string(), to_json(v)))
                .collect(),
        ),
    };
    pretty(&json!({
        "type": format!("{} {}", target.kind, target.name),
        "module": target.module,
        "address": format!("{address:#x}"),
        "value": value,
        "truncated": values.iter().any(Value::is_cut),
    }))
}

/// A value as plain JSON: numbers, `true`/`false`, enumerator names, pointers as
/// hex strings, `char` arrays as their C string, structs as objects (an anonymous
/// member's members merged in, as C reaches them), arrays as arrays.
fn to_json(value: &Value) -> Json {
    match value {
        Value::Int { value, .. } | Value::Char { value } => integer(*value),
        Value::Bool { value: 0 } => Json::Bool(false),
        Value::Bool { value: 1 } => Json::Bool(true),
        Value::Bool { value } => integer(*value),
        Value::Enum { label: Some(l), .. } => Json::String(l.clone()),
        Value::Enum { value, .. } => integer(*value),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Pointer(p) => Json::String(format!("{:#x}", p.address)),
        Value::Text(t) => Json::String(t.c_str()),
        Value::Array { elements, .. } => Json::Array(elements.iter().map(to_json).collect()),
        Value::Composite(fields) => {
            let mut map = Map::new();
            merge_fields(&mut map, fields);
            Json::Object(map)
        }
        Value::Incomplete => Json::Null,
    }
}

fn merge_fields(map: &mut Map<String, Json>, fields: &[coroner_program::Field]) {
    for field in fields {
        match (&field.name, &field.value) {
            (Some(name), value) => {
                map.insert(name.clone(), to_json(value));
            }
            (None, Value::Composite(inner)) => merge_fields(map, inner),
            (None, _) => {}
        }
    }
}

fn integer(value: i128) -> Json {
    if let Ok(v) = i64::try_from(value) {
        json!(v)
    } else if let Ok(v) = u64::try_from(value) {
        json!(v)
    } else {
        Json::String(value.to_string())
    }
}

fn pretty(value: &Json) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}
