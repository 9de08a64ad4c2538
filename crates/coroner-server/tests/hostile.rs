//! Hostile requests: missing, wrong and misused tokens, path traversal, oversize
//! and lying bodies, garbage and truncated dumps. Each gets a clear answer, and
//! the server stays up.

mod common;

use common::{example_dump, Harness};
use reqwest::{Method, StatusCode};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const LOG: &[u8] =
    b"<1>[   12.5] BUG: kernel NULL pointer dereference, address: 0000000000000000\n";

#[test]
fn tokens_are_checked_on_every_endpoint() {
    let h = Harness::start(|_| {});
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);
    let unknown = "ab".repeat(32);
    let (status, reply) = h.post(&upload, LOG.to_vec());
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let crash = format!("/api/v1/crashes/{}", reply["id"].as_str().unwrap());

    for (method, path) in [
        (Method::GET, crash.as_str()),
        (Method::GET, "/api/v1/problems"),
        (
            Method::GET,
            "/api/v1/problems/00000000000000000000000000000000",
        ),
        (Method::POST, "/api/v1/crashes"),
        (Method::PUT, &format!("{crash}/vmcore")),
    ] {
        let viewing = method == Method::GET;
        let body = || Some(LOG.to_vec().into());
        let (status, _) = h.call(method.clone(), path, None, body());
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: no token"
        );
        let (status, _) = h.call(method.clone(), path, Some(&unknown), body());
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: unknown token"
        );
        let (status, _) = h.call(method.clone(), path, Some("../../etc/passwd"), body());
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: malformed token"
        );
        let wrong = if viewing { &upload } else { &viewer };
        let (status, body) = h.call(method.clone(), path, Some(wrong), body());
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path}: wrong role: {body}"
        );
    }
    // Tokens are stored hashed: no file of the server's (WAL included) holds one.
    for file in h.files() {
        let bytes = std::fs::read(h.config.data.join(&file)).unwrap();
        for token in [&upload, &viewer] {
            assert!(
                !bytes.windows(64).any(|w| w == token.as_bytes()),
                "{file:?}"
            );
        }
    }
}

#[test]
fn client_names_never_become_paths() {
    let h = Harness::start(|_| {});
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);
    for path in [
        "/api/v1/crashes/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/crashes/%2e%2e",
        "/api/v1/crashes/..%5Ccoroner.db",
        "/api/v1/crashes/00000000000000000000000000000000",
    ] {
        let (status, _) = h.call(Method::GET, path, Some(&viewer), None);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let problem = path.replace("crashes", "problems");
        let (status, _) = h.call(Method::GET, &problem, Some(&viewer), None);
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        let put = format!("{path}/vmcore");
        let dump = std::fs::read(example_dump()).unwrap()[..4096].to_vec();
        let (status, _) = h.call(Method::PUT, &put, Some(&upload), Some(dump.into()));
        assert_eq!(status, StatusCode::NOT_FOUND, "{put}");
    }
    // Names offered in headers are ignored: the key is the server's.
    let (status, reply) = h.rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/crashes", h.base))
            .bearer_auth(&upload)
            .header(
                "Content-Disposition",
                "attachment; filename=\"../../../../tmp/owned\"",
            )
            .header("X-Host", "../../evil")
            .body(LOG.to_vec())
            .send()
            .await
            .unwrap();
        (
            resp.status(),
            resp.json::<serde_json::Value>().await.unwrap(),
        )
    });
    assert_eq!(status, StatusCode::CREATED);
    let crash = h.get(&viewer, reply["url"].as_str().unwrap());
    assert_eq!(crash["host"], "web-1", "the host is the token's");
    for file in h.files() {
        let file = file.to_string_lossy().to_string();
        let ok = file.starts_with("coroner.db")
            || (file.starts_with("blobs/crashes/")
                && file.split('/').nth(2).is_some_and(coroner_store::is_id));
        assert!(ok, "unexpected file {file}");
    }
    assert!(!std::path::Path::new("/tmp/owned").exists());
    // Host names that are paths are refused when a token is made.
    let config = h.config.clone();
    let made =
        std::thread::spawn(move || coroner_server::create_token(&config, "upload", Some("../x")))
            .join()
            .unwrap();
    assert!(made.is_err());
}

#[test]
fn oversize_and_lying_bodies_get_413() {
    let h = Harness::start(|c| {
        c.limits.log = 1000;
        c.limits.dump = 64 << 10;
    });
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);

    // Declared too large: refused before the body is read.
    let (status, body) = h.post(&upload, vec![b'x'; 2000]);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Chunked, with no length: refused when the count passes the limit.
    let dump = std::fs::read(example_dump()).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = dump[..1 << 20]
        .chunks(16 << 10)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, reply) = h.call(Method::POST, "/api/v1/crashes", Some(&upload), Some(body));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    // A log, chunked, past the log limit: the same.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'x'; 600])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, reply) = h.call(Method::POST, "/api/v1/crashes", Some(&upload), Some(body));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");

    // Absurd declared sizes, over a raw connection: answered at once (hyper
    // itself refuses a length that overflows).
    for (length, answer) in [
        ("1125899906842624", "HTTP/1.1 413"),
        ("18446744073709551616", "HTTP/1.1 4"),
    ] {
        let mut tcp = TcpStream::connect(h.base.trim_start_matches("http://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            tcp,
            "POST /api/v1/crashes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\nKDUMP   "
        )
        .unwrap();
        let mut got = String::new();
        let _ = tcp.read_to_string(&mut got);
        assert!(got.starts_with(answer), "Content-Length {length}: {got}");
    }

    // Nothing oversize was kept as a stored blob; the server still answers.
    assert!(
        h.files().iter().all(|f| !f.starts_with("blobs/crashes")),
        "{:?}",
        h.files()
    );
    h.get(&viewer, "/api/v1/problems");
}

