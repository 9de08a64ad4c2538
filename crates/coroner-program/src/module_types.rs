//! Loaded modules' own types: the split BTF each one carries (its `.BTF` section,
//! type ids and strings continuing after vmlinux's), decoded on top of vmlinux's
//! BTF. A module's `btf_data` pointer is set to NULL once it has loaded, since the
//! section it points into is freed; the copy the kernel keeps is the `data` of the
//! `struct btf` that the `btf_modules` list (kernel/bpf/btf.c) links to the module.

use crate::list::list_entries;
use crate::modules::Module;
use crate::types::{offset_of_any, MAX_BTF};
use coroner_kernel::{MemError, Memory};
use coroner_types::{Btf, Types};
use std::sync::Arc;

/// More entries than `btf_modules` can have (one per loaded module).
const MAX_ENTRIES: usize = 16 << 10;

/// The types of every loaded module that has BTF, and what could not be read.
pub(crate) struct ModuleTypes {
    /// Per module, in `Program::modules` order: its types stacked on vmlinux's.
    pub(crate) types: Vec<Option<Arc<Types>>>,
    /// Each names its module (or says why no module's BTF could be read).
    pub(crate) warnings: Vec<String>,
}

/// One `btf_modules` entry: a module's BTF as the kernel registered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Registered {
    /// Its `struct module`.
    pub(crate) module: u64,
    pub(crate) data: u64,
    pub(crate) size: u64,
    /// BTF id of its first type: vmlinux's id count if it stacks on vmlinux.
    pub(crate) start_id: u32,
}

/// Reads and decodes the BTF of every module on the `btf_modules` list headed at
/// `head`. A module whose BTF cannot be read or decoded is a warning; so is one
/// whose `btf_data_size` says it had BTF the kernel did not register.
pub(crate) fn load_module_types(
    memory: &dyn Memory,
    vmlinux: &Arc<Btf>,
    modules: &[Module],
    head: Option<u64>,
) -> ModuleTypes {
    let mut out = ModuleTypes {
        types: vec![None; modules.len()],
        warnings: Vec::new(),
    };
    if modules.is_empty() {
        return out;
    }
    // Split BTF numbers its types after every vmlinux type: with vmlinux's cut
    // short, its ids would land on the wrong types.
    if let Some(first) = vmlinux.damage().and_then(|d| d.first_lost_id) {
        out.warnings.push(format!(
            "modules' types: the kernel's BTF is lost from type id {first} on, and \
             modules' BTF numbers its types after all of the kernel's"
        ));
        return out;
    }
    let registered = match registered(memory, vmlinux.types(), head) {
        Ok(r) => r,
        Err(e) => {
            out.warnings.push(format!("modules' types: {e}"));
            return out;
        }
    };
    let mut entries = Vec::new();
    for entry in registered {
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => out.warnings.push(format!("modules' types: {e}")),
        }
    }
    for entry in &entries {
        let Some(index) = modules.iter().position(|m| m.address == entry.module) else {
            out.warnings.push(format!(
                "modules' types: BTF registered for {:#x}, which is no loaded module",
                entry.module
            ));
            continue;
        };
        let name = &modules[index].name;
        match decode(memory, vmlinux, entry) {
            Ok(types) => out.types[index] = Some(types),
            Err(e) => out.warnings.push(format!("module {name}: {e}")),
        }
    }
    // `btf_data_size` outlives the load: a module that had BTF but is not on the
    // list had it rejected (a kernel built with CONFIG_MODULE_ALLOW_BTF_MISMATCH).
    if let Ok(size_at) = offset_of_any(vmlinux.types(), "module", &["btf_data_size"]) {
        for (module, types) in modules.iter().zip(&out.types) {
            if types.is_some() || entries.iter().any(|r| r.module == module.address) {
                continue;
            }
            if let Ok(size @ 1..) = memory.read_u32(module.address.wrapping_add(size_at)) {
                out.warnings.push(format!(
                    "module {}: has {size} bytes of BTF the kernel did not register",
                    module.name
                ));
            }
        }
    }
    out
}

