//! Decisions about a problem (admins): merge into another, split a signature
//! out, mark fixed in a release, ignore or reopen. A form post answers with a
//! redirect to the resulting page (a notice in its query); the same post under
//! `/api/v1/` answers JSON.

use super::session::{admin, error_page};
use crate::error::ApiError;
use crate::App;
use axum::extract::{Form, Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use coroner_store::{is_id, ProblemState, StoreError};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

fn refused(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(why) => ApiError::new(StatusCode::BAD_REQUEST, why),
        e => e.into(),
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    fn get(&self, name: &str) -> Result<&str, ApiError> {
        self.0
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("the form needs {name}")))
    }
}

/// What a decision did: the problem to show after, and the notice's code.
struct Done {
    problem: String,
    code: &'static str,
}

async fn decide(app: &App, id: &str, action: &str, f: &Fields) -> Result<Done, ApiError> {
    if !is_id(id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such problem"));
    }
    let db = &app.db;
    let done = |problem: &str, code| Done {
        problem: problem.to_string(),
        code,
    };
    match action {
        "merge" => {
            let into = f.get("into")?;
            if !is_id(into) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "into: a problem id is 32 hex digits",
                ));
            }
            db.merge(id, into).await.map_err(refused)?;
            Ok(done(into, "merged"))
        }
        "split" => {
            let new = db.split(f.get("signature")?).await.map_err(refused)?;
            Ok(done(&new, "split"))
        }
        "fixed" => {
            db.mark_fixed(id, f.get("release")?)
                .await
                .map_err(refused)?;
            let state = db.problem_extras(id).await?.state;
            Ok(done(
                id,
                if state == "regressed" {
                    "regressed"
                } else {
                    "fixed"
                },
            ))
        }
        "state" => match f.get("state")? {
            "ignored" => {
                db.set_problem_state(id, ProblemState::Ignored).await?;
                Ok(done(id, "ignored"))
            }
            "open" => {
                db.set_problem_state(id, ProblemState::Open).await?;
                Ok(done(id, "open"))
            }
            other => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("state: {other:?} is not ignored or open (fixed takes a release)"),
            )),
        },
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "no such action")),
    }
}

pub async fn problem_action(
    State(app): State<Arc<App>>,
    Path((id, action)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let api = uri.path().starts_with("/api/");
    let result = async {
        let who = admin(&app, &headers).await?;
        let done = decide(&app, &id, &action, &fields).await?;
        let detail = fields
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        app.db
            .audit(&who.reader.actor, &action, &id, Some(&detail))
            .await?;
        Ok::<_, ApiError>(done)
    }
    .await;
    match (result, api) {
        (Ok(d), true) => Json(json!({ "problem": d.problem, "done": d.code, "url": format!("/api/v1/problems/{}", d.problem) })).into_response(),
        (Ok(d), false) => Redirect::to(&format!("/problems/{}?done={}", d.problem, d.code)).into_response(),
        (Err(e), true) => e.into_response(),
        (Err(e), false) if e.status == StatusCode::BAD_REQUEST && is_id(&id) => {
            let error = super::session::url_escape(&e.message);
            Redirect::to(&format!("/problems/{id}?error={error}")).into_response()
        }
        (Err(e), false) => error_page(e),
    }
}
