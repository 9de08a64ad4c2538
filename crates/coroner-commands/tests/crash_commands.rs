//! crash's commands that coroner adds (`p`, `kmem`, `list`, `task`, `log -T`,
//! `mach`, `runq`, ...) against crash 8.0.2's own output: every line of
//! tests/data/crash/commands.txt, recorded by record.sh with the fixture
//! kernel's DWARF vmlinux, runs through the registry in one session per dump, in
//! file order (so gdb's `$N` value numbers run on as in crash's session), and
//! its text must equal crash's byte for byte. A line crash failed on
//! (`p: gdb request failed: ...`) must fail in coroner too. crash's own
//! `WARNING:` lines, which coroner writes as warnings (stderr), are compared
//! with coroner's warnings instead. Known differences are listed in
//! tests/data/crash/README.md and checked here as such.

use coroner_commands::{Registry, Session};
use coroner_report::Format;
use coroner_testdata::{fixtures_dir, fp_vmlinux};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crash")
}

/// commands.txt's lines: (name, dump path, crash command), in file order.
fn commands() -> Vec<(String, PathBuf, String)> {
    let text = std::fs::read_to_string(data_dir().join("commands.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next().unwrap().to_string();
            let fixture = words.next().unwrap();
            let file = words.next().unwrap();
            let command = words.collect::<Vec<_>>().join(" ");
            (name, fixtures_dir().join(fixture).join(file), command)
        })
        .collect()
}

/// crash's recorded text, split into its `WARNING:` lines and the rest.
fn recorded(name: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(data_dir().join(format!("{name}.txt"))).unwrap();
    let mut rest = String::new();
    let mut warnings = Vec::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("WARNING: ") {
            Some(w) => warnings.push(w.trim_end().to_string()),
            None => rest.push_str(line),
        }
    }
    (rest, warnings)
}

/// What coroner prints for `line` in `session`: its text and warnings, or the
/// error.
fn run(session: &Session, line: &str) -> Result<(String, Vec<String>), String> {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let (output, form) = Registry::builtin()
        .run_line(session, &words)
        .map_err(|e| e.to_string())?;
    assert_eq!(form, Format::Text);
    let mut text = Vec::new();
    output.report.render(Format::Text, &mut text).unwrap();
    let warnings = output
        .report
        .warnings()
        .iter()
        .map(|w| w.text.clone())
        .collect();
    Ok((String::from_utf8(text).unwrap(), warnings))
}

