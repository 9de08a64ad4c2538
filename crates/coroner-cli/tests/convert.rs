//! `coroner convert` checked by what it must satisfy: the output holds the input's
//! memory, registers and VMCOREINFO (read back by coroner-dump), coroner's `bt -a`
//! is the same on both, and the peer tools open it as they open the original:
//! makedumpfile (`--dump-dmesg` equals the fixture's log; `-d 31` filters it), crash
//! 8.0.2 (`sys` and `bt -a` equal its reference output on the original dump) and
//! drgn (the fixture's reference script prints the same; without a vmlinux it reads
//! the kernel image at its KASLR address).
//!
//! Inputs: the VMware files coroner-testdata generates from the sysrq crash, a
//! kdump-compressed fixture, and the fp-nobtf fixtures (whose DWARF vmlinux ships,
//! so crash and drgn can run on any machine), including VMware files made from them.
//! The tools are installed when missing; without them the tests fail saying so,
//! unless `CORONER_SKIP_ORACLES=1` (then they skip, loudly).

use coroner_dump::{Dump, Note, PhysMemory};
use coroner_testdata::vmware::{generate, generate_from, QemuElf, Variant};
use coroner_testdata::{crash_dir, fixtures_dir, fp_vmlinux, qemu_elf, setup};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

const SKIP_VAR: &str = "CORONER_SKIP_ORACLES";

fn coroner(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg(args[0])
        .args(paths)
        .args(&args[1..])
        .output()
        .expect("run coroner")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Converts `input` to an ELF at `output`; the JSON report.
fn convert(input: &Path, output: &Path) -> serde_json::Value {
    let text = ok(
        coroner(&["convert", "--json"], &[input, output]),
        &format!("convert {}", input.display()),
    );
    serde_json::from_str(&text).unwrap()
}

fn bt_a(dump: &Path) -> String {
    ok(coroner(&["bt", "-a"], &[dump]), "bt -a")
}

fn prstatus(dump: &Dump) -> Vec<Note> {
    dump.notes()
        .iter()
        .filter(|n| n.is_prstatus())
        .cloned()
        .collect()
}

/// Every byte the input stores reads the same from the output; every RAM byte
/// of the input is RAM in the output.
fn assert_same_memory(input: &Dump, output: &Dump) {
    assert_eq!(output.ram_ranges(), input.ram_ranges());
    let mut a = vec![0u8; 1 << 20];
    let mut b = a.clone();
    for (start, end) in input.stored_ranges() {
        let mut at = start;
        while at < end {
            let n = ((end - at) as usize).min(a.len());
            input.read_phys(at, &mut a[..n]).unwrap();
            output.read_phys(at, &mut b[..n]).unwrap();
            assert!(a[..n] == b[..n], "memory at {at:#x} differs");
            at += n as u64;
        }
    }
}

#[test]
fn vmware_files_become_vmcores_with_their_memory_registers_and_bt() {
    let tmp = tempfile::tempdir().unwrap();
    for variant in [
        Variant::Vmss,
        Variant::VmsnHoles,
        Variant::VmsnInline,
        Variant::VmemAlone,
    ] {
        let input = generate("sysrq", variant).unwrap();
        let output = tmp.path().join(format!("{variant:?}.elf"));
        let report = convert(&input, &output);
        let (din, dout) = (Dump::open(&input).unwrap(), Dump::open(&output).unwrap());
        assert_eq!(report["format"], "elf");
        assert_eq!(report["vmcoreinfo"], "memory scan", "{variant:?}");
        assert_eq!(dout.info().vmcoreinfo_source, Some("note"), "{variant:?}");
        assert_eq!(dout.vmcoreinfo(), din.vmcoreinfo(), "{variant:?}");
        assert_same_memory(&din, &dout);
        assert_eq!(prstatus(&dout), prstatus(&din), "{variant:?}");
        let cpus = if variant == Variant::VmemAlone { 0 } else { 2 };
        assert_eq!(report["cpus"], cpus, "{variant:?}");
        // The kernel-text PT_LOAD says phys_base as VMCOREINFO does.
        let info: serde_json::Value =
            serde_json::from_str(&ok(coroner(&["info", "--json"], &[&input]), "info")).unwrap();
        assert_eq!(report["kernel_image"]["phys_base"], info["phys_base"]);
        assert_eq!(report["kernel_image"]["kaslr_offset"], info["kaslr_offset"]);
        assert_eq!(
            dout.info().phys_base.map(|p| format!("{p:#x}")).as_deref(),
            info["phys_base"].as_str(),
            "coroner-dump reads phys_base from the kernel-text PT_LOAD"
        );
        if cpus > 0 {
            let bt = bt_a(&input);
            assert!(bt.contains("sysrq_handle_crash"), "{bt}");
            assert_eq!(bt_a(&output), bt, "{variant:?}");
        }
        std::fs::remove_file(&output).unwrap();
    }
}

/// A copy of `checkpoint` (a `.vmss` with its `.vmem`) in `dir` whose memory has
/// every VMCOREINFO text blanked: a kernel built without it.
fn without_vmcoreinfo(checkpoint: &Path, dir: &Path) -> std::path::PathBuf {
    use std::io::{Read, Seek, SeekFrom};
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join(checkpoint.file_name().unwrap());
    std::fs::copy(checkpoint, &copy).unwrap();
    let vmem = copy.with_extension("vmem");
    std::fs::copy(checkpoint.with_extension("vmem"), &vmem).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&vmem)
        .unwrap();
    // 16 MiB at a time, overlapping by the most a VMCOREINFO text takes.
    let (step, overlap) = (16usize << 20, 8192usize);
    let mut buf = vec![0u8; step + overlap];
    let mut blanked = 0;
    let mut at = 0u64;
    loop {
        f.seek(SeekFrom::Start(at)).unwrap();
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]).unwrap() {
                0 => break,
                got => n += got,
            }
        }
        let mut writes = Vec::new();
        let mut from = 0;
        while let Some(i) = buf[from..n]
            .windows(11)
            .position(|w| w.starts_with(b"OSRELEASE=") && w[10].is_ascii_digit())
        {
            let start = from + i;
            let len = buf[start..n]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(n - start);
            writes.push((at + start as u64, len));
            from = start + len;
        }
        for (off, len) in writes {
            f.seek(SeekFrom::Start(off)).unwrap();
            f.write_all(&vec![0; len]).unwrap();
            blanked += 1;
        }
        if n < buf.len() {
            break;
        }
        at += step as u64;
    }
    assert!(blanked > 0, "no VMCOREINFO text in {}", vmem.display());
    copy
}

