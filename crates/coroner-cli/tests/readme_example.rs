//! The README's main command (`coroner triage` on the example dump shipped in
//! `examples/`) and the `info` command `examples/README.md` shows, run on that dump,
//! say what the tools that made and read it recorded beside it
//! (`examples/sysrq-6.1-small.ref/`: the factory's manifest, makedumpfile's page report
//! and `--dump-dmesg`, crash's `sys` and `bt`, the guest's serial console), and what
//! `examples/README.md` shows.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The arguments of the first `cargo run --release -- SUBCOMMAND ...` line of a page.
fn command_args(page: &str, subcommand: &str) -> Vec<String> {
    let prefix = format!("cargo run --release -- {subcommand} ");
    let line = read(page)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{page} has no `{}` line", prefix.trim_end()))
        .to_string();
    line["cargo run --release -- ".len()..]
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The quick start's main command in README.md: `triage` on the example dump.
fn readme_args() -> Vec<String> {
    let args = command_args("README.md", "triage");
    assert_eq!(args.len(), 2, "{args:?}");
    args
}

/// The `info` command examples/README.md shows, on the same dump.
fn info_args() -> Vec<String> {
    let args = command_args("examples/README.md", "info");
    assert_eq!(args[1..], readme_args()[1..], "the same dump");
    args
}

/// Runs the built `coroner` from the repository root, as the README does.
fn coroner(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "coroner {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// What was recorded about the example when it was made.
struct Facts {
    manifest: Value,
    /// makedumpfile's page report: label -> count.
    report: HashMap<String, u64>,
    /// crash's `sys`: key -> value.
    crash_sys: HashMap<String, String>,
    /// crash's `bt` of the panic task.
    crash_bt: String,
    /// The guest's serial console, boot to panic.
    console: String,
    /// makedumpfile's `--dump-dmesg` of the dump: the log triage reads.
    dmesg: String,
}

fn facts(dump: &str) -> Facts {
    let stem = dump.trim_end_matches(".kdump-zstd");
    let refdir = format!("{stem}.ref");
    let manifest = serde_json::from_str(&read(&format!("{refdir}/factory-manifest.json")))
        .expect("factory manifest is JSON");
    let report = read(&format!("{refdir}/makedumpfile-report.txt"))
        .lines()
        .filter_map(|l| {
            let (label, value) = l.split_once(':')?;
            let hex = value.trim().strip_prefix("0x")?;
            Some((label.trim().to_string(), u64::from_str_radix(hex, 16).ok()?))
        })
        .collect();
    let crash_sys = key_values(&read(&format!("{refdir}/crash-sys.txt")));
    Facts {
        manifest,
        report,
        crash_sys,
        crash_bt: read(&format!("{refdir}/crash-bt.txt")),
        console: read(&format!("{refdir}/console.log")),
        dmesg: read(&format!("{refdir}/dmesg.makedumpfile.txt")),
    }
}

/// `KEY: value` lines (crash's `sys`, coroner's text output).
fn key_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

impl Facts {
    fn pages(&self, label: &str) -> u64 {
        *self
            .report
            .get(label)
            .unwrap_or_else(|| panic!("makedumpfile report lacks {label:?}"))
    }
    fn str(&self, key: &str) -> &str {
        self.manifest[key]
            .as_str()
            .unwrap_or_else(|| panic!("manifest lacks {key}"))
    }
    fn crash(&self, key: &str) -> &str {
        self.crash_sys
            .get(key)
            .unwrap_or_else(|| panic!("crash sys lacks {key}"))
    }
    /// `-d N` and the compression flag of the makedumpfile command that made the file.
    fn made_with(&self) -> (u64, &'static str) {
        let cmd = self.manifest["how_made"]["cmd"]
            .as_str()
            .expect("how_made.cmd");
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let level = words
            .iter()
            .position(|w| *w == "-d")
            .and_then(|i| words.get(i + 1)?.parse().ok())
            .expect("makedumpfile -d N");
        let compression = [
            ("-c", "zlib"),
            ("-l", "lzo"),
            ("-p", "snappy"),
            ("-z", "zstd"),
        ]
        .into_iter()
        .find(|(flag, _)| words.contains(flag))
        .map_or("none", |(_, name)| name);
        (level, compression)
    }
    fn kaslr(&self) -> String {
        format!("0x{}", self.str("kaslr_kerneloffset"))
    }
    /// crash's `bt` header: (pid, cpu, command).
    fn crash_task(&self) -> (u64, u64, String) {
        let header = self
            .crash_bt
            .lines()
            .find(|l| l.starts_with("PID:"))
            .expect("crash bt has a PID: line");
        let words: Vec<&str> = header.split_whitespace().collect();
        let after = |key: &str| {
            let i = words.iter().position(|w| *w == key).unwrap();
            words[i + 1]
        };
        (
            after("PID:").parse().unwrap(),
            after("CPU:").parse().unwrap(),
            after("COMMAND:").trim_matches('"').to_string(),
        )
    }
    /// crash's `bt` frames, as function names.
    fn crash_frames(&self) -> Vec<String> {
        self.crash_bt
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(|l| {
                let name = l.split(']').nth(1).unwrap().split(" at ").next().unwrap();
                function(name.trim())
            })
            .collect()
    }
    /// The reliable frames (not `? ` guesses) of the first Call Trace in a kernel log.
    fn log_frames(log: &str) -> Vec<String> {
        log.lines()
            .map(without_timestamp)
            .skip_while(|l| *l != "Call Trace:")
            .skip(1)
            .take_while(|l| !l.starts_with("RIP:") && !l.starts_with("</TASK>"))
            .map(str::trim)
            .filter(|l| !l.starts_with('<') && !l.starts_with('?'))
            .map(|l| function(l.split('+').next().unwrap()))
            .collect()
    }
    /// The log line that starts with `prefix` (timestamps aside).
    fn log_line<'a>(log: &'a str, prefix: &str) -> &'a str {
        log.lines()
            .map(without_timestamp)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in the log"))
    }
}

