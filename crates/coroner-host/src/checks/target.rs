//! Where the dump goes: the target, the collector's flags, and room for the dump.

use crate::cmdline::Bytes;
use crate::doctor::{Action, Check, Context, Status};
use crate::kdump_config::{Collector, Flavour, Setup, Target};
use crate::space;

pub fn checks(ctx: &Context) -> Vec<Check> {
    match &ctx.kdump {
        Ok(Some(setup)) => vec![location(ctx, setup), collector(setup), room(ctx, setup)],
        _ => Vec::new(),
    }
}

fn location(ctx: &Context, setup: &Setup) -> Check {
    const ID: &str = "target.location";
    let what = setup.target.describe();
    match &setup.target {
        Target::Local { path } if !ctx.root.is_dir(path) => {
            let (status, why) = match setup.flavour {
                Flavour::Rhel => (
                    Status::Fail,
                    "mkdumprd refuses to build the capture initramfs",
                ),
                Flavour::Debian => (Status::Warn, "create it before the next crash"),
            };
            Check::new(
                ID,
                status,
                format!("dump directory {path} does not exist: {why}"),
            )
            .fix(format!("mkdir -p {path}"))
        }
        Target::Ssh { dest, .. } => {
            let key = setup
                .ssh_key
                .as_deref()
                .unwrap_or("/root/.ssh/kdump_id_rsa");
            if ctx.root.exists(key) {
                Check::pass(ID, format!("{what}, key {key}"))
            } else {
                let propagate = match setup.flavour {
                    Flavour::Rhel => "kdumpctl propagate",
                    Flavour::Debian => "kdump-config propagate",
                };
                Check::fail(ID, format!("{what}: the ssh key {key} does not exist, so the capture kernel cannot log in to {dest}"))
                    .fix(format!("{propagate} (makes the key and installs it on {dest})"))
            }
        }
        Target::Raw { .. } => Check::pass(
            ID,
            format!("{what} (read the dump back with makedumpfile -R after the reboot)"),
        ),
        _ => Check::pass(ID, what),
    }
}

/// The collector line as it would be with `args`.
fn set_args(setup: &Setup, args: &[String]) -> (String, Action) {
    let joined = args.join(" ");
    match setup.flavour {
        Flavour::Rhel => {
            let value = format!("{} {joined}", setup.collector.program);
            (
                format!("core_collector {value} in /etc/kdump.conf, then systemctl restart kdump"),
                Action::KdumpConf {
                    directive: "core_collector".into(),
                    value,
                },
            )
        }
        Flavour::Debian => (
            format!(
                "MAKEDUMP_ARGS=\"{joined}\" in /etc/default/kdump-tools, then kdump-config load"
            ),
            Action::KdumpTools {
                var: "MAKEDUMP_ARGS".into(),
                value: joined,
            },
        ),
    }
}

fn collector(setup: &Setup) -> Check {
    const ID: &str = "target.collector";
    let c: &Collector = &setup.collector;
    let streams = matches!(setup.target, Target::Ssh { .. } | Target::Raw { .. });
    if !c.is_makedumpfile() {
        let mut args: Vec<String> = ["-l", "--message-level", "7", "-d", "31"]
            .map(String::from)
            .to_vec();
        if streams {
            args.insert(0, "-F".into());
        }
        let (fix, action) = (
            format!(
                "core_collector makedumpfile {} in /etc/kdump.conf",
                args.join(" ")
            ),
            Action::KdumpConf {
                directive: "core_collector".into(),
                value: format!("makedumpfile {}", args.join(" ")),
            },
        );
        return Check::warn(
            ID,
            format!(
                "`{}` copies all of memory, unfiltered and uncompressed: a dump the size of RAM",
                c.command()
            ),
        )
        .fix(fix)
        .action(action);
    }
    let f = c.flags();
    let mut args = c.args.clone();
    let mut problems = Vec::new();
    let mut status = Status::Pass;
    if setup.flavour == Flavour::Rhel && streams && !f.flattened {
        problems.push("the ssh and raw targets need -F (mkdumprd refuses without it)".to_string());
        status = Status::Fail;
        args.insert(0, "-F".into());
    }
    match f.dump_level {
        None | Some(0) => {
            problems
                .push("no dump level (-d): every page is written, a dump the size of RAM".into());
            status = status.max(Status::Warn);
            remove_level(&mut args);
            args.extend(["-d".into(), "31".into()]);
        }
        Some(level) if level & 16 == 0 => {
            problems.push(format!(
                "-d {level} keeps free pages, which hold nothing of the crash"
            ));
            status = status.max(Status::Warn);
            remove_level(&mut args);
            args.extend(["-d".into(), (level | 17).to_string()]);
        }
        Some(_) => {}
    }
    if f.elf {
        problems.push("-E writes ELF, which cannot be compressed".into());
        status = status.max(Status::Warn);
    } else if f.compression.is_none() {
        problems.push("no compression (-c, -l, -p or -z)".into());
        status = status.max(Status::Warn);
        args.insert(
            0,
            if setup.flavour == Flavour::Debian {
                "-c"
            } else {
                "-l"
            }
            .into(),
        );
    }
    let level = f.dump_level.map_or("0".to_string(), |l| l.to_string());
    if problems.is_empty() {
        let how = f
            .compression
            .map_or("ELF".to_string(), |c| format!("{c} compression"));
        return Check::pass(ID, format!("`{}`: dump level {level}, {how}", c.command()));
    }
    let (fix, action) = set_args(setup, &args);
    Check::new(
        ID,
        status,
        format!("`{}`: {}", c.command(), problems.join("; ")),
    )
    .fix(fix)
    .action(action)
}

