//! The results of a run: gathered from every subscriber's and publisher's
//! own report, printed for a person (one line per measurement) or as one
//! JSON object for a script, and turned into the exit status.
//!
//! Rates are taken over the publishing window: published events per second
//! from the first request to the last acknowledgement, delivered events per
//! second (summed over subscribers) from the first request to the last event
//! received by any subscriber.

use std::{fmt, time::Duration};

use serde::Serialize;

use crate::{
    config::{Config, Transport},
    histogram::Histogram,
    publisher::PublisherReport,
    subscriber::SubscriberReport,
    verify::Tally,
};

/// Exit status: every event arrived once.
pub const EXIT_OK: u8 = 0;
/// Exit status: some subscriber lost, duplicated or reordered an event
/// without a reset.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit status: the run was incomplete, but nothing that arrived was wrong.
pub const EXIT_INCOMPLETE: u8 = 3;

/// What was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The server.
    pub url: String,
    /// How subscribers connected.
    pub transport: Transport,
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Publishers.
    pub publishers: usize,
    /// The channel.
    pub channel: String,
    /// Events per second over all publishers (`None`: flat out).
    pub rate: Option<f64>,
    /// Events per request.
    pub batch: u16,
    /// Padding bytes per event.
    pub payload_bytes: usize,
    /// Only connections, no publishing.
    pub idle: bool,
}

impl Setup {
    /// The setup of a run with `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            url: config.url.clone(),
            transport: config.transport,
            subscribers: config.subscribers,
            publishers: if config.idle { 0 } else { config.publishers },
            channel: config.channel.clone(),
            rate: (!config.idle && config.rate > 0.0).then_some(config.rate),
            batch: config.batch,
            payload_bytes: config.payload_bytes,
            idle: config.idle,
        }
    }
}

/// Connections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Connections {
    /// Subscribers established.
    pub established: usize,
    /// Subscribers that could not connect.
    pub failures: usize,
    /// Seconds until the last one was established or failed.
    pub seconds: f64,
    /// The first connect failure.
    pub first_failure: Option<String>,
}

/// Publishing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Publishing {
    /// Events acknowledged by the server.
    pub events: u64,
    /// Requests sent.
    pub requests: u64,
    /// Refused or failed requests.
    pub errors: u64,
    /// Publishers that stopped on an error.
    pub publishers_failed: usize,
    /// The first error.
    pub first_error: Option<String>,
    /// The publishing window, seconds.
    pub seconds: f64,
    /// Events acknowledged per second.
    pub events_per_sec: f64,
}

/// Delivery to subscribers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// This run's events received, summed over subscribers.
    pub events: u64,
    /// What every established subscriber getting every event would be.
    pub expected: u64,
    /// From the first publish to the last event received, seconds.
    pub seconds: f64,
    /// Events received per second, summed over subscribers.
    pub events_per_sec: f64,
    /// Subscribers whose connection failed after it was established.
    pub subscriber_errors: usize,
    /// The first such error.
    pub first_error: Option<String>,
}

/// Publish-to-receive latency, microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Events measured.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

/// The exactly-once check over all subscribers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExactlyOnce {
    /// Summed over subscribers.
    #[serde(flatten)]
    pub tally: Tally,
    /// Subscribers that got at least one reset.
    pub subscribers_reset: usize,
    /// Subscribers that lost, duplicated or reordered an event.
    pub subscribers_violating: usize,
}

/// The server's resident memory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// Before any connection was opened, KiB.
    pub before_kib: u64,
    /// Once every connection was established, KiB.
    pub established_kib: u64,
    /// The difference divided by the connections established, KiB.
    pub per_connection_kib: f64,
}

/// The results of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was asked for.
    pub setup: Setup,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// Connections.
    pub connections: Connections,
    /// Publishing (absent in idle runs).
    pub published: Option<Publishing>,
    /// Delivery (absent in idle runs).
    pub delivered: Option<Delivery>,
    /// Latency (absent in idle runs).
    pub latency_us: Option<Latency>,
    /// The exactly-once check (absent in idle runs).
    pub exactly_once: Option<ExactlyOnce>,
    /// The server's memory (with --server-pid).
    pub server_rss: Option<Memory>,
    /// Why the server's memory could not be read.
    pub server_rss_error: Option<String>,
    /// `ok`, `violation` or `incomplete`, as the exit status says.
    pub verdict: &'static str,
}

