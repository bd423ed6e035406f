//! Scrape: Prometheus targets read on their own schedule, as Prometheus
//! reads them, from `[[scrape]]` tables of the config file:
//!
//! ```toml
//! [[scrape]]
//! url = "http://127.0.0.1:9100/metrics"   # http:// or https://
//! interval = "15s"                        # default 15s
//! timeout = "10s"                         # default 10s, at most the interval
//! job = "node"                            # default "scrape"
//! labels = { env = "prod" }               # added to every series
//! ```
//!
//! Each target has its own task (owned by the server, stopped by its
//! shutdown) and its own interval and timeout, so a slow or dead target
//! never delays another. A scrape is one HTTP/1.1 GET over a new
//! connection ([`crate::outbound`]: no pool, targets are few and scrapes
//! seconds apart; https checked against the built-in roots and
//! `--tls-ca-file`), its body limited to [`MAX_BODY_BYTES`], read with the
//! Prometheus text reader (`prometheus_text`), and stored through the
//! store like any ingest (partially: a bad line is left out, the rest
//! kept), then published live. Every series gets the target's labels and
//! `job` and `instance` (a scraped label of the same name is kept as
//! `exported_<name>`, as Prometheus does), and each scrape also writes
//! `up` (1 or 0), `scrape_duration_seconds` and `scrape_samples_scraped`.
//! When a target goes up or down (and at its first scrape) a
//! [`TargetStatus`] is published on the `status` channel, keyed
//! `scrape:<job>/<instance>`.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use app::protocol::{validate_label_name, SeriesKey, TargetStatus, STATUS_CHANNEL, TARGET_EVENT};
use axum::body::Body;
use hyper::{header, Request, StatusCode};
use tokio::task::JoinHandle;

use super::{ingest::now_ms, live, prometheus_text};
use crate::{
    hub::Hub,
    outbound,
    shutdown::Shutdown,
    store::{chunk::Sample, Mode, Point, Store},
};

/// The largest exposition read.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// The default interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// The default timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest interval taken.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// One target.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeTarget {
    /// As configured.
    pub url: String,
    target: outbound::Url,
    /// How often.
    pub interval: Duration,
    /// How long a scrape may take.
    pub timeout: Duration,
    /// The `job` label.
    pub job: String,
    /// The `instance` label: `host:port`.
    pub instance: String,
    /// Labels added to every series.
    pub labels: BTreeMap<String, String>,
}

/// Why a `[[scrape]]` table is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeError {
    /// Not a table.
    #[error("must be a table")]
    NotATable,
    /// No `url`.
    #[error("url is missing")]
    MissingUrl,
    /// A key the table does not take.
    #[error("unknown key {0:?} (takes url, interval, timeout, job, labels)")]
    UnknownKey(String),
    /// A value of the wrong type.
    #[error("{0} has the wrong type")]
    WrongType(&'static str),
    /// Not an `http://` or `https://` URL.
    #[error("url {0:?} must be http(s)://host[:port]/path")]
    BadUrl(String),
    /// A bad duration.
    #[error("{key} {value:?} is not a duration of at least 100ms (e.g. 15s)")]
    BadDuration {
        /// Which.
        key: &'static str,
        /// What was given.
        value: String,
    },
    /// A timeout longer than the interval.
    #[error("timeout must not be longer than interval")]
    TimeoutTooLong,
    /// A label name the rules refuse.
    #[error("label {0:?} is not a valid label name")]
    BadLabel(String),
}

