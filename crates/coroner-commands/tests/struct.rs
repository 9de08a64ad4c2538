//! `coroner struct` against crash 8.0.2 run with the DWARF vmlinux (and modules'
//! debuginfo): every output recorded in tests/data/struct/ (commands.txt and
//! commands-modules.txt list the crash command of each, record.sh recorded them)
//! is what coroner prints from the BTF of the dump's kernel and modules alone;
//! `--json` agrees with crash's text; bad input is an error, never a panic.

mod common;

use common::{Coroner, Output};
use coroner_testdata::crash_dir;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/struct")
}

fn mod_null() -> PathBuf {
    crash_dir("mod-null").join("vmcore.mdf-d31-zlib")
}

/// `coroner SUBCOMMAND DUMP ARGS...`.
fn coroner(subcommand: &str, dump: &Path, args: &[&str]) -> Output {
    Coroner::new()
        .arg(subcommand)
        .arg(dump)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The recorded crash output called `name` (commands.txt's first column).
fn recorded(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(format!("{name}.txt"))).unwrap()
}

fn kdump_sysrq() -> PathBuf {
    crash_dir("kdump-sysrq").join("vmcore.kdump-mdf-d31-zlib")
}

/// crash's text without its own read errors, which it writes into the middle of
/// gdb's print when a pointer to text points at memory it cannot read:
/// `isr = 0x... struct: seek error: ...` lines, then gdb's `<error: ...>`,
/// which coroner prints right after the pointer.
fn without_crash_read_errors(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("struct: seek error: ") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once('\n').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

#[test]
fn every_recorded_crash_output_is_what_coroner_prints() {
    let commands = ["commands.txt", "commands-modules.txt"]
        .map(|f| std::fs::read_to_string(data_dir().join(f)).unwrap())
        .concat();
    let mut names = std::collections::HashSet::new();
    for line in commands.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, fixture, file, subcommand, args @ ..] = words.as_slice() else {
            panic!("commands.txt: {line}");
        };
        assert!(names.insert(*name), "commands.txt names {name} twice");
        let dump = crash_dir(fixture).join(file);
        let out = coroner(subcommand, &dump, args);
        assert!(out.stderr.is_empty(), "{line}: {:?}", out.stderr);
        let ours = stdout(&out);
        let theirs = without_crash_read_errors(&recorded(name));
        let first_difference = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .map(|i| (i + 1, ours.lines().nth(i), theirs.lines().nth(i)));
        assert!(
            ours == theirs,
            "{line}: line {first_difference:?} (coroner, crash); {} and {} lines",
            ours.lines().count(),
            theirs.lines().count()
        );
    }
    assert!(names.len() >= 69, "{} outputs compared", names.len());
}

/// The members crash's `struct -o` gives an offset: `[offset] declaration;`.
fn crash_offsets(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (offset, decl) = l.trim_start().strip_prefix('[')?.split_once("] ")?;
            let decl = decl.trim_end_matches(';');
            let decl = decl.split(" : ").next().unwrap();
            let name = match decl.find("(*") {
                Some(at) => &decl[at + 2..at + decl[at..].find(')').unwrap()],
                None => decl.rsplit([' ', '*']).next().unwrap(),
            };
            let name = name.split('[').next().unwrap().to_string();
            Some((name, offset.parse().ok()?))
        })
        .collect()
}

/// JSON members with their offsets, those of anonymous members' included.
fn json_offsets(members: &[Value], out: &mut Vec<(String, u64)>) {
    for m in members {
        let bits = m["bit_offset"].as_u64().unwrap();
        assert_eq!(m["offset"].as_u64().unwrap(), bits / 8, "{m}");
        match m["name"].as_str() {
            Some(name) => out.push((name.to_string(), bits / 8)),
            None => json_offsets(m["members"].as_array().unwrap(), out),
        }
    }
}

