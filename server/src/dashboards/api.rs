//! `/api/dashboards`: list, read, save, and the versions of dashboards.
//!
//! - `GET /api/dashboards?q=shop`: `{"dashboards": [{"id", "title",
//!   "revision", "widgets"}]}`, by id; `q` keeps those whose id or title
//!   holds it (any case).
//! - `GET /api/dashboards/<id>`: the canonical text (an export), with its
//!   revision as the `ETag`.
//! - `PUT /api/dashboards/<id>` with the document (an import, or a save
//!   from the editor) and `If-Match: <revision>` it was made from (none
//!   for a new dashboard): 200 or 201 `{"id", "revision"}`; 400
//!   `invalid_dashboard` with `problems: [{path, message}]`. When it
//!   changed meanwhile, the two edits are merged if they touch different
//!   widgets and fields (the answer's revision is the merge's); if not,
//!   409 `dashboard_changed` with the `current` document, its `revision`
//!   and the `conflicts` (widget ids, `title`, `time`). A save is published on `dashboard:<id>` as a
//!   `dashboard` event `{"revision", "dashboard"}`.
//! - `POST /dashboards` with the form field `title` (the home page's "New
//!   dashboard"): an empty dashboard with an id made from the title, then
//!   303 to `/d/<id>?edit`, where the editor opens.
//! - `POST /api/dashboards/<id>/presence` `{"viewer", "name"?, "leave"?}`:
//!   an open page says it is there, or that it left (`presence`); 204,
//!   400 `invalid_presence`, 404, 429 `too_many_viewers`. Any content
//!   type, so a page's beacon (`text/plain`) is read too.
//! - `GET /api/dashboards/<id>/versions`: `{"versions": [{"number",
//!   "revision", "replaced"}]}`, newest first; `GET
//!   .../versions/<n>`: that version's text; `POST .../versions/<n>/restore`
//!   with `If-Match`: saves it as the newest.

use app::dashboard::{edit, Dashboard, ModelError, MAX_TITLE_CHARS};
use axum::{
    body::Body,
    extract::{Form, Path, Query, State},
    http::{header, HeaderMap, Request, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{publish_saved, Dashboards, SaveError, Stored};
use crate::{error::ApiError, hub::Hub, publish::json_body};

/// The largest document taken.
const MAX_BODY_BYTES: usize = 4 << 20;

/// `GET /api/dashboards` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
}

/// `GET /api/dashboards`.
pub async fn list(
    State(dashboards): State<Dashboards>,
    Query(query): Query<ListQuery>,
) -> Json<Value> {
    let wanted = query.q.unwrap_or_default().to_lowercase();
    let found: Vec<Value> = dashboards
        .list()
        .into_iter()
        .filter(|s| {
            s.dashboard.id.contains(&wanted) || s.dashboard.title.to_lowercase().contains(&wanted)
        })
        .map(|s| {
            json!({
                "id": s.dashboard.id,
                "title": s.dashboard.title,
                "revision": s.revision,
                "widgets": s.dashboard.widgets.len(),
            })
        })
        .collect();
    Json(json!({ "dashboards": found }))
}

fn text_response(stored: &Stored) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::ETAG, format!("\"{}\"", stored.revision)),
        ],
        stored.text.clone(),
    )
        .into_response()
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        code: "unknown_dashboard",
        message: format!("there is no dashboard {id:?}"),
    }
}

/// `GET /api/dashboards/<id>`.
pub async fn get(
    State(dashboards): State<Dashboards>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let stored = dashboards.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(text_response(&stored))
}

/// The revision an `If-Match` names, quotes and a weak prefix taken off.
fn if_match(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::IF_MATCH)?.to_str().ok()?.trim();
    Some(value.trim_start_matches("W/").trim_matches('"').to_string())
}

/// A save's answer, or its refusal as a response.
fn saved(result: Result<(Stored, bool), SaveError>, hub: &Hub) -> Response {
    match result {
        Ok((stored, created)) => {
            publish_saved(hub, &stored);
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                [(header::ETAG, format!("\"{}\"", stored.revision))],
                Json(json!({ "id": stored.dashboard.id, "revision": stored.revision })),
            )
                .into_response()
        }
        Err(error) => refusal(error),
    }
}

