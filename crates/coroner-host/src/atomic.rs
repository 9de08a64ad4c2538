//! Replacing a file so that it holds either the old content or the new, never part
//! of either: a temporary file beside it, fsync, rename over; the old file is
//! copied to a backup first.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `content` to `path` atomically. Returns the backup of the old file, if
/// there was one. On error the file is untouched and no temporary file is left.
pub fn replace(path: &Path, content: &[u8]) -> Result<Option<PathBuf>, String> {
    let ctx = |what: &str, p: &Path, e: io::Error| format!("{what} {}: {e}", p.display());
    let dir = path
        .parent()
        .ok_or_else(|| format!("{}: no parent directory", path.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(dir).map_err(|e| ctx("cannot create", dir, e))?;
    let (mode, backup) = match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => (
            m.permissions().mode() & 0o7777,
            Some(backup(path, dir, &name)?),
        ),
        Ok(_) => {
            return Err(format!(
                "{} is not a regular file; not replacing it",
                path.display()
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (0o644, None),
        Err(e) => return Err(ctx("cannot stat", path, e)),
    };
    let tmp = dir.join(format!(".{name}.coroner-tmp-{}", std::process::id()));
    let result = write_new(&tmp, mode, content)
        .map_err(|e| ctx("cannot write", &tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| ctx("cannot rename over", path, e)));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable once the directory is.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

fn write_new(tmp: &Path, mode: u32, content: &[u8]) -> io::Result<()> {
    // A temporary file left by a killed earlier run is ours to replace.
    let _ = fs::remove_file(tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    f.write_all(content)?;
    f.sync_all()
}

/// Copies the file to `NAME.coroner-bak` (or `.coroner-bak.N`, never overwriting an
/// older backup).
fn backup(path: &Path, dir: &Path, name: &str) -> Result<PathBuf, String> {
    let mut n = 0;
    let target = loop {
        let candidate = dir.join(match n {
            0 => format!("{name}.coroner-bak"),
            n => format!("{name}.coroner-bak.{n}"),
        });
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    fs::copy(path, &target).map_err(|e| {
        format!(
            "cannot back up {} to {}: {e}",
            path.display(),
            target.display()
        )
    })?;
    File::open(&target)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", target.display()))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeps_backups_and_mode() {
        let dir = crate::testutil::temp_dir("atomic");
        let p = dir.join("etc/kdump.conf");
        assert_eq!(replace(&p, b"one\n"), Ok(None));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let b1 = replace(&p, b"two\n").unwrap().unwrap();
        let b2 = replace(&p, b"three\n").unwrap().unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "three\n");
        assert_eq!(fs::read_to_string(&b1).unwrap(), "one\n");
        assert_eq!(fs::read_to_string(&b2).unwrap(), "two\n");
        assert_eq!(b2.file_name().unwrap(), "kdump.conf.coroner-bak.1");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_directory_in_the_way_is_not_replaced() {
        let dir = crate::testutil::temp_dir("atomic-fail");
        let p = dir.join("sysctl.d/99-coroner.conf");
        fs::create_dir_all(&p).unwrap(); // a directory where the file should go
        let e = replace(&p, b"kernel.panic = 10\n").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let names: Vec<_> = fs::read_dir(dir.join("sysctl.d"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["99-coroner.conf"]);
    }
}
