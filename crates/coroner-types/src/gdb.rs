//! C declarations spelled the way gdb's `ptype` spells them (c-typeprint.c of gdb
//! 10.2, which crash 8 embeds, with crash's patch that expands anonymous members
//! however deep they sit). crash's `struct` command prints this text, so matching
//! it byte for byte lets coroner's output be compared with crash's.
//!
//! gdb's vocabulary carries over: `show` > 0 prints a struct's body, 0 prints a
//! name if the type has one (else the body), < 0 prints `{...}` for a nameless
//! body; a declarator is a base type, then a prefix (`*`, `(`), the declared
//! name, then a suffix (`[4]`, `)(int)`).

use std::borrow::Cow;

use crate::model::{ForwardKind, Function, Qualifier, Type, TypeId, Types};

/// `ptype struct NAME` without the `type = `: the body of a struct or union,
/// members indented four spaces per level.
pub fn ptype(types: &Types, id: TypeId) -> String {
    let mut printer = Printer::new(types);
    printer.print_type(printer.view(id), "", 1, 0, false);
    printer.out
}

/// How gdb's `whatis` names a type: `struct list_head *`, `char [16]`,
/// `void (*)(struct callback_head *)`, `unsigned long`.
pub fn type_name(types: &Types, id: TypeId) -> String {
    let mut printer = Printer::new(types);
    printer.print_type(printer.view(id), "", -1, 0, false);
    printer.out
}

/// The name gdb prints for a C base type: its canonical spelling, so GCC's
/// `long unsigned int` reads `unsigned long` (gdb canonicalizes every name it
/// prints; only base type names change).
pub fn canonical_base_name(name: &str) -> Cow<'_, str> {
    let (mut unsigned, mut signed, mut short, mut longs, mut char, mut int128) =
        (false, false, false, 0, false, false);
    for word in name.split_whitespace() {
        match word {
            "unsigned" => unsigned = true,
            "signed" => signed = true,
            "short" => short = true,
            "long" => longs += 1,
            "char" => char = true,
            "__int128" => int128 = true,
            "int" => {}
            _ => return Cow::Borrowed(name),
        }
    }
    let sign = if unsigned { "unsigned " } else { "" };
    let canonical = if char {
        format!("{}char", if signed { "signed " } else { sign })
    } else if int128 {
        format!("{sign}__int128")
    } else {
        let width = match (short, longs) {
            (true, _) => "short",
            (false, 0) => "int",
            (false, 1) => "long",
            _ => "long long",
        };
        format!("{sign}{width}")
    };
    if canonical == name {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(canonical)
    }
}

/// A type as gdb holds it: qualifier flags on a core type. Type tags (`__rcu`,
/// `__user`) are invisible to gdb and skipped.
#[derive(Clone, Copy)]
struct View {
    core: TypeId,
    constant: bool,
    volatile: bool,
    restrict: bool,
}

/// Most declarations one call prints. Types shared many times over (possible only
/// in corrupt input) could otherwise spell out exponentially long text; past the
/// budget a declaration prints as `<truncated>`. The largest struct of the 6.1
/// and 6.18 kernels needs 877: `union security_list_options`, a function pointer
/// for every LSM hook, each parameter a declaration too.
const BUDGET: usize = 1 << 13;

struct Printer<'a> {
    types: &'a Types,
    out: String,
    budget: usize,
}

impl<'a> Printer<'a> {
    fn new(types: &'a Types) -> Self {
        Printer {
            types,
            out: String::new(),
            budget: BUDGET,
        }
    }

    fn view(&self, mut id: TypeId) -> View {
        let mut view = View {
            core: id,
            constant: false,
            volatile: false,
            restrict: false,
        };
        while let Some(Type::Qualified(q, target)) = self.types.get(id) {
            match q {
                Qualifier::Const => view.constant = true,
                Qualifier::Volatile => view.volatile = true,
                Qualifier::Restrict => view.restrict = true,
                Qualifier::Tag(_) => {}
            }
            id = *target;
        }
        view.core = id;
        view
    }

    /// gdb's `check_typedef`: the typedef's target, keeping the qualifiers.
    fn strip_typedefs(&self, mut view: View) -> View {
        while let Some(Type::Typedef(t)) = self.types.get(view.core) {
            let inner = self.view(t.target);
            view = View {
                core: inner.core,
                constant: view.constant || inner.constant,
                volatile: view.volatile || inner.volatile,
                restrict: view.restrict || inner.restrict,
            };
        }
        view
    }

