//! Evaluates an [`Expr`] over the dump, as gdb evaluates what crash's `p` hands
//! it: names are variables (typed by DWARF, or BTF for per-CPU ones), functions,
//! or bare symbols; members, elements and dereferences read memory on demand.

use super::declared::declared_type;
use super::parse::{Expr, TypeName};
use crate::object::{is_char, Object, ObjectError};
use crate::value::{Pointer, Value};
use crate::Program;
use coroner_types::{gdb, IntEncoding, Type, TypeId, Types};

/// A type with `pointers` more levels of `*` than `id` has: `&x` of a type the
/// model never points to still has a type (`char (*)[16]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ty {
    pub id: TypeId,
    pub pointers: u32,
}

/// What an expression evaluates to.
#[derive(Clone, Copy)]
pub enum Val<'a> {
    /// A typed object in memory.
    Object(Object<'a>),
    /// A pointer value; `target: None` for the address of a symbol without a
    /// type (gdb's `<data variable, no debug info> *`).
    Address { value: u64, target: Option<Ty> },
    /// Memory at `address` holding a pointer to `target`.
    PointerAt { address: u64, target: Ty },
    /// An integer; `ty` when a cast gave it one.
    Int { value: i128, ty: Option<TypeId> },
    /// A function, named by a symbol.
    Function { address: u64, prototype: TypeId },
    /// A symbol whose type nothing describes.
    Untyped { address: u64, name: &'a str },
}

/// Evaluates expressions over one program's memory and types.
pub struct Evaluator<'a> {
    program: &'a Program,
    types: &'a Types,
    /// The CPU whose instance per-CPU names stand for (crash's `:cpu`).
    cpu: Option<u32>,
    /// Names whose type came from coroner's table of declared types.
    pub declared: Vec<String>,
}

/// gdb's words for the errors kernel work meets.
fn no_symbol(name: &str) -> String {
    format!("No symbol \"{name}\" in current context.")
}

fn read_error(e: ObjectError) -> String {
    match e {
        ObjectError::Read(e) => format!("Cannot access memory at address {:#x}", e.addr),
        other => other.to_string(),
    }
}

impl<'a> Evaluator<'a> {
    pub fn new(program: &'a Program, types: &'a Types, cpu: Option<u32>) -> Self {
        Evaluator {
            program,
            types,
            cpu,
            declared: Vec::new(),
        }
    }

