//! Fresh dumps made by the fixture factory (`../shared/fixtures/factory/run-dump.sh`):
//! a real Debian kernel booted under QEMU, crashed, and dumped by QEMU itself (ELF and
//! its flattened kdump-zlib, which no shipped fixture has) plus makedumpfile's variants.
//! The factory's kernel and initramfs come from `.ci/fixtures-setup`, which
//! [`factory_or_skip`] runs itself (once per test process, under a machine-wide lock;
//! see [`crate::setup`]); dumps go to `target/qemu-dumps/<name>/`, remade by every
//! test run that asks for one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to `1` to skip QEMU tests on a machine without the factory set up (the tests
/// then do not set it up either). CI never sets it.
pub const SKIP_VAR: &str = "CORONER_SKIP_QEMU";

/// The factory and the files of its set-up this machine has.
#[derive(Debug, Clone)]
pub struct Factory {
    pub dir: PathBuf,
    pub vmlinuz: PathBuf,
    pub initrd: PathBuf,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The factory with its kernel, initramfs and tools in place, or what is missing.
pub fn factory() -> Result<Factory, String> {
    let dir = crate::fixtures_dir().join("factory");
    let config = dir.join("config.sh");
    if !config.exists() {
        return Err(format!("no fixture factory at {}", dir.display()));
    }
    // config.sh resolves the paths (and the OUT/ABI overrides) as the scripts will.
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1" && printf '%s\n' "$VMLINUZ" "$INITRD""#)
        .arg("bash")
        .arg(&config)
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut paths = text.lines().map(PathBuf::from);
    let (Some(vmlinuz), Some(initrd)) = (paths.next(), paths.next()) else {
        return Err(format!(
            "{} printed no kernel/initramfs paths",
            config.display()
        ));
    };
    let mut missing: Vec<String> = [&vmlinuz, &initrd]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    for tool in ["qemu-system-x86_64", "python3", "makedumpfile"] {
        let found = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.to_string());
        }
    }
    if missing.is_empty() {
        Ok(Factory {
            dir,
            vmlinuz,
            initrd,
        })
    } else {
        Err(format!("missing: {}", missing.join(", ")))
    }
}

/// The factory, set up first by `.ci/fixtures-setup` when this machine lacks it (as
/// root: it apt-installs QEMU and fetches the kernel), or a failure that says why it
/// could not be. With `CORONER_SKIP_QEMU=1` nothing is set up: a machine without the
/// factory prints a loud skip and gives `None`.
pub fn factory_or_skip(test: &str) -> Option<Factory> {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        return match factory() {
            Ok(f) => Some(f),
            Err(why) => {
                // Straight to the process's stderr: libtest captures eprintln! of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!!!!! SKIPPED {test}: the fixture factory is not set up ({why}); \
                     {SKIP_VAR}=1 is set. Unset it to have the test set it up (as root, once). !!!!!!!!\n"
                );
                None
            }
        };
    }
    let setup = crate::setup::fixtures_setup();
    match (factory(), setup) {
        (Ok(f), Ok(())) => Some(f),
        (_, Err(e)) => panic!(
            "{test} needs the fixture factory's kernel and QEMU, and setting them up failed: {e}\n\
             Run `.ci/fixtures-setup` as root (once), or set {SKIP_VAR}=1 to skip this test locally."
        ),
        (Err(why), Ok(())) => panic!(
            "{test} needs the fixture factory's kernel and QEMU: .ci/fixtures-setup succeeded but {why}"
        ),
    }
}

/// Makes a fresh dump with `run-dump.sh NAME MODE RAM_MB` into `target/qemu-dumps/NAME/`
/// (boot, crash, QEMU's dumps, makedumpfile's variants, manifests) and returns that
/// folder. Panics with the factory's log if it fails.
pub fn fresh_dump(factory: &Factory, name: &str, mode: &str, ram_mb: u32) -> PathBuf {
    let dumps = repo().join("target/qemu-dumps");
    std::fs::create_dir_all(&dumps).expect("create target/qemu-dumps");
    let dumps = dumps.canonicalize().expect("target/qemu-dumps");
    let out = Command::new(factory.dir.join("run-dump.sh"))
        .args([name, mode, &ram_mb.to_string()])
        .env("DUMPS", &dumps)
        .output()
        .expect("run the factory's run-dump.sh");
    let dir = dumps.join(name);
    let log = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    assert!(
        out.status.success() && dir.join("manifest.json").exists(),
        "run-dump.sh {name} {mode} {ram_mb} failed ({}):\n{}{}\nconsole tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log("console.log")
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    dir
}

/// Boots a guest of `ram_mb` with the factory's kernel in `mode` and has QEMU dump
/// it as ELF only (no makedumpfile variants, no references: for big guests and for
/// guests that do not panic), into `target/qemu-dumps/NAME/`. The dump is taken
/// when `needle` appears on the console (by default the end of the kernel's panic),
/// plus the two seconds fxqemu lets the console flush. With `mod:hung` and the
/// needle of crashfixture's message, a task has just blocked in D state and the
/// hung-task panic (5 s later) has not come.
pub fn fresh_elf(
    factory: &Factory,
    name: &str,
    mode: &str,
    ram_mb: u32,
    needle: Option<&str>,
) -> PathBuf {
    let dir = repo().join("target/qemu-dumps").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the dump folder");
    let mut fxqemu = Command::new("timeout");
    fxqemu
        .arg("900")
        .arg("python3")
        .arg(factory.dir.join("fxqemu.py"))
        .arg("--outdir")
        .arg(&dir)
        .args(["--mode", mode, "--ram", &ram_mb.to_string(), "--smp", "2"])
        .args(["--formats", "elf", "--timeout", "600"]);
    if let Some(needle) = needle {
        fxqemu.args(["--panic-needle", needle]);
    }
    let out = fxqemu
        .env("VMLINUZ", &factory.vmlinuz)
        .env("INITRD", &factory.initrd)
        .output()
        .expect("run the factory's fxqemu.py");
    let elf = dir.join("vmcore.qemu-elf");
    assert!(
        out.status.success() && elf.exists(),
        "fxqemu.py {name} {mode} {ram_mb} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elf
}
