//! `doctor`: every readiness check over one root, and the verdict.

use crate::checks;
use crate::distro::Distro;
use crate::kdump_config::Setup;
use crate::platform::{Platform, Role};
use crate::procfs::{self, IoMem};
use crate::root::Root;
use crate::sysctl::{self, Persisted};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// A change `--fix` can make by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A `kernel.*` (or other) sysctl, persisted in coroner's sysctl.d file and set live.
    Sysctl { key: String, value: String },
    /// A kdump.conf directive's whole value.
    KdumpConf { directive: String, value: String },
    /// A variable of /etc/default/kdump-tools.
    KdumpTools { var: String, value: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub message: String,
    /// What to do, exactly (file content, command), when not `pass`.
    pub fix: Option<String>,
    /// True when `--fix` makes (part of) this fix itself.
    pub auto_fix: bool,
    #[serde(skip)]
    pub actions: Vec<Action>,
}

impl Check {
    pub fn new(id: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            message: message.into(),
            fix: None,
            auto_fix: false,
            actions: Vec::new(),
        }
    }
    pub fn pass(id: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(id, Status::Pass, message)
    }
    pub fn warn(id: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(id, Status::Warn, message)
    }
    pub fn fail(id: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, message)
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
    pub fn action(mut self, action: Action) -> Check {
        self.actions.push(action);
        self.auto_fix = true;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ready,
    Warnings,
    NotReady,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::Warnings => "warnings",
            Verdict::NotReady => "not-ready",
        }
    }

    /// 0 ready, 1 warnings, 2 not ready.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ready => 0,
            Verdict::Warnings => 1,
            Verdict::NotReady => 2,
        }
    }
}

/// What every check may look at, read once.
pub struct Context {
    pub root: Root,
    pub distro: Distro,
    /// The running kernel's release (/proc/sys/kernel/osrelease), else the only
    /// kernel in /boot.
    pub release: Option<String>,
    pub platform: Platform,
    pub role: Role,
    /// /proc/cmdline; `Ok(None)` when the tree has none (not a running system).
    pub cmdline: Result<Option<String>, String>,
    pub iomem: Result<Option<IoMem>, String>,
    pub meminfo: BTreeMap<String, u64>,
    /// Physical RAM: /proc/iomem's System RAM, else MemTotal plus the crash kernel's
    /// reservation (MemTotal leaves it out).
    pub ram: Option<u64>,
    /// /sys/kernel/kexec_crash_size in bytes.
    pub crash_size: Result<Option<u64>, String>,
    pub kdump: Result<Option<Setup>, String>,
    pub sysctl: Persisted,
}

impl Context {
    pub fn read(root: Root, role: Option<Role>) -> Context {
        let distro = Distro::detect(&root);
        let release = release(&root);
        let platform = Platform::detect(&root);
        let role = role.unwrap_or_else(|| Role::detect(&root, &platform));
        let cmdline = root.read("/proc/cmdline").map_err(|e| e.to_string());
        let iomem = match root.read("/proc/iomem") {
            Ok(Some(t)) => procfs::parse_iomem(&t)
                .map(Some)
                .map_err(|e| format!("/proc/iomem is malformed: {e}")),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
        let meminfo = root
            .read("/proc/meminfo")
            .ok()
            .flatten()
            .map(|t| procfs::parse_meminfo(&t))
            .unwrap_or_default();
        let crash_size = match root.read_value("/sys/kernel/kexec_crash_size") {
            Ok(Some(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("/sys/kernel/kexec_crash_size holds `{v}`, not a number")),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
        let ram = iomem
            .as_ref()
            .ok()
            .and_then(|m| m.as_ref()?.system_ram)
            .or_else(|| {
                let total = *meminfo.get("MemTotal")?;
                Some(total + crash_size.as_ref().ok().copied().flatten().unwrap_or(0))
            });
        let kdump = Setup::read(&root, distro.family);
        let sysctl = sysctl::persisted(&root);
        Context {
            root,
            distro,
            release,
            platform,
            role,
            cmdline,
            iomem,
            meminfo,
            ram,
            crash_size,
            kdump,
            sysctl,
        }
    }
}

fn release(root: &Root) -> Option<String> {
    if let Ok(Some(r)) = root.read_value("/proc/sys/kernel/osrelease") {
        if !r.is_empty() {
            return Some(r);
        }
    }
    let configs: Vec<String> = root
        .list("/boot")
        .ok()?
        .into_iter()
        .filter_map(|n| n.strip_prefix("config-").map(str::to_string))
        .collect();
    match configs.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The audited root (`/` for this machine).
    pub root: String,
    pub verdict: Verdict,
    pub distro: Distro,
    pub kernel: Option<String>,
    pub ram_bytes: Option<u64>,
    pub platform: Platform,
    pub role: Role,
    pub checks: Vec<Check>,
}

/// Runs every check.
pub fn audit(ctx: &Context) -> Report {
    let mut list = Vec::new();
    list.extend(checks::crashkernel::checks(ctx));
    list.extend(checks::kdump::checks(ctx));
    list.push(checks::kernel_config::check(ctx));
    list.extend(checks::panic::checks(ctx));
    list.extend(checks::target::checks(ctx));
    list.push(checks::platform::check(ctx));
    let verdict = match list.iter().map(|c| c.status).max() {
        Some(Status::Fail) => Verdict::NotReady,
        Some(Status::Warn) => Verdict::Warnings,
        _ => Verdict::Ready,
    };
    Report {
        root: ctx.root.base().display().to_string(),
        verdict,
        distro: ctx.distro.clone(),
        kernel: ctx.release.clone(),
        ram_bytes: ctx.ram,
        platform: ctx.platform.clone(),
        role: ctx.role,
        checks: list,
    }
}
