//! `coroner rd DUMP ADDR [COUNT]`: memory as crash's `rd` shows it — hex words, two
//! 64-bit words a line (four 32-bit, ...), then the bytes as ASCII.

use super::address::{open_program, resolve, SymbolsArg};
use coroner_dump::PhysMemory;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    dump: PathBuf,
    /// Kernel virtual address (hex), symbol, or `symbol+offset`.
    address: String,
    /// How many words to show.
    #[arg(default_value_t = 1)]
    count: u64,
    /// Word size in bits: 8, 16, 32 or 64.
    #[arg(long, default_value_t = 64, value_parser = parse_size)]
    size: u32,
    /// The address is physical.
    #[arg(short, long)]
    physical: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    symbols: SymbolsArg,
}

fn parse_size(text: &str) -> Result<u32, String> {
    match text {
        "8" | "16" | "32" | "64" => Ok(text.parse().expect("a listed number")),
        _ => Err("word size is 8, 16, 32 or 64".into()),
    }
}

/// More than any screen needs; keeps a typo in COUNT from reading gigabytes.
const MAX_BYTES: u64 = 1 << 24;

#[derive(Serialize)]
struct Dumped {
    address: u64,
    physical: bool,
    word_bytes: u32,
    words: Vec<u64>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let address = resolve(&program, &args.address)?;
    let word = u64::from(args.size / 8);
    let len = args
        .count
        .checked_mul(word)
        .filter(|&n| n <= MAX_BYTES)
        .ok_or_else(|| format!("COUNT {} is more than rd shows at once", args.count))?;
    let mut bytes = vec![0u8; len as usize];
    let read = if args.physical {
        program
            .kernel()
            .dump()
            .read_phys(address, &mut bytes)
            .map_err(|e| e.to_string())
    } else {
        program.read(address, &mut bytes).map_err(|e| e.to_string())
    };
    read.map_err(|e| format!("rd: {e}"))?;
    let words: Vec<u64> = bytes
        .chunks_exact(word as usize)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    if args.json {
        let d = Dumped {
            address,
            physical: args.physical,
            word_bytes: word as u32,
            words,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", render(address, &bytes, word as usize));
    }
    Ok(ExitCode::SUCCESS)
}

/// crash's layout: 16 bytes a line, words in hex, the line's bytes as ASCII.
fn render(address: u64, bytes: &[u8], word: usize) -> String {
    let per_line = 16 / word;
    let width = word * 2;
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:016x}:  ", address + 16 * i as u64));
        let mut hex: Vec<String> = line
            .chunks(word)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..c.len()].copy_from_slice(c);
                format!("{:0width$x}", u64::from_le_bytes(b))
            })
            .collect();
        // A short last line keeps the ASCII column aligned.
        hex.resize(per_line, " ".repeat(width));
        out.push_str(&hex.join(" "));
        out.push_str("   ");
        out.extend(line.iter().map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_as_crash_prints_them() {
        let text = super::render(0xffffffff81e00100, b"Linux version 3.18", 8);
        assert_eq!(
            text,
            "ffffffff81e00100:  65762078756e694c 2e33206e6f697372   Linux version 3.\n\
             ffffffff81e00110:  0000000000003831                    18\n"
        );
        let text = super::render(0x1000, &[0xff, 0, 0x41, 0x42], 2);
        assert_eq!(
            text,
            format!("{:016x}:  00ff 4241{}   ..AB\n", 0x1000, "     ".repeat(6))
        );
    }
}
