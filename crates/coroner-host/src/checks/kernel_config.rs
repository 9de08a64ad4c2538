//! Kernel support for crash dumps, from /boot/config-RELEASE.

use crate::doctor::{Check, Context};

/// (option, needed for what, required): a missing required one means no dump at all.
const OPTIONS: [(&str, &str, bool); 5] = [
    (
        "CONFIG_CRASH_DUMP",
        "a kernel that can be a capture kernel",
        true,
    ),
    (
        "CONFIG_PROC_VMCORE",
        "/proc/vmcore in the capture kernel",
        true,
    ),
    (
        "CONFIG_KEXEC",
        "kexec_load, to load the capture kernel",
        false,
    ),
    (
        "CONFIG_KEXEC_FILE",
        "kexec_file_load, the only way under lockdown / Secure Boot",
        false,
    ),
    (
        "CONFIG_MAGIC_SYSRQ",
        "sysrq-c, the crash trigger from a console or /proc/sysrq-trigger",
        false,
    ),
];

fn config_path(ctx: &Context) -> Option<String> {
    Some(format!("/boot/config-{}", ctx.release.as_deref()?))
}

/// Whether the running kernel's config sets `name` (`=y`/`=m`); `None` when there is
/// no config to read.
pub fn option(ctx: &Context, name: &str) -> Option<bool> {
    let text = ctx.root.read(&config_path(ctx)?).ok()??;
    Some(set_in(&text, name))
}

fn set_in(config: &str, name: &str) -> bool {
    config.lines().any(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix('='))
            .is_some_and(|v| v == "y" || v == "m")
    })
}

pub fn check(ctx: &Context) -> Check {
    const ID: &str = "kernel.config";
    let Some(path) = config_path(ctx) else {
        return Check::warn(ID, "the kernel release is unknown (no /proc/sys/kernel/osrelease, and not exactly one /boot/config-*)");
    };
    let text = match ctx.root.read(&path) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Check::warn(
                ID,
                format!("no {path}: cannot check the kernel's crash dump support"),
            )
        }
        Err(e) => return Check::warn(ID, e.to_string()),
    };
    if !text.lines().any(|l| l.starts_with("CONFIG_")) {
        return Check::warn(
            ID,
            format!("{path} has no CONFIG_ lines: not a kernel config"),
        );
    }
    let missing: Vec<&(&str, &str, bool)> = OPTIONS
        .iter()
        .filter(|(name, _, _)| !set_in(&text, name))
        .collect();
    let no_kexec = !set_in(&text, "CONFIG_KEXEC") && !set_in(&text, "CONFIG_KEXEC_FILE");
    let listed = missing
        .iter()
        .map(|(name, why, _)| format!("{name} ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.is_empty() {
        let names: Vec<&str> = OPTIONS.iter().map(|o| o.0).collect();
        return Check::pass(ID, format!("{path}: {}", names.join(", ")));
    }
    let fix = "boot a distribution kernel, or rebuild with those options =y";
    if no_kexec || missing.iter().any(|(_, _, required)| *required) {
        return Check::fail(
            ID,
            format!("{path} lacks {listed}: this kernel cannot take a crash dump"),
        )
        .fix(fix);
    }
    Check::warn(ID, format!("{path} lacks {listed}")).fix(fix)
}

#[cfg(test)]
mod tests {
    use super::set_in;

    #[test]
    fn config_lines() {
        let c =
            "CONFIG_KEXEC=y\n# CONFIG_KEXEC_FILE is not set\nCONFIG_CRASH_DUMP_X=y\nCONFIG_FOO=m\n";
        assert!(set_in(c, "CONFIG_KEXEC"));
        assert!(!set_in(c, "CONFIG_KEXEC_FILE"));
        assert!(!set_in(c, "CONFIG_CRASH_DUMP"));
        assert!(set_in(c, "CONFIG_FOO"));
    }
}