fn refusal(error: SaveError) -> Response {
    match error {
        SaveError::Invalid(ModelError::Invalid(problems)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": {"code": "invalid_dashboard", "message": ModelError::Invalid(problems.clone()).to_string()},
                "problems": problems
                    .iter()
                    .map(|p| json!({"path": p.path, "message": p.message}))
                    .collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        SaveError::Invalid(shape) => ApiError::invalid("invalid_dashboard", shape.to_string()).into_response(),
        SaveError::Conflict {
            current,
            text,
            conflicts,
            ..
        } => (
            StatusCode::CONFLICT,
            Json(json!({
                "error": {
                    "code": "dashboard_changed",
                    "message": "the dashboard changed since you opened it: yours was not saved; both are here",
                },
                "revision": current,
                "current": serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                "conflicts": conflicts,
            })),
        )
            .into_response(),
        SaveError::NotFound(what) => ApiError::NotFound {
            code: "unknown_dashboard",
            message: format!("there is no {what}"),
        }
        .into_response(),
        SaveError::Io { .. } => ApiError::Storage(error.to_string()).into_response(),
    }
}

/// `PUT /api/dashboards/<id>`.
pub async fn put(
    State(dashboards): State<Dashboards>,
    State(hub): State<Hub>,
    Path(id): Path<String>,
    request: Request<Body>,
) -> Response {
    let base = if_match(request.headers());
    let body = match json_body(request, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let text = String::from_utf8_lossy(&body);
    let dashboard = match serde_json::from_str::<Dashboard>(&text) {
        Ok(dashboard) => dashboard,
        Err(error) => return refusal(SaveError::Invalid(ModelError::Shape(error.to_string()))),
    };
    if dashboard.id != id {
        return ApiError::invalid(
            "invalid_dashboard",
            format!("the document is dashboard {:?}, not {id:?}", dashboard.id),
        )
        .into_response();
    }
    let created = !dashboards.contains(&id);
    let result = tokio::task::spawn_blocking(move || dashboards.save(dashboard, base.as_deref()))
        .await
        .map_err(|e| SaveError::Io {
            path: id.into(),
            source: std::io::Error::other(e),
        })
        .and_then(|r| r);
    saved(result.map(|stored| (stored, created)), &hub)
}

/// `GET /api/dashboards/<id>/versions`.
pub async fn versions(State(dashboards): State<Dashboards>, Path(id): Path<String>) -> Response {
    match dashboards.versions(&id) {
        Ok(versions) => Json(json!({
            "versions": versions
                .iter()
                .map(|v| json!({
                    "number": v.number,
                    "revision": v.revision,
                    "replaced": v.replaced
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or_default(),
                }))
                .collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(error) => refusal(error),
    }
}

/// `GET /api/dashboards/<id>/versions/<n>`.
pub async fn version(
    State(dashboards): State<Dashboards>,
    Path((id, number)): Path<(String, u64)>,
) -> Response {
    match dashboards.version(&id, number) {
        Ok(stored) => text_response(&stored),
        Err(error) => refusal(error),
    }
}

/// `POST /api/dashboards/<id>/versions/<n>/restore`.
pub async fn restore(
    State(dashboards): State<Dashboards>,
    State(hub): State<Hub>,
    Path((id, number)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Response {
    let base = if_match(&headers).or_else(|| dashboards.get(&id).map(|s| s.revision));
    let result = tokio::task::spawn_blocking(move || {
        let old = dashboards.version(&id, number)?;
        dashboards.save(old.dashboard, base.as_deref())
    })
    .await
    .unwrap_or_else(|e| {
        Err(SaveError::Io {
            path: "restore".into(),
            source: std::io::Error::other(e),
        })
    });
    saved(result.map(|stored| (stored, false)), &hub)
}

/// The home page's "New dashboard" form.
#[derive(Debug, Deserialize)]
pub struct NewDashboard {
    /// Its title.
    title: String,
}

/// `POST /dashboards`: creates an empty dashboard and sends the browser to
/// its editor.
pub async fn create(
    State(dashboards): State<Dashboards>,
    State(hub): State<Hub>,
    Form(form): Form<NewDashboard>,
) -> Response {
    let title = form.title.trim().to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return (
            StatusCode::BAD_REQUEST,
            format!("A dashboard's title is 1 to {MAX_TITLE_CHARS} characters. Go back and try another."),
        )
            .into_response();
    }
    let taken = {
        let dashboards = dashboards.clone();
        move |id: &str| dashboards.contains(id)
    };
    let id = edit::id_from_title(&title, taken);
    let dashboard = edit::empty(&id, &title);
    let result = tokio::task::spawn_blocking(move || dashboards.save(dashboard, None))
        .await
        .unwrap_or_else(|e| {
            Err(SaveError::Io {
                path: "new dashboard".into(),
                source: std::io::Error::other(e),
            })
        });
    match result {
        Ok(stored) => {
            publish_saved(&hub, &stored);
            Redirect::to(&format!("/d/{id}?edit")).into_response()
        }
        Err(error) => refusal(error),
    }
}

/// `POST /api/dashboards/<id>/presence`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Beat {
    viewer: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    leave: bool,
}

/// `POST /api/dashboards/<id>/presence`.
pub async fn presence(
    State(dashboards): State<Dashboards>,
    State(presence): State<super::presence::Presence>,
    State(hub): State<Hub>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !dashboards.contains(&id) {
        return not_found(&id).into_response();
    }
    if body.len() > 1024 {
        return ApiError::invalid("invalid_presence", "at most 1 KiB").into_response();
    }
    let beat = match serde_json::from_slice::<Beat>(&body) {
        Ok(beat) => beat,
        Err(error) => {
            return ApiError::invalid("invalid_presence", error.to_string()).into_response()
        }
    };
    let changed = if beat.leave {
        Ok(presence.leave(&id, &beat.viewer))
    } else {
        presence.beat(
            &id,
            &beat.viewer,
            beat.name.as_deref(),
            std::time::Instant::now(),
        )
    };
    match changed {
        Ok(changed) => {
            if let Some(summary) = changed {
                super::presence::publish(&hub, &id, summary);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(super::presence::PresenceError::Full) => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": {"code": "too_many_viewers", "message": super::presence::PresenceError::Full.to_string()}})),
        )
            .into_response(),
        Err(error) => ApiError::invalid("invalid_presence", error.to_string()).into_response(),
    }
}
