//! `coroner debuginfo add PATH...` and `coroner debuginfo list`: the store of
//! kernel debuginfo (coroner-debuginfo) that dump commands search by build-id
//! when no `--vmlinux` is given.

use coroner_debuginfo::Store;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct AddArgs {
    /// A vmlinux with DWARF, a directory (an unpacked package, /usr/lib/debug), a
    /// Debian -dbg .deb, an Ubuntu .ddeb, or a kernel-debuginfo .rpm.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArg,
}

#[derive(clap::Args)]
pub struct StoreArg {
    /// The store (default: $CORONER_DEBUGINFO, else ~/.cache/coroner/debuginfo).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

impl StoreArg {
    pub fn open(&self) -> Result<Store, String> {
        self.store
            .clone()
            .or_else(Store::default_root)
            .map(Store::new)
            .ok_or_else(|| "no store: give --store DIR (HOME is not set)".to_string())
    }
}

/// Files each input; one line per vmlinux filed.
pub fn add(args: &AddArgs) -> Result<Vec<String>, String> {
    let store = args.store.open()?;
    let mut lines = Vec::new();
    for input in &args.inputs {
        for added in store.add(input).map_err(|e| e.to_string())? {
            lines.push(format!(
                "{}  {}  (from {})",
                added.build_id,
                added.path.display(),
                added.from
            ));
        }
    }
    Ok(lines)
}

/// One line per build in the store.
pub fn list(args: &ListArgs) -> Result<Vec<String>, String> {
    let store = args.store.open()?;
    Ok(store
        .list()
        .into_iter()
        .map(|(id, path)| format!("{id}  {}", path.display()))
        .collect())
}

/// The default store's vmlinux of a build, for dump commands without --vmlinux.
pub fn finder() -> coroner_commands::VmlinuxFinder {
    Box::new(|build_id: &str| Store::new(Store::default_root()?).find(build_id))
}
