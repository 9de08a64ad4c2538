//! [`Program`]: a dump, its kernel view and the kernel's symbols.

use crate::error::AnalysisError;
use crate::module_types::{load_module_types, ModuleTypes};
use crate::modules::{load_modules, Module};
use crate::symbols::{load_symbols, SymbolSource};
use crate::types::{find_btf, load_btf};
use crate::vmlinux::Vmlinux;
use coroner_dump::Dump;
use coroner_kernel::{Kernel, MemError, Memory};
use coroner_symbols::{Symbol, SymbolTable};
use coroner_types::{Btf, Type, TypeId, Types};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A C `char[]`: the bytes before the first NUL (all of them if there is none).
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Dump(#[from] coroner_dump::DumpError),
    #[error(transparent)]
    Kernel(#[from] coroner_kernel::KernelError),
    #[error("{0}")]
    Symbols(String),
    /// The vmlinux given cannot be read for its types.
    #[error("{path}: {why}")]
    Vmlinux { path: String, why: String },
    /// The vmlinux given is another build than the dump's kernel.
    #[error("{path} does not match the dump: its build-id is {vmlinux}, the dump's kernel's is {dump} (another build; pass the vmlinux of the kernel that crashed)")]
    VmlinuxMismatch {
        path: String,
        vmlinux: String,
        dump: String,
    },
}

/// How to open a dump as a program.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    /// A System.map (or `nm` output) to use instead of the kallsyms in the dump.
    pub system_map: Option<&'a Path>,
    /// The kernel's vmlinux with DWARF: its types serve when the dump has no BTF.
    pub vmlinux: Option<&'a Path>,
}

/// An opened crash dump seen as the kernel program it holds.
pub struct Program {
    kernel: Kernel,
    symbols: SymbolTable,
    symbol_source: SymbolSource,
    /// vmlinux BTF, or why it could not be read.
    pub(crate) btf: Result<Arc<Btf>, String>,
    /// The types of a vmlinux's DWARF, when one was given and the dump has no BTF.
    dwarf: Option<Arc<Types>>,
    /// The vmlinux given, kept for source lines.
    vmlinux: Option<Vmlinux>,
    modules: Vec<Module>,
    /// Modules' own types, read on first use: `bt` and most commands never need
    /// them, and opening is what they spend their time on.
    pub(crate) module_types: OnceLock<ModuleTypes>,
    warnings: Vec<String>,
}

/// A type found by name, and whose BTF defines it.
#[derive(Clone, Copy)]
pub struct FoundType<'a> {
    /// The types `id` belongs to (a module's stack on vmlinux's).
    pub types: &'a Types,
    pub id: TypeId,
    /// The module whose own BTF defines the type; `None` for vmlinux.
    pub module: Option<&'a str>,
}

impl FoundType<'_> {
    /// Declared, not defined (`struct foo;`).
    fn is_forward(&self) -> bool {
        let layout = self.types.get(self.types.resolve(self.id));
        matches!(layout, Some(Type::Forward(_)))
    }
}

/// `vmlinux` mapped and checked against the dump (refused when its build-id is
/// not the dump's), with its DWARF types when `needed`.
fn open_vmlinux(
    kernel: &Kernel,
    path: &Path,
    needed: bool,
    warnings: &mut Vec<String>,
) -> Result<(Vmlinux, Option<Arc<Types>>), ProgramError> {
    let shown = path.display().to_string();
    let fail = |why: String| ProgramError::Vmlinux {
        path: shown.clone(),
        why,
    };
    let offset = kernel.vmcoreinfo().kernel_offset().unwrap_or(0);
    let vmlinux = Vmlinux::open(path, offset).map_err(fail)?;
    if let (Some(ours), Some(theirs)) = (kernel.vmcoreinfo().build_id(), vmlinux.build_id()) {
        if !ours.eq_ignore_ascii_case(theirs) {
            return Err(ProgramError::VmlinuxMismatch {
                path: shown,
                vmlinux: theirs.to_string(),
                dump: ours.to_string(),
            });
        }
    }
    if !needed {
        warnings.push(format!(
            "the dump has BTF: its types are used, not those of {shown}"
        ));
        return Ok((vmlinux, None));
    }
    let types = vmlinux.types().map_err(fail)?;
    Ok((vmlinux, Some(types)))
}

