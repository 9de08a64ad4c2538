//! Process start to printed `bt -l` with the fp-nobtf vmlinux (187 MB, DWARF 4,
//! no BTF in the dump: coroner reads the types from the DWARF too), beside drgn
//! (`prog.crashed_thread().stack_trace()`, which prints lines and inlined frames)
//! and crash 8.0.2 (`bt -l`), on the real-kdump fixture that all three open.
//! Each tool runs ROUNDS times; the table shows the median wall time. A tool that
//! is not installed (and cannot be installed) is reported as such.
//!
//! Run: `cargo bench -p coroner-cli --no-default-features --bench bt_lines`.

use coroner_testdata::{fixtures_dir, fp_vmlinux, setup};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

/// Median wall time of `command` (its output must satisfy `check`), or why not.
fn timed(
    name: &str,
    mut command: impl FnMut() -> Command,
    input: &str,
) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut child = command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
        // All three name this frame's source line; a run that does not failed.
        if !text.contains("sysrq.c") {
            return Err(format!("{name}: no source lines in its output:\n{text}"));
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn row(tool: &str, result: Result<Duration, String>) {
    match result {
        Ok(t) => println!("{tool:<34} {:>8.2} s", t.as_secs_f64()),
        Err(e) => println!("{tool:<34} not measured: {e}"),
    }
}

fn main() {
    let dump = fixtures_dir().join("fp-nobtf/kdump-sysrq/vmcore.kdump-mdf-d31-zlib");
    let vmlinux = fp_vmlinux();
    let (dump, vmlinux): (&Path, &Path) = (&dump, &vmlinux);
    println!(
        "process start to printed bt -l, median of {ROUNDS}: {}",
        dump.display()
    );

    let coroner = env!("CARGO_BIN_EXE_coroner");
    row(
        "coroner bt -l --vmlinux",
        timed(
            "coroner",
            || {
                let mut c = Command::new(coroner);
                c.args(["bt"])
                    .arg(dump)
                    .arg("--vmlinux")
                    .arg(vmlinux)
                    .arg("-l");
                c
            },
            "",
        ),
    );

    let drgn = setup::pip_install("drgn", "drgn").and_then(|()| {
        timed(
            "drgn",
            || {
                let mut c = Command::new("drgn");
                c.arg("-c").arg(dump).arg("-s").arg(vmlinux).args([
                    "--quiet",
                    "-e",
                    "print(prog.crashed_thread().stack_trace())",
                ]);
                c
            },
            "",
        )
    });
    row("drgn -s vmlinux (stack_trace)", drgn);

    let crash = setup::apt_install(&["crash"], &["crash"]).and_then(|()| {
        timed(
            "crash",
            || {
                let mut c = Command::new("crash");
                c.arg("-s").arg(vmlinux).arg(dump);
                c
            },
            "bt -l\nq\n",
        )
    });
    row("crash -s vmlinux (bt -l)", crash);
}
