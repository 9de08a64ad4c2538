//! QEMU's machine protocol (QMP) over a Unix socket: one JSON object a line. The
//! server greets with `{"QMP": ...}`; the client leaves negotiation mode with
//! `qmp_capabilities`, then sends commands. Replies carry the command's `id`;
//! asynchronous `{"event": ...}` lines may come in between.

use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A reply line longer than this is not QMP.
const MAX_LINE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("no QMP socket at {0} (start QEMU with -qmp unix:{0},server=on,wait=off)")]
    NoSocket(PathBuf),
    #[error("cannot connect to QMP socket {path}: {source} (is the QEMU process still running?)")]
    Connect { path: PathBuf, source: io::Error },
    #[error("QMP socket {path}: {source} while {doing}")]
    Io {
        path: PathBuf,
        doing: &'static str,
        source: io::Error,
    },
    #[error("QMP socket {path}: no answer within {secs} s while {doing} (another client may hold the monitor; libvirt guests: use libvirt:DOMAIN)")]
    Timeout {
        path: PathBuf,
        doing: &'static str,
        secs: u64,
    },
    #[error("QMP socket {path}: connection closed while {doing}")]
    Closed { path: PathBuf, doing: &'static str },
    #[error("QMP socket {path}: {message}")]
    Protocol { path: PathBuf, message: String },
    #[error("QMP `{command}` failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
}

/// A QMP session in command mode.
pub struct Qmp {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    timeout: Duration,
    next_id: u64,
    /// QEMU's version from the greeting (`7.2.0`).
    pub version: String,
}

impl Qmp {
    /// Connects, reads the greeting and negotiates capabilities.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => QmpError::NoSocket(path.to_path_buf()),
            _ => QmpError::Connect {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let io_err = |source| QmpError::Io {
            path: path.to_path_buf(),
            doing: "connecting",
            source,
        };
        stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
        stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        let mut qmp = Qmp {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            timeout,
            next_id: 1,
            version: String::new(),
        };
        let greeting = qmp.read_message("waiting for the greeting")?;
        let Some(v) = greeting.get("QMP") else {
            return Err(qmp.protocol(format!("not a QMP server: it greeted with {greeting}")));
        };
        let q = &v["version"]["qemu"];
        qmp.version = format!("{}.{}.{}", q["major"], q["minor"], q["micro"]);
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    /// The exact line `execute` sends for a command (for --dry-run).
    pub fn request(command: &str, id: u64) -> String {
        json!({ "execute": command, "id": id }).to_string()
    }

    /// Runs a command without arguments; its `return` value, or its error reply.
    pub fn execute(&mut self, command: &str) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = Qmp::request(command, id) + "\n";
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| self.io(e, "sending a command"))?;
        loop {
            let msg = self.read_message("waiting for a reply")?;
            if msg.get("event").is_some() {
                continue;
            }
            if msg.get("id") != Some(&json!(id)) {
                return Err(self.protocol(format!("reply for another command: {msg}")));
            }
            if let Some(r) = msg.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = msg.get("error") {
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: e["class"].as_str().unwrap_or("error").to_string(),
                    desc: e["desc"].as_str().unwrap_or("(no description)").to_string(),
                });
            }
            return Err(self.protocol(format!("reply with neither return nor error: {msg}")));
        }
    }

    fn read_message(&mut self, doing: &'static str) -> Result<Value, QmpError> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.io(e, doing))?;
        if n == 0 {
            return Err(QmpError::Closed {
                path: self.path.clone(),
                doing,
            });
        }
        if !line.ends_with(b"\n") {
            return Err(self.protocol(format!(
                "a line longer than {MAX_LINE} bytes, or cut short, while {doing}"
            )));
        }
        serde_json::from_slice(&line).map_err(|e| {
            self.protocol(format!(
                "not JSON ({e}) while {doing}: {}",
                String::from_utf8_lossy(&line).trim_end()
            ))
        })
    }

    fn io(&self, e: io::Error, doing: &'static str) -> QmpError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => QmpError::Timeout {
                path: self.path.clone(),
                doing,
                secs: self.timeout.as_secs().max(1),
            },
            _ => QmpError::Io {
                path: self.path.clone(),
                doing,
                source: e,
            },
        }
    }

    fn protocol(&self, message: String) -> QmpError {
        QmpError::Protocol {
            path: self.path.clone(),
            message,
        }
    }
}

