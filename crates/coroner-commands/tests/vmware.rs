//! The commands on VMware files made from the sysrq crash's QEMU ELF (by
//! coroner-testdata's generator): `info` names the same kernel, `dmesg` equals
//! makedumpfile's log of that crash byte for byte, `bt -a` gives the frames it
//! gives on the ELF itself, and `triage` finds the same crash.

mod common;

use common::{Coroner, Output};
use coroner_testdata::vmware::{generate, Variant};
use coroner_testdata::{crash_dir, qemu_elf};
use serde_json::Value;
use std::path::Path;

fn coroner(args: &[&str], path: &Path) -> Output {
    let (name, rest) = args.split_first().unwrap();
    let out = Coroner::new()
        .arg(name)
        .arg(path)
        .args(rest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(args: &[&str], path: &Path) -> String {
    String::from_utf8(coroner(args, path).stdout).unwrap()
}

fn json(args: &[&str], path: &Path) -> Value {
    serde_json::from_str(&text(args, path)).unwrap()
}

const WITH_CPU_STATE: [Variant; 3] = [Variant::Vmss, Variant::VmsnHoles, Variant::VmsnInline];

#[test]
fn info_names_the_kernel_the_elf_names() {
    let elf = json(&["info", "--json"], &qemu_elf("sysrq").unwrap());
    for (variant, format) in [
        (Variant::Vmss, "vmware-vmss"),
        (Variant::VmsnHoles, "vmware-vmsn"),
        (Variant::VmsnInline, "vmware-vmsn"),
        (Variant::VmemAlone, "vmware-vmem"),
    ] {
        let path = generate("sysrq", variant).unwrap();
        let ours = json(&["info", "--json"], &path);
        assert_eq!(ours["format"], format, "{variant:?}");
        for key in ["release", "build_id", "kaslr_offset", "phys_base", "arch"] {
            assert_eq!(ours[key], elf[key], "{variant:?}: {key}");
        }
        assert_eq!(ours["vmcoreinfo"], "memory scan", "{variant:?}");
        let cpus = if variant == Variant::VmemAlone { 0 } else { 2 };
        assert_eq!(ours["cpu_register_notes"], cpus, "{variant:?}");
    }
}

#[test]
fn dmesg_equals_makedumpfile() {
    let reference = std::fs::read(crash_dir("sysrq").join("dmesg.makedumpfile.txt")).unwrap();
    for variant in WITH_CPU_STATE.into_iter().chain([Variant::VmemAlone]) {
        let path = generate("sysrq", variant).unwrap();
        let out = coroner(&["dmesg"], &path);
        assert!(
            out.stdout == reference,
            "{variant:?}: differs from makedumpfile"
        );
    }
}

#[test]
fn bt_all_gives_the_frames_it_gives_on_the_elf() {
    let elf = text(&["bt", "-a"], &qemu_elf("sysrq").unwrap());
    assert!(elf.contains("sysrq_handle_crash"), "{elf}");
    for variant in WITH_CPU_STATE {
        let path = generate("sysrq", variant).unwrap();
        assert_eq!(text(&["bt", "-a"], &path), elf, "{variant:?}");
    }
}

#[test]
fn a_vmem_alone_has_no_cpu_stacks_but_says_why() {
    let path = generate("sysrq", Variant::VmemAlone).unwrap();
    let out = Coroner::new()
        .arg("bt")
        .arg(&path)
        .arg("-a")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no CPU registers"), "{stderr}");
    let info = json(&["info", "--json"], &path);
    assert!(
        info["warnings"].to_string().contains("no CPU state"),
        "{info}"
    );
    // Sleeping tasks still unwind from their saved stacks: bt of PID 2 (kthreadd).
    let elf = text(&["bt", "2"], &qemu_elf("sysrq").unwrap());
    assert_eq!(text(&["bt", "2"], &path), elf);
}

#[test]
fn triage_finds_the_crash_it_finds_on_the_elf() {
    let elf = json(&["triage", "--json"], &qemu_elf("sysrq").unwrap());
    for variant in WITH_CPU_STATE {
        let path = generate("sysrq", variant).unwrap();
        let ours = json(&["triage", "--json"], &path);
        for key in ["title", "class", "signature"] {
            assert_eq!(ours[key], elf[key], "{variant:?}: {key}");
        }
    }
}
