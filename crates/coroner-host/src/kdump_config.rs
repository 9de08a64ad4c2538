//! The kdump configuration, read the way its own tools read it, into one shape:
//! where the dump goes and what copies it. RHEL-style `/etc/kdump.conf` (+
//! `/etc/sysconfig/kdump`) as kdumpctl checks it; Debian/Ubuntu
//! `/etc/default/kdump-tools` as kdump-config sources it.

use crate::distro::Family;
use crate::root::Root;
use crate::shellvars;

pub const KDUMP_CONF: &str = "/etc/kdump.conf";
pub const SYSCONFIG_KDUMP: &str = "/etc/sysconfig/kdump";
pub const KDUMP_TOOLS: &str = "/etc/default/kdump-tools";

/// kdump.conf directives kdumpctl accepts.
const DIRECTIVES: [&str; 16] = [
    "path",
    "core_collector",
    "sshkey",
    "kdump_post",
    "kdump_pre",
    "extra_bins",
    "extra_modules",
    "failure_action",
    "default",
    "final_action",
    "force_rebuild",
    "force_no_rebuild",
    "dracut_args",
    "fence_kdump_args",
    "fence_kdump_nodes",
    "auto_reset_crashkernel",
];
/// Older directives: RHEL 7 warns about them, RHEL 8 and later kdumpctl refuse them.
const DEPRECATED: [&str; 6] = [
    "net",
    "options",
    "link_delay",
    "disk_timeout",
    "debug_mem_level",
    "blacklist",
];
/// `<fs type> <device>` targets.
const FS_TYPES: [&str; 7] = ["ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// kexec-tools: kdump.service, kdumpctl, /etc/kdump.conf.
    Rhel,
    /// kdump-tools: kdump-tools.service, kdump-config, /etc/default/kdump-tools.
    Debian,
}

impl Flavour {
    pub fn service(self) -> &'static str {
        match self {
            Flavour::Rhel => "kdump.service",
            Flavour::Debian => "kdump-tools.service",
        }
    }
    pub fn config_path(self) -> &'static str {
        match self {
            Flavour::Rhel => KDUMP_CONF,
            Flavour::Debian => KDUMP_TOOLS,
        }
    }
    /// The tool the package installs, to tell whether it is installed at all.
    pub fn tool_paths(self) -> &'static [&'static str] {
        match self {
            Flavour::Rhel => &["/usr/bin/kdumpctl", "/usr/sbin/kdumpctl"],
            Flavour::Debian => &["/usr/sbin/kdump-config", "/sbin/kdump-config"],
        }
    }
    pub fn package(self) -> &'static str {
        match self {
            Flavour::Rhel => "kexec-tools",
            Flavour::Debian => "kdump-tools",
        }
    }
}

/// Where the capture kernel writes the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory on the root filesystem (or whatever is mounted there).
    Local {
        path: String,
    },
    /// `<fs type> <device>`: mounted by the capture kernel; `path` is inside it.
    Filesystem {
        fstype: String,
        device: String,
        path: String,
    },
    Raw {
        device: String,
    },
    Nfs {
        export: String,
        path: String,
    },
    Ssh {
        dest: String,
        path: String,
    },
    Ftp {
        server: String,
    },
}

impl Target {
    pub fn is_remote(&self) -> bool {
        matches!(
            self,
            Target::Nfs { .. } | Target::Ssh { .. } | Target::Ftp { .. }
        )
    }
    pub fn describe(&self) -> String {
        match self {
            Target::Local { path } => format!("local directory {path}"),
            Target::Filesystem {
                fstype,
                device,
                path,
            } => format!("{fstype} filesystem {device}, directory {path}"),
            Target::Raw { device } => format!("raw device {device}"),
            Target::Nfs { export, path } => format!("NFS {export}, directory {path}"),
            Target::Ssh { dest, path } => format!("ssh {dest}:{path}"),
            Target::Ftp { server } => format!("FTP {server}"),
        }
    }
}

/// The command that copies /proc/vmcore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    pub program: String,
    pub args: Vec<String>,
    /// False when the tool's default is used (no core_collector / MAKEDUMP_ARGS).
    pub explicit: bool,
}

