//! Webhooks: each alert that fires, changes severity or resolves (and is
//! not silenced) is posted as JSON to every `--alert-webhook` URL.
//!
//! Deliveries go through an outbox, `<data-dir>/alerts/outbox.jsonl`: a
//! delivery is written there (synced) before anything is sent, and its
//! success is written (synced) before the next one is sent. A restart
//! replays the file, so a delivery queued is never lost, and one that
//! succeeded is never sent again. (A crash between the receiver's answer
//! and that write can repeat one delivery: each carries its `id`, also
//! as the `Idempotency-Key` header, for the receiver to drop it.)
//!
//! A failed delivery (no connection, a timeout, an answer other than 2xx)
//! is tried again after `min(1 s x 2^attempts, 5 min)`, less a random
//! part of up to half (jitter, so many servers do not retry in step),
//! for at most [`GIVE_UP_AFTER`]. The outbox holds at most
//! [`MAX_PENDING`] deliveries; past that the oldest is dropped (logged,
//! and written to the file as dropped).
//!
//! Receivers are `http://` or `https://` ([`crate::outbound`]: the
//! built-in roots, plus `--tls-ca-file`); a certificate that is not
//! trusted fails the attempt like any other failure.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Body,
    http::{header, Request},
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Alert, Phase, Transition};
use crate::{outbound, rng::Rng, shutdown::Shutdown, sources::ingest::now_ms};

/// The most deliveries waiting.
pub const MAX_PENDING: usize = 10_000;
/// A delivery not through after this long is dropped.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3_600);
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a receiver's answer read (it is not used, only drained).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The first retry's delay.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest delay between attempts.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// A webhook URL, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl {
    /// As given.
    pub url: String,
    target: outbound::Url,
}

impl std::str::FromStr for WebhookUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let target = outbound::Url::parse(url, "/")
            .ok_or_else(|| format!("{url}: a webhook is http(s)://host[:port][/path]"))?;
        Ok(Self {
            url: url.to_string(),
            target,
        })
    }
}

/// One delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id (the `Idempotency-Key`).
    pub id: u64,
    /// Where to.
    pub url: String,
    /// What.
    pub body: Value,
    /// When it was queued (Unix ms).
    pub queued_at: i64,
    /// Attempts so far (not written: a restart tries again at once).
    #[serde(skip)]
    pub attempts: u32,
    /// When to try next.
    #[serde(skip)]
    pub next_at: i64,
}

/// One line of the outbox file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Queued { delivery: Delivery },
    Sent { id: u64 },
    Dropped { id: u64, reason: String },
}

/// The outbox. Cheap to clone; all clones share it.
#[derive(Clone, Debug)]
pub struct Outbox {
    inner: Arc<OutboxInner>,
}

#[derive(Debug)]
struct OutboxInner {
    urls: Vec<WebhookUrl>,
    state: Mutex<OutboxState>,
    queued: tokio::sync::Notify,
}

#[derive(Debug)]
struct OutboxState {
    path: PathBuf,
    file: File,
    lines: usize,
    next_id: u64,
    pending: BTreeMap<u64, Delivery>,
}

impl OutboxState {
    fn write(&mut self, lines: &[Line]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut bytes, line)?;
            bytes.push(b'\n');
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.lines += lines.len();
        if self.lines > 4 * self.pending.len() + 1_000 {
            self.rewrite()?;
        }
        Ok(())
    }

    /// The file again with only the deliveries still waiting.
    fn rewrite(&mut self) -> io::Result<()> {
        let mut text = Vec::new();
        for delivery in self.pending.values() {
            serde_json::to_writer(
                &mut text,
                &Line::Queued {
                    delivery: delivery.clone(),
                },
            )?;
            text.push(b'\n');
        }
        crate::files::write_atomically(&self.path, &text)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = self.pending.len();
        Ok(())
    }
}

