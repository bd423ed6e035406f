//! Publishing into the log from outside: `POST /api/realtime/events` (and
//! the WebSocket `publish` message, which shares the validation).
//!
//! A body is one object `{"channel", "event"?, "key"?, "data"}` or an array
//! of them (a batch, published in order at consecutive positions, all or
//! nothing). Everything is validated before anything is published.
//!
//! The body must be declared `application/json` (parameters such as
//! `; charset=utf-8` allowed). Browsers let any page send `text/plain`, form
//! and multipart bodies to any server without asking it first; a JSON body
//! needs a CORS preflight, which livedash never approves. So a page of
//! another site cannot publish, whatever it puts in the body (see `origin`
//! for the other half of that protection).

use std::sync::Arc;

pub use app::protocol::PublishRequest;
use app::protocol::{
    server_owned, validate_channel, Annotation, Position, PublishReply, ANNOTATION_EVENT,
    ANNOTATION_REMOVED_EVENT, DASHBOARD_CHANNEL_PREFIX, RESET_EVENT, SNAPSHOT_EVENT,
};
use axum::{
    body::{to_bytes, Body},
    extract::State,
    http::{header, HeaderMap, Request},
    Json,
};
use serde_json::Value;

use crate::{
    annotations::{dashboard_of, Annotations, Draft},
    counters::Counters,
    error::ApiError,
    hub::{now_ms, Hub, NewEvent},
};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 1000;
/// Longest key.
pub const MAX_KEY_LEN: usize = 256;

/// Checks a request and turns it into an event to publish.
pub fn validate(request: PublishRequest) -> Result<NewEvent<Value>, ApiError> {
    validate_channel(&request.channel)
        .map_err(|e| ApiError::invalid("invalid_channel", e.to_string()))?;
    if server_owned(&request.channel) {
        return Err(ApiError::Forbidden {
            code: "read_only_channel",
            message: format!(
                "channel {:?} is written by the server only",
                request.channel
            ),
        });
    }
    let event = request.event.unwrap_or_else(|| "message".to_string());
    if event.len() > 64 || validate_channel(&event).is_err() {
        return Err(ApiError::invalid(
            "invalid_event",
            "event types are 1 to 64 of A-Z a-z 0-9 _ . : -",
        ));
    }
    if event == RESET_EVENT
        || event == SNAPSHOT_EVENT
        || (matches!(
            event.as_str(),
            ANNOTATION_REMOVED_EVENT
                | crate::dashboards::DASHBOARD_EVENT
                | crate::dashboards::DASHBOARD_REMOVED_EVENT
        ) && dashboard_of(&request.channel).is_some())
    {
        return Err(ApiError::invalid(
            "invalid_event",
            format!("event type {event:?} is reserved"),
        ));
    }
    if request
        .key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > MAX_KEY_LEN)
    {
        return Err(ApiError::invalid(
            "invalid_key",
            format!("keys are 1 to {MAX_KEY_LEN} bytes"),
        ));
    }
    Ok(NewEvent {
        channel: request.channel,
        event_type: event,
        key: request.key,
        data: request.data,
    })
}

