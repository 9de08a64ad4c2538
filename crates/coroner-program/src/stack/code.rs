//! The kernel's code as the unwinder needs it: vmlinux text and its ORC table
//! (located by kallsyms: `__start_orc_unwind_ip` .. `__stop_orc_unwind`, with the
//! boot-time `orc_lookup` index), and each module's text with its own ORC table
//! (`struct module`'s `arch.orc_unwind_ip`, `arch.orc_unwind`, `arch.num_orcs`,
//! placed by BTF).

use crate::{Module, Program};
use coroner_unwind::{Code, FastLookup, ModuleCode, OrcFormat, OrcTable};

/// x86-64 `MODULES_VADDR .. MODULES_END`: where module code lives when the module
/// list cannot be read (no BTF).
const MODULE_AREA: std::ops::Range<u64> = 0xffff_ffff_c000_0000..0xffff_ffff_ff00_0000;
/// Size of the `.orc_header` hash.
const ORC_HEADER: usize = 20;

pub(crate) fn kernel_code(program: &Program, warnings: &mut Vec<String>) -> Code {
    let sym = |name: &str| program.address_of(name);
    let mut kernel_text = Vec::new();
    for (start, end) in [("_stext", "_etext"), ("_sinittext", "_einittext")] {
        if let (Some(s), Some(e)) = (sym(start), sym(end)) {
            kernel_text.push(s..e);
        }
    }
    let kernel_orc = kernel_orc(program, warnings);
    let mut modules: Vec<ModuleCode> = program
        .modules()
        .iter()
        .map(|m| ModuleCode {
            name: m.name.clone(),
            text: m.base..m.base.saturating_add(m.size),
            orc: module_orc(program, m, warnings),
        })
        .collect();
    if modules.is_empty() && sym("modules").is_some() {
        modules.push(ModuleCode {
            name: String::new(),
            text: MODULE_AREA,
            orc: None,
        });
    }
    Code {
        format: orc_format(program),
        kernel_text,
        kernel_orc,
        modules,
    }
}

/// `.orc_header`'s hash when the kernel has one (6.4, and 6.3.10 on), else the
/// release's format.
fn orc_format(program: &Program) -> OrcFormat {
    let from_header = program.address_of("__start_orc_header").and_then(|at| {
        let mut hash = [0u8; ORC_HEADER];
        program.read(at, &mut hash).ok()?;
        OrcFormat::for_header(&hash)
    });
    from_header
        .or_else(|| {
            let release = program.kernel().vmcoreinfo().osrelease()?;
            OrcFormat::for_release(release)
        })
        .unwrap_or(OrcFormat::LATEST)
}

fn kernel_orc(program: &Program, warnings: &mut Vec<String>) -> Option<OrcTable> {
    let sym = |name: &str| program.address_of(name);
    let table = OrcTable::from_bounds(
        sym("__start_orc_unwind_ip")?,
        sym("__stop_orc_unwind_ip")?,
        sym("__start_orc_unwind")?,
        sym("__stop_orc_unwind")?,
    );
    let table = match table {
        Ok(t) => t,
        Err(e) => {
            warnings.push(format!("vmlinux ORC: {e}; unwinding by frame pointers"));
            return None;
        }
    };
    let fast = (|| {
        let table = sym("orc_lookup")?;
        Some(FastLookup {
            table,
            blocks: sym("orc_lookup_end")?.checked_sub(table)? / 4,
            start_ip: sym("_stext")?,
            stop_ip: sym("_etext")?,
        })
    })();
    Some(match fast {
        Some(f) => table.with_fast_lookup(f),
        None => table,
    })
}

fn module_orc(program: &Program, module: &Module, warnings: &mut Vec<String>) -> Option<OrcTable> {
    let btf = program.types().ok()?;
    let off = |path: &str| btf.offset_of("module", path);
    let (num, ip, orc) = (
        off("arch.num_orcs")?,
        off("arch.orc_unwind_ip")?,
        off("arch.orc_unwind")?,
    );
    let at = module.address;
    let read = || -> Result<OrcTable, String> {
        let count = program.read_u32(at + num).map_err(|e| e.to_string())?;
        let ip = program.read_u64(at + ip).map_err(|e| e.to_string())?;
        let orc = program.read_u64(at + orc).map_err(|e| e.to_string())?;
        OrcTable::new(ip, orc, u64::from(count)).map_err(|e| e.to_string())
    };
    read()
        .map_err(|e| warnings.push(format!("module {} ORC: {e}", module.name)))
        .ok()
}
