//! Panic behaviour: which events end in a panic (and so in a dump), recommended by
//! the machine's role rather than all turned on. Each setting is judged live
//! (/proc/sys) and as the next boot will set it (sysctl.d, and kdump-tools'
//! KDUMP_SYSCTL, which it applies each time it loads).

use crate::doctor::{Action, Check, Context};
use crate::kdump_config::Setup;
use crate::platform::Role;
use crate::sysctl::{self, CORONER_FILE};

#[derive(Debug, Clone, Copy)]
enum Want {
    /// Exactly this value.
    Eq(i64),
    /// Any value but 0; the number is what to set.
    NonZero(i64),
    /// Allows sysrq-c (bit 8, "dump", or 1 for everything).
    SysrqDump,
    /// No recommendation for this role.
    Any,
}

impl Want {
    fn ok(self, v: i64) -> bool {
        match self {
            Want::Eq(n) => v == n,
            Want::NonZero(_) => v != 0,
            Want::SysrqDump => v == 1 || v & 8 != 0,
            Want::Any => true,
        }
    }
    /// The value to set, given the current one.
    fn value(self, current: Option<i64>) -> i64 {
        match self {
            Want::Eq(n) | Want::NonZero(n) => n,
            Want::SysrqDump => current
                .filter(|&c| self.ok(c))
                .unwrap_or(current.unwrap_or(0) | 8),
            Want::Any => current.unwrap_or(0),
        }
    }
}

struct Policy {
    name: &'static str,
    guest: Want,
    server: Want,
    hypervisor: Want,
    /// Why, in a few words, shown when the setting is not as recommended.
    why: &'static str,
}

use Want::{Any, Eq, NonZero, SysrqDump};

const POLICIES: [Policy; 11] = [
    Policy { name: "panic_on_oops", guest: Eq(1), server: Eq(1), hypervisor: Eq(1),
        why: "an oops that does not panic leaves a damaged kernel running and writes no dump" },
    Policy { name: "unknown_nmi_panic", guest: Eq(1), server: Eq(0), hypervisor: Eq(0),
        why: "a guest's NMI route (coroner nmi, virsh inject-nmi) arrives as an unknown NMI and must panic the hung guest to get its dump" },
    Policy { name: "panic_on_unrecovered_nmi", guest: Any, server: Eq(0), hypervisor: Eq(0),
        why: "besides PCI SERR NMIs it panics on every unknown NMI (in 2.6.32 as in today's kernels), the same risk as unknown_nmi_panic beside the NMI watchdog kept on bare metal (panic.nmi_watchdog)" },
    Policy { name: "panic_on_io_nmi", guest: Any, server: Eq(1), hypervisor: Eq(1),
        why: "an I/O channel check NMI is a hardware error; a BMC's NMI often arrives as one" },
    Policy { name: "softlockup_panic", guest: Eq(0), server: Eq(1), hypervisor: Eq(0),
        why: "guests see false soft lockups when the host steals their CPU, and on a hypervisor a panic takes every guest down; on a server a soft lockup is worth a dump" },
    Policy { name: "hardlockup_panic", guest: Any, server: Eq(1), hypervisor: Eq(1),
        why: "a CPU stuck with interrupts off never recovers; the NMI watchdog's panic gets its dump" },
    Policy { name: "hung_task_panic", guest: Eq(0), server: Eq(0), hypervisor: Eq(0),
        why: "a slow or failed disk blocks tasks for minutes and recovers; panicking turns a stall into an outage" },
    Policy { name: "panic_on_rcu_stall", guest: Eq(0), server: Eq(0), hypervisor: Eq(0),
        why: "RCU stalls are usually reported and survived; turn this on only to catch a known stall" },
    Policy { name: "panic_on_warn", guest: Eq(0), server: Eq(0), hypervisor: Eq(0),
        why: "every WARN() would become an outage; turn this on only to catch a known warning" },
    Policy { name: "panic", guest: NonZero(10), server: NonZero(10), hypervisor: NonZero(10),
        why: "with 0 a machine whose capture fails hangs at the panic forever instead of rebooting" },
    Policy { name: "sysrq", guest: SysrqDump, server: SysrqDump, hypervisor: SysrqDump,
        why: "without bit 8 the console's sysrq-c cannot crash a hung machine (/proc/sysrq-trigger works regardless)" },
];