/// Sends every vCPU an NMI (`inject-nmi`). Returns QEMU's version.
pub fn inject_nmi(path: &Path, timeout: Duration) -> Result<String, QmpError> {
    let mut qmp = Qmp::connect(path, timeout)?;
    qmp.execute("inject-nmi")?;
    Ok(qmp.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::thread;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}"#;

    /// A QMP server on a real socket: greets, then answers each request line with
    /// `reply(request)`; returns the lines it received.
    fn server(
        name: &str,
        reply: fn(&Value) -> Vec<String>,
    ) -> (PathBuf, thread::JoinHandle<Vec<String>>) {
        let dir = crate::testutil::temp_dir(name);
        let path = dir.join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut w = conn.try_clone().unwrap();
            writeln!(w, "{GREETING}").unwrap();
            let mut got = Vec::new();
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                let req: Value = serde_json::from_str(&line).unwrap();
                got.push(line);
                for out in reply(&req) {
                    if writeln!(w, "{out}").is_err() {
                        return got;
                    }
                }
            }
            got
        });
        (path, handle)
    }

    fn ok(req: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if req["execute"] == "inject-nmi" {
            // QEMU may interleave events; the client must skip them.
            out.push(
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "NMI"}"#.to_string(),
            );
        }
        out.push(json!({"return": {}, "id": req["id"]}).to_string());
        out
    }

    #[test]
    fn the_protocol_exchange() {
        let (path, server) = server("qmp-ok", ok);
        let version = inject_nmi(&path, Duration::from_secs(5)).unwrap();
        assert_eq!(version, "7.2.0");
        let got = server.join().unwrap();
        assert_eq!(
            got,
            [
                Qmp::request("qmp_capabilities", 1),
                Qmp::request("inject-nmi", 2)
            ]
        );
        assert_eq!(got[1], r#"{"execute":"inject-nmi","id":2}"#);
    }

    #[test]
    fn an_error_reply_is_the_error() {
        fn refuse(req: &Value) -> Vec<String> {
            if req["execute"] == "inject-nmi" {
                return vec![json!({"error": {"class": "GenericError", "desc": "Injecting NMI is unsupported"}, "id": req["id"]}).to_string()];
            }
            ok(req)
        }
        let (path, _server) = server("qmp-err", refuse);
        let e = inject_nmi(&path, Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "QMP `inject-nmi` failed: GenericError: Injecting NMI is unsupported"
        );
    }

    #[test]
    fn a_dead_socket_and_a_missing_one() {
        let dir = crate::testutil::temp_dir("qmp-dead");
        let path = dir.join("qmp.sock");
        drop(UnixListener::bind(&path).unwrap()); // the file stays, nobody listens
        let e = inject_nmi(&path, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, QmpError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("Connection refused"), "{e}");
        let e = inject_nmi(&dir.join("nope.sock"), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().starts_with("no QMP socket at "), "{e}");
    }

    #[test]
    fn not_qmp_silent_and_closing_servers() {
        let dir = crate::testutil::temp_dir("qmp-odd");
        for (name, behaviour) in [("http", 0), ("silent", 1), ("close", 2), ("garbage", 3)] {
            let path = dir.join(format!("{name}.sock"));
            let listener = UnixListener::bind(&path).unwrap();
            let t = thread::spawn(move || {
                let (mut c, _) = listener.accept().unwrap();
                match behaviour {
                    0 => writeln!(c, r#"{{"hello": "world"}}"#).unwrap(),
                    1 => thread::sleep(Duration::from_millis(700)),
                    3 => c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap(),
                    _ => {}
                }
            });
            let e = inject_nmi(&path, Duration::from_millis(300))
                .unwrap_err()
                .to_string();
            let expect = [
                "not a QMP server",
                "no answer within 1 s while waiting for the greeting",
                "connection closed while waiting for the greeting",
                "not JSON",
            ];
            assert!(e.contains(expect[behaviour]), "{name}: {e}");
            t.join().unwrap();
        }
    }
}
