//! A crash's page: its triage report (rendered by coroner-report from the
//! stored log, as `coroner triage` prints it), the kernel log with the report's
//! lines marked, the dump's facts, panic backtrace and tasks (the documents the
//! worker read from the stored dump), and the vmcore download (its own
//! permission, recorded in the audit log).

use super::session::{error_page, page_reader, render, signed, Nav};
use crate::error::ApiError;
use crate::App;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use coroner_commands::Session;
use coroner_report::triage::{self, TriageReport};
use coroner_report::Render;
use coroner_store::{is_id, CrashRecord};
use serde_json::Value;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Lines a report is marked over at most, from its first line to the kernel's
/// `---[ end trace` (or the next blank line).
const REPORT_LINES: usize = 80;

struct DumpView {
    format: String,
    compression: String,
    release: String,
    build_id: String,
    arch: String,
    crash_time: String,
    memory: String,
    incomplete: bool,
    missing: String,
}

struct FrameView {
    function: String,
    module: String,
    pc: String,
    sp: String,
}

struct StackView {
    title: String,
    frames: Vec<FrameView>,
}

struct TaskView {
    pid: u64,
    ppid: u64,
    cpu: u64,
    state: String,
    comm: String,
    active: bool,
}

struct CrashView {
    id: String,
    host: String,
    received: i64,
    state: String,
    input: String,
    problem: Option<String>,
    signature: Option<String>,
    signature_version: Option<String>,
    vmcore_state: String,
    vmcore_bytes: Option<i64>,
    title: Option<String>,
    stages: Vec<coroner_store::StageRecord>,
}

#[derive(Template)]
#[template(path = "crash.html")]
struct CrashPage {
    nav: Nav,
    c: CrashView,
    notice: Option<String>,
    triage_text: Option<String>,
    triage_why: String,
    dump: Option<DumpView>,
    stacks: Vec<StackView>,
    tasks: Vec<TaskView>,
    /// The log's lines, each marked when it is part of the report.
    log: Vec<(bool, String)>,
}

