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

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Query, State},
    http::{header::HeaderName, HeaderMap, HeaderValue},
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        IntoResponse,
    },
};
use futures_util::{stream, StreamExt};
use serde::Deserialize;

use crate::{
    counters::Transport,
    error::ApiError,
    hub::{Delivery, Hub},
    transport::{parse_request, Streams},
};

/// How long a browser waits before reconnecting on its own.
const RETRY_HINT: Duration = Duration::from_secs(1);
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
    // The stream opens with a retry hint and a heartbeat, so a client knows at
    // once that events get through (a buffering proxy would hold it back).
    let hint = stream::once(async {
        SseEvent::default()
            .retry(RETRY_HINT)
            .event(app::protocol::HEARTBEAT_EVENT)
            .data("{}")
    });
    let events = stream::unfold((subscription, slot), move |(mut subscription, slot)| {
        let counters = counters.clone();
        async move {
            let batch = subscription.next_batch(MAX_BATCH).await?;
            counters.delivered(Transport::Sse, batch.len());
            let events = batch.iter().map(to_sse).collect::<Vec<_>>();
            Some((stream::iter(events), (subscription, slot)))
        }
    })
    .flatten();
    // On shutdown the stream ends with a last retry hint: clients come back
    // (to this server restarted, or another one) after it.
    let farewell = stream::once(async { SseEvent::default().retry(RETRY_HINT) });
    let body = hint
        .chain(events.take_until(streams.shutdown.clone().wait()))
        .chain(farewell)
        .map(Ok::<_, Infallible>);
    // The heartbeat is a comment (for proxies and tools) and a named
    // `heartbeat` event, which browsers' EventSource does dispatch: the
    // page's watchdog sees it.
    let heartbeat = SseEvent::default()
        .comment("heartbeat")
        .event(app::protocol::HEARTBEAT_EVENT)
        .data("{}");
    let sse = Sse::new(body).keep_alive(
        KeepAlive::new()
            .interval(streams.heartbeat)
            .event(heartbeat),
    );
    Ok((
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        sse,
    ))
}

fn to_sse(delivery: &Delivery) -> SseEvent {
    SseEvent::default()
        .id(delivery.position().to_string())
        .event(delivery.event_type())
        .data(std::str::from_utf8(delivery.json()).unwrap_or("{}"))
}