/// `[    3.880515] text` -> `text`.
fn without_timestamp(line: &str) -> &str {
    match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, t)| t),
        None => line,
    }
}

/// A frame's function without compiler suffixes (`__handle_sysrq.cold`).
fn function(name: &str) -> String {
    name.split('.').next().unwrap().to_string()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_readme_example_is_the_dump_the_facts_describe() {
    let args = readme_args();
    let dump = args.last().unwrap();
    let f = facts(dump);
    let path = repo().join(dump);
    let len = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{dump}: {e}"))
        .len();
    assert_eq!(len, f.manifest["size_bytes"].as_u64().unwrap(), "{dump}");
    assert_eq!(sha256(&path), f.str("sha256"), "{dump}");
    // The issue asks for well under 20 MB.
    assert!(len < 20_000_000, "{dump} is {len} bytes");
    let doc = read("examples/README.md");
    assert!(doc.contains(&len.to_string()) && doc.contains(f.str("sha256")));
}

/// `key   value` lines, with the indented lines after one as more of its values.
fn triage_fields(text: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut last = String::new();
    for line in text.lines() {
        if line.starts_with(' ') {
            out.get_mut(&last)
                .unwrap_or_else(|| panic!("continuation without a field: {line:?}"))
                .push(line.trim().to_string());
        } else if let Some((k, v)) = line.split_once(' ') {
            last = k.to_string();
            out.insert(last.clone(), vec![v.trim().to_string()]);
        }
    }
    out
}

#[test]
fn the_readme_command_triages_the_crash_the_tools_recorded() {
    let args = readme_args();
    assert_eq!(args[0], "triage");
    let dump = args.last().unwrap().clone();
    let f = facts(&dump);
    let text = coroner(&args);
    let fields = triage_fields(&text);
    let get = |k: &str| -> &str {
        &fields
            .get(k)
            .unwrap_or_else(|| panic!("no `{k}` line in:\n{text}"))[0]
    };

    // The panic, as crash, the factory and the console have it.
    let panic_line = f.str("expected_panic_line");
    assert_eq!(f.crash("PANIC").trim_matches('"'), panic_line);
    assert_eq!(
        Facts::log_line(&f.console, "Kernel panic - not syncing: "),
        panic_line
    );
    assert_eq!(get("message"), panic_line);
    let reason = panic_line
        .strip_prefix("Kernel panic - not syncing: ")
        .unwrap();
    assert_eq!(get("panic"), reason);
    assert!(get("crash").ends_with(reason), "{text}");
    // What made it: the factory's trigger.
    assert_eq!(get("class"), f.str("trigger"));
    assert_eq!(get("dump"), f.str("format"));
    assert_eq!(get("release"), f.crash("RELEASE"));
    assert_eq!(get("release"), f.str("release"));
    assert_eq!(get("build-id"), f.str("build_id"));

    // The task, as crash's bt names it and the oops header prints it.
    let (pid, cpu, comm) = f.crash_task();
    assert_eq!(get("task"), format!("{comm} (pid {pid}) on CPU {cpu}"));
    let header = Facts::log_line(&f.console, &format!("CPU: {cpu} PID: {pid} Comm: {comm} "));
    let (taint, rest) = header
        .split_once(" tainted ")
        .map(|(a, b)| (a.rsplit(' ').next().unwrap(), b))
        .expect("the oops header says the taint");
    assert_eq!(
        taint, "Not",
        "the example's kernel is not tainted: {header}"
    );
    assert_eq!(get("taint"), "not tainted");
    assert_eq!(get("kernel"), rest.split_whitespace().next().unwrap());
    assert_eq!(
        get("hardware"),
        Facts::log_line(&f.console, "Hardware name: ")
            .strip_prefix("Hardware name: ")
            .unwrap()
    );

    // The trace: the kernel's, as makedumpfile reads it from the dump and the console
    // printed it; from `panic` on, crash's bt; the guilty frame is panic's caller.
    let trace = &fields["trace"];
    let logged = Facts::log_frames(&f.dmesg);
    assert_eq!(Facts::log_frames(&f.console), logged);
    assert_eq!(trace, &logged);
    let crash = f.crash_frames();
    assert_eq!(crash[0], "panic");
    let at_panic = trace.iter().position(|n| n == "panic").unwrap();
    assert_eq!(trace[at_panic..], crash[..]);
    assert_eq!(get("guilty"), crash[1]);

    // The knowledge-base rule for that class.
    let rule = read("kb/sysrq-trigger.toml");
    assert!(
        rule.contains(&format!("class = [\"{}\"]", f.str("trigger"))),
        "{rule}"
    );
    assert!(get("known").ends_with("(sysrq-trigger)"), "{text}");
    let sig = get("signature");
    assert!(
        sig.len() == 16 && sig.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sig}"
    );

    // examples/README.md shows this output verbatim (indented by four spaces).
    shown_in_examples_readme(&args, &text);
}