/// Parses a publish body (`app::protocol::PublishBody`): one request or a
/// batch. Fields a client adds
/// beyond the protocol's are ignored (a newer client works here).
pub fn parse_body(body: &[u8]) -> Result<(Vec<NewEvent<Value>>, bool), ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("invalid_json", format!("the body is not JSON: {e}")))?;
    let items = match &value {
        Value::Array(items) => items.len(),
        Value::Object(_) => 1,
        _ => {
            return Err(ApiError::invalid(
                "invalid_body",
                "the body must be an event object or an array of them",
            ))
        }
    };
    if items == 0 || items > MAX_BATCH {
        return Err(ApiError::invalid(
            "invalid_body",
            format!("a batch holds 1 to {MAX_BATCH} events"),
        ));
    }
    let (requests, batch) = match value {
        Value::Array(items) => {
            let requests = items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    serde_json::from_value::<PublishRequest>(item).map_err(|e| {
                        ApiError::invalid("invalid_body", format!("event {index}: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            (requests, true)
        }
        item => {
            let request = serde_json::from_value::<PublishRequest>(item)
                .map_err(|e| ApiError::invalid("invalid_body", e.to_string()))?;
            (vec![request], false)
        }
    };
    let events = requests
        .into_iter()
        .map(validate)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((events, batch))
}

/// Accepts a request whose one `Content-Type` is `application/json`, with
/// or without parameters; refuses anything else (415) before the body is read.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let refuse = |content_type: String| {
        tracing::debug!(%content_type, "publish refused: not declared as JSON");
        Err(ApiError::UnsupportedMediaType { content_type })
    };
    let Some(value) = values.next() else {
        return refuse("a body without Content-Type".to_string());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let quoted = || text.chars().take(100).collect::<String>();
    if values.next().is_some() {
        return refuse(format!("several Content-Types ({}, ...)", quoted()));
    }
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        refuse(quoted())
    }
}

/// Where published events go: the log, and first, for the annotations
/// among them (`annotation` events on a dashboard's channel), the
/// annotation store. Every publisher (HTTP, WebSocket) goes through it.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// The event log.
    pub hub: Hub,
    /// The stored annotations.
    pub annotations: Annotations,
}

impl Publisher {
    /// Publishes `events` in order, all or none. Each annotation is
    /// checked, stored (synced to disk) and replaced by the stored
    /// [`app::protocol::Annotation`] before anything is published; if the
    /// log then refuses the batch, they are removed again.
    /// [`Publisher::publish`], run off the async workers when the batch
    /// holds annotations: each is synced to disk before it is published,
    /// and a slow disk should hold one blocking thread, not a worker that
    /// serves every other connection. Returns the positions and the events
    /// as published (annotations replaced by the stored ones).
    ///
    /// Cancel safety: dropping the future does not undo or stop a publish
    /// already handed to the blocking pool; it completes, unanswered.
    pub async fn publish_async(
        &self,
        mut events: Vec<NewEvent<Value>>,
    ) -> Result<(Vec<Position>, Vec<NewEvent<Value>>), ApiError> {
        if !events.iter().any(|e| e.event_type == ANNOTATION_EVENT) {
            return self.publish(&mut events).map(|ids| (ids, events));
        }
        let publisher = self.clone();
        tokio::task::spawn_blocking(move || publisher.publish(&mut events).map(|ids| (ids, events)))
            .await
            .map_err(|e| ApiError::Storage(format!("the publishing task failed: {e}")))?
    }

    /// Removes annotation `id` (synced to disk, off the async workers) and
    /// tells its dashboard's viewers; `None` when there is none.
    pub async fn remove_annotation(&self, id: u64) -> Result<Option<Annotation>, ApiError> {
        let annotations = self.annotations.clone();
        let removed = tokio::task::spawn_blocking(move || annotations.remove(id))
            .await
            .map_err(|e| ApiError::Storage(format!("the removing task failed: {e}")))?
            .map_err(|e| ApiError::Storage(e.to_string()))?;
        if let Some(removed) = &removed {
            self.hub.publish_batch(&[NewEvent {
                channel: format!("{DASHBOARD_CHANNEL_PREFIX}{}", removed.dashboard),
                event_type: ANNOTATION_REMOVED_EVENT.to_string(),
                key: None,
                data: serde_json::json!({ "id": removed.id }),
            }])?;
        }
        Ok(removed)
    }

