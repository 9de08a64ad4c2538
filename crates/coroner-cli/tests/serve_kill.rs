//! `kill -9` of the real `coroner serve` during ingest: acknowledged uploads
//! survive whole, a half-sent vmcore is never shown as stored, and queued work
//! finishes after the restart.
#![cfg(feature = "serve")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CORONER: &str = env!("CARGO_BIN_EXE_coroner");

fn example_dump() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sysrq-6.1-small.kdump-zstd")
}

/// A running `coroner serve`, killed with SIGKILL when dropped.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(data: &Path) -> Serve {
        let mut child = Command::new(CORONER)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .unwrap();
            if let Some(addr) = line.strip_prefix("coroner: listening on http://") {
                break addr.to_string();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    fn connect(&self) -> TcpStream {
        let tcp = TcpStream::connect(&self.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        tcp
    }

    /// One request over its own connection; (status, JSON body).
    fn call(&self, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, serde_json::Value) {
        let mut tcp = self.connect();
        write!(
            tcp,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        tcp.write_all(body).unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer);
        let status = text[9..12].parse().unwrap();
        let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
        (
            status,
            serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(data: &Path, role: &str, host: Option<&str>) -> String {
    let mut cmd = Command::new(CORONER);
    cmd.args(["token", "create", "--role", role, "--data"])
        .arg(data);
    if let Some(host) = host {
        cmd.args(["--host", host]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn kill_9_loses_no_acknowledged_upload_and_shows_no_half_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let upload = token(&data, "upload", Some("web-1"));
    let viewer = token(&data, "viewer", None);
    let dump = std::fs::read(example_dump()).unwrap();
    let log = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/sysrq/dmesg.makedumpfile.txt"),
    )
    .unwrap();

    let server = Serve::start(&data);
    // Acknowledged: a log, then a log whose vmcore is acknowledged and killed
    // right after (its analysis queued, maybe not run).
    let (status, logged) = server.call("POST", "/api/v1/crashes", &upload, &log);
    assert_eq!(status, 201, "{logged}");
    let (_, queued) = server.call("POST", "/api/v1/crashes", &upload, &log);
    let queued = queued["id"].as_str().unwrap().to_string();
    let (_, cut) = server.call("POST", "/api/v1/crashes", &upload, &log);
    let cut = cut["id"].as_str().unwrap().to_string();
    let (status, body) = server.call(
        "PUT",
        &format!("/api/v1/crashes/{queued}/vmcore"),
        &upload,
        &dump,
    );
    assert_eq!(status, 201, "{body}");

    // Half a vmcore, then SIGKILL while the connection waits for the rest.
    let mut tcp = server.connect();
    write!(
        tcp,
        "PUT /api/v1/crashes/{cut}/vmcore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
         Content-Length: {}\r\n\r\n",
        dump.len()
    )
    .unwrap();
    tcp.write_all(&dump[..dump.len() / 2]).unwrap();
    tcp.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    server.kill();
    drop(tcp);

    let server = Serve::start(&data);
    let get = |id: &str| {
        let (status, crash) = server.call("GET", &format!("/api/v1/crashes/{id}"), &viewer, b"");
        assert_eq!(status, 200, "{crash}");
        crash
    };
    let crash = get(logged["id"].as_str().unwrap());
    assert_eq!(crash["state"], "triaged", "{crash}");
    assert_eq!(crash["signature"], logged["signature"]);

    let crash = get(&cut);
    assert_eq!(
        crash["vmcore"]["state"], "failed",
        "a half vmcore is never stored: {crash}"
    );
    let stage = crash["stages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["name"] == "vmcore")
        .unwrap();
    assert_eq!(stage["status"], "failed");
    assert!(
        stage["reason"].as_str().unwrap().contains("cut off"),
        "{stage}"
    );
    assert!(!data.join(format!("blobs/crashes/{cut}/vmcore")).exists());
    // Nor is what was written of it kept.
    let left: Vec<_> = std::fs::read_dir(data.join(format!("blobs/crashes/{cut}")))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| n == "log"), "{left:?}");

    // The acknowledged vmcore is whole, and its queued analysis finishes.
    let stored = std::fs::read(data.join(format!("blobs/crashes/{queued}/vmcore"))).unwrap();
    assert!(stored == dump, "the acknowledged vmcore is stored whole");
    let deadline = Instant::now() + Duration::from_secs(180);
    let crash = loop {
        let crash = get(&queued);
        if crash["state"] == "done" || crash["state"] == "failed" {
            break crash;
        }
        assert!(
            Instant::now() < deadline,
            "queued work never finished: {crash}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(crash["state"], "done", "{crash}");
    assert!(crash["facts"]["bt"]["stacks"][0]["frames"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    server.kill();
}

#[test]
fn push_sends_a_log_then_the_dump_the_server_wants() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let upload = token(&data, "upload", Some("web-2"));
    let viewer = token(&data, "viewer", None);
    let server = Serve::start(&data);
    let url = format!("http://{}", server.addr);
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/sysrq/dmesg.makedumpfile.txt");
    let push = |args: &[&std::ffi::OsStr], token: &str| {
        let out = Command::new(CORONER)
            .arg("push")
            .args(args)
            .args(["--server", &url])
            .env("CORONER_TOKEN", token)
            .output()
            .unwrap();
        let reply = serde_json::from_slice::<serde_json::Value>(&out.stdout).ok();
        (
            out.status.code(),
            reply,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let dump = example_dump();
    let (code, reply, err) = push(
        &[dump.as_os_str(), "--log".as_ref(), log.as_os_str()],
        &upload,
    );
    assert_eq!(code, Some(0), "{err}");
    let reply = reply.unwrap();
    assert_eq!(
        reply["state"], "queued",
        "the log was wanted its dump: {reply}"
    );
    let (status, crash) = server.call(
        "GET",
        &format!("/api/v1/crashes/{}", reply["id"].as_str().unwrap()),
        &viewer,
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(crash["upload"], "log");
    assert_eq!(crash["host"], "web-2");

    // A refused push says why, with status 2.
    let (code, _, err) = push(&[log.as_os_str()], &viewer);
    assert_eq!(code, Some(2));
    assert!(err.contains("403") && err.contains("upload token"), "{err}");
    server.kill();
}
