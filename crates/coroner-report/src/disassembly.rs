//! `dis`: x86-64 disassembly of the code in the dump, as crash prints it (gdb's
//! AT&T syntax: `0xADDR <func+off>:\tmnemonic operands`, branch targets and
//! RIP-relative operands named), with `-l` the source line above each group of
//! instructions (from a vmlinux's DWARF). The code is read from the dump, so
//! what is shown is what ran: alternatives and static keys as patched.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::symbols::{resolve, AddressError};
use coroner_program::Program;
use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction, Mnemonic, OpKind};
use serde::Serialize;
use std::io::{self, Write};

/// At most this many instructions a request (crash has no limit; a whole-function
/// request is bounded by the function's size).
pub const MAX_INSTRUCTIONS: u64 = 100_000;
/// Longest x86 instruction.
const MAX_LENGTH: usize = 15;

#[derive(Debug, Clone)]
pub struct DisQuery {
    /// A function name, `name+offset`, or a hex address.
    pub target: String,
    /// How many instructions; without it a function is shown whole, an address
    /// as one instruction (crash's rule).
    pub count: Option<u64>,
    /// Source lines above the instructions (needs the vmlinux).
    pub lines: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DisError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("{0:#x}: cannot read the code: {1}")]
    Memory(u64, String),
    #[error("-l needs the kernel's vmlinux with DWARF (--vmlinux)")]
    NoVmlinux,
}

/// One instruction.
#[derive(Debug, Clone, Serialize)]
pub struct DisInstruction {
    pub address: Addr,
    /// The symbol holding it (kallsyms), `None` outside every symbol.
    pub symbol: Option<String>,
    pub offset: u64,
    /// `None`: the kernel image.
    pub module: Option<String>,
    /// Its bytes, hex.
    pub bytes: String,
    /// `mnemonic operands` as gdb prints them, with its `# address <symbol>`
    /// comment for a RIP-relative operand.
    pub text: String,
    /// With `-l`: the source line the instruction belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DisReport {
    pub instructions: Vec<DisInstruction>,
    /// `-l` was asked for: the text shows source lines.
    #[serde(skip)]
    pub lines: bool,
    pub warnings: Vec<Warning>,
}

/// Where to start and how much to show.
enum Extent {
    /// `count` instructions.
    Count(u64),
    /// Up to this address (a function's end).
    Until(u64),
}

pub fn dis(program: &Program, query: &DisQuery) -> Result<DisReport, DisError> {
    let mut warnings = Vec::new();
    let start = resolve(program, &query.target)?;
    if query.lines && program.vmlinux().is_none() {
        return Err(DisError::NoVmlinux);
    }
    let extent = match query.count {
        Some(count) => Extent::Count(count.min(MAX_INSTRUCTIONS)),
        None if is_address(program, &query.target) => Extent::Count(1),
        None => Extent::Until(function_end(program, start)),
    };
    let instructions = decode(program, start, &extent, &mut warnings)?;
    let mut report = DisReport {
        instructions,
        lines: query.lines,
        warnings,
    };
    if query.lines {
        add_lines(program, &mut report);
    }
    Ok(report)
}

/// Hex given (`ffffffff81000000`, `0x...`), not a symbol: crash shows one
/// instruction for it.
fn is_address(program: &Program, target: &str) -> bool {
    target.starts_with("0x")
        || program
            .address_of(target.split('+').next().unwrap_or(""))
            .is_none()
}

/// The end of the function holding `start`: the ELF symbol's size when a vmlinux
/// is given (gdb's bounds), else the next kallsyms symbol (the padding up to it is
/// trimmed when decoded).
fn function_end(program: &Program, start: u64) -> u64 {
    let symbol = program.symbolize(start).map(|(s, _)| s);
    let sized = symbol.and_then(|s| {
        let vmlinux = program.vmlinux().filter(|_| s.module.is_none())?;
        vmlinux.function_end(s.address)
    });
    let next = symbol.and_then(|s| Some(s.address + program.symbols().size(s)?));
    sized
        .or(next)
        .unwrap_or(start.saturating_add(1))
        .max(start.saturating_add(1))
}

