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
        Some(url) if wanted => send(&agent, "PUT", &format!("{base}{url}"), p.token, p.file),
        _ => Ok(reply),
    }
}

fn send(agent: &Agent, method: &str, url: &str, token: &str, file: &Path) -> Result<Value, String> {
    let body = File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let auth = format!("Bearer {token}");
    let request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    let mut response = request
        .header("Authorization", &auth)
        .send(body)
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading the reply: {e}"))?;
    let reply: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let why = reply["error"]
            .as_str()
            .map_or_else(|| reply.to_string(), str::to_string);
        return Err(format!("{method} {url}: {status}: {why}"));
    }
    Ok(reply)
}
