//! The alerts API. Handlers are thin: they read the request, call
//! [`Alerts`], and answer JSON. A refusal is `{"error": {"code",
//! "message"}}`; a rule that does not check adds `problems: [{path,
//! message}]`.
//!
//! - `GET /api/alerts`: `{alerts, history, silences}` (alerts firing
//!   first, critical first; the newest 100 transitions).
//! - `GET /api/alerts/history?rule=&limit=`: transitions, newest first.
//! - `GET /api/alerts/rules`, `POST /api/alerts/rules` (201; 409 if the id
//!   is taken), `GET|PUT|DELETE /api/alerts/rules/<id>`.
//! - `POST /api/alerts/<id>/ack` `{"by", "comment"?}`.
//! - `POST /api/alerts/silences` `{"rule"?, "labels"?, "for" | "ends_at",
//!   "by"?, "comment"?}` (201), `DELETE /api/alerts/silences/<id>`.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;

use super::{rule::valid_id, rule_json, Alerts, AlertsError, Rule, RuleError, Silence};
use crate::{error::ApiError, sources::ingest::now_ms};

/// The largest body the alerts API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn refusal(error: AlertsError) -> Response {
    match error {
        AlertsError::Rule(RuleError::Invalid(problems)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": {"code": "invalid_rule", "message": RuleError::Invalid(problems.clone()).to_string()},
                "problems": problems,
            })),
        )
            .into_response(),
        AlertsError::Rule(shape) => ApiError::invalid("invalid_rule", shape.to_string()).into_response(),
        AlertsError::FromConfig(_) => (
            StatusCode::CONFLICT,
            Json(json!({"error": {"code": "rule_in_config", "message": error.to_string()}})),
        )
            .into_response(),
        AlertsError::NotFound(_) => ApiError::NotFound {
            code: "not_found",
            message: error.to_string(),
        }
        .into_response(),
        AlertsError::Full(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": {"code": "too_many", "message": error.to_string()}})),
        )
            .into_response(),
        AlertsError::Invalid(message) => ApiError::invalid("invalid_request", message).into_response(),
        AlertsError::Io { .. } | AlertsError::Rules { .. } => {
            ApiError::Storage(error.to_string()).into_response()
        }
    }
}

/// `GET /api/alerts`.
pub async fn list(State(alerts): State<Alerts>) -> Response {
    Json(json!({
        "alerts": alerts.active(),
        "history": alerts.history(100, None),
        "silences": alerts.silences(),
    }))
    .into_response()
}

/// What `GET /api/alerts/history` takes.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// Only this rule's.
    rule: Option<String>,
    /// At most this many (100; at most the history kept).
    limit: Option<String>,
}

/// `GET /api/alerts/history`.
pub async fn history(State(alerts): State<Alerts>, Query(query): Query<HistoryQuery>) -> Response {
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if n > 0 => n.min(super::HISTORY_KEPT),
        Some(_) => {
            return ApiError::invalid("invalid_limit", "limit is a whole number from 1")
                .into_response()
        }
    };
    Json(json!({ "history": alerts.history(limit, query.rule.as_deref()) })).into_response()
}

/// `GET /api/alerts/rules`.
pub async fn rules(State(alerts): State<Alerts>) -> Response {
    let rules: Vec<_> = alerts
        .rules()
        .into_iter()
        .map(|(rule, source)| rule_json(&rule, source))
        .collect();
    Json(json!({ "rules": rules })).into_response()
}

/// `GET /api/alerts/rules/<id>`.
pub async fn rule(State(alerts): State<Alerts>, Path(id): Path<String>) -> Response {
    match alerts.rules().into_iter().find(|(r, _)| r.id == id) {
        Some((rule, source)) => Json(rule_json(&rule, source)).into_response(),
        None => refusal(AlertsError::NotFound(format!("rule {id:?}"))),
    }
}

fn read_rule(body: &[u8]) -> Result<Rule, Box<Response>> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Box::new(
            ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }
            .into_response(),
        ));
    }
    Rule::from_json(body).map_err(|e| Box::new(refusal(AlertsError::Rule(e))))
}

/// `POST /api/alerts/rules`: a new rule.
pub async fn create(State(alerts): State<Alerts>, body: Bytes) -> Response {
    let rule = match read_rule(&body) {
        Ok(rule) => rule,
        Err(response) => return *response,
    };
    if alerts.rules().iter().any(|(r, _)| r.id == rule.id) {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": {"code": "rule_exists", "message": format!("rule {:?} exists: PUT /api/alerts/rules/{} replaces it", rule.id, rule.id)}})),
        )
            .into_response();
    }
    saved(&alerts, rule)
}

