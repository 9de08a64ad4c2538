//! `coroner bt` beside crash 8.0.2's `bt` and `bt -a` on every fixture variant
//! crash was run on, with no vmlinux. Where crash and coroner report a frame at
//! the same stack address, the lines are identical, and so are the register blocks
//! of exception and syscall frames. The frames crash has and coroner has not are
//! stale return addresses crash finds by scanning: each lies inside one of
//! coroner's frames, or below the registers the trace starts from (the kdump
//! crash notes are saved before machine_kexec runs), or on the NMI stack of a
//! CPU the crash NMI stopped (a kdump note holds the context that NMI
//! interrupted, so coroner and drgn start there). Frame sequences themselves are
//! checked against drgn in coroner-program's tests/bt.rs.

mod common;

use common::Coroner;
use coroner_testdata::{all_variants, crash_dir, CRASHES};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// x86-64's cpu_entry_area, where the exception (IST) stacks live.
const CPU_ENTRY_AREA: std::ops::Range<u64> = 0xfffffe00_00000000..0xfffffe80_00000000;

fn coroner(args: &[&str], dump: &Path) -> String {
    common::stdout_of("bt", dump, args)
}

/// Each variant with crash references.
fn with_crash_refs() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for crash in CRASHES {
        for dump in all_variants(crash) {
            let refs = crash_dir(crash).join("ref").join(dump.file_name().unwrap());
            if refs.join("crash-bt.txt").exists() {
                out.push((dump, refs));
            }
        }
    }
    assert!(
        out.len() >= 7,
        "{} variants with crash references",
        out.len()
    );
    out
}

/// A frame line: `(sp, rest after the frame number)`.
fn frame(line: &str) -> Option<(u64, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (_, rest) = rest.split_once(' ')?;
    let sp = rest.strip_prefix('[')?.split(']').next()?;
    Some((u64::from_str_radix(sp, 16).ok()?, rest.to_string()))
}

/// One task's output split into frames and register blocks (from `RIP:` to the
/// `ORIG_RAX`/`CS` line).
fn parse(text: &str) -> (String, Vec<(u64, String)>, Vec<String>) {
    let header = text.lines().next().unwrap_or("").to_string();
    let frames = text.lines().filter_map(frame).collect();
    let lines: Vec<&str> = text.lines().collect();
    let blocks = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("RIP:"))
        .map(|(i, _)| lines[i..(i + 7).min(lines.len())].join("\n"))
        .collect();
    (header, frames, blocks)
}

