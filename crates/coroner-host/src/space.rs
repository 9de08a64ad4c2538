//! Mounts and free space under the root.
//!
//! A test tree cannot carry real filesystems, so a root other than `/` may hold
//! `/.coroner-statvfs`: lines of `MOUNTPOINT AVAILABLE_BYTES SIZE_BYTES`, used
//! instead of statvfs(2). On the live system it is never consulted.

use crate::root::Root;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const STATVFS_STANDIN: &str = "/.coroner-statvfs";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub point: String,
    pub fstype: String,
}

/// /proc/self/mounts (else /proc/mounts); empty when the tree has neither.
pub fn mounts(root: &Root) -> Vec<Mount> {
    let text = ["/proc/self/mounts", "/proc/mounts"]
        .iter()
        .find_map(|p| root.read(p).ok().flatten())
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some(Mount {
                source: unescape(f.next()?),
                point: unescape(f.next()?),
                fstype: f.next()?.to_string(),
            })
        })
        .collect()
}

/// The kernel writes space, tab, newline and backslash in mounts as `\ooo`.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount holding `path`: the longest mount point that is a prefix of it (the
/// last such, as later mounts hide earlier ones).
pub fn mount_of<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    let under = |point: &str| {
        point == "/"
            || path == point
            || path.strip_prefix(point).is_some_and(|r| r.starts_with('/'))
    };
    mounts
        .iter()
        .filter(|m| under(&m.point))
        .fold(None, |best: Option<&Mount>, m| match best {
            Some(b) if b.point.len() > m.point.len() => Some(b),
            _ => Some(m),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub available: u64,
    pub size: u64,
}

/// Free space for `dir` (as on the host), whose filesystem is mounted at `point`.
pub fn free_space(root: &Root, dir: &str, point: &str) -> Result<Space, String> {
    if !root.is_live_system() {
        if let Some(text) = root.read(STATVFS_STANDIN).map_err(|e| e.to_string())? {
            return standin(&text, point);
        }
    }
    // statvfs on the nearest directory that exists: the dump directory may not yet.
    let mut probe = Path::new(dir);
    while !root.is_dir(&probe.to_string_lossy()) {
        probe = probe.parent().unwrap_or(Path::new("/"));
    }
    statvfs(
        &root
            .resolve(&probe.to_string_lossy())
            .map_err(|e| e.to_string())?,
    )
}

fn standin(text: &str, point: &str) -> Result<Space, String> {
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() != Some(&point) {
            continue;
        }
        let parse = |s: Option<&&str>| s.and_then(|s| s.parse::<u64>().ok());
        return match (parse(f.get(1)), parse(f.get(2))) {
            (Some(available), Some(size)) => Ok(Space { available, size }),
            _ => Err(format!(
                "{STATVFS_STANDIN} line {}: not `MOUNTPOINT AVAILABLE SIZE`",
                i + 1
            )),
        };
    }
    Err(format!("{STATVFS_STANDIN} has no line for {point}"))
}

fn statvfs(path: &Path) -> Result<Space, String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!(
            "statvfs {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    let frsize = st.f_frsize as u64;
    Ok(Space {
        available: st.f_bavail as u64 * frsize,
        size: st.f_blocks as u64 * frsize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(point: &str) -> Mount {
        Mount {
            source: "dev".into(),
            point: point.into(),
            fstype: "xfs".into(),
        }
    }

    #[test]
    fn longest_prefix_wins_on_component_boundaries() {
        let ms = [m("/"), m("/var"), m("/var/crash"), m("/var/crashes")];
        assert_eq!(mount_of(&ms, "/var/crash/x").unwrap().point, "/var/crash");
        assert_eq!(mount_of(&ms, "/var/crash").unwrap().point, "/var/crash");
        assert_eq!(mount_of(&ms, "/var/log").unwrap().point, "/var");
        assert_eq!(mount_of(&ms, "/srv").unwrap().point, "/");
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("a\\\\b"), "a\\\\b");
    }

    #[test]
    fn standin_lines() {
        let t = "/ 1000 2000\n/var/crash 5 x\n";
        assert_eq!(
            standin(t, "/"),
            Ok(Space {
                available: 1000,
                size: 2000
            })
        );
        assert!(standin(t, "/var/crash").unwrap_err().contains("line 2"));
        assert!(standin(t, "/srv").unwrap_err().contains("no line for /srv"));
    }

    #[test]
    fn real_statvfs() {
        let s = statvfs(Path::new("/")).unwrap();
        assert!(s.size > 0 && s.available <= s.size);
        assert!(statvfs(Path::new("/no/such/dir"))
            .unwrap_err()
            .contains("No such file"));
    }
}
