//! The README's main command, run on the example dump shipped in `examples/`, says what
//! the tools that made and read that dump recorded beside it
//! (`examples/sysrq-6.1-small.ref/`: the factory's manifest, makedumpfile's page report,
//! crash's `sys`), and what `examples/README.md` shows.

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

/// The arguments of the quick start's `cargo run --release -- info ...` line in README.md.
fn readme_args() -> Vec<String> {
    let readme = read("README.md");
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo run --release -- info "))
        .expect("README.md has the quick start's `cargo run --release -- info` line");
    line["cargo run --release -- ".len()..]
        .split_whitespace()
        .map(String::from)
        .collect()
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

#[test]
fn the_readme_command_prints_what_the_tools_recorded() {
    let args = readme_args();
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
    let doc = read("examples/README.md");
    let shown: String = text.lines().map(|l| format!("    {l}\n")).collect();
    assert!(
        doc.contains(&shown),
        "examples/README.md does not show the current output of `coroner {}`; update it to:\n{shown}",
        args.join(" ")
    );
}

#[test]
fn the_readme_command_with_json_agrees() {
    let mut args = readme_args();
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