impl ScrapeTarget {
    /// Reads a `[[scrape]]` table.
    pub fn from_toml(value: &toml::Value) -> Result<Self, ScrapeError> {
        let table = value.as_table().ok_or(ScrapeError::NotATable)?;
        for key in table.keys() {
            if !["url", "interval", "timeout", "job", "labels"].contains(&key.as_str()) {
                return Err(ScrapeError::UnknownKey(key.clone()));
            }
        }
        let text = |key: &'static str| -> Result<Option<&str>, ScrapeError> {
            match table.get(key) {
                None => Ok(None),
                Some(v) => v.as_str().map(Some).ok_or(ScrapeError::WrongType(key)),
            }
        };
        let duration = |key: &'static str, default: Duration| -> Result<Duration, ScrapeError> {
            let Some(value) = text(key)? else {
                return Ok(default);
            };
            humantime::parse_duration(value)
                .ok()
                .filter(|d| *d >= MIN_INTERVAL)
                .ok_or_else(|| ScrapeError::BadDuration {
                    key,
                    value: value.to_string(),
                })
        };
        let url = text("url")?.ok_or(ScrapeError::MissingUrl)?.to_string();
        let target = outbound::Url::parse(&url, "/metrics")
            .ok_or_else(|| ScrapeError::BadUrl(url.clone()))?;
        let interval = duration("interval", DEFAULT_INTERVAL)?;
        let timeout = duration("timeout", DEFAULT_TIMEOUT.min(interval))?;
        if timeout > interval {
            return Err(ScrapeError::TimeoutTooLong);
        }
        let mut labels = BTreeMap::new();
        if let Some(given) = table.get("labels") {
            let given = given.as_table().ok_or(ScrapeError::WrongType("labels"))?;
            for (name, value) in given {
                validate_label_name(name).map_err(|_| ScrapeError::BadLabel(name.clone()))?;
                let value = value
                    .as_str()
                    .ok_or(ScrapeError::WrongType("a label value"))?;
                labels.insert(name.clone(), value.to_string());
            }
        }
        Ok(Self {
            job: text("job")?.unwrap_or("scrape").to_string(),
            url,
            instance: target.authority(),
            target,
            interval,
            timeout,
            labels,
        })
    }

    /// The status channel's key for this target.
    pub fn status_key(&self) -> String {
        format!("scrape:{}/{}", self.job, self.instance)
    }
}

/// One GET of the target's exposition.
///
/// Cancel safety: dropping it drops the connection.
async fn fetch(client: &outbound::Client, target: &ScrapeTarget) -> Result<bytes::Bytes, String> {
    let request = Request::get(&target.target.path)
        .header(header::ACCEPT, "text/plain;version=0.0.4;q=1,*/*;q=0.1")
        .header(header::USER_AGENT, "livedash")
        .body(Body::empty())
        .map_err(|e| format!("bad request: {e}"))?;
    let (status, body) = client
        .send(&target.target, request, target.timeout, MAX_BODY_BYTES)
        .await?;
    if status != StatusCode::OK {
        return Err(format!("the target answered {status}"));
    }
    Ok(body)
}

/// Starts a task per target; each stops at shutdown.
pub fn start(
    targets: &[ScrapeTarget],
    client: &outbound::Client,
    store: &Store,
    hub: &Hub,
    shutdown: &Shutdown,
) -> Vec<JoinHandle<()>> {
    targets
        .iter()
        .map(|target| {
            tracing::info!(url = %target.url, job = %target.job, interval = ?target.interval, "scraping");
            tokio::spawn(run(
                target.clone(),
                client.clone(),
                store.clone(),
                hub.clone(),
                shutdown.clone(),
            ))
        })
        .collect()
}

async fn run(
    target: ScrapeTarget,
    client: outbound::Client,
    store: Store,
    hub: Hub,
    shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_up = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.clone().wait() => break,
        }
        let started = Instant::now();
        let ts = now_ms();
        let body = tokio::select! {
            fetched = fetch(&client, &target) => fetched,
            () = shutdown.clone().wait() => break,
        };
        let duration = started.elapsed().as_secs_f64();
        let (points, bad_lines) = match &body {
            Ok(body) => points_of(&target, body, ts),
            Err(_) => (Vec::new(), 0),
        };
        let up = body.is_ok();
        let scraped = points.len();
        let mut all = points;
        for (name, value) in [
            ("up", if up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", scraped as f64),
        ] {
            if let Some(point) = point(&target, name, BTreeMap::new(), value, ts) {
                all.push(point);
            }
        }
        let stored = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let result = store.ingest(&all, Mode::Partial, now_ms());
                (result, all)
            })
            .await
        };
        match stored {
            Ok((Ok(result), all)) => {
                live::publish_stored(&hub, &all, &result);
                if !result.refused.is_empty() {
                    tracing::debug!(url = %target.url, refused = result.refused.len(), first = %result.refused[0].reason, "scraped samples refused");
                }
            }
            Ok((Err(error), _)) => {
                tracing::error!(%error, url = %target.url, "cannot store a scrape")
            }
            Err(error) => {
                tracing::error!(%error, url = %target.url, "the scrape's store task failed")
            }
        }
        if was_up != Some(up) {
            let error = body.as_ref().err().cloned();
            match &error {
                Some(error) => tracing::warn!(url = %target.url, %error, "scrape target is down"),
                None => tracing::info!(url = %target.url, "scrape target is up"),
            }
            let status = TargetStatus {
                job: target.job.clone(),
                instance: target.instance.clone(),
                url: target.url.clone(),
                up,
                error,
                ts,
                samples: scraped,
                bad_lines,
            };
            if let Err(error) = hub.publish(
                STATUS_CHANNEL,
                TARGET_EVENT,
                Some(&target.status_key()),
                &status,
            ) {
                tracing::error!(%error, "cannot publish a scrape target's status");
            }
            was_up = Some(up);
        }
    }
}