/// Drops `-d N` / `-dN` from an argument list (a `-d` bundled after other flags
/// stays: getopt forms like `-cd31` are rewritten whole).
fn remove_level(args: &mut Vec<String>) {
    let mut out = Vec::new();
    let mut it = std::mem::take(args).into_iter();
    while let Some(a) = it.next() {
        if a == "-d" {
            it.next();
            continue;
        }
        if a.starts_with("-d") {
            continue;
        }
        match a
            .strip_prefix('-')
            .filter(|f| !f.starts_with('-') && f.contains('d'))
        {
            Some(flags) => {
                let before = flags.split('d').next().unwrap_or("");
                if !before.is_empty() {
                    out.push(format!("-{before}"));
                }
            }
            None => out.push(a),
        }
    }
    *args = out;
}

/// The dump's size before compression: RAM less what the dump level leaves out
/// (makedumpfile -d bits: 2 page cache, 4 private cache, 8 user data, 16 free),
/// from /proc/meminfo. Zero pages (bit 1) are not counted: meminfo does not know them.
pub fn dump_estimate(
    ram: u64,
    level: u32,
    meminfo: &std::collections::BTreeMap<String, u64>,
) -> u64 {
    let m = |k: &str| meminfo.get(k).copied().unwrap_or(0);
    let mut left = ram;
    if level & 16 != 0 {
        left = left.saturating_sub(m("MemFree"));
    }
    if level & 8 != 0 {
        left = left.saturating_sub(m("AnonPages"));
    }
    if level & 2 != 0 {
        left = left.saturating_sub(m("Cached").saturating_sub(m("Shmem")));
    }
    if level & 4 != 0 {
        left = left.saturating_sub(m("Buffers"));
    }
    left
}

fn room(ctx: &Context, setup: &Setup) -> Check {
    const ID: &str = "target.space";
    let f = setup.collector.flags();
    let level = if setup.collector.is_makedumpfile() {
        f.dump_level.unwrap_or(0)
    } else {
        0
    };
    let Some(ram) = ctx.ram else {
        return Check::warn(
            ID,
            "cannot estimate the dump: this machine's RAM is unknown",
        );
    };
    let estimate = dump_estimate(ram, level, &ctx.meminfo);
    let size = format!(
        "a -d {level} dump of this machine is up to {} before compression",
        Bytes(estimate)
    );
    let path = match &setup.target {
        Target::Local { path } => path,
        t if t.is_remote() => {
            return Check::pass(
                ID,
                format!("{size}; the room is on the server ({})", t.describe()),
            )
        }
        t => return Check::pass(ID, format!("{size}; {} must hold it", t.describe())),
    };
    let mounts = space::mounts(&ctx.root);
    let mount = space::mount_of(&mounts, path);
    let point = mount.map_or("/".to_string(), |m| m.point.clone());
    let free = match space::free_space(&ctx.root, path, &point) {
        Ok(s) => s,
        Err(e) => return Check::warn(ID, format!("{size}; cannot tell the free space: {e}")),
    };
    let fs = if point == "/" {
        "on the root filesystem (a dedicated filesystem for it keeps a dump from filling /)"
            .to_string()
    } else {
        let what = mount
            .map(|m| format!(" ({} {})", m.fstype, m.source))
            .unwrap_or_default();
        format!("on its own filesystem {point}{what}")
    };
    let facts = format!("{path} {fs}: {} free; {size}", Bytes(free.available));
    if free.available >= estimate {
        return Check::pass(ID, facts);
    }
    let fix = format!(
        "free at least {} on {point}, or move the dump to a larger filesystem",
        Bytes(estimate - free.available)
    );
    if f.compression.is_some() && !f.elf && setup.collector.is_makedumpfile() {
        Check::warn(
            ID,
            format!(
                "{facts}: it fits only if compression saves {}",
                Bytes(estimate - free.available)
            ),
        )
        .fix(fix)
    } else {
        Check::fail(ID, format!("{facts}: it does not fit")).fix(fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn level_removal_keeps_other_flags() {
        for (from, to) in [
            ("-l -d 1 --message-level 7", "-l --message-level 7"),
            ("-cd31", "-c"),
            ("-d17 -F", "-F"),
            ("-d", ""),
        ] {
            let mut a = v(from);
            remove_level(&mut a);
            assert_eq!(a, v(to), "{from}");
        }
    }

    #[test]
    fn estimate_subtracts_what_the_level_excludes() {
        let g = 1u64 << 30;
        let mi = [
            ("MemFree", 3 * g),
            ("AnonPages", 2 * g),
            ("Cached", 2 * g),
            ("Shmem", g / 2),
            ("Buffers", g / 4),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into_iter()
        .collect();
        assert_eq!(dump_estimate(8 * g, 0, &mi), 8 * g);
        assert_eq!(dump_estimate(8 * g, 16, &mi), 5 * g);
        assert_eq!(
            dump_estimate(8 * g, 31, &mi),
            8 * g - 3 * g - 2 * g - (3 * g / 2) - g / 4
        );
        assert_eq!(dump_estimate(g, 31, &mi), 0);
    }
}