    fn core(&self, view: View) -> &'a Type {
        self.types.get(view.core).unwrap_or(&Type::Void)
    }

    /// The name gdb knows the type by; `void` counts as named.
    fn name(&self, view: View) -> Option<&'a str> {
        match self.core(view) {
            Type::Void => Some("void"),
            _ => self.types.name_of(view.core),
        }
    }

    fn is_composite(&self, id: TypeId) -> bool {
        matches!(
            self.types.get(self.types.resolve(id)),
            Some(Type::Struct(_) | Type::Union(_))
        )
    }

    fn spaces(&mut self, count: usize) {
        self.out.extend(std::iter::repeat_n(' ', count));
    }

    /// `c_print_type_1`. `flexible` marks the last member of a struct, where a
    /// zero-length array is the source's `T x[]` (see [`Printer::suffix`]).
    fn print_type(&mut self, view: View, varstring: &str, show: i32, level: usize, flexible: bool) {
        if self.budget == 0 {
            self.out.push_str("<truncated>");
            return;
        }
        self.budget -= 1;
        let view = if show > 0 {
            self.strip_typedefs(view)
        } else {
            view
        };
        self.base(view, show, level);
        let declarator = matches!(
            self.core(view),
            Type::Pointer(_) | Type::Function(_) | Type::Array(_)
        );
        if !varstring.is_empty() || ((show > 0 || self.name(view).is_none()) && declarator) {
            self.out.push(' ');
        }
        self.prefix(view, show, false, !varstring.is_empty());
        self.out.push_str(varstring);
        self.suffix(view, show, false, flexible);
    }

    /// `c_type_print_base_1`: the type specifier, a whole body for a nameless
    /// struct, union or enum.
    fn base(&mut self, view: View, show: i32, level: usize) {
        if show <= 0 {
            if let Some(name) = self.name(view) {
                let keyword = match self.core(view) {
                    Type::Struct(_)
                    | Type::Forward(crate::Forward {
                        kind: ForwardKind::Struct,
                        ..
                    }) => "struct ",
                    Type::Union(_)
                    | Type::Forward(crate::Forward {
                        kind: ForwardKind::Union,
                        ..
                    }) => "union ",
                    Type::Enum(_)
                    | Type::Forward(crate::Forward {
                        kind: ForwardKind::Enum,
                        ..
                    }) => "enum ",
                    _ => "",
                };
                let name = canonical_base_name(name);
                self.modifier(view, false, true);
                self.out.push_str(keyword);
                self.out.push_str(&name);
                return;
            }
        }
        let view = self.strip_typedefs(view);
        match self.core(view) {
            Type::Pointer(t) => self.base(self.view(*t), show, level),
            Type::Array(a) => self.base(self.view(a.element), show, level),
            Type::Function(f) => self.base(self.view(f.ret), show, level),
            Type::Struct(_) | Type::Union(_) | Type::Forward(_) => {
                self.composite(view, show, level)
            }
            Type::Enum(_) => self.enumeration(view, show),
            Type::Void | Type::Int(_) | Type::Float(_) => {
                let name = canonical_base_name(self.name(view).unwrap_or(""));
                self.modifier(view, false, true);
                self.out.push_str(&name);
            }
            Type::Typedef(_) | Type::Qualified(..) => {}
        }
    }

    /// `c_type_print_base_struct_union`, with crash's patch: an anonymous member
    /// keeps its container's `show`, so nested anonymous bodies always expand.
    fn composite(&mut self, view: View, show: i32, level: usize) {
        let types = self.types;
        let (keyword, name, members, is_struct) = match self.core(view) {
            Type::Struct(c) => ("struct ", c.name, Some(&c.members), true),
            Type::Union(c) => ("union ", c.name, Some(&c.members), false),
            Type::Forward(f) => (
                if f.kind == ForwardKind::Union {
                    "union "
                } else {
                    "struct "
                },
                Some(f.name),
                None,
                false,
            ),
            _ => return,
        };
        self.modifier(view, false, true);
        self.out.push_str(keyword);
        if let Some(name) = name {
            self.out.push_str(types.str(name));
            if show > 0 {
                self.out.push(' ');
            }
        }
        if show < 0 {
            if name.is_none() {
                self.out.push_str("{...}");
            }
            return;
        }
        self.out.push_str("{\n");
        match members {
            None => {
                self.spaces(level + 4);
                self.out.push_str("<incomplete type>\n");
            }
            Some(members) if members.is_empty() => {
                self.spaces(level + 4);
                self.out.push_str("<no data fields>\n");
            }
            Some(members) => {
                for (i, member) in members.iter().enumerate() {
                    self.spaces(level + 4);
                    // crash's patch keeps `show` for an unnamed member; C has those
                    // only of struct or union type, and only those may keep it, or
                    // a corrupt unnamed pointer to the container would expand forever.
                    let (varstring, newshow) = match member.name {
                        Some(n) => (types.str(n), show - 1),
                        None if self.is_composite(member.ty) => ("", show),
                        None => ("", show - 1),
                    };
                    let last = is_struct && i + 1 == members.len();
                    self.print_type(self.view(member.ty), varstring, newshow, level + 4, last);
                    if let Some(bits) = member.bit_size {
                        self.out.push_str(&format!(" : {bits}"));
                    }
                    self.out.push_str(";\n");
                }
            }
        }
        self.spaces(level);
        self.out.push('}');
    }

    /// The enum case of `c_type_print_base_1`: `enum {A, B = 4, C}`, a value shown
    /// where it does not follow from the previous one.
    fn enumeration(&mut self, view: View, show: i32) {
        let types = self.types;
        let Type::Enum(e) = self.core(view) else {
            return;
        };
        self.modifier(view, false, true);
        self.out.push_str("enum ");
        if let Some(name) = e.name {
            self.out.push_str(types.str(name));
            if show > 0 {
                self.out.push(' ');
            }
        }
        if show < 0 {
            if e.name.is_none() {
                self.out.push_str("{...}");
            }
            return;
        }
        self.out.push('{');
        // gdb holds enumerators as a signed 64-bit LONGEST.
        let mut next: i64 = 0;
        for (i, value) in e.values.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(types.str(value.name));
            let v = value.value as i64;
            if v != next {
                self.out.push_str(&format!(" = {v}"));
            }
            next = v.wrapping_add(1);
        }
        self.out.push('}');
    }

    /// `c_type_print_modifier`.
    fn modifier(&mut self, view: View, pre_space: bool, post_space: bool) {
        let mut printed = false;
        for (present, word) in [
            (view.constant, "const"),
            (view.volatile, "volatile"),
            (view.restrict, "restrict"),
        ] {
            if present {
                if printed || pre_space {
                    self.out.push(' ');
                }
                self.out.push_str(word);
                printed = true;
            }
        }
        if printed && post_space {
            self.out.push(' ');
        }
    }

    /// `c_type_print_varspec_prefix`: stars and opening parentheses.
    fn prefix(&mut self, view: View, show: i32, passed_a_ptr: bool, post_space: bool) {
        if self.name(view).is_some() && show <= 0 {
            return;
        }
        match self.core(view) {
            Type::Pointer(t) => {
                self.prefix(self.view(*t), show, true, true);
                self.out.push('*');
                self.modifier(view, true, post_space);
            }
            Type::Function(f) => {
                self.prefix(self.view(f.ret), show, false, false);
                if passed_a_ptr {
                    self.out.push('(');
                }
            }
            Type::Array(a) => {
                self.prefix(self.view(a.element), show, false, post_space);
                if passed_a_ptr {
                    self.out.push('(');
                }
            }
            Type::Typedef(t) => self.prefix(self.view(t.target), show, passed_a_ptr, false),
            _ => {}
        }
    }

    /// `c_type_print_varspec_suffix`: array bounds, parameter lists, closing
    /// parentheses. BTF records `T x[]` and `T x[0]` alike as 0 elements; C allows
    /// the first only as a struct's last member, so `flexible` prints `[]` there.
    fn suffix(&mut self, view: View, show: i32, passed_a_ptr: bool, flexible: bool) {
        if self.name(view).is_some() && show <= 0 {
            return;
        }
        match self.core(view) {
            Type::Array(a) => {
                if passed_a_ptr {
                    self.out.push(')');
                }
                match a.count {
                    Some(0) if flexible => self.out.push_str("[]"),
                    Some(n) => self.out.push_str(&format!("[{n}]")),
                    None => self.out.push_str("[]"),
                }
                self.suffix(self.view(a.element), show, false, false);
            }
            Type::Pointer(t) => self.suffix(self.view(*t), show, true, false),
            Type::Function(f) => {
                if passed_a_ptr {
                    self.out.push(')');
                }
                self.arguments(f);
                self.suffix(self.view(f.ret), show, passed_a_ptr, false);
            }
            Type::Typedef(t) => self.suffix(self.view(t.target), show, passed_a_ptr, false),
            _ => {}
        }
    }

    /// `c_type_print_args`; every BTF prototype is a prototype, so `(void)`.
    fn arguments(&mut self, f: &'a Function) {
        self.out.push('(');
        for (i, param) in f.params.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.print_type(self.view(param.ty), "", -1, 0, false);
        }
        if f.params.is_empty() {
            self.out.push_str("void");
        } else if f.variadic {
            self.out.push_str(", ...");
        }
        self.out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_base_name;

    #[test]
    fn base_names_read_as_gdb_prints_them() {
        for (gcc, gdb) in [
            ("long unsigned int", "unsigned long"),
            ("long int", "long"),
            ("short unsigned int", "unsigned short"),
            ("short int", "short"),
            ("long long unsigned int", "unsigned long long"),
            ("long long int", "long long"),
            ("unsigned int", "unsigned int"),
            ("signed char", "signed char"),
            ("unsigned char", "unsigned char"),
            ("char", "char"),
            ("__int128 unsigned", "unsigned __int128"),
            ("_Bool", "_Bool"),
            ("u64", "u64"),
        ] {
            assert_eq!(canonical_base_name(gcc), gdb, "{gcc}");
        }
    }
}
