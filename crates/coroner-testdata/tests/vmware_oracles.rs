//! The VMware generator checked by readers that are not coroner: volatility3 must
//! find the kernel banner at the guest-physical address where the QEMU ELF holds
//! it (so it read our group table, tags and regions as we meant them), and crash
//! 8.0.2 must print for the generated `.vmss` and inline `.vmsn` the `sys` and
//! `bt -a` it printed for the QEMU ELF (`ref/vmcore.qemu-elf/`).
//!
//! Installs `vol` (`pip install volatility3`) and `crash` (`apt-get install crash`)
//! when they are missing, as the other tests install their tools; when that cannot
//! be done the tests fail saying so, unless `CORONER_SKIP_ORACLES=1`. crash
//! also needs the kernel's DWARF vmlinux (the 858 MB `-dbg` package, which CI does
//! not fetch): the factory's `$KDIR/dbg/...` (its `00-setup-host.sh` without
//! `NO_DBG=1`) or `CORONER_VMLINUX`; without it that test is skipped, loudly.

use coroner_testdata::vmware::{generate, QemuElf, Variant};
use coroner_testdata::{crash_dir, qemu_elf, setup};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

const SKIP_VAR: &str = "CORONER_SKIP_ORACLES";

fn skip(test: &str, why: &str) {
    // Straight to the process's stderr: libtest captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n"
    );
}

/// True when `name` is installed or could be installed now; else a failure saying
/// how to install it, or a loud skip (false) when `CORONER_SKIP_ORACLES=1`.
fn have(test: &str, name: &str, install: &str) -> bool {
    let installed = match name {
        "vol" => setup::pip_install("vol", "volatility3"),
        _ => setup::apt_install(&[name], &[name]),
    };
    match installed {
        Ok(()) => true,
        Err(why) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
            skip(
                test,
                &format!("no `{name}` ({install}: {why}); {SKIP_VAR}=1 is set"),
            );
            false
        }
        Err(why) => panic!("{test} needs `{name}`: {why} (or set {SKIP_VAR}=1 to skip)"),
    }
}

/// (guest-physical offset, banner) lines of volatility3's `banners.Banners`.
fn vol_banners(vmem: &std::path::Path) -> Vec<(u64, String)> {
    let out = Command::new("vol")
        .args(["-q", "-f"])
        .arg(vmem)
        .arg("banners.Banners")
        .output()
        .expect("run vol");
    assert!(
        out.status.success(),
        "vol failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (offset, banner) = l.split_once('\t')?;
            let offset = u64::from_str_radix(offset.strip_prefix("0x")?, 16).ok()?;
            Some((offset, banner.to_string()))
        })
        .collect()
}

#[test]
fn volatility3_finds_the_banner_where_the_elf_has_it() {
    let test = "volatility3_finds_the_banner_where_the_elf_has_it";
    if !have(test, "vol", "pip install volatility3") {
        return;
    }
    let elf = QemuElf::read(&qemu_elf("sysrq").unwrap());
    let ram_at = elf.loads.iter().find(|l| l.paddr == 0).unwrap().offset;
    let bytes = std::fs::read(&elf.path).unwrap();
    let mut seen = None;
    for variant in [Variant::Vmss, Variant::VmsnHoles] {
        let vmem = generate("sysrq", variant).unwrap().with_extension("vmem");
        let banners = vol_banners(&vmem);
        assert!(
            !banners.is_empty(),
            "{variant:?}: volatility3 found no banner"
        );
        for (paddr, banner) in &banners {
            // The ELF's RAM segment starts at guest-physical 0.
            let at = (ram_at + paddr) as usize;
            let want = &banner.as_bytes()[..60.min(banner.len())];
            assert_eq!(
                &bytes[at..at + want.len()],
                want,
                "{variant:?}: banner at {paddr:#x} is not in the ELF there"
            );
        }
        // The three-region file maps them to the same guest addresses.
        assert_eq!(*seen.get_or_insert(banners.clone()), banners, "{variant:?}");
    }
}

fn dwarf_vmlinux() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CORONER_VMLINUX") {
        return Some(PathBuf::from(p));
    }
    let factory = coroner_testdata::fixtures_dir().join("factory/config.sh");
    let out = Command::new("bash")
        .args(["-c", r#". "$1" && printf '%s' "$VMLINUX""#, "bash"])
        .arg(factory)
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned());
    path.is_file().then_some(path)
}

#[test]
fn crash_prints_the_sys_and_bt_it_printed_for_the_elf() {
    let test = "crash_prints_the_sys_and_bt_it_printed_for_the_elf";
    if !have(test, "crash", "apt-get install crash") {
        return;
    }
    let Some(vmlinux) = dwarf_vmlinux() else {
        skip(
            test,
            "no DWARF vmlinux of 6.1.0-56-amd64: set CORONER_VMLINUX, or run the factory's \
             00-setup-host.sh without NO_DBG=1 (or `apt-get download linux-image-6.1.0-56-amd64-dbg` \
             and extract usr/lib/debug/boot/vmlinux-6.1.0-56-amd64)",
        );
        return;
    };
    let refs = crash_dir("sysrq").join("ref/vmcore.qemu-elf");
    let expected = [
        std::fs::read_to_string(refs.join("crash-sys.txt")).unwrap(),
        std::fs::read_to_string(refs.join("crash-bt-a.txt")).unwrap(),
    ]
    .concat();
    let script = std::env::temp_dir().join(format!("coroner-crash-{}.cmds", std::process::id()));
    std::fs::write(&script, "sys\nbt -a\nq\n").unwrap();
    for variant in [Variant::Vmss, Variant::VmsnInline] {
        let file = generate("sysrq", variant).unwrap();
        let out = Command::new("crash")
            .arg("-s")
            .arg("-i")
            .arg(&script)
            .arg(&vmlinux)
            .arg(&file)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run crash");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{variant:?}: crash failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            coroner_testdata::crash_comparable(&text),
            coroner_testdata::crash_comparable(&expected),
            "{variant:?}"
        );
    }
    std::fs::remove_file(script).unwrap();
}