fn want(p: &Policy, role: Role) -> Want {
    match role {
        Role::Guest => p.guest,
        Role::Server => p.server,
        Role::Hypervisor => p.hypervisor,
    }
}

/// Why, for this role (the policy's own words unless a role needs others).
fn why(p: &Policy, role: Role) -> &'static str {
    match (p.name, role) {
        ("unknown_nmi_panic", Role::Server | Role::Hypervisor) => {
            "beside the NMI watchdog that bare metal keeps for hard lockups, an unknown-NMI panic turns a stray watchdog or perf NMI into an outage (panic.nmi_watchdog); the BMC's NMI panics through panic_on_io_nmi instead"
        }
        _ => p.why,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Guest => "a guest",
        Role::Server => "a bare-metal server",
        Role::Hypervisor => "a hypervisor host",
    }
}

/// The value the next boot (or the next kdump-tools load) sets, and where.
fn persisted(ctx: &Context, key: &str) -> Option<(String, String)> {
    let loaded = match &ctx.kdump {
        Ok(Some(s)) if s.use_kdump == Some(true) => load_sysctl(s, key),
        _ => None,
    };
    loaded.or_else(|| {
        let s = ctx.sysctl.get(key)?;
        Some((s.value.clone(), format!("{}:{}", s.file, s.line)))
    })
}

fn load_sysctl(setup: &Setup, key: &str) -> Option<(String, String)> {
    let (_, v) = setup.load_sysctls.iter().rev().find(|(k, _)| k == key)?;
    Some((v.clone(), "KDUMP_SYSCTL of /etc/default/kdump-tools".into()))
}

