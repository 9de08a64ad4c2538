//! `struct TYPE SYMBOL:CPUS`: crash's `struct` of a per-CPU variable's
//! instances, each under a `[CPU]: ADDRESS` line.

use crate::print::cpus;
use crate::render::Render;
use crate::schema::{write_document, Addr, Warning};
use crate::structure::{structure, StructError, StructQuery, StructReport};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct CpuInstance {
    pub cpu: u32,
    pub address: Addr,
    #[serde(flatten)]
    pub report: StructReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct PerCpuStructReport {
    pub instances: Vec<CpuInstance>,
    pub warnings: Vec<Warning>,
}

impl Render for PerCpuStructReport {
    fn schema(&self) -> &'static str {
        "coroner.struct-percpu/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for i in &self.instances {
            writeln!(out, "[{}]: {:x}", i.cpu, i.address.0)?;
            i.report.text(out)?;
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

/// `address` is `SYMBOL:CPUS` (`runqueues:a`, `runqueues:1`, `:` for
/// `context_cpu`); `None` when it names no per-CPU symbol, so the caller
/// takes it as an ordinary address.
pub fn per_cpu_structure(
    program: &Program,
    q: &StructQuery,
    context_cpu: Option<u32>,
) -> Option<Result<PerCpuStructReport, StructError>> {
    let (name, spec) = q.address.as_deref()?.rsplit_once(':')?;
    let symbol = program.symbols().by_name(name)?;
    if !program.is_per_cpu(symbol.address) {
        return None;
    }
    let count = program.cpu_count().unwrap_or(1);
    Some((|| {
        let mut instances = Vec::new();
        for cpu in cpus(spec, count, context_cpu).map_err(StructError::Lookup)? {
            let address = program
                .per_cpu_address(name, cpu)
                .ok_or_else(|| StructError::Failed(format!("__per_cpu_offset[{cpu}]")))?;
            let report = structure(
                program,
                &StructQuery {
                    address: Some(format!("{address:#x}")),
                    ..q.clone()
                },
            )?;
            instances.push(CpuInstance {
                cpu,
                address: Addr(address),
                report,
            });
        }
        let warnings = instances
            .first()
            .map(|i| i.report.warnings.clone())
            .unwrap_or_default();
        Ok(PerCpuStructReport {
            instances,
            warnings,
        })
    })())
}
