//! The store's layout and its one write path.

use crate::error::DebuginfoError;
use crate::package;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A debuginfo store: `<root>/<build-id>/vmlinux`.
pub struct Store {
    root: PathBuf,
}

/// One vmlinux filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub build_id: String,
    /// Where it now is in the store.
    pub path: PathBuf,
    /// Where it came from (a path, or a member of a package).
    pub from: String,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// `$CORONER_DEBUGINFO`, else `$XDG_CACHE_HOME/coroner/debuginfo`, else
    /// `~/.cache/coroner/debuginfo`.
    pub fn default_root() -> Option<PathBuf> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(dir) = env("CORONER_DEBUGINFO") {
            return Some(dir.into());
        }
        let cache = env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(cache.join("coroner/debuginfo"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The vmlinux of build `build_id` (hex, any case), if the store has it.
    pub fn find(&self, build_id: &str) -> Option<PathBuf> {
        let id = build_id.to_ascii_lowercase();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let path = self.root.join(id).join("vmlinux");
        path.is_file().then_some(path)
    }

    /// Every build in the store.
    pub fn list(&self) -> Vec<(String, PathBuf)> {
        let Ok(dir) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out: Vec<(String, PathBuf)> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let id = e.file_name().to_str()?.to_string();
                Some((id.clone(), self.find(&id)?))
            })
            .collect();
        out.sort();
        out
    }

    /// Files the kernel debuginfo in `input`: a vmlinux, a directory, a `.deb` /
    /// `.ddeb` or an `.rpm` (known by their bytes, not their names).
    pub fn add(&self, input: &Path) -> Result<Vec<Added>, DebuginfoError> {
        std::fs::create_dir_all(&self.root).map_err(|e| DebuginfoError::io(&self.root, e))?;
        let added = if input.is_dir() {
            package::walk(self, input)?
        } else {
            package::file(self, input)?
        };
        if added.is_empty() {
            return Err(DebuginfoError::NothingFound(input.display().to_string()));
        }
        Ok(added)
    }

    /// Writes `reader` to a temporary file in the store, checks it is a vmlinux
    /// with DWARF and a build-id, and renames it into place. `Ok(None)`: not one
    /// (the temporary file is removed).
    pub(crate) fn file_from(
        &self,
        mut reader: impl Read,
        from: &str,
    ) -> Result<Option<Added>, DebuginfoError> {
        let tmp = self
            .root
            .join(format!(".incoming-{}-{}", std::process::id(), unique()));
        let written = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            std::io::copy(&mut reader, &mut out)?;
            out.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(DebuginfoError::Io {
                path: from.to_string(),
                source: e,
            });
        }
        let build_id = match build_id_of(&tmp) {
            Some(id) => id,
            None => {
                let _ = std::fs::remove_file(&tmp);
                return Ok(None);
            }
        };
        let dir = self.root.join(&build_id);
        let path = dir.join("vmlinux");
        let placed = std::fs::create_dir_all(&dir).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(DebuginfoError::io(&path, e));
        }
        Ok(Some(Added {
            build_id,
            path,
            from: from.to_string(),
        }))
    }
}

/// A vmlinux's build-id, if the file is an ELF with DWARF and one.
fn build_id_of(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: our own temporary file, not changed while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    coroner_dwarf::Debuginfo::parse(&map).ok()?.build_id()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