/// Tasks of a `bt -a` output, by the header's CPU.
fn by_cpu(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("PID:") {
            let cpu = line
                .split("CPU:")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            out.push((cpu.to_string(), String::new()));
        }
        if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

fn assert_agrees(ours: &str, crash: &str, what: &str) {
    let (our_header, our_frames, our_blocks) = parse(ours);
    let (crash_header, crash_frames, crash_blocks) = parse(crash);
    assert_eq!(our_header, crash_header, "{what}");
    let first_sp = our_frames.first().map_or(u64::MAX, |f| f.0);
    let mut shared = 0;
    for (sp, rest) in &crash_frames {
        if our_frames.iter().any(|f| &f.1 == rest) {
            shared += 1;
            continue;
        }
        let inside = our_frames.windows(2).any(|w| w[0].0 <= *sp && *sp < w[1].0);
        assert!(
            inside || *sp < first_sp || CPU_ENTRY_AREA.contains(sp),
            "{what}: crash's frame {rest} is neither ours nor stale\nours:\n{ours}"
        );
    }
    assert!(
        shared * 2 >= crash_frames.len().min(our_frames.len()),
        "{what}: {shared} frames shared\n{ours}"
    );
    for block in &crash_blocks {
        let rip_line = block.lines().next().unwrap();
        if let Some(ours) = our_blocks
            .iter()
            .find(|b| b.lines().next() == Some(rip_line))
        {
            assert_eq!(ours, block, "{what}");
        }
    }
}

#[test]
fn bt_agrees_with_crash_where_crash_is_right() {
    for (dump, refs) in with_crash_refs() {
        let what = dump.display().to_string();
        let crash = std::fs::read_to_string(refs.join("crash-bt.txt")).unwrap();
        let ours = coroner(&[], &dump);
        assert_agrees(&ours, &crash, &what);
        // The user-mode registers of the syscall that crashed are crash's too.
        let (_, _, blocks) = parse(&ours);
        assert!(parse(&crash).2.iter().any(|b| blocks.contains(b)), "{what}");
    }
}

#[test]
fn bt_all_covers_every_cpu_and_agrees_with_crash() {
    for (dump, refs) in with_crash_refs() {
        let what = dump.display().to_string();
        let crash = std::fs::read_to_string(refs.join("crash-bt-a.txt")).unwrap();
        let ours = by_cpu(&coroner(&["-a"], &dump));
        let theirs = by_cpu(&crash);
        assert_eq!(
            ours.iter().map(|o| &o.0).collect::<Vec<_>>(),
            theirs.iter().map(|t| &t.0).collect::<Vec<_>>(),
            "{what}: CPUs"
        );
        for ((cpu, ours), (_, theirs)) in ours.iter().zip(&theirs) {
            assert!(
                !ours.contains("unwind stopped"),
                "{what} CPU {cpu}:\n{ours}"
            );
            // crash 8.0.2 loses its way on QEMU dumps' IRQ stacks: compare only
            // what it shows before that.
            let theirs = theirs.split("--- <IRQ stack> ---").next().unwrap();
            assert_agrees(ours, theirs, &format!("{what} CPU {cpu}"));
        }
    }
}

#[test]
fn json_has_the_documented_keys() {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let doc: Value = serde_json::from_str(&coroner(&["-a", "--json", "-f"], &dump)).unwrap();
    assert_eq!(doc["schema"], "coroner.bt/1");
    assert_eq!(doc["warnings"], serde_json::json!([]));
    let stacks = doc["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), 2);
    let panic = &stacks[1];
    assert_eq!(panic["pid"], 1);
    assert_eq!(panic["comm"], "init");
    assert_eq!(panic["cpu"], 1);
    assert_eq!(panic["task"], "0xffff88dfc12148c0");
    assert_eq!(panic["end"], "user mode");
    let frames = panic["frames"].as_array().unwrap();
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..3], ["delay_tsc", "panic", "oops_end.cold"]);
    let module_frame = frames
        .iter()
        .find(|f| f["function"] == "fx_null_deref")
        .unwrap();
    assert_eq!(module_frame["module"], "crashfixture");
    assert_eq!(module_frame["pc"], "0xffffffffc052e1f0");
    assert_eq!(module_frame["offset"], 28);
    assert_eq!(module_frame["sp"], "0xffffcb7f00013cf8");
    let entry = frames
        .iter()
        .find(|f| f["function"] == "asm_exc_page_fault")
        .unwrap();
    assert_eq!(entry["registers"]["rip"], "0xffffffffc052e1f0");
    assert_eq!(entry["found_by"], "orc");
    assert!(frames.iter().all(|f| f["stack"] == "task"));
    let words = frames[1]["words"].as_array().unwrap();
    assert!(words.len() > 4);
    // Each word: where it is, and what it holds, as hex strings.
    let [at, value] = [&words[0][0], &words[0][1]];
    assert!(at.as_str().unwrap().starts_with("0xffff"), "{at}");
    assert!(value.as_str().unwrap().starts_with("0x"), "{value}");
    let idle = &stacks[0];
    assert_eq!(
        (idle["pid"].as_u64(), idle["cpu"].as_u64()),
        (Some(0), Some(0))
    );
    let idle_frames = idle["frames"].as_array().unwrap();
    assert_eq!(idle_frames[0]["stack"], "irq");
    assert_eq!(idle["end"], "end of stack");
}

#[test]
fn bt_of_a_sleeping_task_by_pid() {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let text = coroner(&["2"], &dump);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("PID: 2 ") && lines[0].ends_with("COMMAND: \"kthreadd\""),
        "{text}"
    );
    assert!(lines[1].contains("] __schedule at "), "{text}");
    assert!(
        lines.last().unwrap().contains("] ret_from_fork at "),
        "{text}"
    );
    let out = Coroner::new()
        .args(["bt"])
        .arg(&dump)
        .arg("99999")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("99999: no such task"));
}