/// The entries of the `btf_modules` list, read through vmlinux BTF; an entry that
/// cannot be read costs only itself.
pub(crate) fn registered(
    memory: &dyn Memory,
    btf: &Types,
    head: Option<u64>,
) -> Result<Vec<Result<Registered, String>>, String> {
    let head = head.ok_or("no `btf_modules` symbol (no CONFIG_DEBUG_INFO_BTF_MODULES?)")?;
    // Each module's failure is a warning line: the kind ends here.
    let off = |ty: &str, member: &str| offset_of_any(btf, ty, &[member]).map_err(|e| e.to_string());
    let (list, module, btf_at) = (
        off("btf_module", "list")?,
        off("btf_module", "module")?,
        off("btf_module", "btf")?,
    );
    let (data, size, start_id) = (
        off("btf", "data")?,
        off("btf", "data_size")?,
        off("btf", "start_id")?,
    );
    let entry = |at: u64| -> Result<Registered, MemError> {
        let btf = memory.read_u64(at.wrapping_add(btf_at))?;
        Ok(Registered {
            module: memory.read_u64(at.wrapping_add(module))?,
            data: memory.read_u64(btf.wrapping_add(data))?,
            size: u64::from(memory.read_u32(btf.wrapping_add(size))?),
            start_id: memory.read_u32(btf.wrapping_add(start_id))?,
        })
    };
    let entries = list_entries(memory, head, list, MAX_ENTRIES).map_err(|e| e.to_string())?;
    Ok(entries
        .into_iter()
        .map(|at| entry(at).map_err(|e| format!("btf_modules entry at {at:#x}: {e}")))
        .collect())
}