#[test]
fn each_recorded_command_prints_what_crash_printed() {
    let vmlinux = fp_vmlinux();
    let all = commands();
    assert!(all.len() >= 40, "{} commands", all.len());
    let mut dumps: Vec<&PathBuf> = all.iter().map(|(_, d, _)| d).collect();
    dumps.dedup();
    let mut failures = Vec::new();
    for dump in dumps {
        let session = Session::new(dump.clone(), None).with_vmlinux(Some(vmlinux.clone()));
        for (name, _, command) in all.iter().filter(|(_, d, _)| d == dump) {
            let (expected, crash_warnings) = recorded(name);
            let got = run(&session, command);
            let crash_failed = expected.contains("gdb request failed");
            match (got, crash_failed) {
                (Err(_), true) => {}
                (Err(e), false) => failures.push(format!("{name}: `{command}` failed: {e}")),
                (Ok((text, _)), true) => {
                    failures.push(format!("{name}: crash failed, coroner printed:\n{text}"))
                }
                (Ok((text, warnings)), false) => {
                    // A known difference: coroner's text is recorded beside
                    // crash's, and README.md says why they differ.
                    let known = data_dir().join(format!("{name}.coroner.txt"));
                    let expected = std::fs::read_to_string(known).unwrap_or(expected);
                    if text != expected {
                        failures.push(format!(
                            "{name}: `{command}`\n--- crash\n{expected}--- coroner\n{text}"
                        ));
                    }
                    for w in crash_warnings {
                        if !warnings.contains(&w) {
                            failures.push(format!("{name}: no warning {w:?} in {warnings:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The value history runs on through a session, and `--json` holds what the
/// text shows.
#[test]
fn p_numbers_values_in_a_session_and_prints_json() {
    let dump = fixtures_dir().join("kdump-sysrq/vmcore.kdump-mdf-d31-zlib");
    let session = Session::new(dump, None);
    let (first, _) = run(&session, "p nr_cpu_ids").unwrap();
    assert_eq!(first, "nr_cpu_ids = $1 = 2\n");
    let (second, _) = run(&session, "p init_task.pid").unwrap();
    assert_eq!(second, "$2 = 0\n");
    // A failed print takes no number.
    assert!(run(&session, "p no_such_symbol_here").is_err());
    let words: Vec<String> = ["p", "init_task.comm", "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (output, form) = Registry::builtin().run_line(&session, &words).unwrap();
    assert_eq!(form, Format::Json);
    let mut json = Vec::new();
    output.report.render(Format::Json, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["schema"], "coroner.p/1");
    assert_eq!(v["values"][0]["number"], 3);
    assert_eq!(v["values"][0]["value"], "swapper/0");
    assert_eq!(v["values"][0]["type"], "char [16]");
    // init_task's type comes from the table of declared types on a BTF kernel.
    assert!(v["warnings"][0]["text"]
        .as_str()
        .unwrap()
        .contains("init_task"));
}

#[test]
fn p_refuses_bad_expressions_with_reasons() {
    let dump = fixtures_dir().join("kdump-sysrq/vmcore.kdump-mdf-d31-zlib");
    let session = Session::new(dump, None);
    for (line, why) in [
        (
            "p init_task.no_such_member",
            "There is no member named no_such_member.",
        ),
        ("p init_task.", "expected a name"),
        (
            "p *jiffies",
            "Attempt to take contents of a non-pointer value.",
        ),
        ("p 0x", "invalid number"),
        (
            "p (struct no_such_type *)0",
            "No symbol \"struct no_such_type\"",
        ),
        (
            "p *(struct task_struct *)0",
            "Cannot access memory at address 0x0",
        ),
        ("p runqueues:9", "invalid cpu specification"),
    ] {
        let err = run(&session, line).unwrap_err();
        assert!(err.contains(why), "{line}: {err}");
    }
}

/// `kmem -i` on every shipped dump of the Debian kernel (BTF, no vmlinux) equals
/// crash's `crash-kmem-i.txt` recorded with the full DWARF vmlinux.
#[test]
fn kmem_i_equals_crash_on_every_shipped_dump() {
    let mut compared = 0;
    for crash in ["sysrq", "kdump-sysrq", "mod-null"] {
        for dump in coroner_testdata::shipped_dumps(crash) {
            let reference =
                coroner_testdata::reference_dir(crash, Some(&dump)).join("crash-kmem-i.txt");
            let Ok(expected) = std::fs::read_to_string(&reference) else {
                continue;
            };
            let session = Session::new(dump.clone(), None);
            let (text, _) = run(&session, "kmem -i").unwrap();
            assert_eq!(text, expected, "{}", dump.display());
            compared += 1;
        }
    }
    assert!(compared >= 6, "{compared} dumps compared");
}

/// `foreach ps` is crash's `ps` line of every task under one header, which is
/// what `ps` prints.
#[test]
fn foreach_ps_prints_ps() {
    let dump = fixtures_dir().join("kdump-sysrq/vmcore.kdump-mdf-d31-zlib");
    let session = Session::new(dump, None);
    let (each, _) = run(&session, "foreach ps").unwrap();
    let (ps, _) = run(&session, "ps").unwrap();
    assert_eq!(each, ps);
    assert!(each.lines().count() > 30, "{each}");
}

/// `vm`'s VMAs, walked from the 6.1 maple tree, are in order, do not overlap,
/// and add up to the mm's `total_vm` (which crash prints too).
#[test]
fn vm_areas_add_up_to_total_vm() {
    let vmlinux = fp_vmlinux();
    for dump in [
        "fp-nobtf/sysrq/vmcore.mdf-d31-zlib",
        "fp-nobtf/mod-null/vmcore.mdf-d31-zlib",
        "fp-nobtf/kdump-sysrq/vmcore.kdump-mdf-d31-zlib",
    ] {
        let session =
            Session::new(fixtures_dir().join(dump), None).with_vmlinux(Some(vmlinux.clone()));
        let words: Vec<String> = ["vm", "1", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (output, _) = Registry::builtin().run_line(&session, &words).unwrap();
        let mut json = Vec::new();
        output.report.render(Format::Json, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let task = &v["tasks"][0];
        let vmas = task["vmas"].as_array().unwrap();
        assert!(vmas.len() >= 5, "{dump}: {} VMAs", vmas.len());
        let hex = |x: &serde_json::Value| {
            u64::from_str_radix(x.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        };
        let mut previous_end = 0;
        let mut kib = 0;
        for vma in vmas {
            let (start, end) = (hex(&vma["start"]), hex(&vma["end"]));
            assert!(start >= previous_end && end > start, "{dump}: {vma}");
            previous_end = end;
            kib += (end - start) / 1024;
        }
        assert_eq!(kib, task["total_vm_kib"].as_u64().unwrap(), "{dump}");
        assert_eq!(vmas[0]["file"], "/bin/busybox", "{dump}");
    }
}

/// FNV-1a (64-bit) of `bytes`: a fixed checksum the recorded file can hold in
/// place of crash's 4.5 MB `kmem -p` text.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Full `kmem -p` (a line for each of the 65536 pages) is crash's byte for
/// byte: its line count and checksum, recorded from crash's text
/// (kmem-p@sysrq.fnv, see README.md), against coroner's.
#[test]
fn kmem_p_lists_every_page_as_crash_does() {
    let dump = fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib");
    let session = Session::new(dump, None).with_vmlinux(Some(fp_vmlinux()));
    let (text, _) = run(&session, "kmem -p").unwrap();
    let recorded = std::fs::read_to_string(data_dir().join("kmem-p@sysrq.fnv")).unwrap();
    let mut words = recorded.split_whitespace();
    let lines: usize = words.next().unwrap().parse().unwrap();
    let sum = u64::from_str_radix(words.next().unwrap(), 16).unwrap();
    assert_eq!(text.lines().count(), lines);
    assert_eq!(
        fnv1a64(text.as_bytes()),
        sum,
        "{}",
        &text[..text.len().min(2000)]
    );
}
