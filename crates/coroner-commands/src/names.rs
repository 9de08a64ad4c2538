//! The dump's own names a front end offers as completions: symbols, struct and
//! union names, PIDs. Empty when the input has none (a log, a dump without BTF).

use crate::session::Session;
use coroner_types::Type;

/// Symbol names starting with `prefix`, at most `max`.
pub fn symbols(session: &Session, prefix: &str, max: usize) -> Vec<String> {
    let Ok(program) = session.program() else {
        return Vec::new();
    };
    program
        .symbols()
        .iter()
        .filter(|s| s.name.starts_with(prefix))
        .take(max)
        .map(|s| s.name.clone())
        .collect()
}

/// Every struct and union the kernel's BTF names, sorted.
pub fn struct_names(session: &Session) -> Vec<String> {
    let Some(types) = session.program().ok().and_then(|p| p.types().ok()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = types
        .ids()
        .filter(|&id| matches!(types.get(id), Some(Type::Struct(_) | Type::Union(_))))
        .filter_map(|id| types.name_of(id).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every task's PID, in task-list order.
pub fn pids(session: &Session) -> Vec<String> {
    session
        .program()
        .ok()
        .and_then(|p| p.tasks_read().ok())
        .map(|read| read.tasks.iter().map(|t| t.pid.to_string()).collect())
        .unwrap_or_default()
}