/// `PUT /api/alerts/rules/<id>`: a rule created or replaced.
pub async fn put(State(alerts): State<Alerts>, Path(id): Path<String>, body: Bytes) -> Response {
    let rule = match read_rule(&body) {
        Ok(rule) => rule,
        Err(response) => return *response,
    };
    if rule.id != id {
        return ApiError::invalid(
            "invalid_rule",
            format!("the body's id {:?} is not the address's {id:?}", rule.id),
        )
        .into_response();
    }
    saved(&alerts, rule)
}

fn saved(alerts: &Alerts, rule: Rule) -> Response {
    let id = rule.id.clone();
    match alerts.put_rule(rule) {
        Ok(created) => (
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(json!({ "id": id })),
        )
            .into_response(),
        Err(error) => refusal(error),
    }
}

/// `DELETE /api/alerts/rules/<id>`.
pub async fn delete(State(alerts): State<Alerts>, Path(id): Path<String>) -> Response {
    match alerts.delete_rule(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}

/// What acknowledging takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    by: String,
    #[serde(default)]
    comment: String,
}

fn who(by: &str) -> Result<String, Box<Response>> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > 40 || by.chars().any(char::is_control) {
        return Err(Box::new(
            ApiError::invalid(
                "invalid_name",
                "by is a name of 1 to 40 characters, none of them control characters",
            )
            .into_response(),
        ));
    }
    Ok(by.to_string())
}

/// `POST /api/alerts/<id>/ack`.
pub async fn ack(State(alerts): State<Alerts>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return refusal(AlertsError::NotFound(format!("alert {id:?}")));
    };
    let body: AckBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return ApiError::invalid(
                "invalid_body",
                format!("the body is {{\"by\": \"<name>\", \"comment\"?: \"...\"}}: {e}"),
            )
            .into_response()
        }
    };
    let by = match who(&body.by) {
        Ok(by) => by,
        Err(response) => return *response,
    };
    if body.comment.chars().count() > 1_000 {
        return ApiError::invalid("invalid_comment", "a comment is at most 1,000 characters")
            .into_response();
    }
    match alerts.ack(id, by, body.comment, now_ms()) {
        Ok(alert) => Json(json!({ "alert": alert })).into_response(),
        Err(error) => refusal(error),
    }
}

/// What a new silence takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// How long from now (`2h`).
    #[serde(default, rename = "for")]
    for_: Option<String>,
    /// Or until when (Unix ms).
    #[serde(default)]
    ends_at: Option<i64>,
    #[serde(default)]
    by: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/alerts/silences`.
pub async fn silence(State(alerts): State<Alerts>, body: Bytes) -> Response {
    let body: SilenceBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return ApiError::invalid(
                "invalid_body",
                format!("the body is {{\"rule\"?, \"labels\"?, \"for\" | \"ends_at\", \"by\"?, \"comment\"?}}: {e}"),
            )
            .into_response()
        }
    };
    let now = now_ms();
    let ends_at = match (&body.for_, body.ends_at) {
        (Some(text), None) => match super::rule::duration(text) {
            Ok(d) if !d.is_zero() => now + d.as_millis() as i64,
            Ok(_) => {
                return ApiError::invalid("invalid_silence", "a silence lasts longer than 0s")
                    .into_response()
            }
            Err(e) => {
                return ApiError::invalid("invalid_silence", format!("for: {e}")).into_response()
            }
        },
        (None, Some(at)) if at > now => at,
        (None, Some(_)) => {
            return ApiError::invalid("invalid_silence", "ends_at is in the past").into_response()
        }
        _ => {
            return ApiError::invalid(
                "invalid_silence",
                "give for (\"2h\") or ends_at (Unix ms), one of them",
            )
            .into_response()
        }
    };
    if body.rule.as_deref().is_some_and(|r| !valid_id(r)) {
        return ApiError::invalid("invalid_silence", "rule is a rule id").into_response();
    }
    if body.rule.is_none() && body.labels.is_empty() {
        return ApiError::invalid(
            "invalid_silence",
            "name a rule, labels or both: a silence of everything is not made by accident",
        )
        .into_response();
    }
    let by = if body.by.is_empty() {
        String::new()
    } else {
        match who(&body.by) {
            Ok(by) => by,
            Err(response) => return *response,
        }
    };
    if body.comment.chars().count() > 1_000 || body.labels.len() > 20 {
        return ApiError::invalid(
            "invalid_silence",
            "at most 20 labels and a comment of 1,000 characters",
        )
        .into_response();
    }
    let silence = Silence {
        id: String::new(),
        rule: body.rule,
        labels: body.labels,
        starts_at: now,
        ends_at,
        by,
        comment: body.comment,
    };
    match alerts.silence(silence, now) {
        Ok(silence) => (StatusCode::CREATED, Json(json!({ "silence": silence }))).into_response(),
        Err(error) => refusal(error),
    }
}

/// `DELETE /api/alerts/silences/<id>`.
pub async fn unsilence(State(alerts): State<Alerts>, Path(id): Path<String>) -> Response {
    match alerts.unsilence(&id, now_ms()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}
