//! The real NMI, end to end: the fixture factory's Debian kernel and initramfs boot
//! under QEMU with a QMP socket and `fx.mode=nmi` (the guest sets
//! kernel.unknown_nmi_panic=1 and waits), `coroner nmi qmp:SOCKET` sends the NMI,
//! and the guest panics with "NMI: Not continuing" on its serial console; then
//! `coroner triage` reads that console log.
//!
//! QEMU runs as the factory runs it (fxqemu.py: TCG, `-nodefaults -nic none`, serial
//! console to a file, `-no-reboot`, `panic=0`), every wait is bounded and QEMU is
//! killed whatever happens. Needs the factory set up by `.ci/fixtures-setup`, which
//! `qemu::factory_or_skip` runs first when this machine lacks it (as root, once);
//! when it cannot, the test fails saying why, unless `CORONER_SKIP_QEMU=1`.

use coroner_testdata::qemu;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const PANIC_TIMEOUT: Duration = Duration::from_secs(60);

/// The QEMU process, killed when dropped (a failed assertion included).
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the console log holds `needle`; `Err` with the log's tail if QEMU
/// exits or time runs out.
fn wait_for(
    console: &Path,
    needle: &str,
    timeout: Duration,
    qemu: &mut Qemu,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(console).unwrap_or_default();
        if text.contains(needle) {
            return Ok(start.elapsed());
        }
        let tail = || {
            text.lines()
                .rev()
                .take(25)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        if let Ok(Some(status)) = qemu.0.try_wait() {
            return Err(format!(
                "QEMU exited ({status}) before `{needle}`; console tail:\n{}",
                tail()
            ));
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "no `{needle}` within {}s; console tail:\n{}",
                timeout.as_secs(),
                tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn coroner(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(args)
        .output()
        .expect("run coroner")
}

#[test]
fn coroner_nmi_over_qmp_panics_the_guest_and_triage_names_it() {
    let Some(factory) =
        qemu::factory_or_skip("coroner_nmi_over_qmp_panics_the_guest_and_triage_names_it")
    else {
        return;
    };
    // Unix socket paths are limited to 108 bytes: keep them short.
    let dir = std::env::temp_dir().join(format!("coroner-nmi-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let console: PathBuf = dir.join("console.log");
    let socket = dir.join("qmp.sock");
    let t0 = Instant::now();
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "pc,accel=tcg",
            "-m",
            "128",
            "-smp",
            "2",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args(["-vga", "none", "-nic", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(&factory.vmlinuz)
        .arg("-initrd")
        .arg(&factory.initrd)
        .arg("-chardev")
        .arg(format!("file,id=ser0,path={}", console.display()))
        .args(["-serial", "chardev:ser0"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .args(["-append", "console=ttyS0 panic=0 fx.mode=nmi"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-x86_64");
    let mut qemu = Qemu(child);

    // guest-init.sh prints FX-READY after `kernel.unknown_nmi_panic=1`, then sleeps.
    let boot =
        wait_for(&console, "FX-READY", BOOT_TIMEOUT, &mut qemu).unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(&console).unwrap();
    assert!(
        log.contains("FX: kernel.unknown_nmi_panic=1"),
        "the guest did not arm unknown_nmi_panic:\n{log}"
    );
    assert!(
        !log.contains("Kernel panic"),
        "the guest panicked before the NMI:\n{log}"
    );
    // Let the guest's console drain its ready line (the factory waits the same).
    std::thread::sleep(Duration::from_secs(2));

    let sock = format!("qmp:{}", socket.display());
    let out = coroner(&["nmi", &sock]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "coroner nmi {sock}: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("NMI injected through QMP "), "{stdout}");

    let to_panic = wait_for(&console, "end Kernel panic", PANIC_TIMEOUT, &mut qemu)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(qemu);
    let log = std::fs::read_to_string(&console).unwrap();
    assert!(
        log.contains("Kernel panic - not syncing: NMI: Not continuing"),
        "{log}"
    );
    assert!(log.contains("NMI received for unknown reason"), "{log}");
    eprintln!(
        "QEMU boot to FX-READY {:.1}s, NMI to panic {:.1}s, total {:.1}s",
        boot.as_secs_f64(),
        to_panic.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );

    // The console log as an operator would have it: triage names the NMI panic.
    let out = coroner(&["triage", "--json", console.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "coroner triage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("triage --json prints JSON");
    assert_eq!(report["crashed"], true, "{report}");
    assert_eq!(report["class"], "unknown-nmi", "{report}");
    assert_eq!(report["panic"], "NMI: Not continuing", "{report}");
    let kb: Vec<&str> = report["kb"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert!(kb.contains(&"unknown-nmi"), "knowledge base: {kb:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dead_qmp_socket_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("coroner-nmi-dead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("qmp.sock");
    // A socket file nobody listens on, as a QEMU that died leaves it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let out = coroner(&["nmi", &format!("qmp:{}", socket.display())]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("coroner: cannot connect to QMP socket "),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
