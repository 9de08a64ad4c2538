//! Resumable vmcore uploads. A `PUT` streams into a partial file under the data
//! directory (`partial/<id>.vmcore`); whole, it is synced and moved into the
//! store. Cut off (client gone, silent, server stopped), the partial file stays:
//! `HEAD` tells its length in `Upload-Offset`, and `PUT ...?offset=N` with N
//! that length sends the rest. A dump of many GiB over a flaky link never
//! starts again from nothing.

use crate::api::{detached, upload_slot, uploader, Reply};
use crate::error::ApiError;
use crate::ingest::{check_length, check_space, Incoming, Kind};
use crate::triage::elapsed_ms;
use crate::{view, App};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use coroner_store::{is_id, Blobs, CrashRecord, CrashState, StageStatus};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The header that tells how much of a vmcore the server holds.
pub const UPLOAD_OFFSET: &str = "upload-offset";

/// Where a crash's partial vmcore waits (the id is server-made).
fn partial_path(app: &App, id: &str) -> PathBuf {
    app.config.data.join("partial").join(format!("{id}.vmcore"))
}

fn partial_len(app: &App, id: &str) -> u64 {
    std::fs::metadata(partial_path(app, id)).map_or(0, |m| m.len())
}

/// The crash named in the path, if this upload token's host sent it.
async fn own_crash(app: &App, id: &str, headers: &HeaderMap) -> Result<CrashRecord, ApiError> {
    let host = uploader(app, headers).await?;
    if !is_id(id) {
        return Err(ApiError::not_found());
    }
    let crash = app.db.crash(id).await?.ok_or_else(ApiError::not_found)?;
    if crash.host != host {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this crash was sent by another host",
        ));
    }
    Ok(crash)
}

/// `HEAD .../vmcore`: `Upload-Offset` is the bytes held (the whole size once
/// stored), `X-Vmcore-State` the vmcore's state.
pub async fn head_vmcore(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let crash = own_crash(&app, &id, &headers).await?;
    let held = match crash.vmcore_state.as_str() {
        "stored" => crash.vmcore_bytes.unwrap_or(0) as u64,
        _ => partial_len(&app, &id),
    };
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(UPLOAD_OFFSET, HeaderValue::from(held));
    if let Ok(state) = HeaderValue::from_str(&crash.vmcore_state) {
        h.insert("x-vmcore-state", state);
    }
    Ok(response)
}

/// Where the body starts: `?offset=N`, or curl's `-C N` header
/// `Content-Range: bytes N-LAST/SIZE`; neither is 0. Anything else is refused
/// with a sentence.
fn offset(query: Option<&str>, headers: &HeaderMap) -> Result<u64, ApiError> {
    let bad = |what: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what}: expected ?offset=BYTES or Content-Range: bytes N-LAST/SIZE"),
        )
    };
    let from_query = match query {
        None | Some("") => None,
        Some(q) => Some(
            q.strip_prefix("offset=")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| bad("the query"))?,
        ),
    };
    let from_range = match headers.get(header::CONTENT_RANGE) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split_once('-'))
                .and_then(|(n, _)| n.parse::<u64>().ok())
                .ok_or_else(|| bad("Content-Range"))?,
        ),
    };
    match (from_query, from_range) {
        (Some(a), Some(b)) if a != b => Err(bad("?offset and Content-Range disagree")),
        (a, b) => Ok(a.or(b).unwrap_or(0)),
    }
}

/// `PUT .../vmcore[?offset=N]`: the dump, or the rest of it from byte N.
pub async fn put_vmcore(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    own_crash(&app, &id, &headers).await?;
    let offset = offset(query.as_deref(), &headers)?;
    let held = partial_len(&app, &id);
    if offset != 0 && offset != held {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the server holds {held} bytes of this vmcore: send the rest with ?offset={held}"
            ),
        ));
    }
    let slot = upload_slot(&app)?;
    let limit = app.config.limits.dump;
    check_length(&headers, limit.saturating_sub(offset))?;
    check_space(&app.blobs, &headers, app.config.limits.keep_free)?;
    let incoming = Incoming::start(body, app.config.limits.idle).await?;
    // Only a dump's start can be told; the rest of one is taken as it comes.
    if offset == 0 && incoming.kind() != Kind::Dump {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not a dump: the body starts with no ELF, kdump-compressed or makedumpfile flattened header",
        ));
    }
    detached(async move {
        let _slot = slot;
        put_pipeline(app, id, incoming, offset, limit).await
    })
    .await
}

/// Stores a vmcore body from `offset` on (0: the whole of it): the HTTP `PUT`'s
/// pipeline, and the spool's.
pub(crate) async fn put_pipeline(
    app: Arc<App>,
    id: String,
    incoming: Incoming,
    offset: u64,
    limit: u64,
) -> Reply {
    let db = &app.db;
    let key = Blobs::key(&id, "vmcore");
    if !db.vmcore_receiving(&id, &key).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this crash has its vmcore (stored, or arriving)",
        ));
    }
    let started = Instant::now();
    match receive(&app, &id, incoming, offset, limit).await {
        Ok(bytes) => {
            let ms = elapsed_ms(started);
            db.add_stage(&id, "vmcore", StageStatus::Ok, None, ms)
                .await?;
            db.vmcore_stored(&id, bytes).await?;
            app.jobs.notify_one();
            let reply = json!({ "id": id, "url": view::crash_url(&id), "state": CrashState::Queued.name(), "bytes": bytes });
            Ok((StatusCode::CREATED, Json(reply)))
        }
        Err((held, e)) => {
            let resume = if held > 0 {
                format!("; {held} bytes are kept: send the rest with PUT ?offset={held}")
            } else {
                String::new()
            };
            let reason = format!("{}{resume}", e.message);
            let ms = elapsed_ms(started);
            db.add_stage(&id, "vmcore", StageStatus::Failed, Some(&reason), ms)
                .await?;
            db.vmcore_failed(&id).await?;
            Err(ApiError::new(e.status, reason))
        }
    }
}

/// Appends the body to the partial file from `offset`; whole, moves it into
/// the store (its size). Else the bytes kept (synced) and why.
async fn receive(
    app: &App,
    id: &str,
    incoming: Incoming,
    offset: u64,
    limit: u64,
) -> Result<u64, (u64, ApiError)> {
    let path = partial_path(app, id);
    let io = |e: std::io::Error| {
        let e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage: partial vmcore: {e}"),
        );
        (offset, e)
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .await
        .map_err(io)?;
    // Anything past the offset asked for is dropped (offset 0: start over).
    file.set_len(offset).await.map_err(io)?;
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(io)?;
    let appended = incoming.append(&mut file, offset, limit).await;
    // What arrived is kept durably either way: a cut upload resumes from it.
    file.sync_all().await.map_err(io)?;
    drop(file);
    match appended {
        Ok(added) => {
            let key = Blobs::key(id, "vmcore");
            let stored = app
                .blobs
                .adopt(&key, &path)
                .await
                .map_err(|e| (offset + added, ApiError::from(e)))?;
            Ok(stored)
        }
        Err((added, e)) => {
            if matches!(e, crate::ingest::IngestError::TooLarge(_)) {
                // Over the limit: nothing to resume.
                let _ = std::fs::remove_file(&path);
                return Err((0, e.into()));
            }
            Err((offset + added, e.into()))
        }
    }
}
