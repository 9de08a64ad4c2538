//! Which distribution family the host is, from /etc/os-release: it decides where the
//! kdump configuration lives and how fixes are phrased.

use crate::root::Root;
use crate::shellvars;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// RHEL, CentOS, Fedora, Rocky, Alma, Oracle, Amazon Linux: kexec-tools'
    /// kdump.service with /etc/kdump.conf.
    Rhel,
    /// Debian, Ubuntu: kdump-tools with /etc/default/kdump-tools.
    Debian,
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct Distro {
    /// PRETTY_NAME, else NAME VERSION_ID, else "unknown".
    pub name: String,
    pub id: String,
    pub version_id: String,
    pub family: Family,
}

const RHEL_IDS: [&str; 9] = [
    "rhel",
    "centos",
    "fedora",
    "rocky",
    "almalinux",
    "ol",
    "amzn",
    "scientific",
    "circle",
];
const DEBIAN_IDS: [&str; 3] = ["debian", "ubuntu", "linuxmint"];

impl Distro {
    pub fn detect(root: &Root) -> Distro {
        let text = root
            .read("/etc/os-release")
            .ok()
            .flatten()
            .or_else(|| root.read("/usr/lib/os-release").ok().flatten())
            .unwrap_or_default();
        let vars = shellvars::parse(&text);
        let get = |k: &str| vars.get(k).unwrap_or("").to_string();
        let id = get("ID");
        let like = get("ID_LIKE");
        let ids: Vec<&str> = std::iter::once(id.as_str())
            .chain(like.split_whitespace())
            .collect();
        let family = if ids.iter().any(|i| RHEL_IDS.contains(i)) {
            Family::Rhel
        } else if ids.iter().any(|i| DEBIAN_IDS.contains(i)) {
            Family::Debian
        } else {
            Family::Unknown
        };
        let name = match (get("PRETTY_NAME"), get("NAME")) {
            (p, _) if !p.is_empty() => p,
            (_, n) if !n.is_empty() => format!("{n} {}", get("VERSION_ID")).trim().to_string(),
            _ => "unknown distribution".to_string(),
        };
        Distro {
            name,
            id,
            version_id: get("VERSION_ID"),
            family,
        }
    }
}
