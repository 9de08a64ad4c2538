//! The kdump service: installed, enabled, its configuration accepted by its own
//! tools, the capture kernel loaded, and loadable under lockdown.

use crate::distro::Family;
use crate::doctor::{Action, Check, Context};
use crate::kdump_config::{Flavour, Setup};
use crate::root::Root;

pub fn checks(ctx: &Context) -> Vec<Check> {
    let setup = match &ctx.kdump {
        Ok(Some(s)) => s,
        Ok(None) => {
            return vec![
                Check::fail("kdump.service", "no kdump tooling: neither kexec-tools' /etc/kdump.conf nor kdump-tools' /etc/default/kdump-tools")
                    .fix("install kexec-tools (RHEL family: yum install kexec-tools) or kdump-tools (Debian/Ubuntu: apt install kdump-tools), then enable its service"),
                loaded(ctx, None),
                lockdown(ctx, None),
            ]
        }
        Err(e) => {
            return vec![
                Check::fail("kdump.config", format!("{e}: the kdump service cannot read it either")),
                loaded(ctx, None),
                lockdown(ctx, None),
            ]
        }
    };
    vec![
        service(ctx, setup),
        loaded(ctx, Some(setup)),
        config(setup),
        lockdown(ctx, Some(setup)),
    ]
}

fn service(ctx: &Context, setup: &Setup) -> Check {
    const ID: &str = "kdump.service";
    let f = setup.flavour;
    let unit = f.service();
    if !f.tool_paths().iter().any(|p| ctx.root.exists(p)) {
        let install = match f {
            Flavour::Rhel => "yum install kexec-tools",
            Flavour::Debian => "apt install kdump-tools",
        };
        return Check::fail(
            ID,
            format!(
                "{} is not installed (no {})",
                f.package(),
                f.tool_paths()[0]
            ),
        )
        .fix(format!("{install} && systemctl enable --now {unit}"));
    }
    if ctx
        .root
        .link_target(&format!("/etc/systemd/system/{unit}"))
        .is_some_and(|t| t.as_os_str() == "/dev/null")
    {
        return Check::fail(ID, format!("{unit} is masked")).fix(format!(
            "systemctl unmask {unit} && systemctl enable --now {unit}"
        ));
    }
    let enabled = enabled_by(&ctx.root, unit);
    if f == Flavour::Debian && setup.use_kdump != Some(true) {
        return Check::fail(
            ID,
            "USE_KDUMP is not 1 in /etc/default/kdump-tools: kdump-tools loads no capture kernel",
        )
        .fix(format!(
            "set USE_KDUMP=1 in /etc/default/kdump-tools{}",
            if enabled.is_some() {
                ", then kdump-config load".to_string()
            } else {
                format!(", then systemctl enable --now {unit}")
            }
        ))
        .action(Action::KdumpTools {
            var: "USE_KDUMP".into(),
            value: "1".into(),
        });
    }
    match enabled {
        Some(link) => Check::pass(ID, format!("{unit} enabled ({link})")),
        None => Check::fail(
            ID,
            format!("{unit} is not enabled: no capture kernel is loaded at boot"),
        )
        .fix(format!("systemctl enable --now {unit}")),
    }
}

/// The enablement link of a unit: systemd `*.wants/` or a SysV `rc?.d/S??name`.
fn enabled_by(root: &Root, unit: &str) -> Option<String> {
    let dir = "/etc/systemd/system";
    for wants in root
        .list(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.ends_with(".wants"))
    {
        let link = format!("{dir}/{wants}/{unit}");
        if root.link_target(&link).is_some() || root.exists(&link) {
            return Some(link);
        }
    }
    let script = unit.trim_end_matches(".service");
    for rc in ["/etc/rc2.d", "/etc/rc3.d", "/etc/rc5.d"] {
        if let Some(name) = root
            .list(rc)
            .unwrap_or_default()
            .into_iter()
            .find(|n| n.starts_with('S') && n.get(3..) == Some(script))
        {
            return Some(format!("{rc}/{name}"));
        }
    }
    None
}

fn loaded(ctx: &Context, setup: Option<&Setup>) -> Check {
    const ID: &str = "kdump.loaded";
    let reload = match setup.map(|s| s.flavour) {
        Some(Flavour::Debian) => "kdump-config load (kdump-config show says why it is not loaded)",
        _ => "systemctl restart kdump (journalctl -u kdump says why it did not load)",
    };
    match ctx.root.read_value("/sys/kernel/kexec_crash_loaded") {
        Ok(Some(v)) if v == "1" => Check::pass(ID, "capture kernel loaded (/sys/kernel/kexec_crash_loaded is 1)"),
        Ok(Some(v)) if v == "0" => {
            Check::fail(ID, "no capture kernel loaded (/sys/kernel/kexec_crash_loaded is 0): a panic now reboots without a dump").fix(reload)
        }
        Ok(Some(v)) => Check::warn(ID, format!("/sys/kernel/kexec_crash_loaded holds `{v}`, not 0 or 1")),
        Ok(None) => Check::warn(
            ID,
            "cannot tell: no /sys/kernel/kexec_crash_loaded (not a running system, or a kernel without kexec)",
        ),
        Err(e) => Check::warn(ID, format!("{e}; cannot tell whether a capture kernel is loaded")),
    }
}

