//! Kernel sysctls: the live value (/proc/sys) and the value the next boot will set
//! (sysctl.d files, in systemd-sysctl's order, then /etc/sysctl.conf as
//! `sysctl --system` reads it last).

use crate::root::{ReadError, Root};
use std::collections::BTreeMap;

/// Directories in precedence order: a file name in an earlier one hides the same
/// name in a later one (sysctl.d(5)).
const DIRS: [&str; 5] = [
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];
const SYSCTL_CONF: &str = "/etc/sysctl.conf";
/// The file `doctor --fix` writes: late in name order so it overrides vendor files.
pub const CORONER_FILE: &str = "/etc/sysctl.d/99-coroner.conf";

/// Where a persisted value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub file: String,
    pub line: usize,
}

/// The values the boot-time sysctl run leaves, with every file read and every line
/// that could not be understood.
#[derive(Debug, Clone, Default)]
pub struct Persisted {
    pub values: BTreeMap<String, Setting>,
    pub files: Vec<String>,
    pub problems: Vec<String>,
}

impl Persisted {
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.values.get(key)
    }
}

/// `kernel/panic` and `kernel.panic` name the same sysctl.
pub fn normalize(key: &str) -> String {
    key.trim().replace('/', ".")
}

/// The live value of `kernel.x` from /proc/sys/kernel/x.
pub fn live(root: &Root, key: &str) -> Result<Option<String>, ReadError> {
    root.read_value(&proc_path(key))
}

/// `/proc/sys/...` for a dotted key.
pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", normalize(key).replace('.', "/"))
}

pub fn persisted(root: &Root) -> Persisted {
    let mut out = Persisted::default();
    // name -> path of the file that wins for that name
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    for dir in DIRS {
        match root.list(dir) {
            Ok(names) => {
                for name in names.into_iter().filter(|n| n.ends_with(".conf")) {
                    chosen
                        .entry(name.clone())
                        .or_insert(format!("{dir}/{name}"));
                }
            }
            Err(e) => out.problems.push(e.to_string()),
        }
    }
    let conf_real = root.resolve(SYSCTL_CONF).ok();
    let mut read_conf = false;
    let mut order: Vec<String> = chosen.into_values().collect();
    order.sort_by(|a, b| file_name(a).cmp(file_name(b)));
    for path in order {
        read_conf |= root.resolve(&path).ok() == conf_real;
        apply(root, &path, &mut out);
    }
    if !read_conf {
        apply(root, SYSCTL_CONF, &mut out);
    }
    out
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn apply(root: &Root, path: &str, out: &mut Persisted) {
    let text = match root.read(path) {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            out.problems.push(e.to_string());
            return;
        }
    };
    out.files.push(path.to_string());
    let parsed = parse(&text);
    for p in parsed.problems {
        out.problems.push(format!("{path}: {p}"));
    }
    for (key, value, line) in parsed.entries {
        out.values.insert(
            key,
            Setting {
                value,
                file: path.to_string(),
                line,
            },
        );
    }
}

/// One sysctl.d file's `key = value` lines.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<(String, String, usize)>,
    pub problems: Vec<String>,
}

pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        // A leading '-' only says "ignore failures to set this".
        let line = line.strip_prefix('-').unwrap_or(line);
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !k.trim().contains(char::is_whitespace) => {
                out.entries
                    .push((normalize(k), v.trim().to_string(), i + 1));
            }
            _ => out
                .problems
                .push(format!("line {}: not `key = value`: {line}", i + 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn precedence_order_and_sysctl_conf_last() {
        let dir = crate::testutil::temp_dir("sysctl");
        for d in ["etc/sysctl.d", "usr/lib/sysctl.d"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        // /etc hides the same name in /usr/lib; files apply in name order.
        fs::write(
            dir.join("usr/lib/sysctl.d/50-default.conf"),
            "kernel.sysrq = 16\nkernel.panic = 0\n",
        )
        .unwrap();
        fs::write(
            dir.join("etc/sysctl.d/50-default.conf"),
            "kernel.sysrq = 1\n",
        )
        .unwrap();
        fs::write(
            dir.join("usr/lib/sysctl.d/10-early.conf"),
            "kernel/panic_on_oops=0\nkernel.panic=5\n",
        )
        .unwrap();
        fs::write(
            dir.join("etc/sysctl.d/80-late.conf"),
            "-kernel.panic_on_oops = 1\nthis is wrong\n",
        )
        .unwrap();
        fs::write(dir.join("etc/sysctl.conf"), "kernel.panic = 10\n").unwrap();
        let p = persisted(&Root::new(&dir).unwrap());
        assert_eq!(p.get("kernel.sysrq").unwrap().value, "1");
        assert_eq!(
            p.get("kernel.panic_on_oops").unwrap().file,
            "/etc/sysctl.d/80-late.conf"
        );
        assert_eq!(p.get("kernel.panic").unwrap().value, "10");
        assert_eq!(p.get("kernel.panic").unwrap().file, "/etc/sysctl.conf");
        assert_eq!(
            p.problems,
            ["/etc/sysctl.d/80-late.conf: line 2: not `key = value`: this is wrong"]
        );

        // systemd's 99-sysctl.conf link reads sysctl.conf in name order, once.
        symlink("../sysctl.conf", dir.join("etc/sysctl.d/99-sysctl.conf")).unwrap();
        fs::write(dir.join("etc/sysctl.d/99-zzz.conf"), "kernel.panic = 30\n").unwrap();
        let p = persisted(&Root::new(&dir).unwrap());
        assert_eq!(p.get("kernel.panic").unwrap().value, "30");
        assert_eq!(
            p.files
                .iter()
                .filter(|f| f.ends_with("sysctl.conf"))
                .count(),
            1
        );
    }

    #[test]
    fn keys_normalize_and_proc_paths() {
        assert_eq!(normalize(" kernel/panic "), "kernel.panic");
        assert_eq!(
            proc_path("kernel.unknown_nmi_panic"),
            "/proc/sys/kernel/unknown_nmi_panic"
        );
    }
}