#[test]
fn the_readme_command_with_json_agrees() {
    let mut args = readme_args();
    let dump = args.last().unwrap().clone();
    args.insert(1, "--json".into());
    let f = facts(&dump);
    let r: Value = serde_json::from_str(&coroner(&args)).expect("--json prints JSON");
    let panic_line = f.str("expected_panic_line");
    assert_eq!(r["input"], dump.as_str());
    assert_eq!(r["crashed"], true);
    assert_eq!(r["class"], f.str("trigger"));
    assert_eq!(r["message"], panic_line);
    assert_eq!(
        r["panic"],
        panic_line
            .strip_prefix("Kernel panic - not syncing: ")
            .unwrap()
    );
    let crash = f.crash_frames();
    assert_eq!(r["guilty"], crash[1].as_str());
    assert_eq!(r["module"], Value::Null);
    assert_eq!(r["frames"], serde_json::json!(Facts::log_frames(&f.dmesg)));
    let trace: Vec<&str> = r["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"].as_str().unwrap())
        .collect();
    assert_eq!(trace, Facts::log_frames(&f.dmesg));
}

/// examples/README.md shows `text`, the output of `coroner ARGS`, verbatim (indented
/// by four spaces; blank lines stay blank).
fn shown_in_examples_readme(args: &[String], text: &str) {
    let doc = read("examples/README.md");
    let shown: String = text
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect();
    assert!(
        doc.contains(&shown),
        "examples/README.md does not show the current output of `coroner {}`; update it to:\n{shown}",
        args.join(" ")
    );
}

