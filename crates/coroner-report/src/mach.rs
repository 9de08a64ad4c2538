//! `mach`: crash 8.0.2's x86-64 machine summary (`x86_64_display_machine_stats`):
//! the machine, memory, CPUs, clock, the kernel's memory layout, and each
//! CPU's IRQ and exception stacks (the TSS's IST pointers less each stack's
//! size). The fifth IST stack (#VC, installed only under SEV-ES) is crash's
//! `(unknown)` of size 0, its base printed at its top.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::system::memory_text;
use coroner_program::{AnalysisError, Program};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct ExceptionStacks {
    pub name: String,
    pub size: u64,
    /// Each CPU's stack base, until the first CPU without one.
    pub bases: Vec<Addr>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MachReport {
    pub machine: Option<String>,
    pub memory: Option<String>,
    pub cpus: Option<u32>,
    pub cpus_offline: Option<u32>,
    pub hypervisor: Option<String>,
    pub cpu_mhz: Option<u64>,
    pub hz: Option<u64>,
    pub page_size: u64,
    pub kernel_virtual_base: Option<Addr>,
    pub vmalloc_base: Option<Addr>,
    pub vmemmap_base: Option<Addr>,
    pub kernel_start_map: Addr,
    pub modules_base: Addr,
    pub stack_size: u64,
    pub irq_stack_size: u64,
    pub irq_stacks: Vec<Addr>,
    pub exception_stacks: Vec<ExceptionStacks>,
    pub warnings: Vec<Warning>,
}

/// x86-64's fixed kernel text mapping and module area (4-level paging).
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
const MODULES_VADDR: u64 = 0xffff_ffff_c000_0000;
/// `struct x86_hw_tss`: `ist[]` starts 36 bytes in.
const TSS_IST: u64 = 36;
/// crash's names of the IST stacks, in IST order, and the
/// `cea_exception_stacks` member giving each one's size.
const IST: [(&str, Option<&str>); 5] = [
    ("DOUBLEFAULT", Some("DF_stack")),
    ("NMI", Some("NMI_stack")),
    ("DEBUG", Some("DB_stack")),
    ("MCE", Some("MCE_stack")),
    ("(unknown)", None),
];

impl Render for MachReport {
    fn schema(&self) -> &'static str {
        "coroner.mach/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let unknown = || "(unknown)".to_string();
        let hex = |a: Option<Addr>| a.map_or_else(unknown, |a| format!("{:x}", a.0));
        writeln!(
            out,
            "          MACHINE TYPE: {}",
            self.machine.clone().unwrap_or_else(unknown)
        )?;
        writeln!(
            out,
            "           MEMORY SIZE: {}",
            self.memory.clone().unwrap_or_else(unknown)
        )?;
        let cpus = self.cpus.unwrap_or(1);
        match self.cpus_offline {
            Some(off) if off > 0 => {
                writeln!(out, "                  CPUS: {cpus} [OFFLINE: {off}]")?
            }
            _ => writeln!(out, "                  CPUS: {cpus}")?,
        }
        if let Some(h) = &self.hypervisor {
            writeln!(out, "            HYPERVISOR: {h}")?;
        }
        match self.cpu_mhz {
            Some(mhz) => writeln!(out, "       PROCESSOR SPEED: {mhz} Mhz")?,
            None => writeln!(out, "       PROCESSOR SPEED: (unknown)")?,
        }
        writeln!(
            out,
            "                    HZ: {}",
            self.hz.map_or_else(unknown, |h| h.to_string())
        )?;
        writeln!(out, "             PAGE SIZE: {}", self.page_size)?;
        writeln!(
            out,
            "   KERNEL VIRTUAL BASE: {}",
            hex(self.kernel_virtual_base)
        )?;
        writeln!(out, "   KERNEL VMALLOC BASE: {}", hex(self.vmalloc_base))?;
        if let Some(v) = self.vmemmap_base {
            writeln!(out, "   KERNEL VMEMMAP BASE: {:x}", v.0)?;
        }
        writeln!(out, "      KERNEL START MAP: {:x}", self.kernel_start_map.0)?;
        writeln!(out, "   KERNEL MODULES BASE: {:x}", self.modules_base.0)?;
        writeln!(out, "     KERNEL STACK SIZE: {}", self.stack_size)?;
        writeln!(out, "        IRQ STACK SIZE: {}", self.irq_stack_size)?;
        writeln!(out, "            IRQ STACKS:")?;
        for (cpu, base) in self.irq_stacks.iter().enumerate() {
            writeln!(out, "{:>22}: {:016x}", format!("CPU {cpu}"), base.0)?;
        }
        for stacks in &self.exception_stacks {
            writeln!(out, "{:>11} STACK SIZE: {}", stacks.name, stacks.size)?;
            write!(out, "{:>24}", format!("{} STACKS:\n", stacks.name))?;
            for (cpu, base) in stacks.bases.iter().enumerate() {
                writeln!(out, "{:>22}: {:016x}", format!("CPU {cpu}"), base.0)?;
            }
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

pub fn mach(program: &Program) -> Result<MachReport, AnalysisError> {
    let types = program.types()?;
    let log = coroner_kernel::dmesg::read_log(program.kernel(), program.kernel().vmcoreinfo()).ok();
    let info = program.system_info(log.as_ref().map(|l| &l.log));
    let page_size = program.kernel().vmcoreinfo().page_size().unwrap_or(4096);
    let word = |name: &str| {
        program
            .address_of(name)
            .and_then(|at| program.read_u64(at).ok())
            .map(Addr)
    };
    let cpus = info.cpus.unwrap_or(1);
    let stack_size = program
        .address_of("__end_init_task")
        .zip(program.address_of("__start_init_task"))
        .and_then(|(end, start)| end.checked_sub(start))
        .unwrap_or(16 << 10);
    let irq_stack_size = types
        .find("irq_stack")
        .and_then(|id| types.size_of(id))
        .unwrap_or(16 << 10);
    let irq_stacks = (0..cpus)
        .map_while(|cpu| {
            let at = program.per_cpu_address("hardirq_stack_ptr", cpu)?;
            let top = program.read_u64(at).ok()?.wrapping_add(8);
            Some(Addr(top.wrapping_sub(irq_stack_size)))
        })
        .collect();
    let mut exception_stacks = Vec::new();
    for (slot, (name, member)) in IST.iter().enumerate() {
        let size = member
            .and_then(|m| {
                let field = types.member(types.find("cea_exception_stacks")?, m)?;
                types.size_of(field.ty)
            })
            .unwrap_or(0);
        let bases: Vec<Addr> = (0..cpus)
            .map_while(|cpu| {
                let tss = program.per_cpu_address("cpu_tss_rw", cpu)?;
                let top = program.read_u64(tss + TSS_IST + 8 * slot as u64).ok()?;
                (top != 0).then(|| Addr(top - size))
            })
            .collect();
        if bases.is_empty() {
            break;
        }
        exception_stacks.push(ExceptionStacks {
            name: name.to_string(),
            size,
            bases,
        });
    }
    // crash's `hypervisor_init`: `pv_info.name`, printed unless it says
    // "bare hardware".
    let hypervisor = program
        .address_of("pv_info")
        .zip(types.offset_of("pv_info", "name"))
        .and_then(|(at, off)| program.read_u64(at + off).ok())
        .and_then(|name| read_string(program, name))
        .filter(|name| name != "bare hardware");
    Ok(MachReport {
        machine: info.machine,
        memory: info.memory_pages.map(|p| memory_text(p * page_size)),
        cpus: info.cpus,
        cpus_offline: info.cpus_offline,
        hypervisor,
        cpu_mhz: info.cpu_mhz,
        hz: info.hz,
        page_size,
        kernel_virtual_base: word("page_offset_base"),
        vmalloc_base: word("vmalloc_base"),
        vmemmap_base: word("vmemmap_base"),
        kernel_start_map: Addr(START_KERNEL_MAP),
        modules_base: Addr(MODULES_VADDR),
        stack_size,
        irq_stack_size,
        irq_stacks,
        exception_stacks,
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}

/// A short NUL-terminated string.
fn read_string(program: &Program, at: u64) -> Option<String> {
    let mut buf = [0u8; 64];
    program.read(at, &mut buf).ok()?;
    let end = buf.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}
