//! C expressions over the dump, as crash's `p` evaluates them through gdb.

mod declared;
mod eval;
mod parse;

pub use eval::{find_type, type_name, Evaluator, Shown, Ty, Val};
pub use parse::{parse, parse_type, Expr, TypeName};
