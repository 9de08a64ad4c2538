//! `GET /api/v1/nodes` (viewer): the server nodes sharing the database, when
//! each was last alive and the jobs it ran, to see that adding a node adds
//! workers.

use crate::api::Reply;
use crate::auth::require;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use coroner_report::time::utc_iso8601;
use coroner_store::{Role, NODE_GONE};
use serde_json::json;
use std::sync::Arc;

pub async fn get_nodes(State(app): State<Arc<App>>, headers: HeaderMap) -> Reply {
    require(&app, &headers, Role::Viewer).await?;
    let now = coroner_store::now();
    let nodes: Vec<_> = app
        .db
        .nodes()
        .await?
        .into_iter()
        .map(|(id, seen, done, running)| {
            json!({
                "id": id,
                "seen": utc_iso8601(seen),
                "alive": now - seen < NODE_GONE,
                "jobs_done": done,
                "jobs_running": running,
            })
        })
        .collect();
    Ok((
        StatusCode::OK,
        Json(json!({ "schema": "coroner.nodes/1", "nodes": nodes })),
    ))
}
