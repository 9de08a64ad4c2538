//! `coroner sym DUMP ADDR|NAME...`: symbol lookups, as crash's `sym` prints them
//! (`ffffffff92201cb0 (T) panic`, `... (T) panic+5`), without source lines (those
//! need DWARF).

use super::address::{open_program, resolve, SymbolsArg};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    dump: PathBuf,
    /// Addresses (hex) or symbol names (`name` or `name+offset`).
    #[arg(required = true)]
    targets: Vec<String>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    symbols: SymbolsArg,
}

#[derive(Serialize)]
struct Found {
    query: String,
    address: u64,
    symbol: String,
    kind: String,
    offset: u64,
    /// Bytes to the next symbol: kallsyms records no sizes (null for the last).
    size: Option<u64>,
    module: Option<String>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let mut found = Vec::new();
    let mut failed = false;
    for target in &args.targets {
        let lookup = resolve(&program, target).and_then(|address| {
            let (sym, offset) = program
                .symbolize(address)
                .ok_or_else(|| format!("{address:#x}: no symbol contains this address"))?;
            Ok(Found {
                query: target.clone(),
                address,
                symbol: sym.name.clone(),
                kind: sym.kind.to_string(),
                offset,
                size: program.symbols().size(sym),
                module: sym.module.clone(),
            })
        });
        match lookup {
            Ok(f) => found.push(f),
            Err(e) => {
                eprintln!("coroner: sym: {e}");
                failed = true;
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?
        );
    } else {
        for f in &found {
            let offset = if f.offset > 0 {
                format!("+{}", f.offset)
            } else {
                String::new()
            };
            let module = f
                .module
                .as_ref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            println!(
                "{:016x} ({}) {}{offset}{module}",
                f.address, f.kind, f.symbol
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
