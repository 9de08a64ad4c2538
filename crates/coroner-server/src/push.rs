//! `coroner push`: the client of this API, for hosts. A log is posted and its
//! triage printed; a dump goes whole, or after its log only when the server
//! wants it. Files stream from disk; no runtime is needed.

use coroner_commands::{Input, Session};
use serde_json::Value;
use std::fs::File;
use std::path::Path;
use std::time::Duration;
use ureq::Agent;

/// What to send where.
pub struct Push<'a> {
    /// `https://coroner.example.com`
    pub server: &'a str,
    pub token: &'a str,
    /// A kernel log or a dump.
    pub file: &'a Path,
    /// The dump's log, sent first (then the dump only if wanted).
    pub log: Option<&'a Path>,
}

/// Sends the crash; returns the server's last reply (JSON).
pub fn push(p: &Push) -> Result<Value, String> {
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .build()
        .into();
    let base = p.server.trim_end_matches('/');
    let is_dump = Session::new(p.file, None).input() == Input::Dump;
    let Some(log) = p.log else {
        return send(
            &agent,
            "POST",
            &format!("{base}/api/v1/crashes"),
            p.token,
            p.file,
        );
    };
    if !is_dump {
        return Err(format!(
            "{}: --log goes with a dump, and this is no dump",
            p.file.display()
        ));
    }
    let reply = send(
        &agent,
        "POST",
        &format!("{base}/api/v1/crashes"),
        p.token,
        log,
    )?;
    let wanted = reply["want_vmcore"] == true;
    match reply["vmcore_url"].as_str() {
        Some(url) if wanted => put_resuming(&agent, &format!("{base}{url}"), p.token, p.file),
        _ => Ok(reply),
    }
}

/// Tries of a vmcore `PUT` whose connection breaks; each resumes where the
/// server's copy ends.
const PUT_TRIES: u32 = 6;

/// `PUT`s the dump; when the connection breaks, asks the server how much it
/// holds (`HEAD`, `Upload-Offset`) and sends the rest from there.
fn put_resuming(agent: &Agent, url: &str, token: &str, file: &Path) -> Result<Value, String> {
    let mut offset = 0;
    let mut tries = 0;
    loop {
        tries += 1;
        let target = match offset {
            0 => url.to_string(),
            n => format!("{url}?offset={n}"),
        };
        match send_from(agent, "PUT", &target, token, file, offset) {
            Err(Failure::Transport(e)) if tries < PUT_TRIES => {
                eprintln!("coroner: PUT {url}: {e}; resuming");
                std::thread::sleep(Duration::from_secs(u64::from(tries)));
                offset = held(agent, url, token)?;
            }
            result => return result.map_err(|f| f.to_string()),
        }
    }
}

/// How long the server may take to notice that a broken upload is gone (its
/// `--idle-timeout` when the connection died silently).
const NOTICE: Duration = Duration::from_secs(300);

/// The bytes of the vmcore the server holds, once it no longer counts the
/// broken upload as arriving.
fn held(agent: &Agent, url: &str, token: &str) -> Result<u64, String> {
    let deadline = std::time::Instant::now() + NOTICE;
    loop {
        let (offset, state) = ask_held(agent, url, token)?;
        if state != "receiving" || std::time::Instant::now() > deadline {
            return Ok(offset);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `HEAD`: the bytes held and the vmcore's state.
fn ask_held(agent: &Agent, url: &str, token: &str) -> Result<(u64, String), String> {
    let response = agent
        .head(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| format!("HEAD {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("HEAD {url}: {}", response.status()));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let offset = header("upload-offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("HEAD {url}: no Upload-Offset in the reply"))?;
    Ok((offset, header("x-vmcore-state").unwrap_or_default()))
}

/// Why a request failed: the connection (worth resuming), or the server's answer.
enum Failure {
    Transport(String),
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Failure::Transport(e) | Failure::Refused(e) => f.write_str(e),
        }
    }
}

fn send(agent: &Agent, method: &str, url: &str, token: &str, file: &Path) -> Result<Value, String> {
    send_from(agent, method, url, token, file, 0).map_err(|f| f.to_string())
}

/// Sends `file` from byte `offset` as the body.
fn send_from(
    agent: &Agent,
    method: &str,
    url: &str,
    token: &str,
    file: &Path,
    offset: u64,
) -> Result<Value, Failure> {
    use std::io::{Seek, SeekFrom};
    let refused = Failure::Refused;
    let mut body = File::open(file).map_err(|e| refused(format!("{}: {e}", file.display())))?;
    let size = body
        .seek(SeekFrom::End(0))
        .and_then(|size| body.seek(SeekFrom::Start(offset)).map(|_| size))
        .map_err(|e| refused(format!("{}: {e}", file.display())))?;
    // Not the File itself: its length would be sent as the Content-Length.
    let body =
        ureq::SendBody::from_owned_reader(std::io::Read::take(body, size.saturating_sub(offset)));
    let auth = format!("Bearer {token}");
    let request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    let mut response = request
        .header("Authorization", &auth)
        .send(body)
        .map_err(|e| Failure::Transport(format!("{method} {url}: {e}")))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| Failure::Transport(format!("{method} {url}: reading the reply: {e}")))?;
    let reply: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let why = reply["error"]
            .as_str()
            .map_or_else(|| reply.to_string(), str::to_string);
        return Err(refused(format!("{method} {url}: {status}: {why}")));
    }
    Ok(reply)
}