#[test]
fn without_vmcoreinfo_the_kernel_is_found_from_the_vcpus_page_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let original = generate("sysrq", Variant::Vmss).unwrap();
    let blank = without_vmcoreinfo(&original, &tmp.path().join("blank"));
    let with = convert(&original, &tmp.path().join("with.elf"));
    let output = tmp.path().join("without.elf");
    let without = convert(&blank, &output);
    assert_eq!(without["vmcoreinfo"], serde_json::Value::Null);
    let (a, b) = (&with["kernel_image"], &without["kernel_image"]);
    for key in ["vaddr", "paddr", "size", "phys_base", "kaslr_offset"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(b["found_by"], "page tables");
    assert_eq!(b["release"], "6.1.0-56-amd64");
    let dump = Dump::open(&output).unwrap();
    assert!(dump.vmcoreinfo().is_none());
    // The CPU notes crash computes the KASLR offset from are kept.
    assert_eq!(dump.notes().iter().filter(|n| n.name == "QEMU").count(), 2);
}

#[test]
fn a_virtualbox_core_reads_and_converts_as_the_qemu_dump_it_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let qemu = qemu_elf("sysrq").unwrap();
    let vbox = tmp.path().join("guest.core");
    coroner_testdata::vbox::write(&QemuElf::read(&qemu), &vbox).unwrap();
    let bt = bt_a(&qemu);
    assert_eq!(bt_a(&vbox), bt, "the VBCPU notes give the registers");
    let output = tmp.path().join("guest.elf");
    let report = convert(&vbox, &output);
    assert_eq!(report["cpus"], 2);
    assert_eq!(report["vmcoreinfo"], "memory scan");
    assert_eq!(bt_a(&output), bt);
    let (din, dout) = (Dump::open(&vbox).unwrap(), Dump::open(&output).unwrap());
    assert_same_memory(&din, &dout);
}

#[test]
fn a_kdump_file_becomes_a_vmcore_with_its_log_and_bt() {
    let tmp = tempfile::tempdir().unwrap();
    let input = crash_dir("sysrq").join("vmcore.mdf-d31-lzo");
    let output = tmp.path().join("lzo.elf");
    let report = convert(&input, &output);
    assert_eq!(report["vmcoreinfo"], "note");
    let (din, dout) = (Dump::open(&input).unwrap(), Dump::open(&output).unwrap());
    assert_same_memory(&din, &dout);
    // Pages the dump level left out are mostly not in the file (past p_filesz;
    // short runs of them between kept pages are written as zeros).
    let kept = din.census().counts.present * 4096;
    let size = std::fs::metadata(&output).unwrap().len();
    assert!(
        size < 2 * kept,
        "{size} bytes for {kept} bytes of kept pages"
    );
    assert_eq!(
        ok(coroner(&["dmesg"], &[&output]), "dmesg"),
        ok(coroner(&["dmesg"], &[&input]), "dmesg")
    );
    assert_eq!(bt_a(&output), bt_a(&input));
}