/// One module's BTF, checked to continue vmlinux's ids before it is read.
pub(crate) fn decode(
    memory: &dyn Memory,
    vmlinux: &Arc<Btf>,
    entry: &Registered,
) -> Result<Arc<Types>, String> {
    // Split BTF numbers its types after its base's: on any base but this vmlinux
    // (a distilled `.BTF.base` the kernel did not relocate) ids mean other types.
    if entry.start_id != vmlinux.end_id() {
        return Err(format!(
            "its BTF starts at type id {}, vmlinux's ends at {}",
            entry.start_id,
            vmlinux.end_id()
        ));
    }
    if entry.size == 0 || entry.size > MAX_BTF {
        return Err(format!("{} bytes of BTF is implausible", entry.size));
    }
    let mut data = vec![0u8; entry.size as usize];
    memory
        .read(entry.data, &mut data)
        .map_err(|e| format!("reading its BTF: {e}"))?;
    let btf = Btf::parse_split(vmlinux, &data).map_err(|e| format!("its BTF: {e}"))?;
    Ok(Arc::clone(btf.types()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Program;
    use std::ops::Range;

    /// The program's memory, with one range replaced by `bytes` (or unreadable
    /// when `bytes` is `None`).
    struct Patched<'a> {
        inner: &'a dyn Memory,
        range: Range<u64>,
        bytes: Option<Vec<u8>>,
    }

    impl Memory for Patched<'_> {
        fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            self.inner.read(vaddr, buf)?;
            let end = vaddr + buf.len() as u64;
            if end <= self.range.start || vaddr >= self.range.end {
                return Ok(());
            }
            let Some(bytes) = &self.bytes else {
                let at = vaddr.max(self.range.start);
                return Err(MemError::new(
                    at,
                    coroner_mem::Space::Virtual,
                    coroner_mem::MemErrorKind::NotMapped,
                    format!("virtual address {at:#x} is not mapped (patched out)"),
                ));
            };
            for (i, b) in buf.iter_mut().enumerate() {
                let at = vaddr + i as u64;
                if self.range.contains(&at) {
                    *b = bytes[(at - self.range.start) as usize];
                }
            }
            Ok(())
        }
    }

    fn mod_null() -> Program {
        let dump = coroner_testdata::crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
        Program::open(&dump, None).unwrap()
    }

    /// qemu_fw_cfg's entry on `btf_modules`, the only module of mod-null with BTF.
    fn fw_cfg(program: &Program) -> Registered {
        let head = program.address_of("btf_modules");
        let entries = registered(program.kernel(), program.types().unwrap(), head).unwrap();
        let module = program.modules().iter().find(|m| m.name == "qemu_fw_cfg");
        let [Ok(entry)] = entries.as_slice() else {
            panic!("{entries:?}");
        };
        assert_eq!(entry.module, module.unwrap().address);
        *entry
    }

    /// Loads the modules' types through `memory`, as the program would.
    fn load(program: &Program, memory: &dyn Memory) -> ModuleTypes {
        let vmlinux = program.btf.as_ref().unwrap();
        let head = program.address_of("btf_modules");
        load_module_types(memory, vmlinux, program.modules(), head)
    }

    #[test]
    fn module_types_load_on_first_need_only() {
        let program = mod_null();
        assert!(program.module_types.get().is_none(), "not while opening");
        let task = program.find_type("task_struct").unwrap().unwrap();
        assert_eq!(task.module, None);
        assert!(
            program.module_types.get().is_none(),
            "not for vmlinux types"
        );
        let found = program.find_type("fw_cfg_vmcoreinfo").unwrap().unwrap();
        assert_eq!(found.module, Some("qemu_fw_cfg"));
        assert!(program.module_types.get().is_some());
        assert_eq!(program.module_type_warnings(), &[] as &[String]);
    }

    #[test]
    fn garbage_or_unreadable_module_btf_is_a_warning_and_vmlinux_types_still_work() {
        let entry = fw_cfg(&mod_null());
        let range = entry.data..entry.data + entry.size;
        let garbage = (0..entry.size).map(|i| (i * 151 % 256) as u8).collect();
        for (bytes, expected) in [(Some(garbage), "its BTF: "), (None, "reading its BTF")] {
            let program = mod_null();
            let memory = Patched {
                inner: program.kernel(),
                range: range.clone(),
                bytes,
            };
            let loaded = load(&program, &memory);
            let [warning] = loaded.warnings.clone().try_into().unwrap();
            assert!(warning.starts_with("module qemu_fw_cfg: "), "{warning}");
            assert!(warning.contains(expected), "{warning}");
            assert!(loaded.types.iter().all(Option::is_none));
            assert!(program.module_types.set(loaded).is_ok());
            assert!(program.find_type("fw_cfg_vmcoreinfo").unwrap().is_none());
            let task = program.find_type("task_struct").unwrap().unwrap();
            assert_eq!(task.types.size_of(task.id), Some(9792));
            assert_eq!(program.module_type_warnings(), [warning]);
        }
    }

    #[test]
    fn an_unreadable_list_entry_is_a_warning() {
        let program = mod_null();
        let head = program.address_of("btf_modules").unwrap();
        let entry = program.read_u64(head).unwrap();
        // Its `module` pointer; the list_head the walk goes through stays.
        let at = entry
            + program
                .types()
                .unwrap()
                .offset_of("btf_module", "module")
                .unwrap();
        let memory = Patched {
            inner: program.kernel(),
            range: at..at + 8,
            bytes: None,
        };
        let loaded = load(&program, &memory);
        let expected = format!("modules' types: btf_modules entry at {entry:#x}: ");
        assert!(
            loaded.warnings[0].starts_with(&expected),
            "{:?}",
            loaded.warnings
        );
        // With its entry gone, qemu_fw_cfg's btf_data_size says it had BTF.
        let rest = &loaded.warnings[1..];
        let lost = "module qemu_fw_cfg: has 1256 bytes of BTF the kernel did not register";
        assert_eq!(rest, [lost]);
        assert!(loaded.types.iter().all(Option::is_none));
    }

    #[test]
    fn every_corrupted_byte_decodes_or_fails_without_panicking() {
        let program = mod_null();
        let entry = fw_cfg(&program);
        let mut blob = vec![0u8; entry.size as usize];
        program.read(entry.data, &mut blob).unwrap();
        let vmlinux = program.btf.as_ref().unwrap();
        let mut failed = 0;
        for at in 0..blob.len() {
            for value in [0x00, 0x7f, 0xff] {
                let mut bytes = blob.clone();
                bytes[at] = value;
                let memory = Patched {
                    inner: program.kernel(),
                    range: entry.data..entry.data + entry.size,
                    bytes: Some(bytes),
                };
                failed += usize::from(decode(&memory, vmlinux, &entry).is_err());
            }
        }
        assert!(failed > 0, "some corruptions must be caught");
        // Cut short, or sizes and ids that cannot be right.
        let cases = [
            (entry.size / 2, entry.start_id, "its BTF: "),
            (0, entry.start_id, "0 bytes of BTF"),
            (MAX_BTF + 1, entry.start_id, "bytes of BTF is implausible"),
            (entry.size, entry.start_id - 1, "vmlinux's ends at 100751"),
        ];
        for (size, start_id, expected) in cases {
            let bad = Registered {
                size,
                start_id,
                ..entry
            };
            let e = decode(program.kernel(), vmlinux, &bad).unwrap_err();
            assert!(e.contains(expected), "{e}");
        }
    }
}
