//! `mod`: loaded modules as crash's `mod` lists them (struct module address, name,
//! core base and size), sorted by address as crash does.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct ModuleRow {
    /// The `struct module`.
    pub module: Addr,
    pub name: String,
    pub base: Addr,
    pub size: u64,
    /// How many symbols its kallsyms holds.
    pub symbols: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModReport {
    pub modules: Vec<ModuleRow>,
    pub warnings: Vec<Warning>,
}

pub fn modules(program: &Program) -> ModReport {
    let mut modules: Vec<_> = program.modules().iter().collect();
    modules.sort_by_key(|m| m.address);
    ModReport {
        modules: modules
            .iter()
            .map(|m| ModuleRow {
                module: Addr(m.address),
                name: m.name.clone(),
                base: Addr(m.base),
                size: m.size,
                symbols: m.symbol_count,
            })
            .collect(),
        warnings: Warning::all(Stage::Program, program.warnings()),
    }
}

impl Render for ModReport {
    fn schema(&self) -> &'static str {
        "coroner.mod/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let rows = &self.modules;
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let size_width = rows
            .iter()
            .map(|r| r.size.to_string().len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "     MODULE       {:width$}        BASE         {:>size_width$}",
            "NAME", "SIZE"
        )?;
        for r in rows {
            writeln!(
                out,
                "{:016x}  {:width$}  {:016x}  {:>size_width$}",
                r.module.0, r.name, r.base.0, r.size
            )?;
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
