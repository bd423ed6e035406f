//! Server-Sent Events: `GET /api/realtime/sse?channels=a,b`.
//!
//! Each delivery becomes one SSE event with `id:` (its position), `event:`
//! (its type) and `data:` (the envelope JSON). The stream opens with a
//! `retry:` hint, sends a heartbeat when idle (a comment, and a `heartbeat`
//! event browsers can see), resumes from the
//! `Last-Event-ID` header (sent by browsers on their own reconnects) or the
//! `lastEventId` query parameter, and ends when the client goes away or the
//! server shuts down. A client that stops reading is disconnected by the
//! connection's write deadline (see `crate::http`); until then its
//! subscription holds at most one batch.

use std::convert::Infallible;

use axum::{
    body::Body,
    extract::{Query, State},
    http::{
        header::{self, HeaderName},
        HeaderMap, HeaderValue,
    },
    response::IntoResponse,
};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde::Deserialize;

use crate::{
    counters::Transport,
    error::ApiError,
    hub::{Delivery, Hub},
    transport::{parse_request, Streams},
};

/// The first frame: how long a browser waits before reconnecting on its
/// own (1 s), and a heartbeat.
const OPENING: &[u8] = b"retry: 1000\nevent: heartbeat\ndata: {}\n\n";
/// Sent after a quiet heartbeat interval: a comment (for proxies and
/// tools) and a named `heartbeat` event, which browsers' EventSource does
/// dispatch: the page's watchdog sees it.
const HEARTBEAT: &[u8] = b": heartbeat\nevent: heartbeat\ndata: {}\n\n";
/// The last frame, on shutdown: come back in 1 s.
const FAREWELL: &[u8] = b"retry: 1000\n\n";
/// Most events taken from the subscription per write.
const MAX_BATCH: usize = 256;

/// The query string of a stream request.
#[derive(Debug, Deserialize)]
pub struct SseQuery {
    /// Comma-separated channels (default `metrics`).
    pub channels: Option<String>,
    /// Where to resume from, when no `Last-Event-ID` header is sent.
    #[serde(rename = "lastEventId")]
    pub last_event_id: Option<String>,
    /// Channels (among `channels`) that start with a snapshot instead of
    /// resuming.
    pub fresh: Option<String>,
    /// A JSON object of channel to the only keys wanted.
    pub filter: Option<String>,
}

/// Opens an event stream.
pub async fn handler(
    State(hub): State<Hub>,
    State(streams): State<Streams>,
    headers: HeaderMap,
    Query(query): Query<SseQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty());
    let request = streams.counters.refused(parse_request(
        query.channels.as_deref(),
        header.or(query.last_event_id.as_deref()),
        query.fresh.as_deref(),
        query.filter.as_deref(),
    ))?;
    let slot = streams.admit(Transport::Sse)?;
    let since = request.since;
    let subscription = hub.subscribe_with(request);
    tracing::debug!(
        channels = ?subscription.channels(),
        since = ?since.map(|p| p.to_string()),
        "sse stream opened"
    );

    let counters = streams.counters.clone();
    let heartbeat = streams.heartbeat;
    // The stream opens with a retry hint and a heartbeat, so a client knows at
    // once that events get through (a buffering proxy would hold it back).
    let hint = stream::once(async { Bytes::from_static(OPENING) });
    // Each delivery is its frame's bytes: an event's frame was encoded once,
    // when it was published, and every subscriber is handed the same bytes.
    // The frames of a batch go out together (hyper gathers them in one
    // write). After `heartbeat` with nothing to send comes a heartbeat.
    let events = stream::unfold((subscription, slot), move |(mut subscription, slot)| {
        let counters = counters.clone();
        async move {
            let frames = tokio::select! {
                // Cancel safe (see `next_batch`): when the heartbeat wins,
                // a batch in the making waits in the subscription.
                batch = subscription.next_batch(MAX_BATCH) => {
                    let batch = batch?;
                    counters.delivered(Transport::Sse, batch.len());
                    batch.iter().map(Delivery::sse).collect::<Vec<_>>()
                }
                () = tokio::time::sleep(heartbeat) => vec![Bytes::from_static(HEARTBEAT)],
            };
            Some((stream::iter(frames), (subscription, slot)))
        }
    })
    .flatten();
    // On shutdown the stream ends with a last retry hint: clients come back
    // (to this server restarted, or another one) after it.
    let farewell = stream::once(async { Bytes::from_static(FAREWELL) });
    let body = hint
        .chain(events.take_until(streams.shutdown.clone().wait()))
        .chain(farewell)
        .map(Ok::<_, Infallible>);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_frames_are_whole_frames_that_browsers_dispatch() {
        let named = format!("event: {}\n", app::protocol::HEARTBEAT_EVENT);
        for frame in [OPENING, HEARTBEAT] {
            let text = std::str::from_utf8(frame).unwrap();
            assert!(text.contains(&named), "{text:?}");
            assert!(text.ends_with("\n\n") && !text[..text.len() - 2].contains("\n\n"));
        }
        assert!(FAREWELL.starts_with(b"retry: ") && FAREWELL.ends_with(b"\n\n"));
    }
}
