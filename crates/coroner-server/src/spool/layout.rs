//! What kdump writes into its ssh/NFS target, told apart by name only after
//! each name has been checked: a capture directory per crash, named
//! `<HOST_IP>-<YYYY-MM-DD-HH:MM:SS>` by RHEL's kdump (kdump-utils `kdump.sh`)
//! and `<ip-or-hostname>-<YYYYmmddHHMM>` by Debian's kdump-tools
//! (`kdump-config`), holding the files below. Anything else is not kdump's and
//! is left alone.

/// A capture directory's name, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureDir {
    /// The host part of the name (the capture kernel's IP, or a host name on
    /// Debian with `HOSTTAG=hostname`): whoever holds the ssh key names it, so it
    /// is what the crash is counted under, not an identity.
    pub host: String,
    /// The time stamp part, as written.
    pub stamp: String,
    pub layout: Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// kdump-utils (RHEL, Fedora, CentOS).
    Rhel,
    /// kdump-tools (Debian, Ubuntu).
    Debian,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Rhel => "rhel-kdump",
            Layout::Debian => "debian-kdump-tools",
        }
    }
}

/// What a file in a capture directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The crashed kernel's log (`vmcore-dmesg.txt`, `dmesg.<stamp>`).
    Log,
    /// The dump (`vmcore`, `vmcore.flat`, `dump.<stamp>[.ext]`, `vmcore.<stamp>`).
    Dump,
    /// The capture kernel's own log and journal (`kexec-dmesg.log`).
    CaptureLog,
}

/// How a file's writer says it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Written under an `-incomplete` name, then renamed to this one: whole.
    Renamed,
    /// Written under its final name (scp): whole once it stops changing.
    Settled,
    /// An `-incomplete` name: whole only when renamed; one that stops growing is
    /// a failed capture.
    Incomplete,
}

/// The longest host part taken (a DNS name's limit).
const MAX_HOST: usize = 253;

/// Parses a capture directory's name; `None` for anything kdump does not make.
pub fn capture_dir(name: &str) -> Option<CaptureDir> {
    let (host, stamp, layout) = if let Some(split) = name.len().checked_sub(20) {
        let (host, rest) = name.split_at_checked(split)?;
        match rest.strip_prefix('-') {
            Some(stamp) if rhel_stamp(stamp) => (host, stamp, Layout::Rhel),
            _ => debian_split(name)?,
        }
    } else {
        debian_split(name)?
    };
    host_ok(host).then(|| CaptureDir {
        host: host.to_string(),
        stamp: stamp.to_string(),
        layout,
    })
}

fn debian_split(name: &str) -> Option<(&str, &str, Layout)> {
    let (host, stamp) = name.rsplit_once('-')?;
    (stamp.len() == 12 && stamp.bytes().all(|b| b.is_ascii_digit())).then_some((
        host,
        stamp,
        Layout::Debian,
    ))
}

/// `YYYY-MM-DD-HH:MM:SS` (`date +%Y-%m-%d-%T`).
fn rhel_stamp(s: &str) -> bool {
    let shape = b"dddd-dd-dd-dd:dd:dd";
    s.len() == shape.len()
        && s.bytes().zip(shape).all(|(b, &want)| match want {
            b'd' => b.is_ascii_digit(),
            sep => b == sep,
        })
}

/// An IPv4 or IPv6 address or a host name: letters, digits, `.`, `-`, `:`,
/// `_`, not starting with `.` or `-` (so never `..` alone, never an option).
fn host_ok(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST
        && !host.starts_with(['.', '-'])
        && host != ".."
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
}

/// Debian's `KDUMP_COMPRESSION` suffixes (the whole flattened stream is
/// compressed by an outer tool).
const COMPRESSED: [&str; 4] = [".bz2", ".gz", ".lz4", ".xz"];

