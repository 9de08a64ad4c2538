//! `convert`: what was written, from the converter's own account (the library
//! call lives in coroner-capture; the front end hands its result here to render).

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use serde::Serialize;
use std::io::{self, Write};

/// Where the output maps the kernel image.
#[derive(Debug, Clone, Serialize)]
pub struct KernelImage {
    pub vaddr: Addr,
    pub paddr: Addr,
    pub size: u64,
    pub phys_base: Addr,
    pub kaslr_offset: Addr,
    /// "vmcoreinfo", or "page tables" (a CPU's CR3, without VMCOREINFO).
    pub found_by: &'static str,
    /// The release in the image's banner, when found by page tables.
    pub release: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConvertReport {
    pub input: String,
    pub input_format: &'static str,
    pub output: String,
    pub format: &'static str,
    pub bytes: u64,
    /// PT_LOAD segments (ELF), the kernel image's included.
    pub loads: usize,
    /// CPUs with registers (one `NT_PRSTATUS` note each).
    pub cpus: usize,
    /// Where the VMCOREINFO note's text came from ("note", "memory scan"), if any.
    pub vmcoreinfo: Option<&'static str>,
    pub kernel_image: Option<KernelImage>,
    /// Pages of memory written, and how many as zeros (the input did not hold
    /// them, or they could not be read).
    pub pages: u64,
    pub zero_pages: u64,
    pub warnings: Vec<Warning>,
}

impl ConvertReport {
    /// `input_warnings` are the input's own (opening it), `warnings` the converter's.
    pub fn warn(&mut self, input_warnings: &[String], warnings: &[String]) {
        self.warnings
            .extend(Warning::all(Stage::Dump, input_warnings));
        self.warnings.extend(Warning::all(Stage::Dump, warnings));
    }
}

impl Render for ConvertReport {
    fn schema(&self) -> &'static str {
        "coroner.convert/1"
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "input:         {} ({})", self.input, self.input_format)?;
        writeln!(
            out,
            "output:        {} ({}, {} bytes)",
            self.output, self.format, self.bytes
        )?;
        if self.format == "elf" {
            let text = if self.kernel_image.is_some() {
                " (one maps the kernel image)"
            } else {
                ""
            };
            writeln!(out, "segments:      PT_NOTE, {} PT_LOAD{text}", self.loads)?;
        }
        let vmcoreinfo = match self.vmcoreinfo {
            Some("note") => "VMCOREINFO (from the input's note)".to_string(),
            Some(source) => format!("VMCOREINFO (found by {source})"),
            None => "no VMCOREINFO".to_string(),
        };
        writeln!(
            out,
            "notes:         {} CPU(s) with registers (NT_PRSTATUS), {vmcoreinfo}",
            self.cpus
        )?;
        if let Some(k) = &self.kernel_image {
            let how = match &k.release {
                Some(release) => format!("; Linux {release}, found by {}", k.found_by),
                None => format!("; found by {}", k.found_by),
            };
            writeln!(
                out,
                "kernel image:  {:#x} at physical {:#x}, {} MiB (phys_base {:#x}, KASLR offset {:#x}{how})",
                k.vaddr.0,
                k.paddr.0,
                k.size >> 20,
                k.phys_base.0,
                k.kaslr_offset.0
            )?;
        }
        writeln!(
            out,
            "memory:        {} pages, {} of them written as zeros",
            self.pages, self.zero_pages
        )
    }
}
