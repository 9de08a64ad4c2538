//! Loaded modules: the kernel's `modules` list of `struct module`, each with its
//! name, where its code lives and its own symbol table (`mod->kallsyms`: ELF
//! symbols, their names and `nm` type letters), read through BTF offsets.

use crate::list::list_entries_lenient;
use crate::program::c_string;
use crate::types::offset_of_any;
use coroner_kernel::{Kernel, Memory};
use coroner_symbols::Symbol;
use coroner_types::Types;

/// One loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Address of its `struct module`.
    pub address: u64,
    pub name: String,
    /// Its core (non-init) memory: code and data kept after loading.
    pub base: u64,
    pub size: u64,
    pub symbol_count: usize,
}

/// More modules than any kernel loads; a bound for a corrupt list.
const MAX_MODULES: usize = 16 << 10;
/// More symbols than any module has.
const MAX_MODULE_SYMS: u64 = 1 << 20;
/// `sizeof(Elf64_Sym)`.
const ELF_SYM: u64 = 24;
const MODULE_NAME_LEN: usize = 56;

struct Layout {
    list: u64,
    name: u64,
    base: u64,
    size: u64,
    kallsyms: u64,
    symtab: u64,
    num_symtab: u64,
    strtab: u64,
    typetab: u64,
}

impl Layout {
    fn from(btf: &Types) -> Result<Layout, String> {
        let off =
            |ty: &str, paths: &[&str]| offset_of_any(btf, ty, paths).map_err(|e| e.to_string());
        Ok(Layout {
            list: off("module", &["list"])?,
            name: off("module", &["name"])?,
            // 6.4 replaced core_layout with mem[MOD_TEXT]; mem[0] is at the array start.
            base: off("module", &["core_layout.base", "mem.base"])?,
            size: off("module", &["core_layout.size", "mem.size"])?,
            kallsyms: off("module", &["kallsyms"])?,
            symtab: off("mod_kallsyms", &["symtab"])?,
            num_symtab: off("mod_kallsyms", &["num_symtab"])?,
            strtab: off("mod_kallsyms", &["strtab"])?,
            typetab: off("mod_kallsyms", &["typetab"])?,
        })
    }
}

/// Modules read, their symbols, and what could not be read.
pub(crate) type LoadedModules = (Vec<Module>, Vec<Symbol>, Vec<String>);

/// Reads every module and its symbols. Symbols are those with a name and a value
/// (the kernel's own /proc/kallsyms shows the same set).
/// `modules` is the address of the kernel's `modules` list head. A module that
/// cannot be read is skipped, and a list broken by a lost page walked back from
/// its head; the third vector says what was lost.
pub(crate) fn load_modules(
    kernel: &Kernel,
    btf: &Types,
    modules: Option<u64>,
) -> Result<LoadedModules, String> {
    let l = Layout::from(btf)?;
    let head = modules.ok_or("no `modules` symbol")?;
    let read = |addr: u64| kernel.read_u64(addr).map_err(|e| e.to_string());
    let mut modules = Vec::new();
    let mut symbols = Vec::new();
    let (entries, broken) = list_entries_lenient(kernel, head, l.list, MAX_MODULES);
    let mut warnings: Vec<String> = broken
        .map(|why| format!("modules: {why}"))
        .into_iter()
        .collect();
    for module in entries {
        let mut name = [0u8; MODULE_NAME_LEN];
        let mut read_one = || -> Result<Module, String> {
            kernel
                .read(module + l.name, &mut name)
                .map_err(|e| e.to_string())?;
            Ok(Module {
                address: module,
                base: read(module + l.base)?,
                size: u64::from(
                    kernel
                        .read_u32(module + l.size)
                        .map_err(|e| e.to_string())?,
                ),
                symbol_count: 0,
                name: c_string(&name),
            })
        };
        let mut found = match read_one() {
            Ok(found) => found,
            Err(e) => {
                warnings.push(format!("modules: the module at {module:#x}: {e}"));
                continue;
            }
        };
        let syms = module_symbols(kernel, &l, module, &found.name).unwrap_or_else(|e| {
            warnings.push(format!("modules: symbols of {}: {e}", found.name));
            Vec::new()
        });
        found.symbol_count = syms.len();
        modules.push(found);
        symbols.extend(syms);
    }
    Ok((modules, symbols, warnings))
}

fn module_symbols(
    kernel: &Kernel,
    l: &Layout,
    module: u64,
    name: &str,
) -> Result<Vec<Symbol>, String> {
    let read = |addr: u64| kernel.read_u64(addr).map_err(|e| e.to_string());
    let kallsyms = read(module + l.kallsyms)?;
    let count = read(kallsyms + l.num_symtab)? & 0xffff_ffff;
    if count > MAX_MODULE_SYMS {
        return Err(format!("{name}: {count} symbols"));
    }
    let mut table = vec![0u8; (count * ELF_SYM) as usize];
    kernel
        .read(read(kallsyms + l.symtab)?, &mut table)
        .map_err(|e| e.to_string())?;
    let mut types = vec![0u8; count as usize];
    kernel
        .read(read(kallsyms + l.typetab)?, &mut types)
        .map_err(|e| e.to_string())?;
    let strtab = read(kallsyms + l.strtab)?;
    let mut out = Vec::new();
    for (sym, &kind) in table.chunks_exact(ELF_SYM as usize).zip(&types) {
        let name_off = u32::from_le_bytes(sym[..4].try_into().expect("4 bytes"));
        let value = u64::from_le_bytes(sym[8..16].try_into().expect("8 bytes"));
        if name_off == 0 || value == 0 {
            continue;
        }
        let mut bytes = [0u8; 128];
        let at = strtab.wrapping_add(u64::from(name_off));
        if kernel.read(at, &mut bytes).is_err() {
            // The name may end before a page we lack: read up to the page end.
            let short = (4096 - at % 4096) as usize;
            if kernel.read(at, &mut bytes[..short.min(128)]).is_err() {
                continue;
            }
        }
        out.push(Symbol {
            address: value,
            name: c_string(&bytes),
            kind: kind as char,
            module: Some(name.to_string()),
        });
    }
    Ok(out)
}