impl Outbox {
    /// Opens the outbox in `dir` for `urls`, replaying what was queued
    /// and not sent.
    pub fn open(dir: &Path, urls: Vec<WebhookUrl>) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("outbox.jsonl");
        let mut pending = BTreeMap::new();
        let mut next_id = 1;
        let mut lines = 0;
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).split(b'\n') {
                let line = line?;
                if line.is_empty() {
                    continue;
                }
                lines += 1;
                match serde_json::from_slice::<Line>(&line) {
                    Ok(Line::Queued { delivery }) => {
                        next_id = next_id.max(delivery.id + 1);
                        pending.insert(delivery.id, delivery);
                    }
                    Ok(Line::Sent { id } | Line::Dropped { id, .. }) => {
                        pending.remove(&id);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "skipping an outbox line that does not read")
                    }
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut state = OutboxState {
            path,
            file,
            lines,
            next_id,
            pending,
        };
        if state.lines > state.pending.len() {
            state.rewrite()?;
        }
        if !state.pending.is_empty() {
            tracing::info!(pending = state.pending.len(), "webhook deliveries to send");
        }
        Ok(Self {
            inner: Arc::new(OutboxInner {
                urls,
                state: Mutex::new(state),
                queued: tokio::sync::Notify::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues the notification of `alert`'s `transition` for every URL:
    /// those that fired, changed severity or resolved, and are not
    /// silenced.
    pub fn notify(&self, alert: &Alert, transition: &Transition) {
        if self.inner.urls.is_empty()
            || transition.to == Phase::Pending
            || alert.silenced_by.is_some()
            || transition.from == Some(Phase::Pending) && transition.to == Phase::Resolved
        {
            return;
        }
        let now = now_ms();
        let mut state = self.lock();
        let mut lines = Vec::new();
        for url in &self.inner.urls {
            while state.pending.len() >= MAX_PENDING {
                let Some((&oldest, _)) = state.pending.iter().next() else {
                    break;
                };
                state.pending.remove(&oldest);
                tracing::warn!(
                    delivery = oldest,
                    "the webhook outbox is full: dropping its oldest delivery"
                );
                lines.push(Line::Dropped {
                    id: oldest,
                    reason: "the outbox was full".into(),
                });
            }
            let id = state.next_id;
            state.next_id += 1;
            let delivery = Delivery {
                id,
                url: url.url.clone(),
                body: json!({
                    "id": id,
                    "event": match (transition.from, transition.to) {
                        (_, Phase::Resolved) => "resolved",
                        (Some(Phase::Firing), _) => "severity",
                        _ => "firing",
                    },
                    "alert": alert,
                    "transition": transition,
                    "links": {
                        "history": format!("/api/alerts/history?rule={}", alert.rule),
                        "alerts": "/api/alerts",
                    },
                }),
                queued_at: now,
                attempts: 0,
                next_at: now,
            };
            state.pending.insert(id, delivery.clone());
            lines.push(Line::Queued { delivery });
        }
        if let Err(error) = state.write(&lines) {
            tracing::error!(%error, "cannot write the webhook outbox");
        }
        drop(state);
        self.inner.queued.notify_one();
    }

    /// Writes `line` (a delivery's end) and forgets the delivery.
    fn finish(&self, id: u64, line: Line) {
        let mut state = self.lock();
        state.pending.remove(&id);
        if let Err(error) = state.write(&[line]) {
            tracing::error!(%error, delivery = id, "cannot write the webhook outbox");
        }
    }
}

/// Sends the outbox's deliveries until shutdown, one at a time, the one
/// due first first.
pub async fn run(outbox: Outbox, client: outbound::Client, shutdown: Shutdown) {
    let mut rng = Rng(now_ms() as u64 | 1);
    loop {
        let due = {
            let state = outbox.lock();
            state
                .pending
                .values()
                .min_by_key(|d| (d.next_at, d.id))
                .cloned()
        };
        let wait = match &due {
            Some(d) => Duration::from_millis(d.next_at.saturating_sub(now_ms()).max(0) as u64),
            None => Duration::from_secs(3_600),
        };
        if !wait.is_zero() || due.is_none() {
            tokio::select! {
                () = shutdown.clone().wait() => return,
                () = outbox.inner.queued.notified() => continue,
                () = tokio::time::sleep(wait) => continue,
            }
        }
        let Some(delivery) = due else { continue };
        let Some(url) = outbox.inner.urls.iter().find(|u| u.url == delivery.url) else {
            outbox.finish(
                delivery.id,
                Line::Dropped {
                    id: delivery.id,
                    reason: "its URL is no longer configured".into(),
                },
            );
            continue;
        };
        let sent = tokio::select! {
            () = shutdown.clone().wait() => return,
            sent = post(&client, url, &delivery) => sent,
        };
        match sent {
            Ok(()) => {
                tracing::debug!(delivery = delivery.id, url = %delivery.url, "webhook delivered");
                outbox.finish(delivery.id, Line::Sent { id: delivery.id });
            }
            Err(error) => {
                let now = now_ms();
                if now - delivery.queued_at > GIVE_UP_AFTER.as_millis() as i64 {
                    tracing::error!(delivery = delivery.id, url = %delivery.url, %error, "webhook given up");
                    outbox.finish(
                        delivery.id,
                        Line::Dropped {
                            id: delivery.id,
                            reason: error,
                        },
                    );
                    continue;
                }
                let delay = retry_delay(delivery.attempts, &mut rng);
                tracing::warn!(delivery = delivery.id, url = %delivery.url, %error, retry_in = ?delay, "webhook failed");
                let mut state = outbox.lock();
                if let Some(d) = state.pending.get_mut(&delivery.id) {
                    d.attempts += 1;
                    d.next_at = now + delay.as_millis() as i64;
                }
            }
        }
    }
}

/// The delay before attempt `attempts + 1`: `min(1 s x 2^attempts, 5
/// min)`, less up to half of it at random.
pub fn retry_delay(attempts: u32, rng: &mut Rng) -> Duration {
    let full = FIRST_RETRY
        .saturating_mul(1u32 << attempts.min(16))
        .min(MAX_RETRY);
    full.mul_f64(1.0 - 0.5 * rng.unit())
}

/// One POST of `delivery` to `url`: `Ok` on a 2xx answer.
///
/// Cancel safety: dropping it drops the connection.
async fn post(
    client: &outbound::Client,
    url: &WebhookUrl,
    delivery: &Delivery,
) -> Result<(), String> {
    let body = serde_json::to_vec(&delivery.body).map_err(|e| e.to_string())?;
    let request = Request::post(&url.target.path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "livedash")
        .header("idempotency-key", delivery.id.to_string())
        .body(Body::from(body))
        .map_err(|e| format!("bad request: {e}"))?;
    let (status, _) = client
        .send(&url.target, request, ATTEMPT_TIMEOUT, MAX_ANSWER_BYTES)
        .await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_five_minutes() {
        let mut rng = Rng(7);
        for (attempts, full) in [(0, 1), (1, 2), (3, 8), (8, 256), (9, 300), (30, 300)] {
            for _ in 0..50 {
                let delay = retry_delay(attempts, &mut rng).as_secs_f64();
                assert!(
                    delay <= full as f64 && delay >= full as f64 / 2.0,
                    "attempt {attempts}: {delay}"
                );
            }
        }
    }

    #[test]
    fn http_and_https_urls_are_taken() {
        assert!("http://127.0.0.1:9000/hook".parse::<WebhookUrl>().is_ok());
        let https: WebhookUrl = "https://hooks.example.com/x".parse().unwrap();
        assert!(https.target.tls && https.target.port == 443);
        assert!("ftp://x"
            .parse::<WebhookUrl>()
            .unwrap_err()
            .contains("http(s)://"));
    }
}
