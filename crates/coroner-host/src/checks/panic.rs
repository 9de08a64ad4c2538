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
    Policy { name: "unknown_nmi_panic", guest: Eq(1), server: Eq(1), hypervisor: Eq(1),
        why: "an operator's NMI (coroner nmi, the BMC, the hypervisor) must panic a hung machine to get its dump" },
    Policy { name: "panic_on_unrecovered_nmi", guest: Any, server: Eq(1), hypervisor: Eq(1),
        why: "a PCI SERR NMI means hardware state is lost; a dump then shows what was in flight" },
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
        p.why,
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

/// unknown_nmi_panic (and panic_on_unrecovered_nmi, which also panics on unknown
/// NMIs) against the NMI watchdog: a watchdog NMI that arrives late is counted as
/// unknown and panics the machine; old 2.6 kernels instead switch the watchdog off.
fn nmi_watchdog(ctx: &Context) -> Check {
    const ID: &str = "panic.nmi_watchdog";
    let value = |key: &str| -> Option<i64> {
        live(ctx, key)
            .ok()
            .flatten()
            .or_else(|| persisted(ctx, key)?.0.trim().parse().ok())
    };
    let live_system = ctx.root.is_dir("/proc/sys/kernel");
    let Some(wd) = value("kernel.nmi_watchdog") else {
        return Check::pass(
            ID,
            if live_system {
                "this kernel has no NMI watchdog"
            } else {
                "kernel.nmi_watchdog not set (cannot tell without /proc/sys)"
            },
        );
    };
    let unknown_panics = value("kernel.unknown_nmi_panic").unwrap_or(0) != 0
        || value("kernel.panic_on_unrecovered_nmi").unwrap_or(0) != 0;
    let conflict =
        "a watchdog NMI that arrives late is taken for an unknown NMI and panics the machine \
         (\"Uhhuh. NMI received for unknown reason\"); 2.6 kernels instead switch the watchdog off";
    match (wd != 0, unknown_panics, ctx.role) {
        // A guest's NMI route needs unknown_nmi_panic (recommended above), so the
        // watchdog gives way there whatever unknown_nmi_panic is today.
        (true, _, Role::Guest) => {
            let (fix, action) = set("kernel.nmi_watchdog", 0);
            Check::warn(
                ID,
                format!("kernel.nmi_watchdog = {wd}: a guest needs unknown_nmi_panic = 1 for its NMI route, and beside it {conflict}"),
            )
            .fix(fix)
            .action(action)
        }
        (true, true, _) => Check::pass(
            ID,
            format!("kernel.nmi_watchdog = {wd} with NMI panics on: kept, hard-lockup detection matters on bare metal; if spurious \"NMI received for unknown reason\" panics appear, set kernel.nmi_watchdog = 0"),
        ),
        (false, _, Role::Server | Role::Hypervisor) => {
            let (fix, action) = set("kernel.nmi_watchdog", 1);
            Check::warn(ID, "kernel.nmi_watchdog = 0: hard lockups on this bare-metal machine go undetected")
                .fix(fix)
                .action(action)
        }
        _ => Check::pass(ID, format!("kernel.nmi_watchdog = {wd}")),
    }
}