/// The live value: `Err` text when unreadable or not a number; `Ok(None)` when the
/// kernel lacks it or there is no live /proc/sys.
fn live(ctx: &Context, key: &str) -> Result<Option<i64>, String> {
    match sysctl::live(&ctx.root, key) {
        Ok(Some(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{} holds `{v}`, not a number", sysctl::proc_path(key))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

pub fn checks(ctx: &Context) -> Vec<Check> {
    let mut out = vec![files(ctx)];
    out.extend(POLICIES.iter().map(|p| one(ctx, p)));
    out.push(nmi_watchdog(ctx));
    out
}

/// The sysctl.d files themselves: lines systemd-sysctl would skip.
fn files(ctx: &Context) -> Check {
    const ID: &str = "panic.sysctl_files";
    let p = &ctx.sysctl;
    if p.problems.is_empty() {
        return Check::pass(ID, format!("{} sysctl files read", p.files.len()));
    }
    Check::warn(ID, format!("skipped by sysctl: {}", p.problems.join("; ")))
        .fix("correct or remove those lines (sysctl.d(5): `key = value`)")
}

fn set(key: &str, value: i64) -> (String, Action) {
    (
        format!("{key} = {value} in {CORONER_FILE}, then sysctl --system"),
        Action::Sysctl {
            key: key.to_string(),
            value: value.to_string(),
        },
    )
}

fn one(ctx: &Context, p: &Policy) -> Check {
    let key = format!("kernel.{}", p.name);
    let id = format!("panic.{}", p.name);
    let want = want(p, ctx.role);
    let live_system = ctx.root.is_dir("/proc/sys/kernel");
    let persisted = persisted(ctx, &key);
    let persisted_num = persisted
        .as_ref()
        .map(|(v, src)| (v.trim().parse::<i64>().ok(), v, src));
    if let Some((None, v, src)) = &persisted_num {
        let (fix, action) = set(&key, want.value(None));
        return Check::warn(id, format!("{src} sets {key} = {v}, not a number"))
            .fix(fix)
            .action(action);
    }
    let persisted_val = persisted_num
        .as_ref()
        .and_then(|(n, _, src)| Some((((*n)?), src.as_str())));
    let live = match live(ctx, &key) {
        Err(e) => return Check::warn(id, e),
        Ok(v) => v,
    };
    let recommend = |current: Option<i64>| want.value(current.or(persisted_val.map(|p| p.0)));
    let hint = format!(
        "{}; recommended for {}: {}",
        why(p, ctx.role),
        role_name(ctx.role),
        describe(want)
    );
    if matches!(want, Any) {
        let v = live.or(persisted_val.map(|p| p.0));
        let shown = v.map_or("not set".to_string(), |v| v.to_string());
        return Check::pass(
            id,
            format!(
                "{key} = {shown} (no recommendation for {})",
                role_name(ctx.role)
            ),
        );
    }
    let Some(v) = live else {
        if live_system {
            return if want.ok(0) {
                Check::pass(id, format!("this kernel has no {key}"))
            } else {
                Check::warn(id, format!("this kernel has no {key}: {hint}"))
            };
        }
        // A tree without /proc/sys: judge what the next boot sets.
        return match persisted_val {
            Some((n, src)) if want.ok(n) => Check::pass(id, format!("{key} = {n} ({src})")),
            Some((n, src)) => {
                let (fix, action) = set(&key, recommend(None));
                Check::warn(id, format!("{key} = {n} ({src}): {hint}"))
                    .fix(fix)
                    .action(action)
            }
            None if want.ok(0) => {
                Check::pass(id, format!("{key} not set (the kernel's default, 0)"))
            }
            None => {
                let (fix, action) = set(&key, recommend(None));
                Check::warn(id, format!("{key} is not set in sysctl.d: {hint}"))
                    .fix(fix)
                    .action(action)
            }
        };
    };
    let (fix, action) = set(&key, recommend(Some(v)));
    match (want.ok(v), persisted_val) {
        (true, Some((n, src))) if !want.ok(n) => Check::warn(
            id,
            format!("{key} = {v} now, but {src} sets {n} for the next boot: {hint}"),
        )
        .fix(fix)
        .action(action),
        (true, Some((_, src))) => Check::pass(id, format!("{key} = {v} ({src})")),
        (true, None) => Check::pass(id, format!("{key} = {v}")),
        (false, Some((n, src))) if want.ok(n) => Check::warn(
            id,
            format!("{src} sets {key} = {n}, but it is {v} now (not applied)"),
        )
        .fix(if src.starts_with("KDUMP_SYSCTL") {
            "kdump-config load"
        } else {
            "sysctl --system"
        })
        .action(action),
        (false, _) => Check::warn(id, format!("{key} = {v}: {hint}"))
            .fix(fix)
            .action(action),
    }
}

fn describe(want: Want) -> String {
    match want {
        Eq(n) => n.to_string(),
        NonZero(n) => format!("non-zero (e.g. {n})"),
        SysrqDump => "1, or a mask with bit 8".to_string(),
        Any => "any".to_string(),
    }
}

/// How a kernel release treats unknown-NMI panics beside the NMI watchdog (x86).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// 2.6.18 and earlier (RHEL 5): writing `unknown_nmi_panic` makes the kernel take
    /// the local APIC's NMI for itself (`reserve_lapic_nmi`), which switches a
    /// local-APIC watchdog off, or fails with EBUSY while oprofile holds it; its
    /// callback runs before the watchdog's handler and takes every NMI whose reason
    /// port shows no SERR/IOCHK, so an I/O-APIC watchdog's ticks reach it. No
    /// `kernel.nmi_watchdog` sysctl (only `nmi_watchdog=` at boot), no
    /// `panic_on_unrecovered_nmi` or `panic_on_io_nmi`.
    Old,
    /// Later kernels (read in 2.6.24, 2.6.32 and today's): the two run side by
    /// side; an NMI that no handler claims panics with `unknown_nmi_panic` or
    /// `panic_on_unrecovered_nmi`.
    Current,
}

fn era(release: Option<&str>) -> Option<Era> {
    let mut nums = release?
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    let (a, b) = (nums.next()??, nums.next()??);
    let c = nums.next().flatten().unwrap_or(0);
    Some(if (a, b, c) < (2, 6, 19) {
        Era::Old
    } else {
        Era::Current
    })
}

const OLD_RISK: &str = "on 2.6.18 and earlier kernels the two exclude each other: setting \
    unknown_nmi_panic makes the kernel take the local APIC's NMI for itself (reserve_lapic_nmi), \
    which switches a local-APIC watchdog (nmi_watchdog=2) off without a word, or is refused \
    (EBUSY) while oprofile holds it; an I/O-APIC watchdog (nmi_watchdog=1) stays on, and since \
    the unknown-NMI handler runs before the watchdog's, its first tick kills the machine \
    (\"NMI received for unknown reason\")";

const CURRENT_RISK: &str = "on kernels after 2.6.18 the two run side by side, and an NMI that \
    no handler claims panics the machine (\"Uhhuh. NMI received for unknown reason\", \
    \"NMI: Not continuing\"): the watchdog has every CPU take perf-counter NMIs, and one that \
    arrives late or back to back, as happens under a profiler that also uses the PMU (perf, \
    monitoring agents), goes unclaimed";

/// Whether the NMI watchdog runs, and what says so.
enum Watchdog {
    Known {
        on: bool,
        how: String,
    },
    /// The running kernel has no hard-lockup detector.
    Absent,
    /// A tree that says nothing about it.
    Unknown,
}

fn watchdog(ctx: &Context, era: Option<Era>) -> Watchdog {
    const KEY: &str = "kernel.nmi_watchdog";
    let known = |on: bool, how: String| Watchdog::Known { on, how };
    if let Ok(Some(v)) = live(ctx, KEY) {
        return known(v != 0, format!("{KEY} = {v}"));
    }
    let live_system = ctx.root.is_dir("/proc/sys/kernel");
    if live_system && era != Some(Era::Old) && !ctx.root.exists(&sysctl::proc_path(KEY)) {
        return Watchdog::Absent;
    }
    if let Some((v, src)) = persisted(ctx, KEY) {
        if let Ok(n) = v.trim().parse::<i64>() {
            return known(n != 0, format!("{KEY} = {n} ({src})"));
        }
    }
    if let Ok(Some(line)) = &ctx.cmdline {
        // The last one wins, as the kernel parses them in order.
        for w in crate::cmdline::words(line).iter().rev() {
            if w == "nowatchdog" {
                return known(false, "nowatchdog on the kernel command line".into());
            }
            if let Some(v) = w.strip_prefix("nmi_watchdog=") {
                let on = !v.split(',').any(|p| p == "0");
                return known(on, format!("{w} on the kernel command line"));
            }
        }
    }
    if era == Some(Era::Old) {
        return known(
            true,
            "on by default (2.6.18 on x86_64: a local-APIC watchdog where it knows the CPU's counters, else the I/O APIC's)".into(),
        );
    }
    let config = format!("/boot/config-{}", ctx.release.as_deref().unwrap_or("?"));
    match super::kernel_config::option(ctx, "CONFIG_HARDLOCKUP_DETECTOR") {
        Some(true) => known(
            true,
            format!("on by default (CONFIG_HARDLOCKUP_DETECTOR=y in {config})"),
        ),
        // Built without the hard-lockup detector.
        Some(false) => Watchdog::Absent,
        None => Watchdog::Unknown,
    }
}

/// `key` when it is non-zero now or for the next boot, said with its source.
fn nonzero(ctx: &Context, key: &str) -> Option<String> {
    let now = live(ctx, key).ok().flatten();
    let next = persisted(ctx, key).and_then(|(v, src)| Some((v.trim().parse::<i64>().ok()?, src)));
    match (now, next) {
        (Some(n), Some((p, src))) if n != 0 && p == n => Some(format!("{key} = {n} ({src})")),
        (Some(n), _) if n != 0 => Some(format!("{key} = {n}")),
        (Some(_), Some((p, src))) if p != 0 => {
            Some(format!("{key} = {p} for the next boot ({src})"))
        }
        (None, Some((p, src))) if p != 0 => Some(format!("{key} = {p} ({src})")),
        _ => None,
    }
}

/// The exact way to add a kernel argument on this distribution.
fn boot_arg(ctx: &Context, arg: &str) -> String {
    use crate::distro::Family;
    match ctx.distro.family {
        Family::Rhel => format!("grubby --update-kernel=ALL --args=\"{arg}\" && reboot"),
        Family::Debian => format!(
            "in /etc/default/grub: GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT {arg}\", then update-grub && reboot"
        ),
        Family::Unknown => format!("add {arg} to the kernel command line in the boot loader, then reboot"),
    }
}

/// Several sysctls in coroner's file, as one fix.
fn set_all(settings: &[(&str, i64)]) -> (String, Vec<Action>) {
    let lines: Vec<String> = settings.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let actions = settings
        .iter()
        .map(|(k, v)| Action::Sysctl {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect();
    (
        format!(
            "{} in {CORONER_FILE}, then sysctl --system",
            lines.join(", ")
        ),
        actions,
    )
}

/// unknown_nmi_panic (and panic_on_unrecovered_nmi, which also panics on unknown
/// NMIs in 2.6.32 as today) against the NMI watchdog. A guest gives up the watchdog: its
/// NMI route needs unknown_nmi_panic. Bare metal keeps the watchdog for hard lockups
/// and gives up unknown-NMI panics; the BMC's NMI panics through panic_on_io_nmi
/// where it arrives as an I/O check.
fn nmi_watchdog(ctx: &Context) -> Check {
    const ID: &str = "panic.nmi_watchdog";
    let era = era(ctx.release.as_deref());
    let (on, how) = match watchdog(ctx, era) {
        Watchdog::Known { on, how } => (on, how),
        Watchdog::Absent => return Check::pass(ID, "this kernel has no NMI watchdog"),
        Watchdog::Unknown => {
            return Check::pass(
                ID,
                "kernel.nmi_watchdog not set (cannot tell without /proc/sys)",
            )
        }
    };
    let unknown = nonzero(ctx, "kernel.unknown_nmi_panic");
    // 2.6.18 has no panic_on_unrecovered_nmi: where it is set, the kernel is a later one.
    let unrecovered = nonzero(ctx, "kernel.panic_on_unrecovered_nmi");
    let panics: Vec<&String> = unknown.iter().chain(unrecovered.iter()).collect();
    let release = ctx.release.as_deref().unwrap_or("of unknown release");
    let risk = match era {
        Some(Era::Old) => format!("kernel {release}: {OLD_RISK}"),
        Some(Era::Current) => format!("kernel {release}: {CURRENT_RISK}"),
        None => format!("kernel {release}: {CURRENT_RISK}; {OLD_RISK}"),
    };
    let watchdog_off = |why: &str| -> Check {
        if era == Some(Era::Old) {
            // No sysctl for it in 2.6.18: only the boot argument.
            return Check::warn(ID, why).fix(format!(
                "{} (recommended for a guest: the watchdog gives way; keep unknown_nmi_panic = 1 for the hypervisor's NMI, which arrives as an unknown NMI)",
                boot_arg(ctx, "nmi_watchdog=0")
            ));
        }
        let (fix, actions) = set_all(&[("kernel.nmi_watchdog", 0)]);
        let mut c = Check::warn(ID, why).fix(format!(
            "{fix} (recommended for a guest: the watchdog gives way; keep unknown_nmi_panic = 1 for the hypervisor's NMI (coroner nmi), which arrives as an unknown NMI; a guest's hard lockups are seen from the host, and stolen CPU time makes its watchdog misfire)"
        ));
        for a in actions {
            c = c.action(a);
        }
        c
    };
    match (on, ctx.role) {
        (true, Role::Guest) if panics.is_empty() => watchdog_off(&format!(
            "the NMI watchdog is on ({how}): a guest needs unknown_nmi_panic = 1 for its NMI route (panic.unknown_nmi_panic), and beside the watchdog, {risk}"
        )),
        (true, Role::Guest) => watchdog_off(&format!(
            "the NMI watchdog is on ({how}) with {}: {risk}",
            join(&panics)
        )),
        (true, _) if panics.is_empty() => Check::pass(
            ID,
            format!("the NMI watchdog is on ({how}) and unknown NMIs do not panic: hard lockups are caught, a stray NMI is only logged"),
        ),
        (true, role) => {
            let mut settings: Vec<(&str, i64)> = Vec::new();
            if unknown.is_some() {
                settings.push(("kernel.unknown_nmi_panic", 0));
            }
            if unrecovered.is_some() {
                settings.push(("kernel.panic_on_unrecovered_nmi", 0));
            }
            let io = era == Some(Era::Current)
                && live(ctx, "kernel.panic_on_io_nmi").ok().flatten().or_else(|| {
                    persisted(ctx, "kernel.panic_on_io_nmi")?.0.trim().parse().ok()
                }) != Some(1);
            if io {
                settings.push(("kernel.panic_on_io_nmi", 1));
            }
            let (fix, actions) = set_all(&settings);
            let instead = match era {
                Some(Era::Old) => format!(
                    "this kernel has no panic_on_io_nmi, so the BMC's NMI then only logs: if that NMI is how this machine gets dumped when hung, turn the watchdog off instead ({})",
                    boot_arg(ctx, "nmi_watchdog=0")
                ),
                _ => "the BMC's NMI still panics where it arrives as an I/O check (panic_on_io_nmi); where it arrives as an unknown NMI (the log says \"NMI received for unknown reason\" after coroner nmi), turn the watchdog off instead: kernel.nmi_watchdog = 0".to_string(),
            };
            let mut c = Check::warn(
                ID,
                format!("the NMI watchdog is on ({how}) with {}: {risk}", join(&panics)),
            )
            .fix(format!(
                "{fix} (recommended for {}: keep the watchdog, which catches hard lockups (hardlockup_panic = 1), and turn unknown-NMI panics off; panic_on_unrecovered_nmi is no replacement, it panics on unknown NMIs too; {instead})",
                role_name(role)
            ));
            for a in actions {
                c = c.action(a);
            }
            c
        }
        (false, Role::Server | Role::Hypervisor) => {
            let why = format!("the NMI watchdog is off ({how}): hard lockups on this bare-metal machine go undetected");
            if era == Some(Era::Old) {
                return Check::warn(ID, why).fix(format!(
                    "remove nmi_watchdog=0 from the kernel command line (2.6.18 turns the watchdog on by default), then reboot{}",
                    if panics.is_empty() { "" } else { "; and first set kernel.unknown_nmi_panic = 0, which would switch it off again" }
                ));
            }
            // Turning it on must not make the conflict: unknown-NMI panics go off with it.
            let mut settings = vec![("kernel.nmi_watchdog", 1)];
            if unknown.is_some() {
                settings.push(("kernel.unknown_nmi_panic", 0));
            }
            if unrecovered.is_some() {
                settings.push(("kernel.panic_on_unrecovered_nmi", 0));
            }
            let (fix, actions) = set_all(&settings);
            let mut c = Check::warn(ID, why).fix(fix);
            for a in actions {
                c = c.action(a);
            }
            c
        }
        (false, _) => Check::pass(ID, format!("the NMI watchdog is off ({how})")),
    }
}

fn join(parts: &[&String]) -> String {
    parts
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::{era, Era};

    #[test]
    fn kernel_eras() {
        for (release, want) in [
            ("2.6.18-419.el5", Some(Era::Old)),
            ("2.6.9-89.EL", Some(Era::Old)),
            ("2.4.21-63.EL", Some(Era::Old)),
            ("2.6.19", Some(Era::Current)),
            ("2.6.32-754.el6.x86_64", Some(Era::Current)),
            ("3.10.0-1160.el7.x86_64", Some(Era::Current)),
            ("6.1.0-56-amd64", Some(Era::Current)),
            ("6.8", Some(Era::Current)),
            ("garbage", None),
        ] {
            assert_eq!(era(Some(release)), want, "{release}");
        }
        assert_eq!(era(None), None);
    }
}