/// What file `name` in a capture directory of `layout` with stamp `stamp` is.
pub fn classify(dir: &CaptureDir, name: &str) -> Option<(Role, Completion)> {
    use Completion::*;
    use Role::*;
    let stamped = |prefix: &str| name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.'));
    let compressed = |rest: &str| rest.is_empty() || COMPRESSED.contains(&rest);
    match (dir.layout, name) {
        (Layout::Rhel, "vmcore-dmesg.txt") => Some((Log, Renamed)),
        (Layout::Rhel, "vmcore-dmesg-incomplete.txt") => Some((Log, Incomplete)),
        (Layout::Rhel, "vmcore" | "vmcore.flat") => Some((Dump, Renamed)),
        (_, "vmcore-incomplete") => Some((Dump, Incomplete)),
        (Layout::Rhel, "kexec-dmesg.log") => Some((CaptureLog, Settled)),
        (Layout::Debian, _) => {
            if stamped("dmesg") == Some(dir.stamp.as_str()) {
                return Some((Log, Settled));
            }
            if stamped("vmcore") == Some(dir.stamp.as_str()) {
                return Some((Dump, Renamed));
            }
            if let Some(rest) = stamped("dump").and_then(|r| r.strip_prefix(dir.stamp.as_str())) {
                return compressed(rest).then_some((Dump, Renamed));
            }
            let rest = name.strip_prefix("dump-incomplete")?;
            compressed(rest).then_some((Dump, Incomplete))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names() {
        let d = capture_dir("10.0.2.15-2024-07-08-23:59:44").unwrap();
        assert_eq!(
            (d.host.as_str(), d.stamp.as_str(), d.layout),
            ("10.0.2.15", "2024-07-08-23:59:44", Layout::Rhel)
        );
        let d = capture_dir("fe80::1-2024-07-08-23:59:44").unwrap();
        assert_eq!(d.host, "fe80::1");
        let d = capture_dir("web-17.example.com-202612041000").unwrap();
        assert_eq!(
            (d.host.as_str(), d.stamp.as_str(), d.layout),
            ("web-17.example.com", "202612041000", Layout::Debian)
        );
        for bad in [
            "",
            "..",
            "-2024-07-08-23:59:44",
            "..-202612041000",
            ".hidden-202612041000",
            "a/b-202612041000",
            "host-2024-07-08-23-59-44",
            "host-20261204100",
            "host 1-202612041000",
            "vmcore-creation.status",
        ] {
            assert_eq!(capture_dir(bad), None, "{bad:?}");
        }
        assert_eq!(
            capture_dir(&format!("{}-202612041000", "a".repeat(254))),
            None
        );
    }

    #[test]
    fn file_names() {
        use Completion::*;
        use Role::*;
        let rhel = capture_dir("10.0.0.5-2026-12-04-10:00:00").unwrap();
        assert_eq!(classify(&rhel, "vmcore-dmesg.txt"), Some((Log, Renamed)));
        assert_eq!(
            classify(&rhel, "vmcore-dmesg-incomplete.txt"),
            Some((Log, Incomplete))
        );
        assert_eq!(classify(&rhel, "vmcore.flat"), Some((Dump, Renamed)));
        assert_eq!(classify(&rhel, "vmcore"), Some((Dump, Renamed)));
        assert_eq!(
            classify(&rhel, "vmcore-incomplete"),
            Some((Dump, Incomplete))
        );
        assert_eq!(
            classify(&rhel, "kexec-dmesg.log"),
            Some((CaptureLog, Settled))
        );
        assert_eq!(classify(&rhel, "dmesg.202612041000"), None);
        assert_eq!(classify(&rhel, "../vmcore"), None);
        let deb = capture_dir("db-1-202612041000").unwrap();
        assert_eq!(classify(&deb, "dmesg.202612041000"), Some((Log, Settled)));
        assert_eq!(classify(&deb, "dump.202612041000"), Some((Dump, Renamed)));
        assert_eq!(
            classify(&deb, "dump.202612041000.gz"),
            Some((Dump, Renamed))
        );
        assert_eq!(classify(&deb, "dump-incomplete"), Some((Dump, Incomplete)));
        assert_eq!(
            classify(&deb, "dump-incomplete.xz"),
            Some((Dump, Incomplete))
        );
        assert_eq!(classify(&deb, "vmcore.202612041000"), Some((Dump, Renamed)));
        assert_eq!(classify(&deb, "dmesg.202612041001"), None);
        assert_eq!(classify(&deb, "dump.202612041000.zip"), None);
        assert_eq!(classify(&deb, "vmcore-dmesg.txt"), None);
    }
}
