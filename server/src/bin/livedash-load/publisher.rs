//! A publisher: `POST /api/realtime/events` on one keep-alive connection,
//! one request at a time, each a batch of probes numbered from 0.
//!
//! One request at a time is what makes the exactly-once check possible: a
//! publisher's events take increasing positions in the log, in the order of
//! their numbers. At a fixed rate, requests follow a schedule (a batch every
//! `batch / rate` seconds; a late publisher catches up at once, so the
//! offered rate holds on average); at rate 0 they go back to back.
//!
//! A request the server refused (an error status) published nothing (a
//! batch is all or nothing), so its numbers are used again by the next
//! one; a request that failed after it was sent may or may not have been
//! published, so the publisher stops there and acknowledges only what the
//! server acknowledged (see `verify`).

use std::{sync::Arc, time::Duration};

use app::protocol::{Position, PublishBody, PublishReply};
use tokio::{
    sync::watch,
    time::{Instant, MissedTickBehavior},
};

use crate::{
    http::{Connection, HttpError, Target},
    probe::{self, now_ns, Probe},
    subscriber::Phase,
    verify::Published,
};

/// Refusals in a row (429 or 503: try again later) after which a publisher
/// gives up; other error statuses end it at once.
const MAX_REFUSALS: u32 = 5;
/// Pause after a refusal.
const REFUSAL_PAUSE: Duration = Duration::from_millis(100);

/// What all publishers share.
#[derive(Debug)]
pub struct PublisherSettings {
    /// The server.
    pub target: Target,
    /// The channel published to.
    pub channel: String,
    /// This run's id.
    pub run: u64,
    /// Events per request.
    pub batch: usize,
    /// Padding in each payload.
    pub pad: String,
    /// Longest one request may take.
    pub request_timeout: Duration,
    /// Longest connecting may take.
    pub connect_timeout: Duration,
}

/// What one publisher is to do.
#[derive(Debug, Clone, Copy)]
pub struct Assignment {
    /// Its index.
    pub index: usize,
    /// Events per second (`None`: flat out).
    pub rate: Option<f64>,
    /// Most events to publish.
    pub events: Option<u64>,
    /// When to stop publishing.
    pub until: Option<Instant>,
}

/// One publisher's results.
#[derive(Debug, Clone, Default)]
pub struct PublisherReport {
    /// What the server acknowledged.
    pub published: Published,
    /// Requests sent.
    pub requests: u64,
    /// Refused or failed requests.
    pub errors: u64,
    /// The first error.
    pub error: Option<String>,
    /// It stopped on an error before its assignment was done.
    pub gave_up: bool,
    /// When the last acknowledgement came.
    pub last_ack: Option<Instant>,
}

/// Publishes until the assignment is done or the run stops.
pub async fn run(
    settings: Arc<PublisherSettings>,
    assignment: Assignment,
    mut phase: watch::Receiver<Phase>,
) -> PublisherReport {
    let mut report = PublisherReport::default();
    let mut connection: Option<Connection> = None;
    let mut schedule = assignment.rate.map(|rate| {
        let period = Duration::from_secs_f64(settings.batch as f64 / rate);
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        interval
    });
    let mut refusals = 0;
    let stopped = |phase: &watch::Receiver<Phase>| matches!(*phase.borrow(), Phase::Stop);
    loop {
        let done = report.published.count;
        let left = assignment.events.map_or(u64::MAX, |events| events - done);
        let overtime = assignment
            .until
            .is_some_and(|until| Instant::now() >= until);
        if left == 0 || overtime || stopped(&phase) {
            break;
        }
        if let Some(schedule) = schedule.as_mut() {
            let until = async {
                match assignment.until {
                    Some(until) => tokio::time::sleep_until(until).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // Cancel-safe: a tick not taken stays due.
                _ = schedule.tick() => {}
                // Cancel-safe: only waits. A closed channel means the run
                // is gone: stop.
                changed = phase.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
                () = until => break,
            }
        }
        let count = left.min(settings.batch as u64);
        let body = batch_body(&settings, assignment.index, done, count);
        report.requests += 1;
        let sent = tokio::time::timeout(
            settings.request_timeout,
            send(&settings, &mut connection, &body),
        )
        .await
        .unwrap_or_else(|_| {
            Err(HttpError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer to a publish in time",
            )))
        });
        match sent {
            Ok(last) => {
                refusals = 0;
                report.published.count += count;
                report.published.last = Some(last);
                report.last_ack = Some(Instant::now());
            }
            Err(HttpError::Status { status, body })
                if (status == 429 || status == 503) && refusals < MAX_REFUSALS =>
            {
                refusals += 1;
                report.errors += 1;
                report
                    .error
                    .get_or_insert_with(|| format!("HTTP {status}: {body}"));
                tokio::time::sleep(REFUSAL_PAUSE).await;
            }
            Err(error) => {
                report.errors += 1;
                report.error.get_or_insert_with(|| error.to_string());
                report.gave_up = true;
                break;
            }
        }
    }
    report
}

/// The JSON body of one request: probes `first..first + count`.
fn batch_body(settings: &PublisherSettings, publisher: usize, first: u64, count: u64) -> Vec<u8> {
    let sent_ns = now_ns();
    let mut requests = (first..first + count).map(|seq| {
        let probe = Probe {
            run: settings.run,
            publisher,
            seq,
            sent_ns,
        };
        probe::request(&settings.channel, probe, &settings.pad)
    });
    let body = if count == 1 {
        // A single event goes as one object, the common case for clients.
        PublishBody::One(requests.next().expect("count is 1"))
    } else {
        PublishBody::Batch(requests.collect())
    };
    serde_json::to_vec(&body).expect("publish bodies always serialize")
}

/// Sends one request; returns the position of its last event.
///
/// # Cancel safety
///
/// Not cancel-safe: a request cut short may or may not be published. It is
/// raced only against its timeout, after which the publisher stops.
async fn send(
    settings: &PublisherSettings,
    connection: &mut Option<Connection>,
    body: &[u8],
) -> Result<Position, HttpError> {
    let request = settings.target.request(
        "POST",
        "/api/realtime/events",
        "Content-Type: application/json\r\n",
        body,
    );
    let open = match connection.as_mut() {
        Some(open) => open,
        None => connection
            .insert(Connection::connect(&settings.target, settings.connect_timeout).await?),
    };
    let (answer, close) = match open.exchange(&request).await {
        Ok(answer) => answer,
        Err(error) => {
            *connection = None;
            return Err(error);
        }
    };
    if close {
        *connection = None;
    }
    let reply: PublishReply = serde_json::from_slice(&answer)
        .map_err(|_| HttpError::Malformed("a publish answer that is not {\"id\"} or {\"ids\"}"))?;
    match reply {
        PublishReply::One { id } => Ok(id),
        PublishReply::Batch { ids } => ids
            .last()
            .copied()
            .ok_or(HttpError::Malformed("an empty list of ids")),
    }
}
