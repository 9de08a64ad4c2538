//! `coroner sym` and `coroner rd` on a fixture, with no vmlinux: symbols agree with
//! the kernel's System.map (plus the dump's KASLR offset), memory reads show the
//! kernel's own banner, and bad addresses are clear errors.

mod common;

use common::{Coroner, Output};
use coroner_testdata::{crash_dir, system_map};

fn coroner(args: &[&str]) -> Output {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    Coroner::new()
        .arg(args[0])
        .arg(&dump)
        .args(&args[1..])
        .output()
        .unwrap()
}

fn system_map_address(name: &str) -> u64 {
    let text = std::fs::read_to_string(system_map()).unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" {name}")))
        .unwrap();
    u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap()
}

const KASLR: u64 = 0x1080_0000; // mod-null's KERNELOFFSET (its manifest)

#[test]
fn sym_by_name_and_by_address() {
    let panic = system_map_address("panic") + KASLR;
    let out = coroner(&["sym", "panic", &format!("{:x}", panic + 745)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        format!(
            "{panic:016x} (T) panic\n{:016x} (T) panic+745\n",
            panic + 745
        )
    );
}

#[test]
fn sym_json_and_unknown_names() {
    let out = coroner(&["sym", "--json", "linux_banner", "no_such_symbol_here"]);
    assert_eq!(out.status.code(), Some(1), "a miss is exit status 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_symbol_here: no such symbol"));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "coroner.sym/1");
    assert_eq!(doc["misses"], serde_json::json!(["no_such_symbol_here"]));
    let found = &doc["symbols"];
    let address = system_map_address("linux_banner") + KASLR;
    assert_eq!(found[0]["address"], format!("{address:#x}"));
    assert_eq!(found[0]["kind"], "D");
}

#[test]
fn sym_json_size_reaches_the_next_symbol() {
    let out = coroner(&["sym", "--json", "panic"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = &doc["symbols"];
    // System.map is in address order: the symbol after panic ends its extent.
    let text = std::fs::read_to_string(system_map()).unwrap();
    let mut lines = text.lines().skip_while(|l| !l.ends_with(" panic"));
    let at = |l: &str| u64::from_str_radix(l.split(' ').next().unwrap(), 16).unwrap();
    let panic = at(lines.next().unwrap());
    let next = lines.map(at).find(|&a| a > panic).unwrap();
    assert_eq!(found[0]["size"], next - panic);
}

#[test]
fn rd_shows_the_banner_in_its_ascii_column() {
    let out = coroner(&["rd", "linux_banner", "4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let banner: String = text.lines().map(|l| &l[l.len() - 16..]).collect();
    assert_eq!(banner, "Linux version 6.1.0-56-amd64 (de");
    let first = text.lines().next().unwrap();
    let address = system_map_address("linux_banner") + KASLR;
    assert!(
        first.starts_with(&format!("{address:016x}:  65762078756e694c ")),
        "{first}"
    );
}

#[test]
fn rd_of_unmapped_memory_names_the_address() {
    let out = coroner(&["rd", "0x10", "2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("virtual address 0x10 is not mapped"), "{err}");
    let out = coroner(&["rd", "linux_banner", "99999999999"]);
    assert_eq!(out.status.code(), Some(2));
}