impl Program {
    /// Opens a dump; `system_map` overrides the symbols found in the dump.
    pub fn open(path: &Path, system_map: Option<&Path>) -> Result<Program, ProgramError> {
        Program::open_with(
            path,
            &OpenOptions {
                system_map,
                vmlinux: None,
            },
        )
    }

    /// Opens a dump with what the dump itself lacks: a System.map, a vmlinux.
    pub fn open_with(path: &Path, options: &OpenOptions) -> Result<Program, ProgramError> {
        let mut kernel = Kernel::new(Dump::open(path)?)?;
        let mut warnings = Vec::new();
        let (symbols, symbol_source) = load_symbols(&kernel, options.system_map, &mut warnings)?;
        // Three names are needed before the table exists. Found first, they let BTF
        // be read and parsed on a second thread while the symbols decode.
        let [btf_start, btf_stop, modules_head, page_offset_base] = symbols
            .addresses(&["__start_BTF", "__stop_BTF", "modules", "page_offset_base"])
            .try_into()
            .expect("one address a name");
        // Where the direct map is, for reads whose page tables the dump lacks.
        if let Some(base) = page_offset_base.and_then(|at| kernel.read_u64(at).ok()) {
            kernel.set_direct_map_base(base);
        }
        let kernel = kernel;
        // Symbols lost to a damaged kallsyms: BTF is found by its header's shape
        // (not for whole tables without them: that kernel has no BTF).
        let lost = match symbol_source {
            SymbolSource::None => kernel.vmcoreinfo().symbol("kallsyms_names").is_some(),
            SymbolSource::Kallsyms => symbols.damaged(),
            _ => false,
        };
        let (btf_start, btf_stop) = match (btf_start, btf_stop) {
            (None, _) | (_, None) if lost => {
                let info = kernel.vmcoreinfo();
                let found = info
                    .symbol("_stext")
                    .zip(info.symbol("init_uts_ns"))
                    .and_then(|(from, to)| find_btf(&kernel, from, to));
                if let Some((start, stop)) = found {
                    warnings.push(format!(
                        "__start_BTF/__stop_BTF are not among the symbols read: using the \
                         BTF found by its header at {start:#x}..{stop:#x}"
                    ));
                }
                found.map_or((btf_start, btf_stop), |(a, b)| (Some(a), Some(b)))
            }
            _ => (btf_start, btf_stop),
        };
        let (mut symbols, btf) = std::thread::scope(|scope| {
            let btf = scope.spawn(|| load_btf(&kernel, btf_start, btf_stop));
            let table = symbols.into_table(&mut warnings);
            let btf = btf
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (table, btf)
        });
        if let Some(damage) = btf.as_ref().ok().and_then(|b| b.damage()) {
            warnings.push(format!("the kernel's BTF is incomplete: {damage}"));
        }
        // A vmlinux is checked against the dump whenever given; its DWARF serves
        // only where the dump's own BTF does not.
        let (vmlinux, dwarf) = match options.vmlinux {
            Some(path) => {
                let (vmlinux, types) = open_vmlinux(&kernel, path, btf.is_err(), &mut warnings)?;
                (Some(vmlinux), types)
            }
            None => (None, None),
        };
        let mut modules = Vec::new();
        let types = btf.as_ref().ok().map(|b| &**b.types()).or(dwarf.as_deref());
        if let Some(types) = types {
            match load_modules(&kernel, types, modules_head) {
                Ok((found, module_symbols, lost)) => {
                    modules = found;
                    symbols.extend(module_symbols);
                    warnings.extend(lost);
                }
                Err(e) => warnings.push(format!("modules: {e}")),
            }
        }
        Ok(Program {
            kernel,
            symbols,
            symbol_source,
            btf,
            dwarf,
            vmlinux,
            modules,
            module_types: OnceLock::new(),
            warnings,
        })
    }

    /// The vmlinux given with the dump (checked to be its kernel's), for DWARF's
    /// source lines and inlined frames.
    pub fn vmlinux(&self) -> Option<&Vmlinux> {
        self.vmlinux.as_ref()
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Where the symbols came from.
    pub fn symbol_source(&self) -> &SymbolSource {
        &self.symbol_source
    }

    /// Things that did not load but did not stop the program from opening.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The address of a named symbol.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.symbols.by_name(name).map(|s| s.address)
    }