fn fact(c: &CrashRecord, name: &str) -> Option<Value> {
    c.facts
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, d)| serde_json::from_str(d).ok())
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn dump_view(info: &Value) -> DumpView {
    let pages = info.get("pages");
    let missing_pages = pages
        .and_then(|p| p.get("missing"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let ranges = info
        .get("missing_ranges")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let compression = info
        .get("compression")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let bytes = info
        .get("memory_bytes")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    DumpView {
        format: text(info, "format"),
        compression,
        release: text(info, "release"),
        build_id: text(info, "build_id"),
        arch: text(info, "arch"),
        crash_time: text(info, "crash_time"),
        memory: format!("{} MiB", bytes >> 20),
        incomplete: missing_pages > 0 || ranges > 0,
        missing: format!("{missing_pages} pages missing in {ranges} ranges"),
    }
}

fn stacks_view(bt: &Value) -> Vec<StackView> {
    let Some(stacks) = bt.get("stacks").and_then(Value::as_array) else {
        return Vec::new();
    };
    stacks
        .iter()
        .map(|s| StackView {
            title: format!(
                "PID {} \"{}\" on CPU {}",
                text(s, "pid"),
                text(s, "comm"),
                text(s, "cpu")
            ),
            frames: s
                .get("frames")
                .and_then(Value::as_array)
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            let function = match f.get("function").and_then(Value::as_str) {
                                Some(name) => format!(
                                    "{name}+{:#x}",
                                    f.get("offset").and_then(Value::as_u64).unwrap_or(0)
                                ),
                                None => "?".into(),
                            };
                            FrameView {
                                function,
                                module: text(f, "module"),
                                pc: text(f, "pc"),
                                sp: text(f, "sp"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn tasks_view(ps: &Value) -> Vec<TaskView> {
    let num = |t: &Value, k: &str| t.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut tasks: Vec<TaskView> = ps
        .get("tasks")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .map(|t| TaskView {
                    pid: num(t, "pid"),
                    ppid: num(t, "ppid"),
                    cpu: num(t, "cpu"),
                    state: text(t, "state"),
                    comm: text(t, "comm"),
                    active: t.get("active").and_then(Value::as_bool).unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    tasks.sort_by_key(|t| !t.active);
    tasks
}

/// The report's lines: from its first line to the end-of-trace marker.
fn mark(log: &str, first: Option<usize>) -> Vec<(bool, String)> {
    let mut inside = false;
    let mut marked = 0;
    log.lines()
        .enumerate()
        .map(|(i, line)| {
            if Some(i + 1) == first {
                inside = true;
            }
            let hit = inside && marked < REPORT_LINES;
            if hit {
                marked += 1;
                if line.contains("---[ end trace") || line.trim().is_empty() {
                    inside = false;
                }
            }
            (hit, line.to_string())
        })
        .collect()
}

/// Where the crash's report comes from: its stored log, else its whole stored dump.
fn report_source(c: &CrashRecord) -> Option<&str> {
    c.log_key.as_deref().or_else(|| {
        c.vmcore_key
            .as_deref()
            .filter(|_| c.vmcore_state == "stored")
    })
}

/// The triage report and the log it came from: the stored log's text, or the
/// log inside the stored dump (`path` is that blob as a local file).
fn triage_and_log(
    app: &App,
    c: &CrashRecord,
    path: Option<&std::path::Path>,
) -> Result<(TriageReport, String), String> {
    let (Some(key), Some(path)) = (report_source(c), path) else {
        return Err("neither a log nor a whole dump is stored".into());
    };
    if c.log_key.is_some() {
        let bytes = std::fs::read(path).map_err(|e| format!("reading the stored log: {e}"))?;
        let report = triage::from_text(key, &bytes, &app.kb);
        return Ok((report, String::from_utf8_lossy(&bytes).into_owned()));
    }
    let session = Session::new(path, None);
    session
        .with_kernel(|kernel| {
            let report = triage::from_kernel(key, kernel, &app.kb).map_err(|e| e.to_string())?;
            let log = coroner_kernel::dmesg::read_log(kernel, kernel.vmcoreinfo())
                .map(|r| coroner_kernel::dmesg::text::render_with_callers(&r.log))
                .map_err(|e| e.to_string())?;
            Ok((report, String::from_utf8_lossy(&log).into_owned()))
        })
        .map_err(|e| crate::triage::clean(&e.to_string(), path, key))?
}

pub async fn crash_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signed = match page_reader(&app, &headers, &format!("/crashes/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !is_id(&id) {
        return error_page(ApiError::not_found());
    }
    let c = match app.db.crash(&id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(ApiError::not_found()),
        Err(e) => return error_page(e.into()),
    };
    // A local file for the report's blob (a copy while it is read, from S3).
    let copy = match report_source(&c) {
        Some(key) => app.blobs.local(key).await.map(Some),
        None => Ok(None),
    };
    let record = c.clone();
    let app2 = app.clone();
    let found = match copy {
        Ok(copy) => tokio::task::spawn_blocking(move || {
            triage_and_log(&app2, &record, copy.as_ref().map(|c| c.path()))
        })
        .await
        .unwrap_or_else(|e| Err(format!("reading the report stopped: {e}"))),
        Err(e) => Err(format!("reading the stored blob: {e}")),
    };
    let (triage_text, triage_why, log) = match found {
        Ok((report, log)) => {
            let mut out = Vec::new();
            let text = report
                .text(&mut out)
                .ok()
                .map(|_| String::from_utf8_lossy(&out).into_owned());
            (text, String::new(), mark(&log, report.report.line))
        }
        Err(why) => (None, why, Vec::new()),
    };
    let title = c
        .triage
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|t| t.get("title").and_then(Value::as_str).map(str::to_string));
    let page = CrashPage {
        nav: signed.nav,
        notice: None,
        triage_text,
        triage_why,
        dump: fact(&c, "info").map(|i| dump_view(&i)),
        stacks: fact(&c, "bt").map(|b| stacks_view(&b)).unwrap_or_default(),
        tasks: fact(&c, "ps").map(|p| tasks_view(&p)).unwrap_or_default(),
        log,
        c: CrashView {
            id: c.id,
            host: c.host,
            received: c.received,
            state: c.state,
            input: c.input,
            problem: c.problem,
            signature: c.signature,
            signature_version: c.signature_version,
            vmcore_state: c.vmcore_state,
            vmcore_bytes: c.vmcore_bytes,
            title,
            stages: c.stages,
        },
    };
    render(&page)
}

/// The stored vmcore, streamed, for readers with the download permission
/// (page session or bearer token); each download is audited.
pub async fn download(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let signed = signed(&app, &headers).await?;
    if !signed.reader.may_download() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "downloading a vmcore needs the download permission (vmcores hold secrets)",
        ));
    }
    if !is_id(&id) {
        return Err(ApiError::not_found());
    }
    let c = app.db.crash(&id).await?.ok_or_else(ApiError::not_found)?;
    let key = c
        .vmcore_key
        .filter(|_| c.vmcore_state == "stored")
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "this crash has no stored vmcore"))?;
    // An S3 object's local copy goes when `copy` drops; the open file stays readable.
    let copy = app.blobs.local(&key).await?;
    let file = tokio::fs::File::open(copy.path()).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("opening the vmcore: {e}"),
        )
    })?;
    app.db
        .audit(
            &signed.reader.actor,
            "download",
            &id,
            c.vmcore_bytes.map(|b| format!("{b} bytes")).as_deref(),
        )
        .await?;
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().expect("a valid header"),
    );
    if let Ok(v) = format!("attachment; filename=\"vmcore-{id}\"").parse() {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(b) = c.vmcore_bytes {
        h.insert(header::CONTENT_LENGTH, b.into());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lines_are_marked_to_the_end_of_the_trace() {
        let log = "boot\nBUG: oops\n RIP: x\n---[ end trace 0 ]---\nafter\n";
        let marked: Vec<bool> = mark(log, Some(2)).into_iter().map(|(hit, _)| hit).collect();
        assert_eq!(marked, [false, true, true, true, false]);
        assert!(mark(log, None).iter().all(|(hit, _)| !hit));
    }
}