/// One point of the target, with its labels; `None` when the name or a
/// label breaks the rules.
fn point(
    target: &ScrapeTarget,
    name: &str,
    mut labels: BTreeMap<String, String>,
    value: f64,
    ts: i64,
) -> Option<Point> {
    let mut own = target.labels.clone();
    own.insert("job".to_string(), target.job.clone());
    own.insert("instance".to_string(), target.instance.clone());
    for (label, value) in own {
        if let Some(scraped) = labels.insert(label.clone(), value) {
            labels.insert(format!("exported_{label}"), scraped);
        }
    }
    let key = SeriesKey::new(name, labels).ok()?;
    Some(Point {
        key,
        sample: Sample { ts, value },
    })
}

/// The points of an exposition, and how many lines could not be read.
fn points_of(target: &ScrapeTarget, body: &[u8], ts: i64) -> (Vec<Point>, usize) {
    let (samples, errors) = prometheus_text::parse(body);
    let read = samples.len();
    let points: Vec<Point> = samples
        .into_iter()
        .filter_map(|s| point(target, &s.name, s.labels, s.value, s.ts.unwrap_or(ts)))
        .collect();
    // A line whose name or labels break the naming rules is a bad line too.
    let unnamed = read - points.len();
    (points, errors.len() + unnamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Result<ScrapeTarget, ScrapeError> {
        ScrapeTarget::from_toml(&toml::Value::Table(text.parse().unwrap()))
    }

    #[test]
    fn urls_are_read_as_prometheus_targets() {
        let t = target("url = \"http://node:9100\"").unwrap();
        assert_eq!(
            (
                t.target.host.as_str(),
                t.target.port,
                t.target.path.as_str()
            ),
            ("node", 9100, "/metrics")
        );
        assert_eq!(t.instance, "node:9100");
        assert_eq!((t.interval, t.timeout), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT));
        let t = target("url = \"http://[::1]:8080/probe?x=1\"\ninterval = \"2s\"").unwrap();
        assert_eq!(
            (
                t.target.host.as_str(),
                t.target.port,
                t.target.path.as_str()
            ),
            ("::1", 8080, "/probe?x=1")
        );
        assert_eq!(t.instance, "[::1]:8080");
        assert_eq!(
            t.timeout,
            Duration::from_secs(2),
            "the timeout follows a short interval"
        );
        let https = target("url = \"https://node\"").unwrap();
        assert_eq!(
            (https.target.tls, https.instance.as_str()),
            (true, "node:443")
        );
        for bad in [
            "https://",
            "http://",
            "http://a:x/",
            "ftp://a",
            "http://a b/",
            "http://[::1",
        ] {
            assert!(target(&format!("url = \"{bad}\"")).is_err(), "{bad}");
        }
        assert_eq!(
            target("url = \"http://a\"\ninterval = \"1ms\"").unwrap_err(),
            ScrapeError::BadDuration {
                key: "interval",
                value: "1ms".into()
            }
        );
        assert_eq!(
            target("url = 5").unwrap_err(),
            ScrapeError::WrongType("url")
        );
    }

    #[test]
    fn target_labels_win_and_the_scraped_ones_are_kept_as_exported() {
        let t =
            target("url = \"http://a:1/m\"\njob = \"node\"\nlabels = { env = \"prod\" }").unwrap();
        let (points, bad) = points_of(
            &t,
            b"m{job=\"theirs\",x=\"1\"} 5\nbad line\nm{__reserved=\"x\"} 1\n",
            1_000,
        );
        assert_eq!((points.len(), bad), (1, 2));
        let labels = &points[0].key.labels;
        assert_eq!(labels["job"], "node");
        assert_eq!(labels["exported_job"], "theirs");
        assert_eq!(labels["env"], "prod");
        assert_eq!(labels["instance"], "a:1");
        assert_eq!(points[0].sample.ts, 1_000);
    }
}
