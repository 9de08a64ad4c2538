//! Dumps as QEMU writes them, made fresh by the fixture factory: a 128 MiB guest of
//! the fixtures' Debian kernel crashed with sysrq, dumped by QMP `dump-guest-memory`
//! as ELF and as kdump-zlib (QEMU 7.2 writes that as makedumpfile's flattened stream).
//! Both must open, `coroner info --json` must agree with the manifests the factory
//! writes, and every page present in both must hold the same bytes.
//!
//! Needs the factory set up by `.ci/fixtures-setup`, which `qemu::factory_or_skip`
//! runs first when this machine lacks it (as root, once); when it cannot, the tests
//! fail saying why, unless `CORONER_SKIP_QEMU=1`.

use coroner_dump::{Dump, PageState, PhysMemory};
use coroner_testdata::qemu;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const RAM_MB: u64 = 128;

/// One fresh dump per test run, shared by the tests of this file.
fn dump_dir(test: &str) -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let factory = qemu::factory_or_skip(test)?;
    let dir = DIR.get_or_init(|| {
        let t0 = std::time::Instant::now();
        let dir = qemu::fresh_dump(&factory, "qemu-sysrq", "sysrq", RAM_MB as u32);
        eprintln!(
            "fresh QEMU dump in {:.1}s: {}",
            t0.elapsed().as_secs_f64(),
            dir.display()
        );
        Some(dir)
    });
    dir.as_deref()
}

fn manifest(dir: &Path, file: &str) -> Value {
    let path = dir.join(format!("{file}.manifest.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn info(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("info")
        .arg("--json")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "coroner info {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

const QEMU_FILES: [&str; 2] = ["vmcore.qemu-elf", "vmcore.qemu-kdump-zlib"];

#[test]
fn qemu_dumps_open_and_info_agrees_with_the_factory_manifests() {
    let Some(dir) = dump_dir("qemu_dumps_open_and_info_agrees_with_the_factory_manifests") else {
        return;
    };
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("qemu-run.json")).unwrap())
            .expect("qemu-run.json");
    let mut memory = Vec::new();
    for file in QEMU_FILES {
        let path = dir.join(file);
        let m = manifest(dir, file);
        let r = info(&path);
        let ctx = path.display();
        // What QMP was asked for: `elf`, or `kdump-<compression>`.
        let qmp_format = m["how_made"]["qmp"]["arguments"]["format"]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: manifest names no QMP format"));
        assert_eq!(run["dumps"][qmp_format]["path"], path.to_str().unwrap());
        let (format, flattened) = match m["format"].as_str().unwrap() {
            "ELF" => ("elf", false),
            "kdump-compressed" => ("kdump-compressed", false),
            "makedumpfile-flattened" => ("kdump-compressed", true),
            other => panic!("{ctx}: unknown manifest format {other}"),
        };
        assert_eq!(r["format"], format, "{ctx}");
        assert_eq!(r["flattened"], flattened, "{ctx}");
        let compression = qmp_format.strip_prefix("kdump-").unwrap_or("none");
        assert_eq!(r["compression"], serde_json::json!([compression]), "{ctx}");
        assert_eq!(r["release"], m["release"], "{ctx}");
        assert_eq!(r["build_id"], m["build_id"], "{ctx}");
        let kaslr = format!(
            "0x{}",
            m["kaslr_kerneloffset"].as_str().expect("KERNELOFFSET")
        );
        assert_eq!(r["kaslr_offset"], kaslr.as_str(), "{ctx}");
        assert_eq!(r["cpus"], m["vcpus"], "{ctx}");
        assert_eq!(
            r["cpu_register_notes"], m["vcpus"],
            "{ctx}: one PRSTATUS per vCPU"
        );
        assert_eq!(r["arch"], "x86_64", "{ctx}");
        assert_eq!(
            r["vmcoreinfo"], "note",
            "{ctx}: QEMU ran with -device vmcoreinfo"
        );
        assert_eq!(
            r["crash_time"],
            Value::Null,
            "{ctx}: QEMU records no crash time"
        );
        assert_eq!(r["warnings"], serde_json::json!([]), "{ctx}");
        assert_eq!(r["pages"]["missing"], 0, "{ctx}");
        assert_eq!(r["pages"]["excluded"], 0, "{ctx}: QEMU filters nothing");
        assert_eq!(m["guest_ram_mb"], RAM_MB);
        // All of the guest's RAM, plus the BIOS ROM QEMU dumps with it.
        let mem = r["memory_bytes"].as_u64().unwrap();
        let ram = RAM_MB << 20;
        assert!(
            (ram..=ram + (1 << 20)).contains(&mem),
            "{ctx}: memory {mem} vs guest RAM {ram}"
        );
        memory.push(mem);
    }
    assert_eq!(
        memory[0], memory[1],
        "both QEMU dumps cover the same memory"
    );
}

#[test]
fn qemu_elf_and_kdump_zlib_hold_identical_memory() {
    let Some(dir) = dump_dir("qemu_elf_and_kdump_zlib_hold_identical_memory") else {
        return;
    };
    let elf = Dump::open(dir.join("vmcore.qemu-elf")).unwrap();
    let kdump = Dump::open(dir.join("vmcore.qemu-kdump-zlib")).unwrap();
    assert!(
        kdump.info().flattened,
        "QEMU 7.2 writes kdump as a flattened stream"
    );
    let ps = elf.page_size();
    assert_eq!(ps, kdump.page_size());
    let (mut a, mut b) = (vec![0u8; ps as usize], vec![0u8; ps as usize]);
    let (mut compared, mut zero_in_elf, mut elf_pages) = (0u64, 0u64, 0u64);
    for (start, end) in elf.stored_ranges() {
        for pfn in start / ps..end / ps {
            if elf.page_state(pfn) != PageState::Present {
                continue;
            }
            elf_pages += 1;
            elf.read_phys(pfn * ps, &mut a)
                .unwrap_or_else(|e| panic!("ELF pfn {pfn:#x}: {e}"));
            let zero = a.iter().all(|&x| x == 0);
            zero_in_elf += zero as u64;
            let state = kdump.page_state(pfn);
            if !matches!(state, PageState::Present | PageState::Zero) {
                continue;
            }
            kdump
                .read_phys(pfn * ps, &mut b)
                .unwrap_or_else(|e| panic!("kdump-zlib pfn {pfn:#x}: {e}"));
            assert!(a == b, "pfn {pfn:#x}: kdump-zlib differs from the ELF");
            assert_eq!(
                state == PageState::Zero,
                zero,
                "pfn {pfn:#x}: zero-page state"
            );
            compared += 1;
        }
    }
    // QEMU's kdump keeps every page of the ELF (zero pages as its shared zero page),
    // and the census of each file says as much.
    let (ec, kc) = (elf.census().counts, kdump.census().counts);
    assert_eq!(elf_pages, ec.present);
    assert_eq!(compared, elf_pages, "pages of the ELF the kdump-zlib lacks");
    assert_eq!(kc.present + kc.zero, compared);
    assert_eq!(kc.zero, zero_in_elf);
    assert!(
        compared >= (RAM_MB << 20) / ps,
        "only {compared} pages compared"
    );
    println!("{compared} pages identical ({zero_in_elf} zero)");
}
