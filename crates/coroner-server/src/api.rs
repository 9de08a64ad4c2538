//! The HTTP API: hosts `POST` crashes and `PUT` vmcores with upload tokens;
//! viewers `GET` crashes and problems.

use crate::auth::require;
use crate::error::ApiError;
use crate::ingest::{check_length, check_space, Incoming, IngestError, Kind};
use crate::triage::{self, elapsed_ms};
use crate::{nodes, resume, view, App};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use coroner_store::{is_id, Blobs, CrashState, NewStage, Role, StageStatus, Triaged};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

pub(crate) type Reply = Result<(StatusCode, Json<Value>), ApiError>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/crashes", post(post_crash))
        .route("/api/v1/crashes/{id}", get(get_crash))
        .route(
            "/api/v1/crashes/{id}/vmcore",
            put(resume::put_vmcore).head(resume::head_vmcore),
        )
        .route("/api/v1/nodes", get(nodes::get_nodes))
        // The problems' JSON, the pages and their JSON twins.
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(app)
}

/// A kernel log or a whole dump: stored, triaged and grouped before the reply.
async fn post_crash(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Reply {
    let host = uploader(&app, &headers).await?;
    let slot = upload_slot(&app)?;
    let limits = app.config.limits;
    check_length(&headers, limits.dump.max(limits.log))?;
    let incoming = Incoming::start(body, app.config.limits.idle).await?;
    let kind = incoming.kind();
    let limit = match kind {
        Kind::Log => limits.log,
        Kind::Dump => limits.dump,
    };
    check_length(&headers, limit)?;
    check_space(&app.blobs, &headers, limits.keep_free)?;
    detached(async move {
        let _slot = slot;
        post_pipeline(app, host, incoming, kind, limit).await
    })
    .await
}

/// A place among the uploads in progress, held until the upload's pipeline
/// ends; none free is `503`.
pub(crate) fn upload_slot(app: &App) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    app.uploads.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} uploads are in progress, the most at once: try again later",
                app.config.limits.uploads
            ),
        )
    })
}

/// Runs an upload's pipeline to its end even if the client goes away, so that
/// the crash's record says what happened to it.
pub(crate) async fn detached(pipeline: impl Future<Output = Reply> + Send + 'static) -> Reply {
    tokio::spawn(pipeline).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the upload's pipeline stopped: {e}"),
        ))
    })
}

pub(crate) async fn post_pipeline(
    app: Arc<App>,
    host: String,
    incoming: Incoming,
    kind: Kind,
    limit: u64,
) -> Reply {
    let db = &app.db;
    let id = db.insert_crash(&host, kind.name()).await?;
    let key = Blobs::key(&id, if kind == Kind::Log { "log" } else { "vmcore" });
    if kind == Kind::Dump {
        db.vmcore_receiving(&id, &key).await?;
    }
    let (bytes, stored) = receive(&app, &id, "store", &key, incoming, limit).await?;
    let triage = triage::triage(&app, kind, &key).await?;
    let state = match kind {
        Kind::Log if triage.failed() => Some(CrashState::Failed),
        Kind::Log => Some(CrashState::Triaged),
        Kind::Dump => None,
    };
    let mut record = Triaged {
        stages: vec![stored],
        log_key: (kind == Kind::Log).then_some(key.as_str()),
        state,
        ..Triaged::default()
    };
    triage.fill(&mut record, &id, &host);
    db.record(&id, &record, app.config.sampling).await?;
    if kind == Kind::Dump {
        db.vmcore_stored(&id, bytes).await?;
        app.jobs.notify_one();
    }
    let crash = db.crash(&id).await?.ok_or_else(ApiError::not_found)?;
    let report = triage.report().map(|t| &t.report);
    let reason = crash
        .stages
        .iter()
        .find(|s| s.status == "failed")
        .and_then(|s| s.reason.clone());
    let reply = json!({
        "id": id,
        "url": view::crash_url(&id),
        "state": crash.state,
        "problem": crash.problem,
        "title": report.and_then(|r| r.title.clone()),
        "class": report.and_then(|r| r.class.map(|c| c.name())),
        "signature": crash.signature,
        "signature_version": crash.signature_version,
        "known": report.map(|r| r.kb.iter().map(|m| m.id.clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "kb": report.map(|r| r.kb.clone()).unwrap_or_default(),
        // A dump came whole: nothing more is wanted.
        "want_vmcore": kind == Kind::Log && crash.want_vmcore,
        "vmcore_url": format!("{}/vmcore", view::crash_url(&id)),
        "reason": reason,
    });
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Streams a body into the store as stage `stage`: its size and the stage, to
/// record with what follows. A failure is recorded on the crash (and only
/// there) before it is answered.
async fn receive(
    app: &App,
    id: &str,
    stage: &'static str,
    key: &str,
    incoming: Incoming,
    limit: u64,
) -> Result<(u64, NewStage), ApiError> {
    let started = Instant::now();
    let stored = match app.blobs.writer(key).await {
        Ok(writer) => incoming.store(writer, limit).await,
        Err(e) => Err(IngestError::from(e)),
    };
    let ms = elapsed_ms(started);
    match stored {
        Ok(bytes) => Ok((
            bytes,
            NewStage {
                name: stage,
                status: StageStatus::Ok,
                reason: None,
                duration_ms: ms,
            },
        )),
        Err(e) => {
            let reason = e.to_string();
            app.db
                .add_stage(id, stage, StageStatus::Failed, Some(&reason), ms)
                .await?;
            if key.ends_with("/vmcore") {
                app.db.vmcore_failed(id).await?;
            } else {
                app.db.set_state(id, CrashState::Failed).await?;
            }
            Err(e.into())
        }
    }
}

async fn get_crash(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    require(&app, &headers, Role::Viewer).await?;
    if !is_id(&id) {
        return Err(ApiError::not_found());
    }
    let crash = app.db.crash(&id).await?.ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::OK, Json(view::crash(&crash))))
}

/// The host an upload token writes as.
pub(crate) async fn uploader(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    require(app, headers, Role::Upload)
        .await?
        .host
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "this upload token has no host"))
}