#[test]
fn options_that_do_not_fit_together_are_refused_and_leave_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = crash_dir("sysrq").join("vmcore.mdf-d31-lzo");
    let output = tmp.path().join("out");
    for (args, says) in [
        (&["convert", "-d", "31"][..], "add --format kdump"),
        (&["convert", "-c"][..], "ELF output is not compressed"),
        (&["convert", "-d", "32"][..], "out of range"),
    ] {
        let out = coroner(args, &[&input, &output]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = coroner(&["convert"], &[&input, &input]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the input"));
    let missing = tmp.path().join("nothing.vmss");
    let out = coroner(&["convert"], &[&missing, &output]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing.vmss"));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

fn skip(test: &str, why: &str) {
    // Straight to the process's stderr: libtest captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n"
    );
}

/// True when `tool` is installed or could be installed now; else a failure, or a
/// loud skip (false) with `CORONER_SKIP_ORACLES=1`.
fn have(test: &str, tool: &str) -> bool {
    let installed = match tool {
        "drgn" => setup::pip_install("drgn", "drgn"),
        "makedumpfile" => setup::tools(),
        _ => setup::apt_install(&[tool], &[tool]),
    };
    match installed {
        Ok(()) => true,
        Err(why) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
            skip(test, &format!("no {tool} ({why}); {SKIP_VAR}=1 is set"));
            false
        }
        Err(why) => panic!("{test} needs {tool}: {why} (or set {SKIP_VAR}=1 to skip)"),
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn makedumpfile_reads_the_log_and_filters_the_vmcore() {
    let test = "makedumpfile_reads_the_log_and_filters_the_vmcore";
    if !have(test, "makedumpfile") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let expected = std::fs::read(crash_dir("sysrq").join("dmesg.makedumpfile.txt")).unwrap();
    for variant in [Variant::Vmss, Variant::VmsnHoles] {
        let input = generate("sysrq", variant).unwrap();
        let elf = tmp.path().join("guest.elf");
        convert(&input, &elf);
        let log = tmp.path().join("dmesg.txt");
        run(Command::new("makedumpfile")
            .arg("--dump-dmesg")
            .arg(&elf)
            .arg(&log));
        assert!(
            std::fs::read(&log).unwrap() == expected,
            "{variant:?}: makedumpfile's log differs"
        );
        let filtered = tmp.path().join("guest.d31");
        run(Command::new("makedumpfile")
            .args(["-d", "31", "-c"])
            .arg(&elf)
            .arg(&filtered));
        assert_eq!(bt_a(&filtered), bt_a(&input), "{variant:?}");
        // Our kdump output at the same level keeps the same pages as makedumpfile's,
        // and makedumpfile reads its log.
        let ours = tmp.path().join("guest.kdump");
        let ours_log = tmp.path().join("guest.kdump.dmesg");
        ok(
            coroner(
                &["convert", "--format", "kdump", "-d", "31", "-l"],
                &[&input, &ours],
            ),
            "convert --format kdump",
        );
        let (theirs_dump, ours_dump) = (Dump::open(&filtered).unwrap(), Dump::open(&ours).unwrap());
        assert_eq!(
            ours_dump.info().format.name(),
            theirs_dump.info().format.name()
        );
        assert_eq!(
            ours_dump.stored_ranges(),
            theirs_dump.stored_ranges(),
            "{variant:?}: the pages kept at -d 31"
        );
        assert_same_memory(&theirs_dump, &ours_dump);
        run(Command::new("makedumpfile")
            .arg("--dump-dmesg")
            .arg(&ours)
            .arg(&ours_log));
        assert!(
            std::fs::read(&ours_log).unwrap() == expected,
            "{variant:?}: makedumpfile's log of our kdump output differs"
        );
        assert_eq!(bt_a(&ours), bt_a(&input), "{variant:?}");
        for f in [&elf, &log, &filtered, &ours, &ours_log] {
            std::fs::remove_file(f).unwrap();
        }
    }
}

/// The fp-nobtf fixtures: (folder, shipped dump).
const FP: [(&str, &str); 3] = [
    ("fp-nobtf/sysrq", "vmcore.mdf-d31-zlib"),
    ("fp-nobtf/mod-null", "vmcore.mdf-d31-zlib"),
    ("fp-nobtf/kdump-sysrq", "vmcore.kdump-mdf-d31-zlib"),
];

fn crash_sys_bt(dump: &Path, script: &Path) -> String {
    run(Command::new("crash")
        .arg("-s")
        .arg("-i")
        .arg(script)
        .arg(fp_vmlinux())
        .arg(dump)
        .stdin(std::process::Stdio::null()))
}

#[test]
fn crash_prints_for_the_vmcore_what_it_printed_for_the_original() {
    let test = "crash_prints_for_the_vmcore_what_it_printed_for_the_original";
    if !have(test, "crash") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("cmds");
    std::fs::write(&script, "sys\nbt -a\nq\n").unwrap();
    for (folder, file) in FP {
        let refs = fixtures_dir().join(folder).join("ref").join(file);
        let expected = [
            std::fs::read_to_string(refs.join("crash-sys.txt")).unwrap(),
            std::fs::read_to_string(refs.join("crash-bt-a.txt")).unwrap(),
        ]
        .concat();
        let elf = tmp.path().join(format!("{}.elf", folder.replace('/', "-")));
        convert(&fixtures_dir().join(folder).join(file), &elf);
        let text = crash_sys_bt(&elf, &script);
        assert_eq!(
            coroner_testdata::crash_comparable(&text),
            coroner_testdata::crash_comparable(&expected),
            "{folder}"
        );
        if folder != "fp-nobtf/sysrq" {
            std::fs::remove_file(&elf).unwrap();
            continue;
        }
        // VMware files of that crash (made from the vmcore: a QEMU dump's
        // registers and notes), converted back: crash reads both as the original.
        let vm = tmp.path().join("vmware");
        // And the same kernel without VMCOREINFO: crash finds the KASLR offset
        // from the CPU notes and phys_base from the kernel-text PT_LOAD.
        let blank = without_vmcoreinfo(
            &generate_from(&elf, &vm, "fp-sysrq", Variant::Vmss),
            &tmp.path().join("blank"),
        );
        let again = tmp.path().join("blank.elf");
        convert(&blank, &again);
        assert_eq!(
            coroner_testdata::crash_comparable(&crash_sys_bt(&again, &script)),
            coroner_testdata::crash_comparable(&expected),
            "without VMCOREINFO"
        );
        std::fs::remove_file(&again).unwrap();
        // A VirtualBox core of it, converted: crash does not read VirtualBox's
        // CPU notes, the conversion gives it NT_PRSTATUS.
        let vbox = tmp.path().join("fp.vbox");
        coroner_testdata::vbox::write(&QemuElf::read(&elf), &vbox).unwrap();
        convert(&vbox, &again);
        std::fs::remove_file(&vbox).unwrap();
        assert_eq!(
            coroner_testdata::crash_comparable(&crash_sys_bt(&again, &script)),
            coroner_testdata::crash_comparable(&expected),
            "VirtualBox"
        );
        std::fs::remove_file(&again).unwrap();
        for variant in [Variant::Vmss, Variant::VmsnInline] {
            let checkpoint = generate_from(&elf, &vm, "fp-sysrq", variant);
            let again = tmp.path().join("again.elf");
            convert(&checkpoint, &again);
            for dump in [&checkpoint, &again] {
                let text = crash_sys_bt(dump, &script);
                assert_eq!(
                    coroner_testdata::crash_comparable(&text),
                    coroner_testdata::crash_comparable(&expected),
                    "{variant:?}: {}",
                    dump.display()
                );
            }
        }
    }
}

#[test]
fn drgn_reads_the_vmcore_as_it_read_the_original() {
    let test = "drgn_reads_the_vmcore_as_it_read_the_original";
    if !have(test, "drgn") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = fixtures_dir().join("factory/drgn-ref.py");
    for (folder, file) in [FP[0], FP[2]] {
        let elf = tmp.path().join("fp.elf");
        convert(&fixtures_dir().join(folder).join(file), &elf);
        let text = run(Command::new("drgn")
            .arg("-q")
            .arg("-c")
            .arg(&elf)
            .arg("-s")
            .arg(fp_vmlinux())
            .arg(&script));
        let expected = fixtures_dir()
            .join(folder)
            .join("ref")
            .join(file)
            .join("drgn-vmlinux.txt");
        assert_eq!(text, std::fs::read_to_string(expected).unwrap(), "{folder}");
    }
    // No vmlinux: drgn still finds the kernel under KASLR from the VMCOREINFO
    // note and reads its first bytes at their virtual address.
    let input = generate("sysrq", Variant::VmsnHoles).unwrap();
    let elf = tmp.path().join("guest.elf");
    let report = convert(&input, &elf);
    let image = &report["kernel_image"];
    let hex = |v: &serde_json::Value| u64::from_str_radix(&v.as_str().unwrap()[2..], 16).unwrap();
    let (vaddr, paddr) = (hex(&image["vaddr"]), hex(&image["paddr"]));
    let read = format!(
        "import drgn, sys; p = drgn.program_from_core_dump(sys.argv[1]); \
         print(p.read({vaddr}, 256).hex())"
    );
    let text = run(Command::new("python3").args(["-c", &read]).arg(&elf));
    let mut want = vec![0u8; 256];
    Dump::open(&input)
        .unwrap()
        .read_phys(paddr, &mut want)
        .unwrap();
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(text.trim(), want);
}