impl Collector {
    pub fn is_makedumpfile(&self) -> bool {
        self.program.rsplit('/').next() == Some("makedumpfile")
    }
    pub fn command(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// makedumpfile's short flags and `-d` level, as getopt reads them.
    pub fn flags(&self) -> MakedumpfileFlags {
        makedumpfile_flags(&self.args)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MakedumpfileFlags {
    pub dump_level: Option<u32>,
    /// `-c` zlib, `-l` lzo, `-p` snappy, `-z` zstd.
    pub compression: Option<&'static str>,
    pub flattened: bool,
    pub elf: bool,
}

/// makedumpfile short options that take a value (getopt string "b:cDd:eEFfg:hi:lL:pRvXx:z").
const TAKES_VALUE: [char; 6] = ['b', 'd', 'g', 'i', 'L', 'x'];

fn makedumpfile_flags(args: &[String]) -> MakedumpfileFlags {
    let mut f = MakedumpfileFlags::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a.starts_with("--") || !a.starts_with('-') {
            continue;
        }
        for (i, c) in a[1..].char_indices() {
            if TAKES_VALUE.contains(&c) {
                let rest = &a[1 + i + c.len_utf8()..];
                let value = if rest.is_empty() {
                    it.next().map(String::as_str)
                } else {
                    Some(rest)
                };
                if c == 'd' {
                    f.dump_level = value.and_then(|v| v.parse().ok());
                }
                break;
            }
            match c {
                'c' => f.compression = Some("zlib"),
                'l' => f.compression = Some("lzo"),
                'p' => f.compression = Some("snappy"),
                'z' => f.compression = Some("zstd"),
                'F' => f.flattened = true,
                'E' => f.elf = true,
                _ => {}
            }
        }
    }
    f
}

/// A line kdumpctl or kdump-config would refuse (`fatal`) or frown at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub fatal: bool,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Setup {
    pub flavour: Flavour,
    /// False when the configuration file does not exist (the tool's defaults apply).
    pub config_present: bool,
    pub target: Target,
    pub collector: Collector,
    /// Extra kexec arguments (`KEXEC_ARGS`, `KDUMP_KEXEC_ARGS`).
    pub kexec_args: Vec<String>,
    /// kdump.conf `sshkey`, or kdump-tools `SSH_KEY`.
    pub ssh_key: Option<String>,
    /// kdump-tools `USE_KDUMP` (unset means off); `None` on RHEL.
    pub use_kdump: Option<bool>,
    /// Sysctls kdump-tools sets each time it loads (`KDUMP_SYSCTL`, by default
    /// `kernel.panic_on_oops=1`); empty on RHEL.
    pub load_sysctls: Vec<(String, String)>,
    pub problems: Vec<Problem>,
}

impl Setup {
    /// The configuration for the host's family; `Err` text when the file exists but
    /// cannot be read. `Ok(None)` when neither tool is configured nor expected.
    pub fn read(root: &Root, family: Family) -> Result<Option<Setup>, String> {
        let flavour = match family {
            Family::Rhel => Flavour::Rhel,
            Family::Debian => Flavour::Debian,
            Family::Unknown if root.exists(KDUMP_CONF) => Flavour::Rhel,
            Family::Unknown if root.exists(KDUMP_TOOLS) => Flavour::Debian,
            Family::Unknown => return Ok(None),
        };
        let text = root
            .read(flavour.config_path())
            .map_err(|e| e.to_string())?;
        Ok(Some(match flavour {
            Flavour::Rhel => {
                let sysconfig = root.read(SYSCONFIG_KDUMP).map_err(|e| e.to_string())?;
                rhel(text.as_deref(), sysconfig.as_deref())
            }
            Flavour::Debian => debian(text.as_deref()),
        }))
    }
}

/// kdump.conf: `directive value...`, `#` to end of line is a comment.
pub fn rhel(conf: Option<&str>, sysconfig: Option<&str>) -> Setup {
    let mut problems = Vec::new();
    let mut target: Option<(usize, Target)> = None;
    let mut path = None;
    let mut collector = None;
    let mut ssh_key = None;
    let mut seen: Vec<&str> = Vec::new();
    for (i, raw) in conf.unwrap_or("").lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        let Some((directive, value)) = line
            .split_once(char::is_whitespace)
            .or((!line.is_empty()).then_some((line, "")))
        else {
            continue;
        };
        let value = value.trim();
        let known_target =
            matches!(directive, "raw" | "nfs" | "ssh") || FS_TYPES.contains(&directive);
        if DEPRECATED.contains(&directive) {
            problems.push(Problem {
                fatal: false,
                text: format!("line {n}: `{directive}` is deprecated (kdumpctl of RHEL 8 and later refuses it)"),
            });
            continue;
        }
        if !known_target && !DIRECTIVES.contains(&directive) {
            problems.push(Problem {
                fatal: true,
                text: format!(
                    "line {n}: unknown directive `{directive}` (kdumpctl refuses to start)"
                ),
            });
            continue;
        }
        if value.is_empty() && !matches!(directive, "force_rebuild" | "force_no_rebuild") {
            problems.push(Problem {
                fatal: true,
                text: format!("line {n}: `{directive}` has no value"),
            });
            continue;
        }
        let key = if known_target {
            "dump target"
        } else {
            directive
        };
        if seen.contains(&key) {
            problems.push(Problem {
                fatal: true,
                text: format!("line {n}: more than one {key} (kdumpctl refuses to start)"),
            });
            continue;
        }
        seen.push(key);
        match directive {
            "path" => path = Some(value.to_string()),
            "sshkey" => ssh_key = Some(value.to_string()),
            "core_collector" => {
                let mut words = value.split_whitespace().map(str::to_string);
                collector = words.next().map(|program| Collector {
                    program,
                    args: words.collect(),
                    explicit: true,
                });
            }
            "raw" => {
                target = Some((
                    n,
                    Target::Raw {
                        device: value.into(),
                    },
                ))
            }
            "nfs" => {
                target = Some((
                    n,
                    Target::Nfs {
                        export: value.into(),
                        path: String::new(),
                    },
                ))
            }
            "ssh" => {
                target = Some((
                    n,
                    Target::Ssh {
                        dest: value.into(),
                        path: String::new(),
                    },
                ))
            }
            fs if FS_TYPES.contains(&fs) => {
                target = Some((
                    n,
                    Target::Filesystem {
                        fstype: fs.into(),
                        device: value.into(),
                        path: String::new(),
                    },
                ))
            }
            _ => {}
        }
    }
    let path = path.unwrap_or_else(|| "/var/crash".to_string());
    let target = match target.map(|t| t.1) {
        None => Target::Local { path },
        Some(Target::Nfs { export, .. }) => Target::Nfs { export, path },
        Some(Target::Ssh { dest, .. }) => Target::Ssh { dest, path },
        Some(Target::Filesystem { fstype, device, .. }) => Target::Filesystem {
            fstype,
            device,
            path,
        },
        Some(t) => t,
    };
    // kdump.conf(5): the default collector; `-F` for the targets that stream.
    let collector = collector.unwrap_or_else(|| {
        let mut args = vec!["-l", "--message-level", "7", "-d", "31"];
        if matches!(target, Target::Ssh { .. } | Target::Raw { .. }) {
            args.insert(0, "-F");
        }
        Collector {
            program: "makedumpfile".into(),
            args: args.into_iter().map(String::from).collect(),
            explicit: false,
        }
    });
    let sysconfig = shellvars::parse(sysconfig.unwrap_or(""));
    Setup {
        flavour: Flavour::Rhel,
        config_present: conf.is_some(),
        target,
        collector,
        kexec_args: words(sysconfig.get("KEXEC_ARGS")),
        ssh_key: Some(ssh_key.unwrap_or_else(|| "/root/.ssh/kdump_id_rsa".into())),
        use_kdump: None,
        load_sysctls: Vec::new(),
        problems,
    }
}