#[test]
fn json_declaration_has_crash_offsets_and_sizes() {
    for ty in ["task_struct", "mm_struct", "module", "page", "list_head"] {
        let text = recorded(&format!("{ty}-o"));
        let out = coroner("struct", &mod_null(), &["--json", ty]);
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let size: u64 = text
            .lines()
            .last()
            .unwrap()
            .strip_prefix("SIZE: ")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(json["size"], size, "{ty}");
        assert_eq!(json["kind"], "struct");
        let mut ours = Vec::new();
        json_offsets(json["members"].as_array().unwrap(), &mut ours);
        let expected = crash_offsets(&text);
        assert!(expected.len() > 1, "{ty}: {expected:?}");
        for member in &expected {
            assert!(ours.contains(member), "{ty}: {member:?} not in {ours:?}");
        }
    }
}

/// `  name = value,` lines of a recorded member print.
fn crash_value(name: &str, member: &str) -> String {
    let text = recorded(name);
    let prefix = format!("  {member} = ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
    line[prefix.len()..].trim_end_matches(',').to_string()
}

#[test]
fn json_values_are_what_crash_printed() {
    let out = coroner(
        "struct",
        &mod_null(),
        &["--json", "task_struct.pid,comm", "ffff88dfc12148c0"],
    );
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["type"], "struct task_struct");
    assert_eq!(json["address"], "0xffff88dfc12148c0");
    let pid: i64 = crash_value("task_struct.pid,comm@init", "pid")
        .parse()
        .unwrap();
    assert_eq!(json["value"]["pid"], pid);
    // crash: "init\000\000...": the C string is what precedes the first NUL.
    let comm = crash_value("task_struct.pid,comm@init", "comm");
    let comm = comm.trim_matches('"').split("\\000").next().unwrap();
    assert_eq!(json["value"]["comm"], comm);

    let out = coroner(
        "struct",
        &mod_null(),
        &["--json", "module", "ffffffffc0530080"],
    );
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let module = &json["value"];
    let crash = |member: &str| crash_value("module@crashfixture", member);
    assert_eq!(module["state"], crash("state"));
    let name = crash("name");
    assert_eq!(
        module["name"],
        name.trim_matches('"').split("\\000").next().unwrap()
    );
    assert_eq!(module["num_kp"], crash("num_kp").parse::<i64>().unwrap());
    assert_eq!(module["klp_alive"], crash("klp_alive") == "true");
    let exit = crash("exit");
    assert_eq!(module["exit"], exit.split(' ').next().unwrap());
    // Anonymous members merge into their struct, as C reaches them.
    let out = coroner(
        "struct",
        &mod_null(),
        &["--json", "task_struct", "ffff88dfc12148c0"],
    );
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        json["value"]["rcu_users"]["refs"]["counter"].is_i64(),
        "{}",
        json["value"]
    );
    assert_eq!(
        json["truncated"], true,
        "__padding is longer than gdb prints"
    );
}

#[test]
fn long_arrays_and_strings_stop_where_gdb_stops() {
    // kmem_cache.node has 1024 entries: crash prints 256, then `...`.
    let text = recorded("kmem_cache@kmem_cache");
    let node = text.lines().find(|l| l.starts_with("  node = {")).unwrap();
    assert!(node.ends_with("...}"), "{node}");
    assert_eq!(node.matches(", ").count(), 255);
    let ours = stdout(&coroner(
        "struct",
        &mod_null(),
        &["kmem_cache.node", "ffff88dfc1042000"],
    ));
    assert_eq!(ours, format!("{node}\n"));
}