/// What the run measured, before it is summed up.
pub struct Outcome {
    /// Ctrl-C ended the run.
    pub interrupted: bool,
    /// Seconds until every subscriber was established or failed.
    pub connect_seconds: f64,
    /// Every subscriber's report.
    pub subscribers: Vec<SubscriberReport>,
    /// Every publisher's report (none in idle runs).
    pub publishers: Vec<PublisherReport>,
    /// When publishing started.
    pub publish_started: Option<tokio::time::Instant>,
    /// The server's memory.
    pub server_rss: Option<Result<Memory, String>>,
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

impl Report {
    /// Sums up a run.
    pub fn new(setup: Setup, outcome: Outcome) -> Self {
        let Outcome {
            interrupted,
            connect_seconds,
            subscribers,
            publishers,
            publish_started,
            server_rss,
        } = outcome;
        let established = subscribers.iter().filter(|s| s.established).count();
        let connections = Connections {
            established,
            failures: subscribers
                .iter()
                .filter(|s| s.connect_error.is_some())
                .count(),
            seconds: connect_seconds,
            first_failure: subscribers.iter().find_map(|s| s.connect_error.clone()),
        };
        let (server_rss, server_rss_error) = match server_rss {
            Some(Ok(memory)) => (Some(memory), None),
            Some(Err(error)) => (None, Some(error)),
            None => (None, None),
        };
        let mut report = Report {
            setup,
            interrupted,
            connections,
            published: None,
            delivered: None,
            latency_us: None,
            exactly_once: None,
            server_rss,
            server_rss_error,
            verdict: "ok",
        };
        if let Some(started) = publish_started {
            report.sum_publishing(started, &subscribers, &publishers);
        }
        report.verdict = match report.exit_status() {
            EXIT_OK => "ok",
            EXIT_VIOLATION => "violation",
            _ => "incomplete",
        };
        report
    }

    fn sum_publishing(
        &mut self,
        started: tokio::time::Instant,
        subscribers: &[SubscriberReport],
        publishers: &[PublisherReport],
    ) {
        let events: u64 = publishers.iter().map(|p| p.published.count).sum();
        let last_ack = publishers.iter().filter_map(|p| p.last_ack).max();
        let publish_seconds = last_ack.map_or(0.0, |t| seconds(t - started));
        self.published = Some(Publishing {
            events,
            requests: publishers.iter().map(|p| p.requests).sum(),
            errors: publishers.iter().map(|p| p.errors).sum(),
            publishers_failed: publishers.iter().filter(|p| p.gave_up).count(),
            first_error: publishers.iter().find_map(|p| p.error.clone()),
            seconds: publish_seconds,
            events_per_sec: per_second(events, publish_seconds),
        });

        let mut tally = Tally::default();
        let mut latency = Histogram::default();
        for subscriber in subscribers {
            tally.add(&subscriber.tally);
            latency.merge(&subscriber.latency);
        }
        let last_receive = subscribers.iter().filter_map(|s| s.last_receive).max();
        let deliver_seconds = last_receive.map_or(0.0, |t| seconds(t - started));
        self.delivered = Some(Delivery {
            events: tally.events,
            expected: events * self.connections.established as u64,
            seconds: deliver_seconds,
            events_per_sec: per_second(tally.events, deliver_seconds),
            subscriber_errors: subscribers.iter().filter(|s| s.error.is_some()).count(),
            first_error: subscribers.iter().find_map(|s| s.error.clone()),
        });
        self.latency_us = Some(Latency {
            samples: latency.count(),
            p50_us: latency.percentile(0.50),
            p99_us: latency.percentile(0.99),
            max_us: latency.max(),
        });
        self.exactly_once = Some(ExactlyOnce {
            tally,
            subscribers_reset: subscribers.iter().filter(|s| s.tally.resets > 0).count(),
            subscribers_violating: subscribers.iter().filter(|s| !s.tally.is_clean()).count(),
        });
    }