/// /etc/default/kdump-tools: shell assignments.
pub fn debian(text: Option<&str>) -> Setup {
    let vars = shellvars::parse(text.unwrap_or(""));
    let problems = vars
        .problems
        .iter()
        .map(|p| Problem {
            fatal: false,
            text: format!("{p} (kdump-config sources this file with sh)"),
        })
        .collect();
    let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let coredir = get("KDUMP_COREDIR").unwrap_or_else(|| "/var/crash".into());
    let target = if let Some(dest) = get("SSH") {
        Target::Ssh {
            dest,
            path: coredir,
        }
    } else if let Some(export) = get("NFS") {
        Target::Nfs {
            export,
            path: coredir,
        }
    } else if let Some(server) = get("FTP") {
        Target::Ftp { server }
    } else {
        Target::Local { path: coredir }
    };
    // kdump-tools' default when MAKEDUMP_ARGS is unset; it adds -F itself for ssh.
    let args = get("MAKEDUMP_ARGS");
    Setup {
        flavour: Flavour::Debian,
        config_present: text.is_some(),
        target,
        collector: Collector {
            program: "makedumpfile".into(),
            args: words(Some(args.as_deref().unwrap_or("-c -d 31"))),
            explicit: args.is_some(),
        },
        kexec_args: words(vars.get("KDUMP_KEXEC_ARGS")),
        ssh_key: Some(get("SSH_KEY").unwrap_or_else(|| "/root/.ssh/kdump_id_rsa".into())),
        use_kdump: Some(vars.get("USE_KDUMP") == Some("1")),
        load_sysctls: vars
            .get("KDUMP_SYSCTL")
            .unwrap_or("kernel.panic_on_oops=1")
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (crate::sysctl::normalize(k), v.to_string()))
            .collect(),
        problems,
    }
}

