//! Long polling: `GET /api/realtime/poll?channels=..&since=..&timeout=..`.
//!
//! Answers at once with the events after `since` when there are any;
//! otherwise waits up to `timeout` seconds (at most 30; `0` is a plain poll)
//! for the next ones and answers an empty batch if none came. Every answer
//! is `{"events": [<envelope>...], "next": "<position>"}`: ask from `next`
//! the next time. Without `since` (or with one the log cannot honour) the
//! batch starts with a `snapshot` (or `reset`) envelope, as on the other
//! transports.

use std::time::Duration;

use axum::{
    extract::{Query, State},
    http::header,
    response::IntoResponse,
};
use serde::Deserialize;

use crate::{
    counters::Transport,
    error::ApiError,
    hub::{wire, Hub},
    transport::{parse_request, Streams},
};

/// The longest a poll waits.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a poll waits when it does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);
/// Most events in one answer; the rest come with the next poll.
pub const MAX_EVENTS: usize = 1000;

/// The query string of a poll.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    /// Comma-separated channels (default `metrics`).
    pub channels: Option<String>,
    /// The position to continue after.
    pub since: Option<String>,
    /// Seconds to wait for events (fractions allowed).
    pub timeout: Option<String>,
    /// Channels (among `channels`) that start with a snapshot instead of
    /// continuing after `since`.
    pub fresh: Option<String>,
    /// A JSON object of channel to the only keys wanted.
    pub filter: Option<String>,
}

fn parse_timeout(text: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_TIMEOUT);
    };
    let seconds: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ApiError::invalid("invalid_timeout", "timeout is a number of seconds, 0 to 30")
        })?;
    Ok(Duration::from_secs_f64(
        seconds.min(MAX_TIMEOUT.as_secs_f64()),
    ))
}

/// Answers one poll.
pub async fn handler(
    State(hub): State<Hub>,
    State(streams): State<Streams>,
    Query(query): Query<PollQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let parsed = (|| {
        let request = parse_request(
            query.channels.as_deref(),
            query.since.as_deref(),
            query.fresh.as_deref(),
            query.filter.as_deref(),
        )?;
        Ok::<_, ApiError>((request, parse_timeout(query.timeout.as_deref())?))
    })();
    let (request, timeout) = streams.counters.refused(parsed)?;
    let _slot = streams.admit(Transport::Poll)?;
    let mut subscription = hub.subscribe_with(request);
    let mut batch = subscription.ready_batch(MAX_EVENTS);
    if batch.is_empty() && !timeout.is_zero() {
        tokio::select! {
            next = subscription.next_batch(MAX_EVENTS) => batch = next.unwrap_or_default(),
            () = tokio::time::sleep(timeout) => {}
            () = streams.shutdown.clone().wait() => {}
        }
        // A batch the timer or shutdown cut short waits in the
        // subscription: it goes out with this answer.
        if batch.is_empty() {
            batch = subscription.ready_batch(MAX_EVENTS);
        }
    }
    let next = batch
        .last()
        .map(|d| d.position())
        .unwrap_or_else(|| subscription.position());
    streams.counters.delivered(Transport::Poll, batch.len());
    let body = wire::poll_reply(batch.iter().map(|d| &d.json()[..]), next);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_capped_and_validated() {
        assert_eq!(parse_timeout(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("0")).unwrap(), Duration::ZERO);
        assert_eq!(
            parse_timeout(Some("1.5")).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_timeout(Some("3600")).unwrap(), MAX_TIMEOUT);
        for bad in ["-1", "soon", "NaN", "inf"] {
            assert!(parse_timeout(Some(bad)).is_err(), "{bad}");
        }
    }
}