fn fails(args: &[&str], status: i32, message: &str) {
    let out = coroner("struct", &mod_null(), args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
    assert!(err.contains(message), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing printed on error");
}

#[test]
fn bad_types_members_and_addresses_are_errors() {
    // Lookups that miss: exit status 1, as `sym`'s.
    fails(
        &["no_such_type"],
        1,
        "no_such_type: no such struct or union",
    );
    fails(&["pid_type"], 1, "pid_type: not a struct or union");
    fails(
        &["task_struct.no_such_member", "ffff88dfc12148c0"],
        1,
        "has no member no_such_member",
    );
    fails(
        &["task_struct.comm[99999]", "ffff88dfc12148c0"],
        1,
        "comm[99999]",
    );
    fails(&["task_struct.pid,"], 1, "empty member name");
    fails(&["task_struct.pid,comm", "-o"], 1, "one member at a time");
    fails(&["task_struct.se.on_rq", "-o"], 1, "direct members only");
    // Memory that cannot be read: exit status 2, naming the address.
    fails(
        &["list_head", "0x10"],
        2,
        "virtual address 0x10 is not mapped",
    );
    // The direct map of physical 0x4000000, a free page `-d 31` left out.
    fails(
        &["list_head", "ffff88dfc4000000"],
        2,
        "virtual address 0xffff88dfc4000000: physical address 0x4000000 is in a page the dump excluded",
    );
    fails(&["list_head", "no_such_symbol"], 2, "no_such_symbol");
}

#[test]
fn union_alias_and_keywords_name_the_same_types() {
    let plain = stdout(&coroner("struct", &mod_null(), &["rcu_special", "-o"]));
    assert_eq!(plain, recorded("rcu_special-o"));
    let alias = stdout(&coroner("union", &mod_null(), &["union rcu_special", "-o"]));
    assert_eq!(alias, plain);
    let keyword = stdout(&coroner("struct", &mod_null(), &["struct list_head"]));
    assert_eq!(keyword, recorded("list_head"));
}

#[test]
fn module_types_say_which_module_defines_them() {
    let module_of = |dump: &Path, args: &[&str]| {
        let json: Value = serde_json::from_str(&stdout(&coroner("struct", dump, args))).unwrap();
        json["module"].clone()
    };
    let fw_cfg = ["--json", "fw_cfg_sysfs_entry"];
    assert_eq!(module_of(&mod_null(), &fw_cfg), "qemu_fw_cfg");
    let entry = ["--json", "fw_cfg_sysfs_entry", "ffff88dfdffc5b40"];
    assert_eq!(module_of(&mod_null(), &entry), "qemu_fw_cfg");
    assert_eq!(
        module_of(&mod_null(), &["--json", "list_head"]),
        Value::Null
    );
    // 9pnet and 9pnet_virtio both define p9_trans_module: 9pnet loaded first,
    // and -m picks the other; the type is the same.
    let trans = ["--json", "p9_trans_module"];
    assert_eq!(module_of(&kdump_sysrq(), &trans), "9pnet");
    let args = ["-m", "9pnet_virtio", "--json", "p9_trans_module"];
    assert_eq!(module_of(&kdump_sysrq(), &args), "9pnet_virtio");
    let text = coroner(
        "struct",
        &kdump_sysrq(),
        &["-m", "9pnet_virtio", "p9_trans_module", "p9_virtio_trans"],
    );
    assert_eq!(stdout(&text), recorded("p9_trans_module@p9_virtio_trans"));
    // -m MODULE also sees vmlinux's types, but not another module's.
    let args = ["--module", "virtio", "--json", "list_head"];
    assert_eq!(module_of(&kdump_sysrq(), &args), Value::Null);
    let out = coroner(
        "struct",
        &kdump_sysrq(),
        &["-m", "virtio", "p9_trans_module"],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn modules_without_btf_or_not_loaded_are_errors() {
    // crashfixture.ko was built out of tree without BTF (its btf_data_size is 0):
    // crash finds `struct fx_item` in its DWARF, coroner has nothing to read.
    fails(&["fx_item"], 1, "fx_item: no such struct or union");
    fails(
        &["-m", "crashfixture", "fx_item"],
        2,
        "module crashfixture has no BTF",
    );
    fails(
        &["-m", "nosuch", "list_head"],
        1,
        "no module nosuch is loaded",
    );
}
