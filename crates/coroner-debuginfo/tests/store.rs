//! The store filled from each kind of input, built here with the real tools
//! (gcc for a small ELF with DWARF and a build-id, dpkg-deb for .deb packages,
//! cpio and xz/zstd for an RPM payload, whose lead and headers are written by
//! hand as rpm lays them out), the fixture kernel's vmlinux from a tree, and
//! inputs that are not what their names say or are cut short.

use coroner_debuginfo::{DebuginfoError, Store};
use coroner_testdata::setup;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coroner-debuginfo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small ELF with DWARF and a GNU build-id (and its id, from readelf's view of
/// the note: the last word of `Build ID: ...`).
fn small_elf(dir: &Path) -> (PathBuf, String) {
    let c = dir.join("k.c");
    std::fs::write(&c, "struct task { int pid; char comm[16]; };\nstruct task t;\nint main(void) { return t.pid; }\n").unwrap();
    let elf = dir.join("k.elf");
    run(Command::new("gcc")
        .args(["-g", "-O1", "-Wl,--build-id=sha1", "-o"])
        .arg(&elf)
        .arg(&c));
    let out = Command::new("readelf")
        .arg("-n")
        .arg(&elf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("a build-id note")
        .to_string();
    (elf, id)
}

/// `root/usr/lib/debug/boot/vmlinux-6.1.0-test` holding `elf`, and a control file.
fn debian_tree(dir: &Path, elf: &Path) -> PathBuf {
    let root = dir.join("pkg");
    let boot = root.join("usr/lib/debug/boot");
    std::fs::create_dir_all(&boot).unwrap();
    std::fs::copy(elf, boot.join("vmlinux-6.1.0-test")).unwrap();
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        "Package: linux-image-6.1.0-test-dbg\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n",
    )
    .unwrap();
    root
}

#[test]
fn a_vmlinux_and_a_tree_are_filed_by_build_id() {
    let dir = scratch("tree");
    let (elf, id) = small_elf(&dir);
    let store = Store::new(dir.join("store"));
    let added = store.add(&elf).unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].build_id, id);
    assert_eq!(store.find(&id.to_uppercase()), Some(added[0].path.clone()));
    assert_eq!(
        std::fs::read(&added[0].path).unwrap(),
        std::fs::read(&elf).unwrap()
    );

    // The fixture kernel from an unpacked -dbg tree: its build-id is the dump's.
    let tree = dir.join("tree/usr/lib/debug/boot");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::copy(
        coroner_testdata::fp_vmlinux(),
        tree.join("vmlinux-6.1.192-coroner-fp"),
    )
    .unwrap();
    let added = store.add(&dir.join("tree")).unwrap();
    assert_eq!(
        added[0].build_id,
        "43cb0c69ca4ac75a774d122266acd13ffc1c6261"
    );
    assert_eq!(store.list().len(), 2);
    assert!(store.find("not-hex/../x").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debian_packages_in_each_compression() {
    setup::apt_install(&["dpkg-deb"], &["dpkg"]).unwrap();
    let dir = scratch("deb");
    let (elf, id) = small_elf(&dir);
    let tree = debian_tree(&dir, &elf);
    for z in ["xz", "zstd", "gzip", "none"] {
        let deb = dir.join(format!("linux-image-test-dbg-{z}.deb"));
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Z", z, "--build"])
            .arg(&tree)
            .arg(&deb));
        let store = Store::new(dir.join(format!("store-{z}")));
        let added = store.add(&deb).unwrap_or_else(|e| panic!("{z}: {e}"));
        assert_eq!(added.len(), 1, "{z}");
        assert_eq!(added[0].build_id, id, "{z}");
        assert!(
            added[0]
                .from
                .ends_with("usr/lib/debug/boot/vmlinux-6.1.0-test"),
            "{:?}",
            added[0]
        );
        assert_eq!(
            std::fs::read(store.find(&id).unwrap()).unwrap(),
            std::fs::read(&elf).unwrap()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An RPM as rpm writes one: lead, signature header padded to 8, header, then the
/// payload (here with no index entries: the reader needs none).
fn rpm(dir: &Path, elf: &Path, compress: &str) -> PathBuf {
    let tree = dir.join(format!("rpmroot-{compress}"));
    let vmlinux = tree.join("usr/lib/debug/lib/modules/6.1.0-test/vmlinux");
    std::fs::create_dir_all(vmlinux.parent().unwrap()).unwrap();
    std::fs::copy(elf, &vmlinux).unwrap();
    let cpio = dir.join(format!("payload-{compress}.cpio"));
    let list = "./usr\n./usr/lib/debug/lib/modules/6.1.0-test/vmlinux\n";
    let mut child = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(&tree)
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&cpio).unwrap())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    run(Command::new(compress).args(["-f", "-q"]).arg(&cpio));
    let ext = if compress == "xz" { "xz" } else { "zst" };
    let payload = std::fs::read(cpio.with_extension(format!("cpio.{ext}"))).unwrap();
    let mut bytes = vec![0u8; 96];
    bytes[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    let header = |entries: u32, store: u32| {
        let mut h = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        h.extend(entries.to_be_bytes());
        h.extend(store.to_be_bytes());
        h.extend(vec![0u8; (entries * 16 + store) as usize]);
        h
    };
    bytes.extend(header(1, 4)); // 16 + 16 + 4 = 36: padded to 40
    bytes.extend([0u8; 4]);
    bytes.extend(header(2, 8));
    bytes.extend(payload);
    let path = dir.join(format!("kernel-debuginfo-test-{compress}.rpm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn rpm_packages_xz_and_zstd() {
    setup::apt_install(&["cpio", "xz", "zstd"], &["cpio", "xz-utils", "zstd"]).unwrap();
    let dir = scratch("rpm");
    let (elf, id) = small_elf(&dir);
    for compress in ["xz", "zstd"] {
        let package = rpm(&dir, &elf, compress);
        let store = Store::new(dir.join(format!("store-{compress}")));
        let added = store
            .add(&package)
            .unwrap_or_else(|e| panic!("{compress}: {e}"));
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].build_id, id);
        assert_eq!(
            std::fs::read(&added[0].path).unwrap(),
            std::fs::read(&elf).unwrap()
        );

        // Cut short inside the payload: an error, and nothing half-written filed.
        let bytes = std::fs::read(&package).unwrap();
        let cut = dir.join(format!("cut-{compress}.rpm"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let store = Store::new(dir.join(format!("store-cut-{compress}")));
        let err = store.add(&cut).unwrap_err();
        assert!(
            matches!(
                err,
                DebuginfoError::Format { .. } | DebuginfoError::Io { .. }
            ),
            "{err}"
        );
        assert!(store.list().is_empty());
        let leftovers = std::fs::read_dir(store.root()).unwrap().count();
        assert_eq!(leftovers, 0, "temporary files removed");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_that_are_not_what_they_say() {
    setup::apt_install(&["dpkg-deb"], &["dpkg"]).unwrap();
    let dir = scratch("hostile");
    let store = Store::new(dir.join("store"));
    // Text named like a package.
    let fake = dir.join("linux-image-6.1.0-dbg.deb");
    std::fs::write(&fake, "this is not a package\n").unwrap();
    let err = store.add(&fake).unwrap_err().to_string();
    assert!(err.contains("not a vmlinux, .deb/.ddeb or .rpm"), "{err}");
    // An RPM lead and nothing after it.
    let rpm = dir.join("kernel-debuginfo.rpm");
    std::fs::write(&rpm, [0xed, 0xab, 0xee, 0xdb, 3, 0]).unwrap();
    let err = store.add(&rpm).unwrap_err().to_string();
    assert!(err.contains("RPM lead"), "{err}");
    // An ELF without DWARF: not debuginfo.
    let (elf, _) = small_elf(&dir);
    let stripped = dir.join("vmlinux-stripped");
    run(Command::new("strip").arg("-o").arg(&stripped).arg(&elf));
    let err = store.add(&stripped).unwrap_err();
    assert!(matches!(err, DebuginfoError::NothingFound(_)), "{err}");
    // A .deb cut in its data.tar, and a .deb with no vmlinux.
    let tree = debian_tree(&dir, &elf);
    let deb = dir.join("whole.deb");
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Z", "xz", "--build"])
        .arg(&tree)
        .arg(&deb));
    let bytes = std::fs::read(&deb).unwrap();
    let cut = dir.join("cut.deb");
    std::fs::write(&cut, &bytes[..bytes.len() - 200]).unwrap();
    assert!(store.add(&cut).is_err());
    std::fs::remove_dir_all(tree.join("usr")).unwrap();
    let empty = dir.join("empty.deb");
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&empty));
    let err = store.add(&empty).unwrap_err();
    assert!(matches!(err, DebuginfoError::NothingFound(_)), "{err}");
    assert!(store.list().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
