//! `coroner debuginfo add` files the fixture kernel's vmlinux (from a -dbg tree)
//! in a store, and the dump commands then find it by the dump's build-id without
//! `--vmlinux`: `bt -l` shows source lines, `ps` reads the tasks of a dump that
//! has no BTF. A dump of another build finds nothing there and says what is
//! missing.

use coroner_testdata::{crash_dir, fixtures_dir, fp_vmlinux};
use std::path::Path;
use std::process::{Command, Output};

fn coroner(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .env("CORONER_DEBUGINFO", store)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn commands_find_the_vmlinux_in_the_store() {
    let dir = std::env::temp_dir().join(format!("coroner-cli-debuginfo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tree = dir.join("pkg/usr/lib/debug/boot");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::copy(fp_vmlinux(), tree.join("vmlinux-6.1.192-coroner-fp")).unwrap();
    let store = dir.join("store");

    let dump = fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib");
    let dump = dump.to_str().unwrap();
    // Empty store: no types, and the error says what would help.
    let before = coroner(&store, &["ps", dump]);
    assert_eq!(before.status.code(), Some(2));

    let out = coroner(
        &store,
        &["debuginfo", "add", dir.join("pkg").to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("43cb0c69ca4ac75a774d122266acd13ffc1c6261  "),
        "{text}"
    );
    let list = coroner(&store, &["debuginfo", "list"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 1);

    let bt = coroner(&store, &["bt", dump, "-l"]);
    assert!(
        bt.status.success(),
        "{}",
        String::from_utf8_lossy(&bt.stderr)
    );
    let text = String::from_utf8_lossy(&bt.stdout);
    assert!(
        text.contains("/usr/src/linux-source-6.1/drivers/tty/sysrq.c: 155"),
        "{text}"
    );
    let ps = coroner(&store, &["ps", dump]);
    assert!(
        ps.status.success(),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );

    // Another build (the Debian kernel's dump, with BTF): nothing in the store,
    // bt still works from the dump alone, without source lines.
    let other = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let bt = coroner(&store, &["bt", other.to_str().unwrap(), "-l"]);
    assert!(bt.status.success());
    assert!(String::from_utf8_lossy(&bt.stderr).contains("--vmlinux"));

    // A file that is no package is refused, naming it.
    let junk = dir.join("kernel-debuginfo.rpm");
    std::fs::write(&junk, "junk").unwrap();
    let out = coroner(&store, &["debuginfo", "add", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kernel-debuginfo.rpm"));
    std::fs::remove_dir_all(&dir).unwrap();
}
