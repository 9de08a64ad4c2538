//! What the tests need on the machine, set up by the tests themselves, so that
//! `cargo test --workspace` alone passes on a fresh Debian machine (cargo, gcc,
//! Python; as root):
//!
//! - [`require_tools`]: `makedumpfile` and `zstd`, installed with apt-get when
//!   missing (root only), once;
//! - [`fixtures_setup`]: `.ci/fixtures-setup`, the fixture factory's kernel,
//!   initramfs and QEMU for the tests that boot that kernel (it apt-installs QEMU
//!   and puts ~600 MB in `~/.cache/coroner-fixtures` the first time; afterwards it
//!   only checks, well under a second).
//!
//! Both run under one machine-wide file lock, so test binaries (of this checkout or
//! another) never install or build the same thing at once, and at most once per test
//! process. Neither is needed for a machine that has it all: they only check then.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Debian packages the tests run as oracles: makedumpfile (the reference for
/// dmesg and the maker of derived variants) and zstd.
pub const APT_PACKAGES: [&str; 2] = ["makedumpfile", "zstd"];

/// The lock every set-up step takes: one file for the whole machine.
pub fn lock_path() -> PathBuf {
    PathBuf::from("/tmp/coroner-test-setup.lock")
}

/// An exclusive `flock(2)` on [`lock_path`], held while this lives.
pub struct MachineLock(File);

impl MachineLock {
    pub fn acquire() -> Result<MachineLock, String> {
        let path = lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            // Another user's lock file: reading is enough to lock it.
            .or_else(|_| File::open(&path))
            .map_err(|e| format!("cannot open the set-up lock {}: {e}", path.display()))?;
        loop {
            // SAFETY: flock on a file descriptor this File owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(MachineLock(file));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release it too.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("bash")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Straight to the process's stderr: libtest captures `eprintln!` of passing tests,
/// and a step that may take minutes should say so.
fn announce(text: &str) {
    let _ = writeln!(std::io::stderr(), "coroner-testdata: {text}");
}

/// The missing tools of `tools`.
fn missing(tools: &[&str]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| !have(t))
        .map(|t| t.to_string())
        .collect()
}

/// Installs `packages` (which provide `tools`) with apt-get unless the tools are all
/// there. Needs root and apt-get; the error says what to do otherwise.
pub fn apt_install(tools: &[&str], packages: &[&str]) -> Result<(), String> {
    if missing(tools).is_empty() {
        return Ok(());
    }
    let _lock = MachineLock::acquire()?;
    // Another process may have installed them while this one waited.
    let absent = missing(tools);
    if absent.is_empty() {
        return Ok(());
    }
    let by_hand = format!(
        "install them with apt-get install {} (or run the tests once as root, which does)",
        packages.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "missing {} and not root, so the tests cannot install them; {by_hand}",
            absent.join(", ")
        ));
    }
    if !have("apt-get") {
        return Err(format!(
            "missing {} and there is no apt-get here; {by_hand}",
            absent.join(", ")
        ));
    }
    announce(&format!(
        "missing {}: installing {} with apt-get (once for this machine)",
        absent.join(", "),
        packages.join(" ")
    ));
    let apt = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "apt-get {} failed ({}): {}{}\n{by_hand}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    // Wait for an apt run of someone else rather than fail on its lock.
    let wait = "DPkg::Lock::Timeout=600";
    apt(&["-o", wait, "update", "-qq"])?;
    let mut install = vec![
        "-o",
        wait,
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
    ];
    install.extend_from_slice(packages);
    apt(&install)?;
    let absent = missing(tools);
    if absent.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "apt-get installed {} but {} is still not on the PATH",
            packages.join(" "),
            absent.join(", ")
        ))
    }
}

/// Installs the PyPI `package` (which provides `tool`) with pip unless `tool` is on
/// the PATH, once per machine under the machine lock.
pub fn pip_install(tool: &str, package: &str) -> Result<(), String> {
    if have(tool) {
        return Ok(());
    }
    let _lock = MachineLock::acquire()?;
    if have(tool) {
        return Ok(());
    }
    announce(&format!(
        "missing {tool}: installing {package} with pip (once for this machine)"
    ));
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", package])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip install {package} failed ({}): {}; install it by hand with pip install {package}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if have(tool) {
        Ok(())
    } else {
        Err(format!(
            "pip installed {package} but {tool} is not on the PATH"
        ))
    }
}

/// Puts `makedumpfile` and `zstd` on the PATH, with apt-get if need be, trying once
/// per test process; `Err` says how to install them when that cannot be done.
pub fn tools() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| apt_install(&APT_PACKAGES, &APT_PACKAGES))
        .clone()
}

/// [`tools`], or a panic saying how to install them.
pub fn require_tools() {
    if let Err(e) = tools() {
        panic!("the tests need {}: {e}", APT_PACKAGES.join(" and "));
    }
}

fn repo() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    repo.canonicalize().unwrap_or(repo)
}

/// Where the last run of `.ci/fixtures-setup` by the tests wrote its output.
pub fn fixtures_setup_log() -> PathBuf {
    repo().join("target/fixtures-setup.log")
}

/// Runs `.ci/fixtures-setup` under the machine-wide lock, at most once per test
/// process: the first time on a machine it installs QEMU and the factory's kernel
/// (root needed); afterwards it checks in well under a second (and rebuilds the
/// initramfs when the guest's init script changed). `Err` carries its message and
/// the tail of its log.
pub fn fixtures_setup() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(run_fixtures_setup).clone()
}

fn run_fixtures_setup() -> Result<(), String> {
    let script = repo().join(".ci/fixtures-setup");
    let _lock = MachineLock::acquire()?;
    let log_path = fixtures_setup_log();
    std::fs::create_dir_all(log_path.parent().unwrap())
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log = File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let ready = crate::qemu::factory().is_ok();
    if !ready {
        announce(&format!(
            "setting up the fixture factory with {} (the first time: apt-get, ~600 MB of kernel packages, a few minutes); log: {}",
            script.display(),
            log_path.display()
        ));
    }
    let status = Command::new(&script)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if status.success() {
        if !ready {
            announce(text.lines().last().unwrap_or("fixtures-setup done"));
        }
        return Ok(());
    }
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{} failed ({status}){}; its log ({}) ends:\n{}",
        script.display(),
        if is_root() {
            ""
        } else {
            ": not root, and the first set-up installs packages with apt-get"
        },
        log_path.display(),
        tail.join("\n")
    ))
}