#[test]
fn garbage_and_truncated_dumps_fail_their_stages_with_reasons() {
    let h = Harness::start(|_| {});
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);
    let dump = std::fs::read(example_dump()).unwrap();
    let mut garbage = b"KDUMP   ".to_vec();
    garbage.extend((0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let truncated = dump[..dump.len() / 3].to_vec();

    for (what, body) in [("garbage", garbage), ("truncated", truncated)] {
        let (status, reply) = h.post(&upload, body);
        assert_eq!(status, StatusCode::CREATED, "{what}: {reply}");
        let crash = h.settled(&viewer, reply["id"].as_str().unwrap());
        let stages = crash["stages"].as_array().unwrap();
        assert!(stages
            .iter()
            .any(|s| s["name"] == "store" && s["status"] == "ok"));
        for s in stages.iter().filter(|s| s["status"] != "ok") {
            let reason = s["reason"].as_str().unwrap_or("");
            assert!(
                reason.len() > 10,
                "{what}: a stage failed without a reason: {s}"
            );
            assert!(
                !reason.contains(h.dir.path().to_str().unwrap()),
                "no server path: {reason}"
            );
        }
        if what == "garbage" {
            assert_eq!(crash["state"], "failed", "{crash}");
            let triage = stages.iter().find(|s| s["name"] == "triage").unwrap();
            assert_eq!(triage["status"], "failed", "{crash}");
        }
    }
    // A good upload after the bad ones goes through.
    let (status, reply) = h.post(&upload, LOG.to_vec());
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["state"], "triaged");
}

#[test]
fn a_client_gone_mid_vmcore_leaves_it_failed_not_stored() {
    let h = Harness::start(|_| {});
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);
    let (status, reply) = h.post(&upload, LOG.to_vec());
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let id = reply["id"].as_str().unwrap().to_string();
    let dump = std::fs::read(example_dump()).unwrap();
    let mut tcp = TcpStream::connect(h.base.trim_start_matches("http://")).unwrap();
    write!(
        tcp,
        "PUT /api/v1/crashes/{id}/vmcore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
         Content-Length: {}\r\n\r\n",
        dump.len()
    )
    .unwrap();
    tcp.write_all(&dump[..dump.len() / 2]).unwrap();
    drop(tcp);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let crash = loop {
        let crash = h.get(&viewer, &format!("/api/v1/crashes/{id}"));
        if crash["vmcore"]["state"] != "receiving" {
            break crash;
        }
        assert!(std::time::Instant::now() < deadline, "{crash}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(crash["vmcore"]["state"], "failed", "{crash}");
    let stage = crash["stages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (stage["name"].as_str(), stage["status"].as_str()),
        (Some("vmcore"), Some("failed"))
    );
    assert!(
        stage["reason"].as_str().unwrap().contains("cut off"),
        "{stage}"
    );
    assert!(!h
        .config
        .data
        .join(format!("blobs/crashes/{id}/vmcore"))
        .exists());
}

#[test]
fn a_full_store_answers_507() {
    let h = Harness::start(|c| c.limits.keep_free = u64::MAX / 2);
    let upload = h.token("upload", Some("web-1"));
    let (status, body) = h.post(&upload, LOG.to_vec());
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("full"), "{body}");
    assert!(h.files().iter().all(|f| !f.starts_with("blobs/crashes")));
}

#[test]
fn a_stalled_upload_is_cut_off_not_waited_for() {
    let h = Harness::start(|c| c.limits.idle = Duration::from_secs(1));
    let upload = h.token("upload", Some("web-1"));
    let viewer = h.token("viewer", None);
    let mut tcp = TcpStream::connect(h.base.trim_start_matches("http://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        tcp,
        "POST /api/v1/crashes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
         Content-Length: 100000\r\nConnection: close\r\n\r\nKDUMP   and then nothing"
    )
    .unwrap();
    let mut got = String::new();
    let _ = tcp.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    assert!(got.contains("nothing arrived for 1 s"), "{got}");
    h.get(&viewer, "/api/v1/problems");
}

#[test]
fn uploads_past_the_most_at_once_get_503() {
    let h = Harness::start(|c| c.limits.uploads = 1);
    let upload = h.token("upload", Some("web-1"));
    // One upload in progress, its body arriving slowly.
    let mut tcp = TcpStream::connect(h.base.trim_start_matches("http://")).unwrap();
    write!(
        tcp,
        "POST /api/v1/crashes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {upload}\r\n\
         Content-Length: 100000\r\n\r\nKDUMP   and the rest later"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = h.post(&upload, LOG.to_vec());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("try again later"));
    // Once it ends (here: cut off), the next one goes through.
    drop(tcp);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = h.post(&upload, LOG.to_vec());
        if status == StatusCode::CREATED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
