//! Opening a dump as a program, and the address arguments crash accepts: hex (with
//! or without `0x`), a symbol name, or `symbol+offset`.

use coroner_program::Program;
use std::path::{Path, PathBuf};

/// The `--symbols FILE` option shared by the analysis commands.
#[derive(clap::Args)]
pub struct SymbolsArg {
    /// A System.map (or `nm` output) to use instead of the kallsyms in the dump.
    #[arg(long, value_name = "FILE")]
    pub symbols: Option<PathBuf>,
}

/// What the analysis commands without arguments of their own take.
#[derive(clap::Args)]
pub struct DumpArgs {
    /// The dump file (any format `coroner info` reads).
    pub dump: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub symbols: SymbolsArg,
}

pub fn open_program(dump: &Path, symbols: &SymbolsArg) -> Result<Program, String> {
    let program = Program::open(dump, symbols.symbols.as_deref()).map_err(|e| e.to_string())?;
    for w in program.warnings() {
        eprintln!("coroner: warning: {w}");
    }
    Ok(program)
}

/// Ends a command's use of its program. The process exits next, and the OS takes
/// back the symbol and type tables faster than freeing their 200k allocations.
pub fn release(program: Program) {
    std::mem::forget(program);
}

/// Resolves `ffffffff81000000`, `0x...`, `panic` or `panic+0x10` / `panic+16`.
pub fn resolve(program: &Program, text: &str) -> Result<u64, String> {
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).map_err(|_| format!("{text}: not a hex address"));
    }
    // A bare word is a symbol if one has that name (`bad`, `face` are both), else hex.
    if program.address_of(text).is_none() {
        if let Ok(value) = u64::from_str_radix(text, 16) {
            return Ok(value);
        }
    }
    let (name, offset) = match text.split_once('+') {
        Some((name, off)) => {
            let off = parse_number(off).ok_or_else(|| format!("bad offset in {text:?}"))?;
            (name, off)
        }
        None => (text, 0),
    };
    let base = program
        .address_of(name)
        .ok_or_else(|| format!("{name}: no such symbol"))?;
    Ok(base.wrapping_add(offset))
}

/// `0x10` hex, `16` decimal.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
