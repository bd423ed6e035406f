//! Push: `POST /api/ingest`, metrics sent by whatever already measures
//! them.
//!
//! The body is a JSON array of points (`[{"name", "labels", "value",
//! "ts"?}]`, [`IngestPoint`]), the Prometheus text exposition format
//! (`prometheus_text`), the InfluxDB line protocol (`influx`, with
//! `?precision=ns|us|ms|s`) or a Prometheus remote-write request
//! (`remote_write`), chosen by `?format=json|prometheus|influx|remote-write`
//! or else by the `Content-Type` (`application/json`, `text/plain`,
//! `application/x-protobuf`). The InfluxDB write paths (`POST /write`,
//! `POST /api/v2/write`) take the line protocol and Prometheus' receiver
//! path (`POST /api/v1/write`) takes remote write, so existing agents can
//! point at livedash unchanged. Timestamps default to when the batch
//! arrives. A refused point is named by its index in a JSON array or a
//! remote-write request, by its line in a text format.
//!
//! The batch is checked as a whole by the store: every point is stored, or
//! the answer (422) lists each refused point and why and nothing is
//! stored, unless the client asked for partial acceptance
//! (`?partial=true`). Remote write is always partial, as Prometheus' own
//! receiver is: a sender drops a request it is refused, so the good
//! samples are kept and the answer (400) lists the others; a request that
//! is stored whole is answered 204. The answer is sent once the batch is
//! in the write-ahead log.

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

use super::{
    influx::{self, Precision},
    live, prometheus_text, remote_write,
};
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
    /// `json`, `prometheus`, `influx` or `remote-write`.
    pub format: Option<String>,
    /// `true`: store what can be stored, refuse the rest.
    pub partial: Option<bool>,
    /// The line protocol's timestamp unit: `ns` (default), `us`, `ms`, `s`.
    pub precision: Option<String>,
}

/// The formats taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of points.
    Json,
    /// The Prometheus text exposition format.
    PrometheusText,
    /// The InfluxDB line protocol.
    Influx,
    /// Prometheus remote write.
    RemoteWrite,
}

impl Format {
    /// Parses a `format=` value.
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "prometheus" | "text" => Some(Self::PrometheusText),
            "influx" | "line" => Some(Self::Influx),
            "remote-write" | "remote_write" | "remotewrite" => Some(Self::RemoteWrite),
            _ => None,
        }
    }
}

/// `POST /api/v1/write`: Prometheus remote write.
pub async fn remote_write_handler(
    store: State<Store>,
    hub: State<Hub>,
    Query(mut query): Query<IngestQuery>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    query.format = Some("remote-write".into());
    handler(store, hub, Query(query), request).await
}

/// `POST /write` and `POST /api/v2/write`: the InfluxDB line protocol.
pub async fn influx_handler(
    store: State<Store>,
    hub: State<Hub>,
    Query(mut query): Query<IngestQuery>,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    query.format = Some("influx".into());
    handler(store, hub, Query(query), request).await
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
    let unsupported = |what: String| {
        ApiError::UnsupportedMediaType {
        content_type: format!(
            "{what} (this server takes ?format=json|prometheus|influx|remote-write, or Content-Type: application/json, text/plain or application/x-protobuf)"
        ),
    }
    };
    let format = match &query.format {
        Some(format) => Format::parse(format).ok_or_else(|| unsupported(format.clone()))?,
        None => format_of(request.headers().get(header::CONTENT_TYPE)).map_err(unsupported)?,
    };
    let precision = match query.precision.as_deref() {
        None => Precision::Nanos,
        Some(text) => Precision::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "invalid_precision",
                format!("precision is ns, us, ms or s, not {text:?}"),
            )
        })?,
    };
    // Only remote write is compressed (snappy, always); a compressed body
    // of another kind is refused rather than misread.
    let encoding = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match (format, encoding.as_deref()) {
        (_, None | Some("identity")) | (Format::RemoteWrite, Some("snappy")) => {}
        (_, Some(other)) => return Err(unsupported(format!("Content-Encoding: {other}"))),
    }
    let body = to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })?;
    // Each point with where it came from: its index in a JSON array or a
    // remote-write request, its line in a text format.
    let mut refused = Vec::new();
    let text_points = |samples: Vec<prometheus_text::TextSample>| -> Vec<(usize, IngestPoint)> {
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
    let points: Vec<(usize, IngestPoint)> = match format {
        Format::Json => {
            let points: Vec<IngestPoint> = serde_json::from_slice(&body).map_err(|e| {
                ApiError::invalid(
                    "invalid_body",
                    format!(
                        "the body must be a JSON array of {{\"name\", \"labels\", \"value\", \"ts\"}}: {e}"
                    ),
                )
            })?;
            points.into_iter().enumerate().collect()
        }
        Format::PrometheusText | Format::Influx => {
            let (samples, errors) = if format == Format::Influx {
                influx::parse(&body, precision)
            } else {
                prometheus_text::parse(&body)
            };
            refused.extend(errors.into_iter().map(|e| RefusedPoint {
                index: e.line,
                reason: e.reason,
            }));
            text_points(samples)
        }
        Format::RemoteWrite => {
            let decoded = remote_write::decode(&body, MAX_BODY_BYTES)
                .map_err(|e| ApiError::invalid("invalid_body", e.to_string()))?;
            decoded
                .samples
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        i,
                        IngestPoint {
                            name: s.name,
                            labels: s.labels,
                            value: s.value,
                            ts: Some(s.ts),
                        },
                    )
                })
                .collect()
        }
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
    let partial = query.partial.unwrap_or(false) || format == Format::RemoteWrite;
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
    live::publish_stored(&hub, &batch, &result);
    refused.extend(result.refused.into_iter().map(|r| RefusedPoint {
        index: indexes[r.index],
        reason: r.reason,
    }));
    refused.sort_by_key(|r| r.index);
    if format == Format::RemoteWrite {
        if refused.is_empty() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let reply = IngestReply {
            error: Some(ErrorDetail {
                code: "points_refused".to_string(),
                message: format!(
                    "{} sample(s) refused; the other {stored} were stored",
                    refused.len()
                ),
            }),
            stored,
            refused,
        };
        return Ok((StatusCode::BAD_REQUEST, Json(reply)).into_response());
    }
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
fn format_of(content_type: Option<&header::HeaderValue>) -> Result<Format, String> {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return Ok(Format::Json);
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "" => Ok(Format::Json),
        "text/plain" => Ok(Format::PrometheusText),
        "application/x-protobuf" => Ok(Format::RemoteWrite),
        other => Err(other.to_string()),
    }
}
