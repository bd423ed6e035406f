//! Push: `POST /api/ingest`, metrics sent by whatever already measures
//! them.
//!
//! The body is a JSON array of points (`[{"name", "labels", "value",
//! "ts"?}]`, [`IngestPoint`]) or the Prometheus text exposition format
//! (`prometheus_text`), chosen by `?format=json|prometheus` or else by the
//! `Content-Type` (`application/json`, `text/plain`); timestamps default to
//! when the batch arrives. A refused point is named by its index in a JSON
//! array, by its line in a text format. The batch is checked as a whole by the store: every point is
//! stored, or the answer (422) lists each refused point and why and
//! nothing is stored, unless the client asked for partial acceptance
//! (`?partial=true`). The answer is sent once the batch is in the
//! write-ahead log.
//!
//! Other formats (Influx line protocol, remote write) are not taken yet
//! and get a clear 415.

use std::time::{SystemTime, UNIX_EPOCH};

use app::protocol::{ErrorDetail, IngestPoint, IngestReply, RefusedPoint, SeriesKey};
use axum::{
    body::{to_bytes, Body},
    extract::{Query, State},
    http::{header, Request, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use super::{live, prometheus_text};
use crate::{
    error::ApiError,
    hub::Hub,
    store::{chunk::Sample, Mode, Point, Store},
};

/// Largest body taken.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Most points in one batch.
pub const MAX_POINTS: usize = 100_000;

/// The query string.
#[derive(Debug, Default, Deserialize)]
pub struct IngestQuery {
    /// `json` (the only one taken yet).
    pub format: Option<String>,
    /// `true`: store what can be stored, refuse the rest.
    pub partial: Option<bool>,
}

/// The server's clock, Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `POST /api/ingest`.
pub async fn handler(
    State(store): State<Store>,
    State(hub): State<Hub>,
    Query(query): Query<IngestQuery>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let format = match &query.format {
        Some(format) => format.to_ascii_lowercase(),
        None => format_of(request.headers().get(header::CONTENT_TYPE)),
    };
    if format != "json" && format != "prometheus" {
        return Err(ApiError::UnsupportedMediaType {
            content_type: format!(
                "{format} (this server takes JSON batches and the Prometheus text format: ?format=json|prometheus, or Content-Type: application/json or text/plain)"
            ),
        });
    }
    let body = to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })?;
    // Each point with where it came from: its index in a JSON array, its
    // line in a text format.
    let mut refused = Vec::new();
    let points: Vec<(usize, IngestPoint)> = if format == "json" {
        let points: Vec<IngestPoint> = serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(
                "invalid_body",
                format!(
                    "the body must be a JSON array of {{\"name\", \"labels\", \"value\", \"ts\"}}: {e}"
                ),
            )
        })?;
        points.into_iter().enumerate().collect()
    } else {
        let (samples, errors) = prometheus_text::parse(&body);
        refused.extend(errors.into_iter().map(|e| RefusedPoint {
            index: e.line,
            reason: e.reason,
        }));
        samples
            .into_iter()
            .map(|s| {
                (
                    s.line,
                    IngestPoint {
                        name: s.name,
                        labels: s.labels,
                        value: s.value,
                        ts: s.ts,
                    },
                )
            })
            .collect()
    };
    if points.len() > MAX_POINTS {
        return Err(ApiError::invalid(
            "batch_too_large",
            format!(
                "a batch holds at most {MAX_POINTS} points; this one has {}",
                points.len()
            ),
        ));
    }
    let now = now_ms();
    // A name the rules refuse is refused with the batch, like any point.
    let mut checked = Vec::with_capacity(points.len());
    for (index, point) in points {
        match SeriesKey::new(point.name, point.labels) {
            Ok(key) => checked.push((
                index,
                Point {
                    key,
                    sample: Sample {
                        ts: point.ts.unwrap_or(now),
                        value: point.value,
                    },
                },
            )),
            Err(error) => refused.push(RefusedPoint {
                index,
                reason: error.to_string(),
            }),
        }
    }
    let partial = query.partial.unwrap_or(false);
    let mode = match (partial, refused.is_empty()) {
        (true, _) => Mode::Partial,
        (false, true) => Mode::All,
        // Some names are refused: nothing is stored, but every other
        // refusal is found and listed too.
        (false, false) => Mode::CheckOnly,
    };
    let (indexes, batch): (Vec<usize>, Vec<Point>) = checked.into_iter().unzip();
    let (result, batch) = tokio::task::spawn_blocking(move || {
        let result = store.ingest(&batch, mode, now);
        (result, batch)
    })
    .await
    .map_err(|e| ApiError::Storage(e.to_string()))?;
    let result = result.map_err(|e| ApiError::Storage(e.to_string()))?;
    let stored = result.stored;
    if stored > 0 {
        // What was stored goes live: all of the batch, or what partial
        // acceptance kept.
        let refused: std::collections::HashSet<usize> =
            result.refused.iter().map(|r| r.index).collect();
        let kept: Vec<&Point> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains(i))
            .map(|(_, p)| p)
            .collect();
        live::publish(&hub, &kept);
    }
    refused.extend(result.refused.into_iter().map(|r| RefusedPoint {
        index: indexes[r.index],
        reason: r.reason,
    }));
    refused.sort_by_key(|r| r.index);
    if !refused.is_empty() && stored == 0 && !partial {
        let reply = IngestReply {
            error: Some(ErrorDetail {
                code: "points_refused".to_string(),
                message: format!("{} point(s) refused; nothing was stored", refused.len()),
            }),
            stored: 0,
            refused,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(reply)).into_response());
    }
    Ok(Json(IngestReply {
        error: None,
        stored,
        refused,
    })
    .into_response())
}

/// The format a `Content-Type` names (JSON when it says nothing).
fn format_of(content_type: Option<&header::HeaderValue>) -> String {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return "json".to_string();
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "" => "json".to_string(),
        "text/plain" => "prometheus".to_string(),
        "application/x-protobuf" => "remote-write".to_string(),
        other => other.to_string(),
    }
}
