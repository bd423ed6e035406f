//! `/api/annotations`: list, create and remove annotations.
//!
//! - `GET /api/annotations?dashboard=main&from=now-6h&to=now&widget=cpu`:
//!   `{"annotations": [...]}`, those that overlap the window, oldest first
//!   (at most [`super::MAX_LISTED`], the newest). `dashboard` defaults to `main`,
//!   the window to all time; with `widget`, only those that show on it.
//!   Alongside the notes come the alerts' firing periods on the
//!   dashboard's charts (see `alerts::periods`), spans whose ids start at
//!   2^50 and whose end is `OPEN_END` while the alert fires.
//! - `POST /api/annotations` with `{"dashboard"?, "text", "time"?, "end"?,
//!   "widget"?}`: stores it and publishes it on `dashboard:<id>`, exactly as
//!   publishing an `annotation` event there does; answers 201 with it.
//! - `DELETE /api/annotations/<id>`: removes it and publishes
//!   `annotation_removed` `{"id"}` on its dashboard's channel (403
//!   `alert_period` for a firing period).

use app::protocol::{
    validate_channel, Annotation, AnnotationList, ANNOTATION_EVENT, DASHBOARD_CHANNEL_PREFIX,
};
use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{Request, StatusCode},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Annotations;
use crate::{
    error::ApiError,
    hub::{now_ms, NewEvent},
    publish::{json_body, Publisher},
};

/// The largest body `POST /api/annotations` reads.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// `GET /api/annotations` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    dashboard: Option<String>,
    widget: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn dashboard_id(id: Option<String>) -> Result<String, ApiError> {
    let id = id.unwrap_or_else(|| "main".to_string());
    let channel = format!("{DASHBOARD_CHANNEL_PREFIX}{id}");
    if id.is_empty() || validate_channel(&channel).is_err() {
        return Err(ApiError::invalid(
            "invalid_dashboard",
            format!("{id:?} is not a dashboard id"),
        ));
    }
    Ok(id)
}

/// `GET /api/annotations`.
pub async fn list(
    State(annotations): State<Annotations>,
    State(alerts): State<crate::alerts::Alerts>,
    Query(query): Query<ListQuery>,
) -> Result<Json<AnnotationList>, ApiError> {
    let dashboard = dashboard_id(query.dashboard)?;
    let now = now_ms();
    let time = |name, text: Option<String>, default| {
        text.map_or(Ok(default), |t| crate::query::parse_time(name, &t, now))
    };
    let from = time("from", query.from, i64::MIN)?;
    let to = time("to", query.to, i64::MAX)?;
    let widget = query.widget.as_deref();
    let mut listed = annotations.list(&dashboard, widget, from, to);
    let periods = alerts.period_annotations(&dashboard, widget, from, to);
    if !periods.is_empty() {
        listed.extend(periods);
        listed.sort_by_key(|n| (n.time, n.id));
        let over = listed.len().saturating_sub(super::MAX_LISTED);
        listed.drain(..over);
    }
    Ok(Json(AnnotationList {
        annotations: listed,
    }))
}

/// `POST /api/annotations`.
pub async fn create(
    State(publisher): State<Publisher>,
    request: Request<Body>,
) -> Result<(StatusCode, Json<Annotation>), ApiError> {
    let body = json_body(request, MAX_BODY_BYTES).await?;
    let mut data: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("invalid_json", format!("the body is not JSON: {e}")))?;
    let Value::Object(fields) = &mut data else {
        return Err(ApiError::invalid(
            "invalid_annotation",
            "the body is {\"dashboard\"?, \"text\", \"time\"?, \"end\"?, \"widget\"?}",
        ));
    };
    let dashboard = match fields.remove("dashboard") {
        None => dashboard_id(None)?,
        Some(Value::String(id)) => dashboard_id(Some(id))?,
        Some(other) => {
            return Err(ApiError::invalid(
                "invalid_dashboard",
                format!("dashboard is a text, not {other}"),
            ))
        }
    };
    let events = vec![NewEvent {
        channel: format!("{DASHBOARD_CHANNEL_PREFIX}{dashboard}"),
        event_type: ANNOTATION_EVENT.to_string(),
        key: None,
        data,
    }];
    let (_, events) = publisher.publish_async(events).await?;
    let event = events
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Storage("the annotation was not published".into()))?;
    let note: Annotation = serde_json::from_value(event.data)
        .map_err(|e| ApiError::Storage(format!("the stored annotation did not read back: {e}")))?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `DELETE /api/annotations/<id>`.
pub async fn remove(
    State(publisher): State<Publisher>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound {
        code: "unknown_annotation",
        message: format!("there is no annotation {id:?}"),
    };
    let number: u64 = id.parse().map_err(|_| not_found())?;
    if crate::alerts::periods::is_period(number) {
        return Err(ApiError::Forbidden {
            code: "alert_period",
            message: format!(
                "annotation {number} is an alert's firing period: it is kept with the alert's history"
            ),
        });
    }
    let removed = publisher
        .remove_annotation(number)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(json!({ "removed": removed })))
}
