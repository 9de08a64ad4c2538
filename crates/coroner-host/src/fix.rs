//! `doctor --fix`: turns the checks' actions into file changes (coroner's sysctl.d
//! file, kdump.conf and kdump-tools lines, live /proc/sys values), shows them, and
//! writes them atomically with a backup.

use crate::atomic;
use crate::doctor::{Action, Context, Report, Status};
use crate::kdump_config::{KDUMP_CONF, KDUMP_TOOLS};
use crate::shellvars;
use crate::sysctl::{self, CORONER_FILE};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A new file.
    Create,
    /// Lines changed in an existing file (a backup is kept).
    Edit,
    /// A live kernel setting written to /proc/sys.
    Live,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// As on the audited host.
    pub path: String,
    pub kind: Kind,
    pub removed: Vec<String>,
    pub added: Vec<String>,
    /// Where the old file was copied, once applied.
    pub backup: Option<String>,
    #[serde(skip)]
    content: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Fixes that need a person (reboot, boot loader, package, service), by check id.
    pub manual: Vec<String>,
}

/// The changes that would fix what the report found.
pub fn plan(ctx: &Context, report: &Report) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let mut sysctls: BTreeMap<String, String> = BTreeMap::new();
    let mut conf: Vec<(String, String)> = Vec::new();
    let mut tools: Vec<(String, String)> = Vec::new();
    for check in report.checks.iter().filter(|c| c.status != Status::Pass) {
        for a in &check.actions {
            match a {
                Action::Sysctl { key, value } => {
                    sysctls.insert(key.clone(), value.clone());
                }
                Action::KdumpConf { directive, value } => {
                    conf.push((directive.clone(), value.clone()))
                }
                Action::KdumpTools { var, value } => tools.push((var.clone(), value.clone())),
            }
        }
        if !check.auto_fix {
            if let Some(fix) = &check.fix {
                plan.manual.push(format!("{}: {fix}", check.id));
            }
        }
    }
    if !sysctls.is_empty() {
        sysctl_changes(ctx, &sysctls, &mut plan)?;
    }
    if !conf.is_empty() {
        let old = read(ctx, KDUMP_CONF)?;
        plan.changes
            .push(edit(KDUMP_CONF, old, &conf, Style::KdumpConf));
        // kdump.conf lives in the capture initramfs: the service must rebuild it.
        plan.manual.push(format!(
            "{KDUMP_CONF} changed: systemctl restart kdump (rebuilds the capture initramfs)"
        ));
    }
    if !tools.is_empty() {
        let old = read(ctx, KDUMP_TOOLS)?;
        plan.changes
            .push(edit(KDUMP_TOOLS, old, &tools, Style::ShellVar));
        plan.manual.push(format!(
            "{KDUMP_TOOLS} changed: kdump-config load (reloads the capture kernel with it)"
        ));
    }
    Ok(plan)
}

fn read(ctx: &Context, path: &str) -> Result<Option<String>, String> {
    ctx.root.read(path).map_err(|e| e.to_string())
}