fn config(setup: &Setup) -> Check {
    const ID: &str = "kdump.config";
    let path = setup.flavour.config_path();
    if !setup.config_present {
        return Check::warn(
            ID,
            format!(
                "no {path}: the defaults apply ({})",
                setup.target.describe()
            ),
        )
        .fix(format!(
            "reinstall {} to restore {path}",
            setup.flavour.package()
        ));
    }
    let fatal: Vec<&str> = setup
        .problems
        .iter()
        .filter(|p| p.fatal)
        .map(|p| p.text.as_str())
        .collect();
    let minor: Vec<&str> = setup
        .problems
        .iter()
        .filter(|p| !p.fatal)
        .map(|p| p.text.as_str())
        .collect();
    if !fatal.is_empty() {
        return Check::fail(ID, format!("{path}: {}", fatal.join("; "))).fix(format!(
            "correct those lines of {path} (kdump.conf(5)), then systemctl restart kdump"
        ));
    }
    if !minor.is_empty() {
        return Check::warn(ID, format!("{path}: {}", minor.join("; ")))
            .fix(format!("correct those lines of {path}"));
    }
    Check::pass(
        ID,
        format!(
            "{path}: dump to {} with `{}`",
            setup.target.describe(),
            setup.collector.command()
        ),
    )
}

/// Under lockdown (Secure Boot turns it on in most distributions) kexec_load is
/// refused: the capture kernel must go through kexec_file_load, which the kernel
/// must have and which checks the kernel's signature.
fn lockdown(ctx: &Context, setup: Option<&Setup>) -> Check {
    const ID: &str = "kdump.lockdown";
    let mode = match ctx.root.read_value("/sys/kernel/security/lockdown") {
        Ok(Some(v)) => v
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[')?.strip_suffix(']').map(str::to_string)),
        Ok(None) => None,
        Err(e) => return Check::warn(ID, format!("{e}; cannot tell the lockdown mode")),
    };
    let secure_boot = secure_boot(&ctx.root);
    let locked = mode.as_deref().is_some_and(|m| m != "none");
    let state = format!(
        "lockdown {}, Secure Boot {}",
        mode.as_deref().unwrap_or("not available"),
        match secure_boot {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown (no EFI variable)",
        }
    );
    if !locked {
        return Check::pass(ID, format!("{state}: kexec_load allowed"));
    }
    let file_load = crate::checks::kernel_config::option(ctx, "CONFIG_KEXEC_FILE");
    if file_load == Some(false) {
        return Check::fail(ID, format!("{state}, and this kernel has no CONFIG_KEXEC_FILE: no capture kernel can be loaded"))
            .fix("boot a kernel built with CONFIG_KEXEC_FILE=y (distribution kernels are), or turn Secure Boot off");
    }
    let forced_old = setup.is_some_and(|s| {
        s.kexec_args
            .iter()
            .any(|a| a == "-c" || a == "--kexec-syscall")
    });
    if forced_old {
        let (file, var) = match setup.map(|s| s.flavour) {
            Some(Flavour::Debian) => ("/etc/default/kdump-tools", "KDUMP_KEXEC_ARGS"),
            _ => ("/etc/sysconfig/kdump", "KEXEC_ARGS"),
        };
        return Check::fail(
            ID,
            format!("{state}, but {var} in {file} forces kexec_load (-c), which lockdown refuses"),
        )
        .fix(format!(
            "remove -c / --kexec-syscall from {var} in {file} (use -s, kexec_file_load)"
        ));
    }
    let family_note = match ctx.distro.family {
        Family::Rhel | Family::Debian => "the kdump tools use kexec_file_load here",
        Family::Unknown => "load with kexec -s (kexec_file_load)",
    };
    Check::pass(
        ID,
        format!(
            "{state}: kexec_load is refused; {family_note}, and the capture kernel must be signed"
        ),
    )
}

/// The SecureBoot EFI variable: 4 bytes of attributes, then the value.
fn secure_boot(root: &Root) -> Option<bool> {
    let bytes = root
        .read_bytes(
            "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0330e7c2",
            5,
        )
        .ok()??;
    bytes.get(4).map(|b| *b == 1)
}