    /// The process's exit status (see `--help`).
    pub fn exit_status(&self) -> u8 {
        if self
            .exactly_once
            .as_ref()
            .is_some_and(|e| e.subscribers_violating > 0)
        {
            return EXIT_VIOLATION;
        }
        let incomplete = self.interrupted
            || self.connections.failures > 0
            || self.server_rss_error.is_some()
            || self
                .published
                .as_ref()
                .is_some_and(|p| p.publishers_failed > 0)
            || self
                .delivered
                .as_ref()
                .is_some_and(|d| d.subscriber_errors > 0);
        if incomplete {
            EXIT_INCOMPLETE
        } else {
            EXIT_OK
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("reports always serialize")
    }
}

/// `1234567` as `1,234,567`.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        // ASCII digits: every chunk is UTF-8.
        .map(|group| std::str::from_utf8(group).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// Microseconds as a readable time.
fn time_us(us: u64) -> String {
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=999_999 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let setup = &self.setup;
        let transport = match setup.transport {
            Transport::Sse => "SSE",
            Transport::Ws => "WebSocket",
            Transport::Poll => "polling",
        };
        write!(
            f,
            "livedash-load: {} {transport} subscribers on {:?} at {}",
            setup.subscribers, setup.channel, setup.url
        )?;
        if setup.idle {
            writeln!(f, ", idle")?;
        } else {
            let rate = setup
                .rate
                .map_or("flat out".to_string(), |r| format!("at {r} events/s"));
            writeln!(
                f,
                ", {} publishers {rate}, batch {}, {} B padding",
                setup.publishers, setup.batch, setup.payload_bytes
            )?;
        }
        let connections = &self.connections;
        write!(
            f,
            "connected     {} of {} in {:.2} s ({} connect failures",
            connections.established, setup.subscribers, connections.seconds, connections.failures
        )?;
        match &connections.first_failure {
            Some(failure) => writeln!(f, "; first: {failure})")?,
            None => writeln!(f, ")")?,
        }
        if let Some(published) = &self.published {
            write!(
                f,
                "published     {} events in {:.2} s: {} events/s ({} requests, {} errors",
                grouped(published.events),
                published.seconds,
                grouped(published.events_per_sec.round() as u64),
                grouped(published.requests),
                published.errors
            )?;
            match &published.first_error {
                Some(error) => writeln!(f, "; first: {error})")?,
                None => writeln!(f, ")")?,
            }
        }
        if let Some(delivered) = &self.delivered {
            write!(
                f,
                "delivered     {} of {} events in {:.2} s: {} events/s over {} subscribers",
                grouped(delivered.events),
                grouped(delivered.expected),
                delivered.seconds,
                grouped(delivered.events_per_sec.round() as u64),
                connections.established
            )?;
            match &delivered.first_error {
                Some(error) => writeln!(
                    f,
                    " ({} subscriber errors; first: {error})",
                    delivered.subscriber_errors
                )?,
                None => writeln!(f)?,
            }
        }
        if let Some(latency) = &self.latency_us {
            writeln!(
                f,
                "latency       p50 {}, p99 {}, max {} (publish to receive, {} samples)",
                time_us(latency.p50_us),
                time_us(latency.p99_us),
                time_us(latency.max_us),
                grouped(latency.samples)
            )?;
        }
        if let Some(check) = &self.exactly_once {
            let tally = &check.tally;
            let verdict = match check.subscribers_violating {
                0 => "ok".to_string(),
                n => format!("VIOLATED in {n} subscribers"),
            };
            writeln!(
                f,
                "exactly-once  {verdict}: {} lost, {} duplicated, {} out of order; {} resets ({} subscribers); {} foreign events",
                grouped(tally.lost),
                grouped(tally.duplicated),
                grouped(tally.out_of_order),
                tally.resets,
                check.subscribers_reset,
                tally.foreign
            )?;
        }
        if let Some(memory) = &self.server_rss {
            writeln!(
                f,
                "server RSS    {} KiB before, {} KiB with {} connections: {:.1} KiB per connection",
                grouped(memory.before_kib),
                grouped(memory.established_kib),
                connections.established,
                memory.per_connection_kib
            )?;
        }
        if let Some(error) = &self.server_rss_error {
            writeln!(f, "server RSS    not measured: {error}")?;
        }
        if self.interrupted {
            writeln!(f, "interrupted   by Ctrl-C: a partial report")?;
        }
        write!(f, "verdict       {}", self.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_easily() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(time_us(850), "850 µs");
        assert_eq!(time_us(1_500), "1.50 ms");
        assert_eq!(time_us(2_500_000), "2.50 s");
    }
}
