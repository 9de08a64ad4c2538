//! `coroner mod DUMP [--json]`: loaded modules as crash's `mod` lists them (struct
//! module address, name, core base and size), sorted by address as crash does.

use super::address::{open_program, DumpArgs};
use serde::Serialize;
use std::process::ExitCode;

/// The dump, `--json` and `--symbols`: all this command takes.
pub type Args = DumpArgs;

#[derive(Serialize)]
struct Row<'a> {
    module: String,
    name: &'a str,
    base: String,
    size: u64,
    symbols: usize,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let mut modules: Vec<_> = program.modules().iter().collect();
    modules.sort_by_key(|m| m.address);
    let rows: Vec<Row> = modules
        .iter()
        .map(|m| Row {
            module: format!("{:016x}", m.address),
            name: &m.name,
            base: format!("{:016x}", m.base),
            size: m.size,
            symbols: m.symbol_count,
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let size_width = rows
        .iter()
        .map(|r| r.size.to_string().len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "     MODULE       {:width$}        BASE         {:>size_width$}",
        "NAME", "SIZE"
    );
    for r in &rows {
        println!(
            "{}  {:width$}  {}  {:>size_width$}",
            r.module, r.name, r.base, r.size
        );
    }
    Ok(ExitCode::SUCCESS)
}
