//! `--spool`: a real OpenSSH server on loopback (Debian's `sshd`, its own
//! config, host key, authorized key and port) writes into the spool as kdump's
//! target; the test replays the exact remote commands of RHEL's kdump
//! (kdump-utils `dracut/99kdumpbase/kdump.sh`: `dump_ssh`,
//! `save_vmcore_dmesg_ssh`, `save_log`) and Debian's kdump-tools
//! (`kdump-config` `kdump_save_core_to_ssh`), with makedumpfile producing the
//! stream from the fixture dumps as the capture kernel would from /proc/vmcore.
//! The crashes must come out triaged and grouped as `coroner triage` signs the
//! logs, a capture cut off must be kept and flagged, and links are refused.

mod common;

use common::Harness;
use coroner_server::SpoolConfig;
use coroner_triage::KnowledgeBase;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's OpenSSH server, started in the foreground on 127.0.0.1 for the
/// current user; stopped on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    user: String,
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    fn start() -> Sshd {
        coroner_testdata::setup::apt_install(
            &["sshd", "ssh", "scp"],
            &["openssh-server", "openssh-client"],
        )
        .unwrap_or_else(|e| panic!("the spool test needs OpenSSH's server: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key)));
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .unwrap();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\n\
             UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // Its privilege separation directory (root only; harmless otherwise).
        let _ = std::fs::create_dir_all("/run/sshd");
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("openssh-server installs /usr/sbin/sshd");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
            .unwrap()
            .trim()
            .to_string();
        let sshd = Sshd {
            child,
            port,
            dir,
            user,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// `user@127.0.0.1`, as kdump.conf's `ssh` names the target.
    fn target(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// The options kdump passes (`-i KEY -o BatchMode=yes -o
    /// StrictHostKeyChecking=yes`), plus this server's port and host key (the
    /// capture host's known_hosts holds it).
    fn opts(&self) -> Vec<String> {
        let d = self.dir.path().display();
        [
            "-i".to_string(),
            format!("{d}/client_key"),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={d}/known_hosts"),
            "-o".into(),
            format!("Port={}", self.port),
        ]
        .to_vec()
    }

    /// `ssh [-q] OPTS TARGET ARGS...` with `stdin` as its input.
    fn ssh(&self, quiet: bool, args: &[&str], stdin: Stdio) {
        let mut cmd = Command::new("ssh");
        if quiet {
            cmd.arg("-q");
        }
        cmd.args(self.opts())
            .arg(self.target())
            .args(args)
            .stdin(stdin);
        run(&mut cmd);
    }

    /// `scp -q OPTS FILE TARGET:DEST` (over SFTP: OpenSSH 9's default).
    fn scp(&self, file: &Path, dest: &str) {
        run(Command::new("scp")
            .arg("-q")
            .args(self.opts())
            .arg(file)
            .arg(format!("{}:{dest}", self.target())));
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `makedumpfile ARGS DUMP` writing its stream to a pipe, as the capture
/// kernel's collector does for an ssh target (`-F`).
fn collector(args: &[&str], dump: &Path) -> Child {
    coroner_testdata::setup::require_tools();
    Command::new("makedumpfile")
        .args(args)
        .arg(dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn pipe_from(child: &mut Child) -> Stdio {
    Stdio::from(child.stdout.take().unwrap())
}

fn file_in(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::open(path).unwrap())
}

/// RHEL's `dump_ssh` for one crash: `mkdir -p`, the log through `dd` then
/// `mv`, the `-F` stream through `dd bs=512` then `mv` to `vmcore.flat`, and
/// `kexec-dmesg.log` by scp (`save_log`). With `cut` the collector's stream
/// stops after that many bytes and no `mv` follows (the capture failed).
fn rhel_capture(
    sshd: &Sshd,
    dir: &str,
    log: &Path,
    dump: &Path,
    cut: Option<u64>,
    kexec_log: &Path,
) {
    sshd.ssh(true, &["mkdir", "-p", dir], Stdio::null());
    sshd.ssh(
        false,
        &[&format!(
            "umask 0077 && dd of='{dir}/vmcore-dmesg-incomplete.txt'"
        )],
        file_in(log),
    );
    sshd.ssh(
        true,
        &[
            "mv",
            &format!("{dir}/vmcore-dmesg-incomplete.txt"),
            &format!("{dir}/vmcore-dmesg.txt"),
        ],
        Stdio::null(),
    );
    let mut mdf = collector(&["-l", "--message-level", "7", "-d", "31", "-F"], dump);
    // With `cut`, the capture kernel dies mid-stream: only the first bytes arrive.
    let mut head = cut.map(|n| {
        Command::new("head")
            .args(["-c", &n.to_string()])
            .stdin(pipe_from(&mut mdf))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    });
    let stream = match &mut head {
        None => pipe_from(&mut mdf),
        Some(head) => pipe_from(head),
    };
    sshd.ssh(
        false,
        &[&format!(
            "umask 0077 && dd bs=512 of='{dir}/vmcore-incomplete'"
        )],
        stream,
    );
    if let Some(mut head) = head {
        head.wait().unwrap();
    }
    let _ = mdf.wait();
    if cut.is_none() {
        sshd.ssh(
            false,
            &[&format!("mv '{dir}/vmcore-incomplete' '{dir}/vmcore.flat'")],
            Stdio::null(),
        );
    }
    sshd.scp(kexec_log, &format!("{dir}/"));
}

/// Debian's `kdump_save_core_to_ssh`: `mkdir -p`, `dmesg.<stamp>` by scp, the
/// `-F -c -d 31` stream through `dd of=.../dump-incomplete`, `mv` to
/// `dump.<stamp>` (no BatchMode flags: root's ssh config applies; here the
/// same options carry the port and key).
fn debian_capture(sshd: &Sshd, dir: &str, stamp: &str, log: &Path, dump: &Path) {
    sshd.ssh(false, &["mkdir", "-p", dir], Stdio::null());
    let tmp = tempfile::tempdir().unwrap();
    let dmesg = tmp.path().join(format!("dmesg.ssh.{stamp}"));
    std::fs::copy(log, &dmesg).unwrap();
    sshd.scp(&dmesg, &format!("{dir}/dmesg.{stamp}"));
    let mut mdf = collector(&["-F", "-c", "-d", "31"], dump);
    sshd.ssh(
        false,
        &["dd", &format!("of={dir}/dump-incomplete")],
        pipe_from(&mut mdf),
    );
    assert!(mdf.wait().unwrap().success());
    sshd.ssh(
        false,
        &[
            "mv",
            &format!("{dir}/dump-incomplete"),
            &format!("{dir}/dump.{stamp}"),
        ],
        Stdio::null(),
    );
}

/// The signature `coroner triage` gives a log.
fn cli_signature(log: &Path, kb: &KnowledgeBase) -> String {
    let text = std::fs::read(log).unwrap();
    coroner_report::triage::from_text("x", &text, kb)
        .report
        .signature
        .expect("the fixture's log holds a crash report")
}

/// The crash of `host` once settled (found through the problems' crash lists).
fn crash_of(h: &Harness, viewer: &str, host: &str, deadline: Instant) -> Value {
    loop {
        let problems = h.get(viewer, "/api/v1/problems");
        for p in problems["problems"].as_array().unwrap() {
            let detail = h.get(
                viewer,
                &format!("/api/v1/problems/{}", p["id"].as_str().unwrap()),
            );
            for c in detail["crashes"].as_array().unwrap() {
                if c["host"] == host {
                    let crash = h.settled(viewer, c["id"].as_str().unwrap());
                    let capture_done = crash["facts"]["capture"]["files"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f["role"] == "capture-log"));
                    if capture_done && crash["vmcore"]["state"] == "stored" {
                        return crash;
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no settled crash of {host} came out of the spool"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn stage<'a>(crash: &'a Value, name: &str) -> &'a Value {
    crash["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {crash}"))
}

#[test]
fn kdump_ssh_sessions_into_the_spool_come_out_triaged_and_grouped() {
    let sshd = Sshd::start();
    let spool_dir = tempfile::tempdir().unwrap();
    let spool = spool_dir.path().join("crash");
    let h = Harness::start(|c| {
        c.spool = Some(SpoolConfig {
            poll: Duration::from_millis(200),
            settle: Duration::from_secs(1),
            stall: Duration::from_secs(3),
            ..SpoolConfig::new(spool.clone())
        })
    });
    let viewer = h.token("viewer", None);
    let kb = KnowledgeBase::builtin().unwrap();
    let fixtures = coroner_testdata::fixtures_dir();
    let kexec_log = spool_dir.path().join("kexec-dmesg.log");
    std::fs::write(
        &kexec_log,
        "[    2.000000] kdump: saving to 127.0.0.1:/var/crash\n[    9.000000] kdump: saving vmcore complete\n",
    )
    .unwrap();
    let s = spool.display();

    // RHEL: a real kdump capture (kdump-sysrq), whole.
    let rhel_dir = format!("{s}/10.0.0.5-2026-12-04-10:00:00");
    let rhel_log = fixtures.join("kdump-sysrq/dmesg.makedumpfile.txt");
    let rhel_dump = fixtures.join("kdump-sysrq/vmcore.kdump-mdf-d31-zlib");
    rhel_capture(&sshd, &rhel_dir, &rhel_log, &rhel_dump, None, &kexec_log);
    // Debian: mod-null, whole.
    let deb_dir = format!("{s}/db-1-202612041000");
    let deb_log = fixtures.join("mod-null/dmesg.makedumpfile.txt");
    debian_capture(
        &sshd,
        &deb_dir,
        "202612041000",
        &deb_log,
        &fixtures.join("mod-null/vmcore.mdf-d31-zlib"),
    );
    // RHEL again: sysrq, its capture cut off after 4 MiB.
    let cut_dir = format!("{s}/10.0.0.6-2026-12-04-10:05:00");
    let cut_log = fixtures.join("sysrq/dmesg.makedumpfile.txt");
    let cut = 4 << 20;
    rhel_capture(
        &sshd,
        &cut_dir,
        &cut_log,
        &fixtures.join("sysrq/vmcore.mdf-d31-lzo"),
        Some(cut),
        &kexec_log,
    );

    // Hostile: whoever holds the key runs any command. A link named like a
    // capture directory, a linked log, a hard-linked log, a name outside the layout.
    let secret = spool_dir.path().join("secret");
    std::fs::write(&secret, "root:secret\n").unwrap();
    let evil = format!("{s}/10.6.6.6-2026-12-04-10:10:00");
    sshd.ssh(
        false,
        &[&format!(
            "ln -s /etc '{s}/10.6.6.7-2026-12-04-10:10:00' && mkdir -p '{evil}' && \
             ln -s '{}' '{evil}/vmcore-dmesg.txt' && mkdir -p '{s}/10.6.6.8-202612041010' && \
             ln '{}' '{s}/10.6.6.8-202612041010/dmesg.202612041010' && mkdir -p '{s}/odd name'",
            secret.display(),
            secret.display()
        )],
        Stdio::null(),
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    for (host, log, dump_bytes) in [
        ("10.0.0.5", &rhel_log, None),
        ("db-1", &deb_log, None),
        ("10.0.0.6", &cut_log, Some(cut)),
    ] {
        let crash = if host == "db-1" {
            // Debian sends no capture kernel log.
            debian_crash(&h, &viewer, deadline)
        } else {
            crash_of(&h, &viewer, host, deadline)
        };
        let expected = cli_signature(log, &kb);
        assert_eq!(crash["signature"], expected.as_str(), "{host}: {crash}");
        assert_eq!(crash["upload"], "log", "{host}: the log came first");
        assert_eq!(crash["host"], host);
        let problem = h.get(
            &viewer,
            &format!("/api/v1/problems/{}", crash["problem"].as_str().unwrap()),
        );
        assert_eq!(problem["signatures"], serde_json::json!([expected]));
        let capture = &crash["facts"]["capture"];
        assert_eq!(capture["schema"], "coroner.capture/1");
        assert_eq!(capture["host"], host);
        match dump_bytes {
            None => {
                assert_eq!(crash["state"], "done", "{host}: {crash}");
                for s in [
                    "store",
                    "triage",
                    "problem",
                    "vmcore",
                    "dump",
                    "program",
                    "backtrace",
                    "tasks",
                ] {
                    assert_eq!(stage(&crash, s)["status"], "ok", "{host} {s}: {crash}");
                }
                assert!(
                    crash["facts"]["bt"]["stacks"][0]["frames"]
                        .as_array()
                        .is_some_and(|f| !f.is_empty()),
                    "{host}: {crash}"
                );
            }
            Some(n) => {
                // Kept, flagged, its log triaged; what the cut dump holds was read.
                assert_eq!(crash["state"], "failed", "{crash}");
                let flagged = stage(&crash, "capture");
                assert_eq!(flagged["status"], "failed");
                assert!(
                    flagged["reason"]
                        .as_str()
                        .unwrap()
                        .contains("vmcore-incomplete"),
                    "{flagged}"
                );
                assert_eq!(crash["vmcore"]["bytes"], n);
                assert_eq!(stage(&crash, "triage")["status"], "ok");
                assert_eq!(
                    crash["facts"]["info"]["schema"], "coroner.info/1",
                    "{crash}"
                );
            }
        }
        let stored = h.config.data.join(format!(
            "blobs/crashes/{}/vmcore",
            crash["id"].as_str().unwrap()
        ));
        assert!(std::fs::metadata(&stored).unwrap().len() > 0);
    }
    // Taken files leave the spool; refused ones stay, and made no crash.
    let left: Vec<PathBuf> = walk(&spool);
    let names: Vec<String> = left
        .iter()
        .map(|p| p.strip_prefix(&spool).unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&"10.6.6.6-2026-12-04-10:10:00/vmcore-dmesg.txt".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"10.6.6.8-202612041010/dmesg.202612041010".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("vmcore.flat")
            || n.contains("dump.")
            || n.contains("vmcore-dmesg.txt") && n.starts_with("10.0")),
        "{names:?}"
    );
    let problems = h.get(&viewer, "/api/v1/problems");
    for p in problems["problems"].as_array().unwrap() {
        let hosts: Vec<&str> = p["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert!(
            hosts
                .iter()
                .all(|h| ["10.0.0.5", "10.0.0.6", "db-1"].contains(h)),
            "{hosts:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root:secret\n");
}

/// Debian's crash: no kexec-dmesg.log comes, so it is found by host and vmcore.
fn debian_crash(h: &Harness, viewer: &str, deadline: Instant) -> Value {
    loop {
        let problems = h.get(viewer, "/api/v1/problems");
        for p in problems["problems"].as_array().unwrap() {
            let detail = h.get(
                viewer,
                &format!("/api/v1/problems/{}", p["id"].as_str().unwrap()),
            );
            for c in detail["crashes"].as_array().unwrap() {
                if c["host"] == "db-1" {
                    let crash = h.settled(viewer, c["id"].as_str().unwrap());
                    if crash["vmcore"]["state"] == "stored" && crash["state"] != "queued" {
                        return crash;
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no settled crash of db-1 came out of the spool"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}
