//! What any output format writes, gathered once from the input: its notes in the
//! order kexec-tools and QEMU write them (every CPU's `NT_PRSTATUS` first, then
//! the other notes, VMCOREINFO last), and where the kernel image sits.

use super::kernel_text::{self, FoundBy, KernelText};
use coroner_dump::{Dump, Note};

/// The input seen as a vmcore to write.
pub struct Image<'a> {
    pub dump: &'a Dump,
    /// Notes to write, in order.
    pub notes: Vec<Note>,
    /// How many `NT_PRSTATUS` notes (one per CPU) are among them.
    pub cpus: usize,
    /// Where the VMCOREINFO note's text came from, if there is one.
    pub vmcoreinfo_source: Option<&'static str>,
    /// The kernel image's mapping, for a PT_LOAD at its virtual address, and how
    /// it was found.
    pub kernel_text: Option<KernelText>,
    pub kernel_found_by: Option<FoundBy>,
    /// What the output will lack, and why.
    pub warnings: Vec<String>,
}

impl<'a> Image<'a> {
    pub fn of(dump: &'a Dump) -> Image<'a> {
        let mut warnings = Vec::new();
        let (prstatus, others): (Vec<&Note>, Vec<&Note>) = dump
            .notes()
            .iter()
            .filter(|n| !n.is_vmcoreinfo())
            .partition(|n| n.is_prstatus());
        let cpus = prstatus.len();
        let mut notes: Vec<Note> = prstatus.into_iter().chain(others).cloned().collect();
        if cpus == 0 {
            warnings.push(
                "the input has no CPU registers (no NT_PRSTATUS note): the output has none either"
                    .into(),
            );
        }
        // The text found by a memory scan is the note the kernel built at boot: the
        // same bytes a kdump kernel would have handed over.
        let vmcoreinfo_source = dump.vmcoreinfo().map(|text| {
            notes.push(Note {
                name: "VMCOREINFO".into(),
                kind: 0,
                desc: text.to_vec(),
            });
            dump.info().vmcoreinfo_source.unwrap_or("note")
        });
        if vmcoreinfo_source.is_none() {
            warnings.push(
                "no VMCOREINFO in the input's notes or memory: the output has no VMCOREINFO note"
                    .into(),
            );
        }
        let (kernel_text, kernel_found_by) = match kernel_text::locate(dump) {
            Ok((text, found_by)) => {
                if let FoundBy::Registers { cpu, cr3, release } = &found_by {
                    // Readers without VMCOREINFO take phys_base from the text
                    // PT_LOAD; crash computes the KASLR offset from the CPU notes.
                    warnings.push(format!(
                        "no VMCOREINFO: found Linux {release} from CPU {cpu}'s page tables (CR3 {cr3:#x}): \
                         _text at {:#x}, phys_base {:#x}, KASLR offset {:#x} if linked at the usual 16 MiB; \
                         crash finds it again from the CPU notes, makedumpfile needs -x vmlinux",
                        text.vaddr,
                        text.phys_base(),
                        text.kaslr_offset()
                    ));
                }
                (Some(text), Some(found_by))
            }
            Err(why) => {
                warnings.push(format!("no kernel-text PT_LOAD: {why}"));
                (None, None)
            }
        };
        Image {
            dump,
            notes,
            cpus,
            vmcoreinfo_source,
            kernel_text,
            kernel_found_by,
            warnings,
        }
    }
}
