//! A directory read as a host's `/`: every path is resolved inside it, symlinks
//! included, so an absolute link in a mounted image points into the image and never
//! at the machine running coroner.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Links followed while resolving one path, as the kernel's own limit.
const MAX_LINKS: usize = 40;
/// Config and /proc files are small; a bigger one is not what is looked for and is
/// refused rather than read whole.
const MAX_READ: u64 = 4 << 20;

/// The host being audited: `/`, or a directory tree standing for it.
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
}

/// A file that exists but cannot be read (permissions, a directory, too big).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {path}: {reason}")]
pub struct ReadError {
    /// The path as on the audited host.
    pub path: String,
    pub reason: String,
}

impl Root {
    pub fn new(base: impl Into<PathBuf>) -> Result<Root, String> {
        let base = base.into();
        match fs::metadata(&base) {
            Ok(m) if m.is_dir() => Ok(Root { base }),
            Ok(_) => Err(format!("--root {}: not a directory", base.display())),
            Err(e) => Err(format!("--root {}: {e}", base.display())),
        }
    }

    /// The directory standing for `/`.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// True when auditing this machine itself, not a tree.
    pub fn is_live_system(&self) -> bool {
        self.base == Path::new("/")
    }

    /// The path on this machine that `path` (absolute, as on the audited host) names,
    /// with symlinks resolved inside the root. The result need not exist. A link
    /// loop is an error: handing the OS an unresolved link could follow it out of
    /// the root.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, ReadError> {
        self.resolve_components(path, true)
            .map(|p| self.base.join(p))
    }

    /// Like `resolve`, but leaves the last component unresolved (to look at a link
    /// itself, such as a systemd enablement link).
    pub fn resolve_parent(&self, path: &str) -> Result<PathBuf, ReadError> {
        self.resolve_components(path, false)
            .map(|p| self.base.join(p))
    }

    fn resolve_components(&self, path: &str, follow_last: bool) -> Result<PathBuf, ReadError> {
        let mut pending: Vec<OsString> = normal_components(Path::new(path));
        pending.reverse();
        let mut done: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                done.pop();
                continue;
            }
            let here: PathBuf = self
                .base
                .iter()
                .chain(done.iter().map(|c| c.as_os_str()))
                .collect();
            let candidate = here.join(&name);
            let is_last = pending.is_empty();
            let link = (follow_last || !is_last)
                && fs::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink());
            match link.then(|| fs::read_link(&candidate).ok()).flatten() {
                Some(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(ReadError {
                            path: path.to_string(),
                            reason: "too many levels of symbolic links".into(),
                        });
                    }
                    if target.is_absolute() {
                        done.clear();
                    }
                    let mut parts = normal_components(&target);
                    parts.reverse();
                    pending.extend(parts);
                }
                None => done.push(name),
            }
        }
        Ok(done.iter().collect())
    }

    /// A text file's contents; `None` when it does not exist. Bytes that are not
    /// UTF-8 are replaced, since callers parse and report bad lines themselves.
    pub fn read(&self, path: &str) -> Result<Option<String>, ReadError> {
        let real = self.resolve(path)?;
        let err = |reason: String| ReadError {
            path: path.to_string(),
            reason,
        };
        let file = match fs::File::open(&real) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(e.to_string())),
        };
        let mut bytes = Vec::new();
        file.take(MAX_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        if bytes.len() as u64 > MAX_READ {
            return Err(err(format!("larger than {} MiB", MAX_READ >> 20)));
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The first line of a one-value file (sysfs, procfs), trimmed.
    pub fn read_value(&self, path: &str) -> Result<Option<String>, ReadError> {
        Ok(self
            .read(path)?
            .map(|t| t.lines().next().unwrap_or("").trim().to_string()))
    }

    /// Raw bytes of a small binary file (EFI variables); `None` when absent.
    pub fn read_bytes(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        let real = self.resolve(path)?;
        let file = match fs::File::open(&real) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ReadError {
                    path: path.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let mut bytes = Vec::new();
        file.take(max as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| ReadError {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Some(bytes))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|p| p.exists())
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|p| p.is_dir())
    }

    /// A file's size in bytes, following links inside the root.
    pub fn size(&self, path: &str) -> Option<u64> {
        fs::metadata(self.resolve(path).ok()?).ok().map(|m| m.len())
    }

    /// Where a symlink at `path` points, without following it; `None` if `path` is
    /// not a symlink.
    pub fn link_target(&self, path: &str) -> Option<PathBuf> {
        let real = self.resolve_parent(path).ok()?;
        match fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() => fs::read_link(&real).ok(),
            _ => None,
        }
    }

    /// Names in a directory, sorted; empty when the directory does not exist.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, ReadError> {
        let real = self.resolve(dir)?;
        let entries = match fs::read_dir(&real) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ReadError {
                    path: dir.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A path's names, without the root, `.` or prefix components (`..` is kept).
fn normal_components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (PathBuf, Root) {
        let dir = crate::testutil::temp_dir("root");
        fs::create_dir_all(dir.join("etc/sysctl.d")).unwrap();
        fs::write(dir.join("etc/sysctl.conf"), "kernel.panic = 10\n").unwrap();
        (dir.clone(), Root::new(&dir).unwrap())
    }

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let (dir, root) = tree();
        symlink("/etc/sysctl.conf", dir.join("etc/sysctl.d/99-sysctl.conf")).unwrap();
        assert_eq!(
            root.resolve("/etc/sysctl.d/99-sysctl.conf"),
            Ok(dir.join("etc/sysctl.conf"))
        );
        assert_eq!(
            root.read("/etc/sysctl.d/99-sysctl.conf")
                .unwrap()
                .as_deref(),
            Some("kernel.panic = 10\n")
        );
    }

    #[test]
    fn dotdot_and_relative_links_cannot_climb_out() {
        let (dir, root) = tree();
        symlink("../../../../../../etc", dir.join("etc/escape")).unwrap();
        assert_eq!(
            root.resolve("/etc/escape/sysctl.conf"),
            Ok(dir.join("etc/sysctl.conf"))
        );
        assert_eq!(
            root.resolve("/../../etc/sysctl.conf"),
            Ok(dir.join("etc/sysctl.conf"))
        );
    }

    #[test]
    fn link_loops_end() {
        let (dir, root) = tree();
        symlink("/etc/b", dir.join("etc/a")).unwrap();
        symlink("/etc/a", dir.join("etc/b")).unwrap();
        let e = root.read("/etc/a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read /etc/a: too many levels of symbolic links"
        );
        assert!(!root.exists("/etc/a"));
    }

    #[test]
    fn absent_unreadable_and_link_itself() {
        let (dir, root) = tree();
        assert_eq!(root.read("/etc/kdump.conf").unwrap(), None);
        let e = root.read("/etc/sysctl.d").unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read /etc/sysctl.d: "),
            "{e}"
        );
        symlink("/dev/null", dir.join("etc/masked.service")).unwrap();
        assert_eq!(
            root.link_target("/etc/masked.service"),
            Some(PathBuf::from("/dev/null"))
        );
        assert_eq!(root.link_target("/etc/sysctl.conf"), None);
    }
}