    pub fn publish(&self, events: &mut [NewEvent<Value>]) -> Result<Vec<Position>, ApiError> {
        let now = now_ms();
        let mut drafts = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if event.event_type != ANNOTATION_EVENT {
                continue;
            }
            if let Some(dashboard) = dashboard_of(&event.channel) {
                drafts.push((index, Draft::from_data(dashboard, &event.data, now)?));
            }
        }
        let (indices, drafts): (Vec<usize>, Vec<Draft>) = drafts.into_iter().unzip();
        let stored = if drafts.is_empty() {
            Vec::new()
        } else {
            self.annotations
                .add(drafts, now)
                .map_err(|e| ApiError::Storage(e.to_string()))?
        };
        for (&index, note) in indices.iter().zip(&stored) {
            events[index].data =
                serde_json::to_value(note).expect("an annotation always encodes as JSON");
        }
        self.hub.publish_batch(events).map_err(|error| {
            for note in &stored {
                if let Err(e) = self.annotations.remove(note.id) {
                    tracing::warn!(id = note.id, error = %e, "an annotation the log refused stays stored");
                }
            }
            ApiError::from(error)
        })
    }
}

/// A request's body: declared `application/json` (see [`require_json`])
/// and at most `limit` bytes (413 past it).
pub async fn json_body(request: Request<Body>, limit: usize) -> Result<bytes::Bytes, ApiError> {
    require_json(request.headers())?;
    to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })
}

/// `POST /api/realtime/events`.
pub async fn handler(
    State(publisher): State<Publisher>,
    State(counters): State<Arc<Counters>>,
    request: Request<Body>,
) -> Result<Json<PublishReply>, ApiError> {
    counters.refused(publish(&publisher, request).await)
}

async fn publish(
    publisher: &Publisher,
    request: Request<Body>,
) -> Result<Json<PublishReply>, ApiError> {
    let body = json_body(request, MAX_BODY_BYTES).await?;
    let (events, batch) = parse_body(&body)?;
    let (ids, _) = publisher.publish_async(events).await?;
    Ok(Json(match (batch, ids.first()) {
        (false, Some(id)) => PublishReply::One { id: *id },
        _ => PublishReply::Batch { ids },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_event_defaults_to_message() {
        let (events, batch) = parse_body(br#"{"channel": "room", "data": {"x": 1}}"#).unwrap();
        assert!(!batch);
        assert_eq!(events[0].event_type, "message");
    }

    #[test]
    fn fields_from_a_newer_client_are_ignored() {
        let (events, _) = parse_body(br#"{"channel": "room", "data": 1, "ttl": 5}"#).unwrap();
        assert_eq!(events[0].channel, "room");
    }

    #[test]
    fn only_bodies_declared_as_json_are_taken() {
        let headers = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::CONTENT_TYPE, value.parse().unwrap());
            }
            headers
        };
        for accepted in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
        ] {
            assert!(require_json(&headers(&[accepted])).is_ok(), "{accepted:?}");
        }
        for refused in [
            &[][..],
            &["text/plain"],
            &["text/plain; charset=utf-8"],
            &["application/x-www-form-urlencoded"],
            &["multipart/form-data; boundary=x"],
            &["application/jsonp"],
            &["application/json-seq"],
            &["application/vnd.api+json"],
            &["text/plain; application/json"],
            &[""],
            &["application/json", "text/plain"],
        ] {
            let error = require_json(&headers(refused)).unwrap_err();
            assert_eq!(error.code(), "unsupported_media_type", "{refused:?}");
        }
    }

    #[test]
    fn invalid_bodies_get_their_own_codes() {
        let cases: [(&[u8], &str); 8] = [
            (b"{", "invalid_json"),
            (b"42", "invalid_body"),
            (b"[]", "invalid_body"),
            (br#"{"channel": "room"}"#, "invalid_body"),
            (br#"{"channel": "no spaces", "data": 1}"#, "invalid_channel"),
            (br#"{"channel": "metrics", "data": 1}"#, "read_only_channel"),
            (
                br#"{"channel": "room", "event": "reset", "data": 1}"#,
                "invalid_event",
            ),
            (
                br#"[{"channel": "room", "data": 1}, {"channel": "", "data": 1}]"#,
                "invalid_channel",
            ),
        ];
        for (body, code) in cases {
            let error = parse_body(body).unwrap_err();
            assert_eq!(error.code(), code, "{}", String::from_utf8_lossy(body));
        }
    }
}