fn decode(
    program: &Program,
    start: u64,
    extent: &Extent,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<DisInstruction>, DisError> {
    let want = match *extent {
        Extent::Until(end) => (end - start).min(MAX_INSTRUCTIONS * MAX_LENGTH as u64),
        Extent::Count(n) => n * MAX_LENGTH as u64,
    } as usize;
    let code = read_code(program, start, want + MAX_LENGTH, warnings)?;
    let mut decoder = Decoder::with_ip(64, &code, start, DecoderOptions::NONE);
    let mut formatter = gdb_formatter();
    let mut out = Vec::new();
    let mut instruction = Instruction::default();
    while decoder.can_decode() {
        let at = decoder.ip();
        let done = match *extent {
            Extent::Until(end) => at >= end,
            Extent::Count(n) => out.len() as u64 >= n,
        };
        if done {
            break;
        }
        decoder.decode_out(&mut instruction);
        if instruction.is_invalid() && (at - start) as usize + MAX_LENGTH > code.len() {
            break; // cut by the end of readable code, not bad code
        }
        let offset = (at - start) as usize;
        let bytes = &code[offset..offset + instruction.len()];
        let kind = Kind::of(&instruction);
        out.push((render(program, &mut formatter, &instruction, bytes), kind));
    }
    if let Extent::Until(_) = extent {
        if program.vmlinux().is_none() {
            trim_padding(&mut out);
        }
    }
    Ok(out.into_iter().map(|i| i.0).collect())
}

/// What matters of an instruction at the end of a function.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Padding,
    Int3,
    /// `ret`: the kernel pads each return site to five bytes with `int3`s (the
    /// site objtool rewrites into a jump to the return thunk).
    Ret,
    /// `sysret`, `iret`, an indirect `jmp`: the straight-line-speculation guard
    /// puts one `int3` after it, inside the function.
    Leaves,
    Other,
}

impl Kind {
    fn of(instruction: &Instruction) -> Kind {
        match instruction.mnemonic() {
            Mnemonic::Nop => Kind::Padding,
            Mnemonic::Int3 => Kind::Int3,
            Mnemonic::Ret => Kind::Ret,
            Mnemonic::Sysretq | Mnemonic::Sysret | Mnemonic::Iretq | Mnemonic::Iretd => {
                Kind::Leaves
            }
            Mnemonic::Jmp if instruction.op0_kind() != OpKind::NearBranch64 => Kind::Leaves,
            _ => Kind::Other,
        }
    }
}

/// Without symbol sizes a function runs to the next symbol: drop the nops and
/// `int3`s the assembler aligned that one with, keeping those that belong to the
/// last instruction (see [`Kind`]).
fn trim_padding(out: &mut Vec<(DisInstruction, Kind)>) {
    let end = out
        .iter()
        .rposition(|i| !matches!(i.1, Kind::Padding | Kind::Int3))
        .map_or(out.len(), |last| last + 1);
    let guard = match out.get(end.wrapping_sub(1)).map(|i| i.1) {
        Some(Kind::Ret) => 4,
        Some(Kind::Leaves) => 1,
        _ => 0,
    };
    let int3s = out[end..].iter().take_while(|i| i.1 == Kind::Int3).count();
    out.truncate(end + int3s.min(guard));
}