    pub fn eval(&mut self, expr: &Expr) -> Result<Val<'a>, String> {
        Ok(match expr {
            Expr::Name(name) => self.name(name)?,
            Expr::Number(n) => Val::Int {
                value: i128::from(*n),
                ty: None,
            },
            Expr::Member(inner, member) => {
                let base = self.eval(inner)?;
                self.member(base, member)?
            }
            Expr::Arrow(inner, member) => {
                let base = self.eval(inner)?;
                let target = match base {
                    Val::Object(o) if is_composite(self.types, o.type_id()) => base,
                    _ => self.deref(base)?,
                };
                self.member(target, member)?
            }
            Expr::Index(inner, index) => {
                let base = self.eval(inner)?;
                let index = self.eval(index)?;
                let index = self.integer(index)?;
                match base {
                    Val::Object(o) if self.is_array(o.type_id()) => {
                        Val::Object(o.element(index as u64).map_err(read_error)?)
                    }
                    _ => {
                        let moved = self.offset(base, index)?;
                        self.deref(moved)?
                    }
                }
            }
            Expr::Deref(inner) => {
                let value = self.eval(inner)?;
                self.deref(value)?
            }
            Expr::AddrOf(inner) => {
                let value = self.eval(inner)?;
                self.address_of(value)?
            }
            Expr::Negate(inner) => {
                let value = self.eval(inner)?;
                Val::Int {
                    value: -self.integer(value)?,
                    ty: None,
                }
            }
            Expr::Cast(ty, inner) => {
                let ty = self.resolve_type(ty)?;
                let value = self.eval(inner)?;
                self.cast(ty, value)?
            }
            Expr::Sizeof(ty) => {
                let ty = self.resolve_type(ty)?;
                Val::Int {
                    value: i128::from(self.size_of(ty).unwrap_or(0)),
                    ty: None,
                }
            }
            Expr::Add(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                match (self.pointer_like(a), self.pointer_like(b)) {
                    (true, false) => self.offset(a, self.integer(b)?)?,
                    (false, true) => self.offset(b, self.integer(a)?)?,
                    (true, true) => return Err("Cannot add two pointers.".into()),
                    (false, false) => Val::Int {
                        value: self.integer(a)?.wrapping_add(self.integer(b)?),
                        ty: None,
                    },
                }
            }
            Expr::Sub(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                match (self.pointer_like(a), self.pointer_like(b)) {
                    (true, false) => self.offset(a, -self.integer(b)?)?,
                    (true, true) => {
                        let step = self.step(a).max(1) as i128;
                        Val::Int {
                            value: (self.integer(a)? - self.integer(b)?) / step,
                            ty: None,
                        }
                    }
                    _ => Val::Int {
                        value: self.integer(a)?.wrapping_sub(self.integer(b)?),
                        ty: None,
                    },
                }
            }
        })
    }

    /// A name: a variable (its DWARF or BTF type, else the declared-types table),
    /// a function, or a bare symbol.
    fn name(&mut self, name: &str) -> Result<Val<'a>, String> {
        let program = self.program;
        let Some(symbol) = program.symbols().by_name(name) else {
            return Err(no_symbol(name));
        };
        let mut address = symbol.address;
        if let Some(cpu) = self.cpu.filter(|_| program.is_per_cpu(address)) {
            address = program
                .per_cpu_address(name, cpu)
                .ok_or_else(|| format!("cannot read __per_cpu_offset[{cpu}]"))?;
        }
        if let Some(ty) = self.types.variable(name) {
            return Ok(Val::Object(Object::new(program, self.types, ty, address)));
        }
        if let Some(prototype) = self.types.function(name) {
            return Ok(Val::Function { address, prototype });
        }
        if let Some(declared) = declared_type(name) {
            let ty = super::parse::parse_type(declared)
                .and_then(|t| self.resolve_type(&t))
                .ok();
            if let Some(ty) = ty {
                self.declared.push(name.to_string());
                return Ok(self.at(ty, address));
            }
        }
        Ok(Val::Untyped {
            address,
            name: &symbol.name,
        })
    }

    /// The value of type `ty` in memory at `address`.
    fn at(&self, ty: Ty, address: u64) -> Val<'a> {
        match ty.pointers {
            0 => Val::Object(Object::new(self.program, self.types, ty.id, address)),
            n => Val::PointerAt {
                address,
                target: Ty {
                    id: ty.id,
                    pointers: n - 1,
                },
            },
        }
    }

    fn member(&self, base: Val<'a>, member: &str) -> Result<Val<'a>, String> {
        let object = match base {
            Val::Object(o) if is_composite(self.types, o.type_id()) => o,
            Val::Object(o) if self.pointee(o.type_id()).is_some() => match self.deref(base)? {
                Val::Object(o) => o,
                _ => return Err(not_a_structure()),
            },
            Val::Address { .. } => match self.deref(base)? {
                Val::Object(o) => o,
                _ => return Err(not_a_structure()),
            },
            _ => return Err(not_a_structure()),
        };
        object
            .member(member)
            .map(Val::Object)
            .map_err(|_| format!("There is no member named {member}."))
    }

    pub fn deref(&self, value: Val<'a>) -> Result<Val<'a>, String> {
        match value {
            Val::Object(o) => {
                if self.is_array(o.type_id()) {
                    return o.element(0).map(Val::Object).map_err(read_error);
                }
                let target = self.pointee(o.type_id()).ok_or_else(not_a_pointer)?;
                if self.types.resolve(target) == TypeId::VOID {
                    return Err("Attempt to take contents of a non-pointer value.".into());
                }
                Ok(Val::Object(o.deref().map_err(read_error)?))
            }
            Val::Address {
                value,
                target: Some(target),
            } => {
                if target.pointers == 0 && self.types.resolve(target.id) == TypeId::VOID {
                    return Err("Attempt to take contents of a non-pointer value.".into());
                }
                Ok(self.at(target, value))
            }
            Val::PointerAt { address, target } => {
                let value = self
                    .program
                    .read_u64(address)
                    .map_err(|e| format!("Cannot access memory at address {:#x}", e.addr))?;
                self.deref(Val::Address {
                    value,
                    target: Some(target),
                })
            }
            Val::Function { .. } => Ok(value),
            Val::Untyped { name, .. } => Err(untyped_error(name)),
            Val::Address { target: None, .. } | Val::Int { .. } => Err(not_a_pointer()),
        }
    }

    fn address_of(&self, value: Val<'a>) -> Result<Val<'a>, String> {
        Ok(match value {
            Val::Object(o) if o.is_bitfield() => {
                return Err("Attempt to take address of value not located in memory.".into())
            }
            Val::Object(o) => Val::Address {
                value: o.address(),
                target: Some(Ty {
                    id: o.type_id(),
                    pointers: 0,
                }),
            },
            Val::PointerAt { address, target } => Val::Address {
                value: address,
                target: Some(Ty {
                    id: target.id,
                    pointers: target.pointers + 1,
                }),
            },
            Val::Function { address, prototype } => Val::Address {
                value: address,
                target: Some(Ty {
                    id: prototype,
                    pointers: 0,
                }),
            },
            Val::Untyped { address, .. } => Val::Address {
                value: address,
                target: None,
            },
            Val::Address { .. } | Val::Int { .. } => {
                return Err("Attempt to take address of value not located in memory.".into())
            }
        })
    }

    fn cast(&self, ty: Ty, value: Val<'a>) -> Result<Val<'a>, String> {
        // A symbol without a type is read as the type it is cast to (gdb's
        // advice: "cast it to its declared type").
        if let Val::Untyped { address, .. } = value {
            return Ok(self.at(ty, address));
        }
        if ty.pointers > 0 {
            return Ok(Val::Address {
                value: self.integer(value)? as u64,
                target: Some(Ty {
                    id: ty.id,
                    pointers: ty.pointers - 1,
                }),
            });
        }
        let resolved = self.types.resolve(ty.id);
        match self.types.get(resolved) {
            Some(Type::Pointer(target)) => Ok(Val::Address {
                value: self.integer(value)? as u64,
                target: Some(Ty {
                    id: *target,
                    pointers: 0,
                }),
            }),
            Some(Type::Int(_) | Type::Enum(_)) => {
                let size = self.types.size_of(ty.id).unwrap_or(8).min(16) as u32;
                let raw = self.integer(value)?;
                let bits = size * 8;
                let signed = match self.types.get(resolved) {
                    Some(Type::Int(i)) => i.signed,
                    _ => false,
                };
                let masked = if bits >= 128 {
                    raw
                } else if signed {
                    (raw << (128 - bits)) >> (128 - bits)
                } else {
                    raw & ((1i128 << bits) - 1)
                };
                Ok(Val::Int {
                    value: masked,
                    ty: Some(ty.id),
                })
            }
            Some(Type::Struct(_) | Type::Union(_)) => match value {
                Val::Object(o) => Ok(Val::Object(Object::new(
                    self.program,
                    self.types,
                    ty.id,
                    o.address(),
                ))),
                _ => Err("Invalid cast.".into()),
            },
            _ => Err("Invalid cast.".into()),
        }
    }

    /// A scalar's value: integers, enums, pointers (their address), arrays (the
    /// address they decay to), functions (their address).
    pub fn integer(&self, value: Val<'a>) -> Result<i128, String> {
        match value {
            Val::Int { value, .. } => Ok(value),
            Val::Address { value, .. } | Val::Function { address: value, .. } => {
                Ok(i128::from(value))
            }
            Val::PointerAt { address, .. } => self
                .program
                .read_u64(address)
                .map(i128::from)
                .map_err(|e| format!("Cannot access memory at address {:#x}", e.addr)),
            Val::Object(o) => {
                let resolved = self.types.resolve(o.type_id());
                match self.types.get(resolved) {
                    Some(Type::Array(_)) => Ok(i128::from(o.address())),
                    Some(Type::Int(i)) if i.signed => o.read_signed().map_err(read_error),
                    Some(Type::Int(_) | Type::Enum(_) | Type::Pointer(_)) => {
                        o.read_unsigned().map(|v| v as i128).map_err(read_error)
                    }
                    _ => Err("Invalid cast.".into()),
                }
            }
            Val::Untyped { name, .. } => Err(untyped_error(name)),
        }
    }

    /// Whether `+`/`-` scale by a pointee's size.
    fn pointer_like(&self, value: Val<'a>) -> bool {
        match value {
            Val::Address { .. } | Val::PointerAt { .. } => true,
            Val::Object(o) => self.pointee(o.type_id()).is_some() || self.is_array(o.type_id()),
            _ => false,
        }
    }

    /// Bytes a pointer step moves.
    fn step(&self, value: Val<'a>) -> u64 {
        let ty = match value {
            Val::Address {
                target: Some(t), ..
            } => Some(t),
            Val::PointerAt { target, .. } => Some(target),
            Val::Object(o) => self
                .pointee(o.type_id())
                .or_else(|| self.element_of(o.type_id()))
                .map(|id| Ty { id, pointers: 0 }),
            _ => None,
        };
        ty.and_then(|t| self.size_of(t)).unwrap_or(1)
    }

    /// `value` moved by `count` elements, as a pointer.
    fn offset(&self, value: Val<'a>, count: i128) -> Result<Val<'a>, String> {
        let step = i128::from(self.step(value));
        let base = self.integer(value)?;
        let target = match value {
            Val::Address { target, .. } => target,
            Val::PointerAt { target, .. } => Some(target),
            Val::Object(o) => self
                .pointee(o.type_id())
                .or_else(|| self.element_of(o.type_id()))
                .map(|id| Ty { id, pointers: 0 }),
            _ => None,
        };
        Ok(Val::Address {
            value: base.wrapping_add(count.wrapping_mul(step)) as u64,
            target,
        })
    }

    pub fn size_of(&self, ty: Ty) -> Option<u64> {
        match ty.pointers {
            0 => self.types.size_of(ty.id),
            _ => Some(self.types.pointer_size()),
        }
    }

    fn pointee(&self, id: TypeId) -> Option<TypeId> {
        match self.types.get(self.types.resolve(id)) {
            Some(Type::Pointer(target)) => Some(*target),
            _ => None,
        }
    }

    fn element_of(&self, id: TypeId) -> Option<TypeId> {
        match self.types.get(self.types.resolve(id)) {
            Some(Type::Array(a)) => Some(a.element),
            _ => None,
        }
    }

    /// A `char` array without a bound.
    fn unbounded_text(&self, id: TypeId) -> bool {
        matches!(self.types.get(self.types.resolve(id)),
            Some(Type::Array(a)) if a.count.is_none() && is_char(self.types, a.element))
    }

    fn is_array(&self, id: TypeId) -> bool {
        self.element_of(id).is_some()
    }

    /// A type written in a cast, found in the program's types.
    pub fn resolve_type(&self, name: &TypeName) -> Result<Ty, String> {
        let id = find_type(self.types, &name.base)
            .ok_or_else(|| format!("No symbol \"{}\" in current context.", name.base))?;
        Ok(Ty {
            id,
            pointers: name.pointers,
        })
    }

    pub fn types(&self) -> &'a Types {
        self.types
    }
}

fn not_a_structure() -> String {
    "Attempt to extract a component of a value that is not a structure.".into()
}

fn not_a_pointer() -> String {
    "Attempt to take contents of a non-pointer value.".into()
}

fn untyped_error(name: &str) -> String {
    format!("'{name}' has unknown type; cast it to its declared type")
}

fn is_composite(types: &Types, id: TypeId) -> bool {
    matches!(
        types.get(types.resolve(id)),
        Some(Type::Struct(_) | Type::Union(_))
    )
}

/// A type by the name a cast gives: `void`, a C base type in any spelling
/// (`unsigned long` is GCC's `long unsigned int`), a struct, union, enum or
/// typedef.
pub fn find_type(types: &Types, name: &str) -> Option<TypeId> {
    let name = name.trim();
    if name == "void" {
        return Some(TypeId::VOID);
    }
    if let Some(id) = types.find(name) {
        return Some(id);
    }
    let wanted = gdb::canonical_base_name(name);
    types.ids().find(|&id| match types.get(id) {
        Some(Type::Int(int)) => gdb::canonical_base_name(types.str(int.name)) == wanted,
        Some(Type::Float(f)) => types.str(f.name) == name,
        _ => false,
    })
}

/// gdb's name of `ty`: `struct task_struct *`, `char (*)[16]`, `void (*)(void)`.
pub fn type_name(types: &Types, ty: Ty) -> String {
    let base = gdb::type_name(types, ty.id);
    if ty.pointers == 0 {
        return base;
    }
    let stars = "*".repeat(ty.pointers as usize);
    match types.get(types.resolve(ty.id)) {
        // The declarator goes inside parentheses before `[N]` or `(params)`.
        Some(Type::Array(_)) | Some(Type::Function(_)) => {
            let cut = base.find(['[', '(']).unwrap_or(base.len());
            format!("{}({stars}){}", &base[..cut], &base[cut..])
        }
        _ if base.ends_with('*') => format!("{base}{stars}"),
        _ => format!("{base} {stars}"),
    }
}

/// What `p` prints of a value: gdb's text after `$N = `, and the value itself.
pub struct Shown {
    /// `(struct task_struct *) ` before a pointer, `{void (void)} ` before a
    /// function; empty otherwise.
    pub prefix: String,
    pub value: Value,
    /// gdb's name of the value's type.
    pub type_name: String,
}

impl<'a> Evaluator<'a> {
    /// The value as gdb prints it at the top level.
    pub fn show(&self, value: Val<'a>) -> Result<Shown, String> {
        let types = self.types;
        let program = self.program;
        // A pointer value: its type in parentheses, unless it points to `char`
        // (gdb shows the string instead).
        let pointer = |address: u64, target: Option<Ty>| -> Shown {
            let object = Object::new(program, types, TypeId::VOID, 0);
            let (name, pointee) = match target {
                Some(t) => (
                    type_name(
                        types,
                        Ty {
                            id: t.id,
                            pointers: t.pointers + 1,
                        },
                    ),
                    if t.pointers == 0 { t.id } else { TypeId::VOID },
                ),
                None => ("<data variable, no debug info> *".to_string(), TypeId::VOID),
            };
            let p: Pointer = object.pointer(address, pointee);
            let prefix = if target.is_some_and(|t| t.pointers == 0 && is_char(types, t.id)) {
                String::new()
            } else {
                format!("({name}) ")
            };
            Shown {
                prefix,
                value: Value::Pointer(p),
                type_name: name,
            }
        };
        Ok(match value {
            Val::Object(o) if self.unbounded_text(o.type_id()) => {
                // `char x[]` as a header declares it (the DWARF of a definition
                // may carry no bound): the string up to its NUL, as gdb prints
                // the defined array.
                let text = o.c_string(1 << 16).map_err(read_error)?;
                let mut bytes = text.into_bytes();
                bytes.push(0);
                Shown {
                    prefix: String::new(),
                    value: Value::Text(crate::value::Text::from_bytes(&bytes, false)),
                    type_name: o.type_name(),
                }
            }
            Val::Object(o) => {
                let shown = o.value().map_err(read_error)?;
                let name = o.type_name();
                let prefix = match (&shown, self.pointee(o.type_id())) {
                    (Value::Pointer(_), Some(target)) if !is_char(types, target) => {
                        format!("({name}) ")
                    }
                    _ => String::new(),
                };
                Shown {
                    prefix,
                    value: shown,
                    type_name: name,
                }
            }
            Val::Address { value, target } => pointer(value, target),
            Val::PointerAt { address, target } => {
                let value = program
                    .read_u64(address)
                    .map_err(|e| format!("Cannot access memory at address {:#x}", e.addr))?;
                pointer(value, Some(target))
            }
            Val::Int { value, ty } => {
                let (shown, name) = match ty.and_then(|t| Some((t, types.get(types.resolve(t))?))) {
                    Some((t, Type::Int(int))) if int.encoding == IntEncoding::Bool => {
                        (Value::Bool { value }, gdb::type_name(types, t))
                    }
                    Some((t, Type::Int(int))) if int.size == 1 => {
                        (Value::Char { value }, gdb::type_name(types, t))
                    }
                    Some((t, _)) => (
                        Value::Int {
                            value,
                            size: types.size_of(t).unwrap_or(8) as u32,
                        },
                        gdb::type_name(types, t),
                    ),
                    // gdb types a literal as int, or long when it does not fit.
                    None if i32::try_from(value).is_ok() => {
                        (Value::Int { value, size: 4 }, "int".to_string())
                    }
                    None => (Value::Int { value, size: 8 }, "long".to_string()),
                };
                Shown {
                    prefix: String::new(),
                    value: shown,
                    type_name: name,
                }
            }
            Val::Function { address, prototype } => {
                let object = Object::new(program, types, TypeId::VOID, 0);
                let name = gdb::type_name(types, prototype);
                Shown {
                    prefix: format!("{{{name}}} "),
                    value: Value::Pointer(object.pointer(address, TypeId::VOID)),
                    type_name: name,
                }
            }
            Val::Untyped { name, .. } => return Err(untyped_error(name)),
        })
    }
}
