//! A long-polling subscriber: `GET /api/realtime/poll?channels=<c>` on one
//! keep-alive connection, then again with `since=<next>` for as long as the
//! run lasts.
//!
//! The first poll names no position, so the server answers at once with a
//! `snapshot` and the position to go on from: that answer is when the
//! subscriber is established. Each later poll waits up to the poll timeout
//! for events. A poll in flight is never abandoned because the phase
//! changed, only when the subscriber finishes (the connection is then
//! dropped with it).

use std::pin::pin;

use app::protocol::{Envelope, PollReply, Position, RESET_EVENT, SNAPSHOT_EVENT};
use serde::Deserialize;

use crate::{
    http::{Connection, HttpError},
    probe::Probe,
    subscriber::{Shared, Subscriber, SubscriberReport},
};

/// Sends one poll and reads its answer, opening the connection if it is
/// not open; a failed or closing connection is dropped.
///
/// # Cancel safety
///
/// Not cancel-safe: an answer half read is lost. The caller abandons a poll
/// only when it is done with the connection too.
async fn poll_once(
    shared: &Shared,
    connection: &mut Option<Connection>,
    since: Option<Position>,
    wait: bool,
) -> Result<PollReply, HttpError> {
    let mut path = format!("/api/realtime/poll?channels={}", shared.channel);
    if let Some(since) = since {
        path.push_str(&format!("&since={since}"));
    }
    let timeout = if wait {
        shared.poll_timeout.as_secs_f64()
    } else {
        0.0
    };
    path.push_str(&format!("&timeout={timeout}"));
    let request = shared.target.request("GET", &path, "", b"");
    let open = match connection.as_mut() {
        Some(open) => open,
        None => {
            connection.insert(Connection::connect(&shared.target, shared.connect_timeout).await?)
        }
    };
    let (body, close) = match open.exchange(&request).await {
        Ok(answer) => answer,
        Err(error) => {
            *connection = None;
            return Err(error);
        }
    };
    if close {
        *connection = None;
    }
    serde_json::from_slice(&body)
        .map_err(|_| HttpError::Malformed("a poll answer that is not JSON"))
}

/// Runs one polling subscriber until the run tells it to stop.
pub async fn run(mut subscriber: Subscriber) -> SubscriberReport {
    if !subscriber.wait_turn().await {
        return subscriber.into_report();
    }
    let shared = subscriber.shared.clone();
    let mut connection = None;
    let timeout = shared.connect_timeout;
    let first = tokio::time::timeout(timeout, poll_once(&shared, &mut connection, None, false));
    let mut since = match first.await {
        Ok(Ok(reply)) => {
            subscriber.established();
            apply(&mut subscriber, reply)
        }
        Ok(Err(error)) => {
            subscriber.connect_failed(error);
            return subscriber.into_report();
        }
        Err(_) => {
            subscriber.connect_failed(format!("no answer within {timeout:?}"));
            return subscriber.into_report();
        }
    };
    'polls: while !subscriber.is_finished() {
        // Pinned outside the select so that a phase change does not cancel
        // the poll; only finishing does.
        let mut request = pin!(poll_once(&shared, &mut connection, Some(since), true));
        loop {
            tokio::select! {
                () = subscriber.phase_moved() => {
                    if subscriber.is_finished() {
                        break 'polls;
                    }
                }
                reply = &mut request => {
                    match reply {
                        Ok(reply) => since = apply(&mut subscriber, reply),
                        Err(error) => {
                            subscriber.failed(error);
                            break 'polls;
                        }
                    }
                    break;
                }
            }
        }
    }
    subscriber.into_report()
}

/// Applies one answer to the subscriber's checks; returns where to go on.
fn apply(subscriber: &mut Subscriber, reply: PollReply) -> Position {
    for envelope in reply.events {
        match envelope.event.as_str() {
            SNAPSHOT_EVENT => subscriber.on_snapshot(envelope.id),
            RESET_EVENT => subscriber.on_reset(envelope.id),
            _ => match Probe::deserialize(&envelope.data) {
                Ok(probe) => subscriber.on_event(&Envelope {
                    id: envelope.id,
                    channel: envelope.channel,
                    event: envelope.event,
                    key: envelope.key,
                    ts: envelope.ts,
                    data: probe,
                }),
                Err(_) => subscriber.on_foreign(envelope.id),
            },
        }
    }
    reply.next
}