    /// The symbol containing `address`, and the offset into it. Kernel-image
    /// symbols end at `_end`: past it an address belongs to a module or to nothing.
    pub fn symbolize(&self, address: u64) -> Option<(&Symbol, u64)> {
        let (symbol, offset) = self.symbols.lookup(address)?;
        let past_image =
            symbol.module.is_none() && self.address_of("_end").is_some_and(|end| address > end);
        (!past_image).then_some((symbol, offset))
    }

    /// Loaded modules, in the kernel's list order (most recently loaded first).
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// The kernel's types: its BTF, else a given vmlinux's DWARF; or why there are
    /// none.
    pub fn types(&self) -> Result<&Types, AnalysisError> {
        match (&self.btf, &self.dwarf) {
            (Ok(btf), _) => Ok(btf.types()),
            (Err(_), Some(dwarf)) => Ok(dwarf),
            (Err(e), None) => Err(AnalysisError::NoTypes(format!(
                "{e}; a vmlinux with DWARF (--vmlinux) would give them"
            ))),
        }
    }

    /// What could not be read of the kernel's BTF, when it was used up to a hole.
    pub fn btf_damage(&self) -> Option<&coroner_types::BtfDamage> {
        self.btf.as_ref().ok()?.damage()
    }

    /// Every module's own types (its split BTF), read and decoded on first call.
    fn module_types(&self) -> Result<&ModuleTypes, AnalysisError> {
        let vmlinux = (self.btf.as_ref()).map_err(|e| AnalysisError::NoTypes(e.clone()))?;
        Ok(self.module_types.get_or_init(|| {
            let head = self.address_of("btf_modules");
            load_module_types(&self.kernel, vmlinux, &self.modules, head)
        }))
    }

    /// Why some modules' types could not be read; empty until a lookup needed them.
    pub fn module_type_warnings(&self) -> &[String] {
        self.module_types.get().map_or(&[], |m| &m.warnings)
    }

    /// A struct, union, typedef or enum by name, as [`Types::find`] takes it
    /// (`task_struct`, `struct foo`): from vmlinux BTF, else from the first
    /// module whose own BTF defines it, oldest loaded first (modules load after
    /// those they use, so the one a type comes from precedes its users). A type
    /// vmlinux only declares is the answer when no module defines it.
    pub fn find_type(&self, name: &str) -> Result<Option<FoundType<'_>>, AnalysisError> {
        let vmlinux = self.types()?;
        let found = vmlinux.find(name).map(|id| FoundType {
            types: vmlinux,
            id,
            module: None,
        });
        if found.is_some_and(|f| !f.is_forward()) {
            return Ok(found);
        }
        let modules = self.module_types()?;
        let from_module = self
            .modules
            .iter()
            .zip(&modules.types)
            .rev()
            .filter_map(|(module, types)| Some((module, types.as_deref()?)))
            .find_map(|(module, types)| {
                // Its own layer only: a module's lookup falls through to vmlinux's.
                let id = types
                    .find(name)
                    .filter(|id| id.index() as usize >= vmlinux.len())?;
                let found = FoundType {
                    types,
                    id,
                    module: Some(module.name.as_str()),
                };
                (!found.is_forward()).then_some(found)
            });
        Ok(from_module.or(found))
    }

    /// [`Program::find_type`] in one module's BTF: its own types, then vmlinux's.
    /// An error if no such module is loaded or it has no BTF.
    pub fn find_module_type(
        &self,
        module: &str,
        name: &str,
    ) -> Result<Option<FoundType<'_>>, AnalysisError> {
        let vmlinux = self.types()?;
        let index = (self.modules.iter())
            .position(|m| m.name == module)
            .ok_or_else(|| AnalysisError::NotFound(format!("no module {module} is loaded")))?;
        let types = self.module_types()?.types[index]
            .as_deref()
            .ok_or_else(|| AnalysisError::NoTypes(format!("module {module} has no BTF")))?;
        let module = self.modules[index].name.as_str();
        Ok(types.find(name).map(|id| FoundType {
            types,
            id,
            module: (id.index() as usize >= vmlinux.len()).then_some(module),
        }))
    }

    pub fn read_u64(&self, vaddr: u64) -> Result<u64, MemError> {
        self.kernel.read_u64(vaddr)
    }

    pub fn read_u32(&self, vaddr: u64) -> Result<u32, MemError> {
        self.kernel.read_u32(vaddr)
    }

    /// Reads kernel virtual memory.
    pub fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.kernel.read(vaddr, buf)
    }
}
