//! `crashkernel=` as the boot loader configuration will pass it at the next boot:
//! /etc/default/grub (+ Debian's grub.d snippets, where kdump-tools puts it), BLS
//! entries (RHEL 8 and later) and the grubenv `kernelopts` (RHEL 8).

use crate::cmdline;
use crate::root::Root;
use crate::shellvars;

/// Where a `crashkernel=` for the next boot was found, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub file: String,
    pub value: String,
}

pub fn crashkernel_next_boot(root: &Root) -> Vec<Found> {
    let mut out = Vec::new();
    let mut grub_files = vec!["/etc/default/grub".to_string()];
    grub_files.extend(
        root.list("/etc/default/grub.d")
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.ends_with(".cfg"))
            .map(|n| format!("/etc/default/grub.d/{n}")),
    );
    for file in grub_files {
        let Ok(Some(text)) = root.read(&file) else {
            continue;
        };
        let vars = shellvars::parse(&text);
        for var in ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"] {
            if let Some(v) = vars.get(var) {
                push(&mut out, &file, v);
            }
        }
    }
    for name in root.list("/boot/loader/entries").unwrap_or_default() {
        let file = format!("/boot/loader/entries/{name}");
        if let Ok(Some(text)) = root.read(&file) {
            for line in text.lines() {
                if let Some(opts) = line.trim().strip_prefix("options") {
                    push(&mut out, &file, opts);
                }
            }
        }
    }
    for file in ["/boot/grub2/grubenv", "/boot/efi/EFI/redhat/grubenv"] {
        if let Ok(Some(text)) = root.read(file) {
            for line in text.lines() {
                if let Some(opts) = line.strip_prefix("kernelopts=") {
                    push(&mut out, file, opts);
                }
            }
        }
    }
    out
}

fn push(out: &mut Vec<Found>, file: &str, cmdline: &str) {
    if let Some(arg) = cmdline::crashkernel(&cmdline::words(cmdline)) {
        let found = Found {
            file: file.to_string(),
            value: arg.raw,
        };
        if !out.contains(&found) {
            out.push(found);
        }
    }
}