fn words(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhel_defaults_when_the_file_says_nothing() {
        let s = rhel(Some("# all comments\n\n"), None);
        assert_eq!(
            s.target,
            Target::Local {
                path: "/var/crash".into()
            }
        );
        assert_eq!(
            s.collector.command(),
            "makedumpfile -l --message-level 7 -d 31"
        );
        assert!(!s.collector.explicit);
        assert!(s.problems.is_empty());
    }

    #[test]
    fn rhel_ssh_target_path_collector_and_sysconfig() {
        let s = rhel(
            Some("ssh kdump@dumps.example.com   # remote\npath /srv/crash\ncore_collector makedumpfile -l --message-level 1 -d 31\n"),
            Some("KEXEC_ARGS=\"-s\"\n"),
        );
        assert_eq!(
            s.target,
            Target::Ssh {
                dest: "kdump@dumps.example.com".into(),
                path: "/srv/crash".into()
            }
        );
        let f = s.collector.flags();
        assert_eq!(
            (f.dump_level, f.compression, f.flattened),
            (Some(31), Some("lzo"), false)
        );
        assert_eq!(s.kexec_args, ["-s"]);
        assert_eq!(s.ssh_key.as_deref(), Some("/root/.ssh/kdump_id_rsa"));
    }

    #[test]
    fn rhel_refused_lines() {
        let s = rhel(
            Some(
                "xfs UUID=1234\nnfs srv:/export\npath\nfoo bar\nlink_delay 10\npath /a\npath /b\n",
            ),
            None,
        );
        let texts: Vec<_> = s
            .problems
            .iter()
            .map(|p| (p.fatal, p.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (
                    true,
                    "line 2: more than one dump target (kdumpctl refuses to start)"
                ),
                (true, "line 3: `path` has no value"),
                (
                    true,
                    "line 4: unknown directive `foo` (kdumpctl refuses to start)"
                ),
                (
                    false,
                    "line 5: `link_delay` is deprecated (kdumpctl of RHEL 8 and later refuses it)"
                ),
                (
                    true,
                    "line 7: more than one path (kdumpctl refuses to start)"
                ),
            ]
        );
        assert_eq!(
            s.target,
            Target::Filesystem {
                fstype: "xfs".into(),
                device: "UUID=1234".into(),
                path: "/a".into()
            }
        );
    }

    #[test]
    fn makedumpfile_getopt_forms() {
        let f = |s: &str| makedumpfile_flags(&words(Some(s)));
        assert_eq!(f("-cd31").dump_level, Some(31));
        assert_eq!(f("-cd31").compression, Some("zlib"));
        assert_eq!(f("-d 17 -F -z").dump_level, Some(17));
        assert!(f("-d 17 -F -z").flattened);
        assert_eq!(f("--message-level 7 -E -d1").dump_level, Some(1));
        assert!(f("-E").elf);
        assert_eq!(f("-l").dump_level, None);
    }

    #[test]
    fn debian_forms() {
        let s = debian(Some(
            "USE_KDUMP=1\nKDUMP_COREDIR=\"/var/crash\"\n#MAKEDUMP_ARGS=\"-c -d 31\"\n",
        ));
        assert_eq!(s.use_kdump, Some(true));
        assert_eq!(
            s.load_sysctls,
            [("kernel.panic_on_oops".to_string(), "1".to_string())]
        );
        assert_eq!(s.collector.command(), "makedumpfile -c -d 31");
        assert!(!s.collector.explicit);
        let s = debian(Some(
            "USE_KDUMP=0\nSSH=\"kdump@10.0.0.9\"\nMAKEDUMP_ARGS=\"-d 1\"\n",
        ));
        assert_eq!(s.use_kdump, Some(false));
        assert_eq!(
            s.target,
            Target::Ssh {
                dest: "kdump@10.0.0.9".into(),
                path: "/var/crash".into()
            }
        );
        assert_eq!(s.collector.flags().compression, None);
        assert!(debian(Some("KDUMP_SYSCTL=\" \"\n")).load_sysctls.is_empty());
        assert_eq!(debian(None).use_kdump, Some(false));
    }
}
