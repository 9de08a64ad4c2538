//! `coroner shell` as people use it: a script on standard input (batch mode), and
//! a real terminal (tmux runs the session; send-keys types, capture-pane reads the
//! screen) for completion, history, a pipe and Ctrl-C.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sysrq-6.1-small.kdump-zstd")
}

fn batch(script: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg(example())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_script_runs_line_by_line_in_one_session() {
    let dir = std::env::temp_dir().join(format!("coroner-shell-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ps.txt");
    let script = format!(
        "sym panic\nset 2\nbt | head -2\nps > {0}\nps >> {0}\nstruct no_such_type\nlog --json | grep -c '\"seq\"'\nexit\nsym panic\n",
        file.display()
    );
    let (status, stdout, stderr) = batch(&script);
    assert_eq!(status, Some(1), "the worst line's status: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with(" (T) panic"), "{stdout}");
    assert_eq!(lines[1], "    PID: 2");
    // `set 2` made kthreadd the task bt shows.
    let bt = lines.iter().position(|l| l.starts_with("PID: ")).unwrap();
    assert!(lines[bt].contains("COMMAND: \"kthreadd\""), "{stdout}");
    assert!(lines[bt + 1].starts_with(" #0 ["));
    assert!(
        !lines[bt + 2].starts_with(" #"),
        "head -2 cut the trace: {stdout}"
    );
    let ps = std::fs::read_to_string(&file).unwrap();
    assert_eq!(ps.matches("PID    PPID").count(), 2, "> then >> appends");
    assert!(stderr.contains("coroner: struct: no_such_type: no such struct or union"));
    let records: u32 = lines
        .last()
        .unwrap()
        .trim()
        .parse()
        .expect("grep -c's count");
    assert!(records > 300, "{records} log records");
    assert_eq!(
        stdout.matches(" (T) panic").count(),
        1,
        "nothing runs after exit"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tmux server of this test's own, with the session in a 160x50 window.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, home: &Path) -> Tmux {
        // Installed with apt-get when missing, as the tests do for their other tools.
        if let Err(e) = coroner_testdata::setup::apt_install(&["tmux"], &["tmux"]) {
            panic!("this test drives the shell through tmux: {e}");
        }
        let socket = format!("coroner-test-{}", std::process::id());
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "160", "-y", "50"])
            .arg(format!(
                "env HOME={} PAGER=cat TERM=xterm {command}",
                home.display()
            ))
            .status()
            .expect("run tmux");
        assert!(status.success());
        Tmux { socket }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ready`, for at most 20 s.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last line holding the prompt (capture-pane drops trailing spaces).
    fn prompt_line(&self) -> String {
        let screen = self.screen();
        screen
            .lines()
            .rfind(|l| l.starts_with("coroner>"))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_terminal_session_completes_remembers_pipes_and_survives_ctrl_c() {
    let home = std::env::temp_dir().join(format!("coroner-shell-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let command = format!(
        "{} shell {}",
        env!("CARGO_BIN_EXE_coroner"),
        example().display()
    );
    let tmux = Tmux::start(&command, &home);
    tmux.wait_for("the prompt", |s| s.contains("coroner>"));

    // Completion: a command, then a symbol from the dump's kallsyms.
    tmux.keys(&["fore", "Tab"]);
    tmux.wait_for("foreach completed", |_| {
        tmux.prompt_line() == "coroner> foreach"
    });
    tmux.keys(&["C-u", "sym linux_ban", "Tab"]);
    tmux.wait_for("a symbol completed", |_| {
        tmux.prompt_line() == "coroner> sym linux_banner"
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("sym's answer", |s| s.contains(" (D) linux_banner"));

    // A pipe into a shell command: one header line per CPU.
    tmux.keys(&["bt -a | grep -c '^PID:'", "Enter"]);
    tmux.wait_for("grep's count", |s| s.lines().any(|l| l.trim() == "2"));

    // History: the arrow brings the last line back.
    tmux.keys(&["Up"]);
    tmux.wait_for("the last line again", |_| {
        tmux.prompt_line() == "coroner> bt -a | grep -c '^PID:'"
    });
    tmux.keys(&["C-u"]);

    // Ctrl-C stops a long command (here a slow reader) and keeps the session.
    tmux.keys(&["foreach bt | sleep 30", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["C-c"]);
    tmux.keys(&["sym panic", "Enter"]);
    let started = Instant::now();
    tmux.wait_for("the session after Ctrl-C", |s| s.contains(" (T) panic"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Ctrl-C did not stop the command"
    );

    tmux.keys(&["exit", "Enter"]);
    let history = home.join(".coroner_history");
    let start = Instant::now();
    while !history.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let saved = std::fs::read_to_string(&history).expect("history is saved on exit");
    assert!(saved.contains("bt -a | grep -c '^PID:'"), "{saved}");
    drop(tmux);
    std::fs::remove_dir_all(&home).unwrap();
}