#[test]
fn the_info_command_prints_what_the_tools_recorded() {
    let args = info_args();
    assert_eq!(args[0], "info");
    let dump = args.last().unwrap().clone();
    let f = facts(&dump);
    let text = coroner(&args);
    let kv = key_values(&text);
    let get = |k: &str| {
        kv.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no `{k}:` line in:\n{text}"))
    };
    let (level, compression) = f.made_with();
    let zero = f.pages("Pages filled with zero");
    let excluded = f.pages("Excluded pages") - zero; // coroner counts zero pages apart
    let present = f.pages("Remaining pages");
    let original = f.pages("Original pages");
    assert_eq!(present + excluded + zero, original);

    assert_eq!(get("file"), dump);
    assert!(get("format").starts_with("kdump-compressed"), "{text}");
    assert_eq!(get("compression"), compression);
    assert!(
        get("dump level").starts_with(&format!("{level} ")),
        "{text}"
    );
    assert_eq!(
        get("arch"),
        f.crash("MACHINE").split_whitespace().next().unwrap()
    );
    assert_eq!(get("release"), f.crash("RELEASE"));
    assert_eq!(get("release"), f.str("release"));
    assert_eq!(get("build-id"), f.str("build_id"));
    assert_eq!(get("KASLR offset"), f.kaslr());
    let cpus = f.crash("CPUS").split_whitespace().next().unwrap();
    assert!(get("CPUs").starts_with(&format!("{cpus} ")), "{text}");
    assert!(
        get("memory").starts_with(&format!("{} bytes", original * 4096)),
        "{text}"
    );
    assert_eq!(
        get("pages"),
        format!("{present} present, {excluded} excluded, {zero} zero, 0 missing")
    );

    // examples/README.md shows this output verbatim (indented by four spaces).
    shown_in_examples_readme(&args, &text);
}

#[test]
fn the_info_command_with_json_agrees() {
    let mut args = info_args();
    let dump = args.last().unwrap().clone();
    args.insert(1, "--json".into());
    let f = facts(&dump);
    let r: Value = serde_json::from_str(&coroner(&args)).expect("--json prints JSON");
    let (level, compression) = f.made_with();
    let zero = f.pages("Pages filled with zero");
    let original = f.pages("Original pages");
    assert_eq!(r["file"], dump.as_str());
    assert_eq!(r["format"], "kdump-compressed");
    assert_eq!(r["flattened"], false);
    assert_eq!(r["compression"], serde_json::json!([compression]));
    assert_eq!(r["dump_level"], level);
    assert_eq!(r["page_size"], 4096);
    assert_eq!(r["arch"], "x86_64");
    assert_eq!(r["release"], f.crash("RELEASE"));
    assert_eq!(r["build_id"], f.str("build_id"));
    assert_eq!(r["kaslr_offset"], f.kaslr().as_str());
    assert_eq!(r["cpus"], f.manifest["vcpus"]);
    assert_eq!(r["vmcoreinfo"], "note");
    assert_eq!(r["memory_bytes"], original * 4096);
    let ram = f.manifest["guest_ram_mb"].as_u64().unwrap() << 20;
    assert_eq!(
        r["memory_bytes"].as_u64().unwrap(),
        ram,
        "the whole guest RAM"
    );
    assert_eq!(r["pages"]["present"], f.pages("Remaining pages"));
    assert_eq!(r["pages"]["zero"], zero);
    assert_eq!(r["pages"]["excluded"], f.pages("Excluded pages") - zero);
    assert_eq!(r["pages"]["missing"], 0);
    assert_eq!(r["missing_ranges"], serde_json::json!([]));
    assert_eq!(r["warnings"], serde_json::json!([]));
}