fn sysctl_changes(
    ctx: &Context,
    wanted: &BTreeMap<String, String>,
    plan: &mut Plan,
) -> Result<(), String> {
    let old = read(ctx, CORONER_FILE)?;
    let mut merged: BTreeMap<String, String> = old
        .as_deref()
        .map(|t| {
            sysctl::parse(t)
                .entries
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect()
        })
        .unwrap_or_default();
    merged.extend(wanted.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut content = format!(
        "# Written by `coroner doctor --fix` (role: {}): panic settings for kdump.\n",
        ctx.role.name()
    );
    for (k, v) in &merged {
        content.push_str(&format!("{k} = {v}\n"));
    }
    plan.changes.push(whole_file(CORONER_FILE, old, content));

    // A file read after coroner's (sysctl.conf always is) would undo the setting:
    // change its line too when it is the administrator's, under /etc.
    let mut later: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (key, value) in wanted {
        let Some(s) = ctx.sysctl.get(key) else {
            continue;
        };
        let name = s.file.rsplit('/').next().unwrap_or("");
        let read_later =
            s.file == "/etc/sysctl.conf" || name > CORONER_FILE.rsplit('/').next().unwrap_or("");
        if s.file == CORONER_FILE || &s.value == value || !read_later {
            continue;
        }
        if s.file.starts_with("/etc/") {
            later
                .entry(s.file.clone())
                .or_default()
                .push((s.line, format!("{key} = {value}")));
        } else {
            plan.manual.push(format!(
                "{}:{} sets {key} = {} after {CORONER_FILE}: copy it to /etc/sysctl.d/{name} with {key} = {value}",
                s.file, s.line, s.value
            ));
        }
    }
    for (file, lines) in later {
        let old = read(ctx, &file)?.unwrap_or_default();
        let mut removed = Vec::new();
        let mut added = Vec::new();
        let mut out: Vec<String> = old.lines().map(str::to_string).collect();
        for (line, text) in lines {
            if let Some(slot) = out.get_mut(line - 1) {
                removed.push(std::mem::replace(slot, text.clone()));
                added.push(text);
            }
        }
        plan.changes.push(Change {
            path: file,
            kind: Kind::Edit,
            removed,
            added,
            backup: None,
            content: join(&out),
        });
    }

    for (key, value) in wanted {
        let proc = sysctl::proc_path(key);
        match sysctl::live(&ctx.root, key) {
            Ok(Some(now)) if now != *value => plan.changes.push(Change {
                path: proc,
                kind: Kind::Live,
                removed: vec![now],
                added: vec![value.clone()],
                backup: None,
                content: format!("{value}\n"),
            }),
            _ => {}
        }
    }
    Ok(())
}

/// A file written whole; the change lists the lines that differ.
fn whole_file(path: &str, old: Option<String>, content: String) -> Change {
    let old_lines: Vec<&str> = old
        .as_deref()
        .map(|o| o.lines().collect())
        .unwrap_or_default();
    let new_lines: Vec<&str> = content.lines().collect();
    let removed = old_lines
        .iter()
        .filter(|l| !new_lines.contains(l))
        .map(|l| l.to_string())
        .collect();
    let added = new_lines
        .iter()
        .filter(|l| !old_lines.contains(l))
        .map(|l| l.to_string())
        .collect();
    Change {
        path: path.to_string(),
        kind: if old.is_some() {
            Kind::Edit
        } else {
            Kind::Create
        },
        removed,
        added,
        backup: None,
        content,
    }
}

fn join(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// How a configuration file spells a setting.
#[derive(Clone, Copy)]
enum Style {
    /// kdump.conf: `directive value`, `#` comments.
    KdumpConf,
    /// Sourced shell: `NAME="value"`.
    ShellVar,
}

impl Style {
    fn line(self, name: &str, value: &str) -> String {
        match self {
            Style::KdumpConf => format!("{name} {value}"),
            Style::ShellVar => format!("{name}={}", shellvars::quote(value)),
        }
    }

    fn sets(self, line: &str, name: &str) -> bool {
        match self {
            Style::KdumpConf => {
                line.split('#')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .next()
                    == Some(name)
            }
            Style::ShellVar => {
                let l = line.trim_start();
                let l = l.strip_prefix("export ").unwrap_or(l);
                l.strip_prefix(name).is_some_and(|r| r.starts_with('='))
            }
        }
    }
}

/// Sets each (name, value) in a line-based file: replaces the last active line
/// for the name, else adds one after a commented-out example of it, else at the end.
fn edit(path: &str, old: Option<String>, sets: &[(String, String)], style: Style) -> Change {
    let mut lines: Vec<String> = old
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(str::to_string)
        .collect();
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for (name, value) in sets {
        let text = style.line(name, value);
        match lines.iter().rposition(|l| style.sets(l, name)) {
            Some(i) => removed.push(std::mem::replace(&mut lines[i], text.clone())),
            None => {
                let example = lines.iter().rposition(|l| {
                    l.trim_start()
                        .strip_prefix('#')
                        .is_some_and(|c| style.sets(c, name))
                });
                match example {
                    Some(i) => lines.insert(i + 1, text.clone()),
                    None => lines.push(text.clone()),
                }
            }
        }
        added.push(text);
    }
    Change {
        path: path.to_string(),
        kind: if old.is_some() {
            Kind::Edit
        } else {
            Kind::Create
        },
        removed,
        added,
        backup: None,
        content: join(&lines),
    }
}

/// Writes the plan: files atomically with a backup, then live values. Stops at the
/// first error, which names it and what was already changed.
pub fn apply(ctx: &Context, plan: &mut Plan) -> Result<(), String> {
    let mut done: Vec<String> = Vec::new();
    for change in &mut plan.changes {
        let result =
            ctx.root
                .resolve(&change.path)
                .map_err(|e| e.to_string())
                .and_then(|real| match change.kind {
                    Kind::Live => std::fs::write(&real, &change.content)
                        .map_err(|e| format!("cannot set {}: {e}", change.path)),
                    Kind::Create | Kind::Edit => atomic::replace(&real, change.content.as_bytes())
                        .map(|backup| {
                            change.backup = backup.map(|b| shown(ctx, &b));
                        }),
                });
        if let Err(e) = result {
            let so_far = if done.is_empty() {
                "nothing changed".to_string()
            } else {
                format!("already changed: {}", done.join(", "))
            };
            return Err(format!("{e} ({so_far})"));
        }
        done.push(change.path.clone());
    }
    Ok(())
}

/// A real path shown as on the audited host.
fn shown(ctx: &Context, real: &std::path::Path) -> String {
    match real.strip_prefix(ctx.root.base()) {
        Ok(rel) if !ctx.root.is_live_system() => format!("/{}", rel.display()),
        _ => real.display().to_string(),
    }
}
