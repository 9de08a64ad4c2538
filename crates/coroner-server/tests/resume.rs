//! Resumable vmcore uploads: a `PUT` cut off keeps what arrived, `HEAD` says
//! how much (`Upload-Offset`), `PUT ?offset=N` sends the rest; `coroner push`
//! does that by itself when its connection is cut (here by a proxy on
//! loopback that drops the first connection after a few MiB).

mod common;

use common::{example_dump, Harness};
use reqwest::{Method, StatusCode};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn log() -> Vec<u8> {
    std::fs::read(coroner_testdata::fixtures_dir().join("sysrq/dmesg.makedumpfile.txt")).unwrap()
}

/// `HEAD .../vmcore`: (Upload-Offset, X-Vmcore-State).
fn held(h: &Harness, token: &str, id: &str) -> (u64, String) {
    h.rt.block_on(async {
        let resp = reqwest::Client::new()
            .head(format!("{}/api/v1/crashes/{id}/vmcore", h.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let header = |n: &str| resp.headers()[n].to_str().unwrap().to_string();
        (
            header("upload-offset").parse().unwrap(),
            header("x-vmcore-state"),
        )
    })
}

#[test]
fn a_cut_put_resumes_from_what_the_server_holds() {
    let h = Harness::start(|_| {});
    let upload = h.token("upload", Some("web-1"));
    let other = h.token("upload", Some("web-2"));
    let viewer = h.token("viewer", None);
    let (status, reply) = h.post(&upload, log());
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let id = reply["id"].as_str().unwrap().to_string();
    let vmcore = format!("/api/v1/crashes/{id}/vmcore");
    let dump = std::fs::read(example_dump()).unwrap();
    assert_eq!(held(&h, &upload, &id), (0, "none".to_string()));

    // Half the dump, then the client is gone.
    let mut tcp = TcpStream::connect(h.base.trim_start_matches("http://")).unwrap();
    write!(
        tcp,
        "PUT {vmcore} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
         Content-Length: {}\r\n\r\n",
        dump.len()
    )
    .unwrap();
    tcp.write_all(&dump[..dump.len() / 2]).unwrap();
    drop(tcp);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (offset, state) = loop {
        let (offset, state) = held(&h, &upload, &id);
        if state != "receiving" {
            break (offset, state);
        }
        assert!(Instant::now() < deadline, "the cut was never noticed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state, "failed");
    assert!(offset > 0 && offset <= dump.len() as u64 / 2, "{offset}");
    let crash = h.get(&viewer, &format!("/api/v1/crashes/{id}"));
    let stage = crash["stages"].as_array().unwrap().last().unwrap();
    assert_eq!(stage["status"], "failed", "{crash}");
    let reason = stage["reason"].as_str().unwrap();
    assert!(
        reason.contains("cut off") && reason.contains(&format!("?offset={offset}")),
        "{reason}"
    );

    // Only its host may ask or resume; a wrong offset is refused, saying the right one.
    let (status, _) = h.call(Method::HEAD, &vmcore, Some(&other), None);
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Refused before the body is read: send only a head of it.
    let rest = || {
        Some(
            dump[offset as usize..offset as usize + 4096]
                .to_vec()
                .into(),
        )
    };
    let (status, body) = h.call(
        Method::PUT,
        &format!("{vmcore}?offset={}", offset + 1),
        Some(&upload),
        rest(),
    );
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(&format!("?offset={offset}")),
        "{body}"
    );
    let (status, body) = h.call(
        Method::PUT,
        &format!("{vmcore}?offset=x"),
        Some(&upload),
        rest(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The rest, as the README's curl line sends it (`-C N`: Content-Range).
    coroner_testdata::setup::apt_install(&["curl"], &["curl"]).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-T"])
        .arg(example_dump())
        .args([
            "-C",
            &offset.to_string(),
            "-H",
            &format!("Authorization: Bearer {upload}"),
        ])
        .arg(format!("{}{vmcore}", h.base))
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("curl: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{body}");
    assert_eq!(body["bytes"], dump.len() as u64);
    assert_eq!(
        held(&h, &upload, &id),
        (dump.len() as u64, "stored".to_string())
    );
    let stored = h.config.data.join(format!("blobs/crashes/{id}/vmcore"));
    assert!(
        std::fs::read(stored).unwrap() == dump,
        "the resumed vmcore is the dump"
    );
    let crash = h.settled(&viewer, &id);
    // The cut is on record; the crash is not failed by it once resumed.
    assert_eq!(crash["state"], "done", "{crash}");
    assert!(
        crash["facts"]["bt"]["stacks"][0]["frames"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{crash}"
    );
}

/// A TCP proxy to `upstream` that cuts the first connection to carry more
/// than `after` bytes towards the server (both ways, at once).
struct CuttingProxy {
    addr: String,
    cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    fn start(upstream: String, after: u64) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let mut server = TcpStream::connect(&upstream).unwrap();
                let (mut client_r, mut server_w) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(Shutdown::Both);
                });
                let flag = flag.clone();
                std::thread::spawn(move || {
                    let mut sent = 0u64;
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match client_r.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        sent += n as u64;
                        if sent > after && !flag.swap(true, Ordering::SeqCst) {
                            let _ = client_r.shutdown(Shutdown::Both);
                            let _ = server_w.shutdown(Shutdown::Both);
                            return;
                        }
                        if server_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_w.shutdown(Shutdown::Write);
                });
            }
        });
        CuttingProxy { addr, cut }
    }
}

#[test]
fn push_resumes_a_vmcore_after_its_connection_is_cut() {
    let h = Harness::start(|_| {});
    let token = h.token("upload", Some("db-1"));
    let viewer = h.token("viewer", None);
    let proxy = CuttingProxy::start(h.base.trim_start_matches("http://").to_string(), 4 << 20);
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("vmcore-dmesg.txt");
    std::fs::write(&log_file, log()).unwrap();
    let dump = example_dump();
    let reply = coroner_server::push(&coroner_server::Push {
        server: &format!("http://{}", proxy.addr),
        token: &token,
        file: &dump,
        log: Some(&log_file),
    })
    .unwrap();
    assert!(
        proxy.cut.load(Ordering::SeqCst),
        "the proxy never cut the upload"
    );
    let size = std::fs::metadata(&dump).unwrap().len();
    assert_eq!(reply["bytes"], size, "{reply}");
    let id = reply["id"].as_str().unwrap();
    let stored = h.config.data.join(format!("blobs/crashes/{id}/vmcore"));
    assert!(std::fs::read(stored).unwrap() == std::fs::read(&dump).unwrap());
    let crash = h.settled(&viewer, id);
    assert_eq!(crash["state"], "done", "{crash}");
    let vmcore: Vec<&str> = crash["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "vmcore")
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(vmcore, ["failed", "ok"], "{crash}");
}
