//! The `coroner` binary's one-shot form (`coroner bt DUMP -a`), run in-process
//! through the registry the CLI uses, with what the CLI would print: the report on
//! stdout, `coroner: warning: ...` and `coroner: ERROR` lines on stderr, its exit
//! status. Shaped like `std::process::Command`, so the golden tests read the same
//! whether they run the binary or the library.

#![allow(dead_code)] // each test file uses its own part of this

use coroner_commands::{format, Registry};
use std::ffi::{OsStr, OsString};

#[derive(Default)]
pub struct Coroner {
    args: Vec<OsString>,
}

pub struct Status(u8);

impl Status {
    pub fn success(&self) -> bool {
        self.0 == 0
    }

    pub fn code(&self) -> Option<i32> {
        Some(self.0.into())
    }
}

/// `coroner COMMAND DUMP ARGS...`'s standard output, which must succeed.
pub fn stdout_of(command: &str, dump: &std::path::Path, args: &[&str]) -> String {
    let out = Coroner::new()
        .arg(command)
        .arg(dump)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command} {}: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Output {
    pub status: Status,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Coroner {
    pub fn new() -> Coroner {
        Coroner::default()
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Coroner {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<S: AsRef<OsStr>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Coroner {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Runs `SUBCOMMAND INPUT ARGS...`; never fails to run (the `Result` keeps
    /// call sites as they are with `std::process::Command`).
    pub fn output(&mut self) -> std::io::Result<Output> {
        let registry = Registry::builtin();
        let name = self.args[0].to_string_lossy().into_owned();
        let command = registry.find(&name).expect("a registered command");
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let status = match registry
            .invocation_parser(command)
            .try_get_matches_from(&self.args)
        {
            Err(e) => {
                stderr.extend(e.render().to_string().bytes());
                2
            }
            Ok(matches) => match registry.run_invocation(command, &matches) {
                Ok((output, _session)) => {
                    output.report.render(format(&matches), &mut stdout).unwrap();
                    for w in output.report.warnings() {
                        stderr.extend(format!("coroner: warning: {}\n", w.text).bytes());
                    }
                    output.status
                }
                Err(e) => {
                    stderr.extend(format!("coroner: {e}\n").bytes());
                    e.status()
                }
            },
        };
        Ok(Output {
            status: Status(status),
            stdout,
            stderr,
        })
    }
}