/// `len` bytes from `start`, or as many as can be read (at least one byte).
fn read_code(
    program: &Program,
    start: u64,
    len: usize,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<u8>, DisError> {
    let mut code = vec![0u8; len];
    if program.read(start, &mut code).is_ok() {
        return Ok(code);
    }
    // Page by page: the code may end at an unreadable page.
    let mut have = 0usize;
    while have < len {
        let at = start + have as u64;
        let chunk = ((4096 - (at % 4096)) as usize).min(len - have);
        match program.read(at, &mut code[have..have + chunk]) {
            Ok(()) => have += chunk,
            Err(e) if have == 0 => return Err(DisError::Memory(start, e.to_string())),
            Err(e) => {
                warnings.push(Warning::new(
                    Stage::Lookup,
                    format!("dis: code stops at {at:#x}: {e}"),
                ));
                break;
            }
        }
    }
    code.truncate(have);
    Ok(code)
}

/// iced's AT&T formatter set to print as GNU objdump and gdb do.
fn gdb_formatter() -> GasFormatter {
    let mut f = GasFormatter::new();
    let o = f.options_mut();
    o.set_uppercase_hex(false);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_branch_leading_zeros(false);
    o.set_leading_zeros(false);
    o.set_rip_relative_addresses(true);
    o.set_space_after_operand_separator(false);
    o.set_show_branch_size(false);
    o.set_gas_show_mnemonic_size_suffix(false);
    o.set_small_hex_numbers_in_decimal(false);
    // gdb prints a displacement the encoding has (`0x0(%r13)`) and segment
    // overrides that change nothing (`nopw %cs:...`).
    o.set_show_zero_displacements(true);
    o.set_show_useless_prefixes(true);
    f
}

fn render(
    program: &Program,
    formatter: &mut GasFormatter,
    instruction: &Instruction,
    bytes: &[u8],
) -> DisInstruction {
    let at = instruction.ip();
    let mut mnemonic = String::new();
    formatter.format_mnemonic(instruction, &mut mnemonic);
    let mut operands = String::new();
    formatter.format_all_operands(instruction, &mut operands);
    let operands = gdb_operands(instruction, operands);
    let mnemonic = gdb_mnemonic(instruction, bytes, mnemonic);
    // gdb: the mnemonic padded to six, a space, the operands.
    let mut text = format!("{mnemonic:<6} {operands}");
    if let Some(target) = branch_target(instruction) {
        text.push_str(&format!(" {}", label(program, target)));
    } else if instruction.is_ip_rel_memory_operand() {
        let target = instruction.ip_rel_memory_address();
        text.push_str(&format!("        # {target:#x}"));
        // Per-CPU offsets (below the kernel's half) are not named.
        if target >= KERNEL_HALF && program.symbolize(target).is_some() {
            text.push_str(&format!(" {}", label(program, target)));
        }
    }
    let symbol = named(program, at);
    // crash marks ftrace's patched-out call at a function's start.
    let at_symbol = symbol.as_ref().is_some_and(|(_, off, _)| *off == 0);
    if at_symbol && text.starts_with("nopl   0x0(%rax,%rax,1)") {
        text.push_str(" [FTRACE NOP]");
    }
    DisInstruction {
        address: Addr(at),
        symbol: symbol.as_ref().map(|(name, _, _)| name.clone()),
        offset: symbol.as_ref().map_or(0, |(_, off, _)| *off),
        module: symbol.and_then(|(_, _, module)| module.map(str::to_string)),
        bytes: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        text,
        file: None,
        line: None,
    }
}

/// The lowest kernel address (the canonical upper half).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// What binutils spells differently from iced: the implicit `%es:`/`%ds:` of string
/// instructions, debug registers as `%db`.
fn gdb_operands(instruction: &Instruction, mut operands: String) -> String {
    for i in 0..instruction.op_count() {
        match instruction.op_kind(i) {
            OpKind::MemoryESRDI => operands = operands.replace("(%rdi)", "%es:(%rdi)"),
            OpKind::MemoryESEDI => operands = operands.replace("(%edi)", "%es:(%edi)"),
            OpKind::MemorySegRSI if !operands.contains(":(%rsi)") => {
                operands = operands.replace("(%rsi)", "%ds:(%rsi)")
            }
            _ => {}
        }
    }
    // A shift by one has no immediate: `shr %cl`.
    if format!("{:?}", instruction.code()).ends_with("_1") {
        operands = operands.trim_start_matches("$0x1,").to_string();
    }
    // `imul $imm,%reg,%reg` keeps its three operands.
    let same = instruction.op0_kind() == OpKind::Register
        && instruction.op1_kind() == OpKind::Register
        && instruction.op0_register() == instruction.op1_register();
    if instruction.mnemonic() == Mnemonic::Imul && instruction.op_count() == 3 && same {
        let reg = format!("%{:?}", instruction.op0_register()).to_lowercase();
        if operands.matches(',').count() == 1 {
            operands = format!("{operands},{reg}");
        }
    }
    // A scale of 1 is printed whenever there is an index: `(%rax,%rax,1)`.
    let index = instruction.memory_index();
    if index != iced_x86::Register::None && instruction.memory_index_scale() == 1 {
        let name = format!("%{index:?}").to_lowercase();
        operands = operands.replace(&format!(",{name})"), &format!(",{name},1)"));
    }
    if operands.contains("%dr") {
        for n in 0..8 {
            operands = operands.replace(&format!("%dr{n}"), &format!("%db{n}"));
        }
    }
    operands
}

/// binutils' mnemonic: a repeated operand-size prefix as `data16`, `push`/`pop`
/// of memory without iced's `q` (64-bit is their only size).
fn gdb_mnemonic(instruction: &Instruction, bytes: &[u8], mnemonic: String) -> String {
    let prefixes = bytes
        .iter()
        .take_while(|b| {
            matches!(
                b,
                0x66 | 0x2e | 0x3e | 0x26 | 0x64 | 0x65 | 0x36 | 0xf0 | 0xf2 | 0xf3
            )
        })
        .filter(|&&b| b == 0x66)
        .count();
    let mnemonic = match mnemonic.as_str() {
        "pushq" if instruction.op0_kind() == OpKind::Memory => "push".to_string(),
        "popq" if instruction.op0_kind() == OpKind::Memory => "pop".to_string(),
        _ => mnemonic,
    };
    match prefixes {
        0 | 1 => mnemonic,
        n => format!("{}{mnemonic}", "data16 ".repeat(n - 1)),
    }
}

/// The symbol holding `address` and the offset, naming aliases as gdb does: of
/// several symbols at one address, the first by name (`jiffies`, not
/// `jiffies_64`); and a GCC clone (`update_rq_clock.part.0`) by the function
/// the DWARF says it is (`update_rq_clock`), since gdb prefers a DWARF function
/// that starts where the symbol does (a `.cold` part starts elsewhere: it keeps
/// its name).
fn named(program: &Program, address: u64) -> Option<(String, u64, Option<&str>)> {
    let (symbol, offset) = program.symbolize(address)?;
    let first = (program.symbols().at(symbol.address).iter())
        .filter(|s| s.module == symbol.module)
        .min_by(|a, b| a.name.cmp(&b.name))
        .unwrap_or(symbol);
    let module = first.module.as_deref();
    let base = clone_base(&first.name);
    let dwarf_name = (base != first.name && module.is_none())
        .then(|| program.vmlinux()?.frames(first.address).ok())
        .flatten()
        .and_then(|frames| frames.last()?.function.clone())
        .filter(|f| f == base);
    Some((
        dwarf_name.unwrap_or_else(|| first.name.clone()),
        offset,
        module,
    ))
}

/// `name` without GCC's clone suffixes (`.part.0`, `.isra.0`, `.constprop.0`).
fn clone_base(name: &str) -> &str {
    let mut base = name;
    loop {
        let Some((head, number)) = base.rsplit_once('.') else {
            return base;
        };
        let Some((stem, kind)) = head.rsplit_once('.') else {
            return base;
        };
        let numbered = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        if !numbered || !matches!(kind, "part" | "isra" | "constprop") {
            return base;
        }
        base = stem;
    }
}

/// The target of a direct call or jump.
fn branch_target(instruction: &Instruction) -> Option<u64> {
    let direct = matches!(
        instruction.op0_kind(),
        OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16
    );
    (direct && instruction.mnemonic() != Mnemonic::INVALID)
        .then(|| instruction.near_branch_target())
}

/// `<func+off>` as gdb names an address (decimal offset, none at 0).
fn label(program: &Program, address: u64) -> String {
    match named(program, address) {
        Some((name, 0, _)) => format!("<{name}>"),
        Some((name, off, _)) => format!("<{name}+{off}>"),
        None => String::new(),
    }
}

/// The source line of each instruction, from the vmlinux's line table.
fn add_lines(program: &Program, report: &mut DisReport) {
    let Some(vmlinux) = program.vmlinux() else {
        return;
    };
    let (Some(first), Some(last)) = (report.instructions.first(), report.instructions.last())
    else {
        return;
    };
    let (low, high) = (first.address.0, last.address.0 + 1);
    // A function lies in one line-table sequence: one lookup.
    let rows = match vmlinux.line_rows(low, high) {
        Ok(rows) => rows,
        Err(e) => {
            let text = format!("dis -l: {e}");
            report.warnings.push(Warning::new(Stage::Debuginfo, text));
            return;
        }
    };
    for instruction in &mut report.instructions {
        let at = instruction.address.0;
        let i = rows.partition_point(|r| r.address <= at);
        if let Some(row) = i.checked_sub(1).and_then(|i| rows.get(i)) {
            instruction.file = Some(row.file.clone());
            instruction.line = Some(row.line);
        }
    }
}

impl Render for DisReport {
    fn schema(&self) -> &'static str {
        "coroner.dis/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut shown: Option<(&str, u32)> = None;
        for i in &self.instructions {
            if self.lines {
                if let (Some(file), Some(line)) = (i.file.as_deref(), i.line) {
                    if shown != Some((file, line)) {
                        writeln!(out, "{file}: {line}")?;
                        shown = Some((file, line));
                    }
                }
            }
            let label = match (&i.symbol, i.offset) {
                (Some(s), 0) => format!(" <{s}>"),
                (Some(s), off) => format!(" <{s}+{off}>"),
                (None, _) => String::new(),
            };
            writeln!(out, "{:#x}{label}:\t{}", i.address.0, i.text)?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}
