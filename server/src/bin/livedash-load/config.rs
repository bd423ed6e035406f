//! The load generator's settings: one typed struct, parsed once in `main`
//! from the command line and `LIVEDASH_LOAD_*` environment variables.

use std::time::Duration;

use app::protocol::{validate_channel, ChannelKind};
use clap::{Parser, ValueEnum};

/// Most events in one publish request (the server's limit).
pub const MAX_BATCH: usize = 1000;
/// Largest publish body the server takes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Room each event takes in a body besides its padding.
const EVENT_OVERHEAD_BYTES: usize = 160;

/// livedash-load: subscribers, publishers and an exactly-once check against
/// a running livedash server.
///
/// N subscribers (over SSE, WebSocket or long polling) follow one channel;
/// P publishers post numbered, timestamped events to it at a fixed total
/// rate or flat out. Every subscriber checks, while it runs, that it gets
/// each event exactly once and in order (a reset from the server is
/// counted, not blamed). The report gives published and delivered events
/// per second, publish-to-receive latency (p50, p99, max), resets, errors
/// and connect failures.
///
/// With --idle, only the N connections are opened; once every one is
/// established, the server's resident memory (--server-pid) is sampled and
/// divided by N.
///
/// Each connection is a file descriptor on both sides: raise the limit first
/// (`ulimit -n 65536`) in this shell and in the server's.
///
/// Exit status: 0 when every subscriber got every event once; 1 when any lost,
/// duplicated or reordered one without a reset; 2 for bad options; 3 when the
/// run was incomplete (connect failures, errors, Ctrl-C) but nothing was
/// found wrong in what arrived.
#[derive(Parser, Debug, Clone)]
#[command(name = "livedash-load", version, verbatim_doc_comment)]
pub struct Config {
    /// The server's base URL (`http://host:port`, optionally with a path
    /// prefix).
    #[arg(
        long,
        env = "LIVEDASH_LOAD_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: String,

    /// How subscribers connect.
    #[arg(long, env = "LIVEDASH_LOAD_TRANSPORT", value_enum, default_value_t = Transport::Sse)]
    pub transport: Transport,

    /// Number of subscribers, each one connection.
    #[arg(long, env = "LIVEDASH_LOAD_SUBSCRIBERS", default_value_t = 100)]
    pub subscribers: usize,

    /// The channel to subscribe and publish to: a stream channel (not
    /// `metrics`, `status` or `presence`, whose events are coalesced).
    #[arg(long, env = "LIVEDASH_LOAD_CHANNEL", default_value = "load")]
    pub channel: String,

    /// Number of publishers, each one keep-alive connection sending one
    /// request at a time.
    #[arg(long, env = "LIVEDASH_LOAD_PUBLISHERS", default_value_t = 1)]
    pub publishers: usize,

    /// Events per second over all publishers; 0: as fast as the server
    /// answers.
    #[arg(long, env = "LIVEDASH_LOAD_RATE", default_value_t = 1000.0)]
    pub rate: f64,

    /// How long to publish (e.g. `10s`, `2m`); 10s when neither this nor
    /// --events is given.
    #[arg(long, env = "LIVEDASH_LOAD_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Events to publish over all publishers (with --duration too: whichever
    /// comes first).
    #[arg(long, env = "LIVEDASH_LOAD_EVENTS")]
    pub events: Option<u64>,

    /// Events per publish request (1 to 1000); more than one goes as a
    /// batch, published at consecutive positions.
    #[arg(long, env = "LIVEDASH_LOAD_BATCH", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_BATCH as i64))]
    pub batch: u16,

    /// Bytes of padding in each event's payload (besides its ~100 bytes of
    /// probe and envelope).
    #[arg(long, env = "LIVEDASH_LOAD_PAYLOAD_BYTES", default_value_t = 64)]
    pub payload_bytes: usize,

    /// Only open the connections, wait until every one is established,
    /// sample the server's memory and close them: no publishing.
    #[arg(long, env = "LIVEDASH_LOAD_IDLE")]
    pub idle: bool,

    /// In --idle mode, how long to keep the connections open after the
    /// measurement.
    #[arg(long, env = "LIVEDASH_LOAD_HOLD", default_value = "0s", value_parser = parse_duration)]
    pub hold: Duration,

    /// The server's process id, to sample its resident memory (VmRSS in
    /// /proc/<pid>/status) before connecting and once all are established.
    #[arg(long, env = "LIVEDASH_LOAD_SERVER_PID")]
    pub server_pid: Option<u32>,

    /// Print the results as one JSON object on stdout (the human-readable
    /// report then goes to stderr).
    #[arg(long, env = "LIVEDASH_LOAD_JSON")]
    pub json: bool,

    /// Longest one subscriber may take to connect and get its first answer.
    #[arg(long, env = "LIVEDASH_LOAD_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Connections being opened at once (keeps the server's accept queue
    /// from overflowing).
    #[arg(long, env = "LIVEDASH_LOAD_CONNECT_CONCURRENCY", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub connect_concurrency: u32,

    /// After publishing, how long subscribers may take to receive what they
    /// are owed; what has not arrived by then is lost.
    #[arg(long, env = "LIVEDASH_LOAD_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Longest a publish request may take before its publisher gives up.
    #[arg(long, env = "LIVEDASH_LOAD_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long each long poll waits for events (the server caps it at 30s).
    #[arg(long, env = "LIVEDASH_LOAD_POLL_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub poll_timeout: Duration,
}

/// How subscribers connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Server-Sent Events.
    Sse,
    /// WebSocket.
    Ws,
    /// Long polling.
    Poll,
}

impl Config {
    /// Checks what clap cannot: the channel, the numbers that depend on
    /// each other.
    pub fn validate(&self) -> Result<(), String> {
        validate_channel(&self.channel).map_err(|e| e.to_string())?;
        if ChannelKind::of(&self.channel) == ChannelKind::Latest {
            return Err(format!(
                "{:?} holds latest values (events are coalesced); exactly-once needs a stream channel such as `load`",
                self.channel
            ));
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err("--rate is events per second, 0 or more".to_string());
        }
        if !self.idle {
            if self.publishers == 0 {
                return Err("--publishers must be at least 1 (or use --idle)".to_string());
            }
            if self.events == Some(0) {
                return Err("--events must be at least 1".to_string());
            }
        }
        let body = usize::from(self.batch) * (self.payload_bytes + EVENT_OVERHEAD_BYTES);
        if body > MAX_BODY_BYTES {
            return Err(format!(
                "--batch {} of --payload-bytes {} makes requests over the server's 1 MiB limit",
                self.batch, self.payload_bytes
            ));
        }
        if self.url.starts_with("http://") {
            Ok(())
        } else {
            Err(format!("--url {:?} must start with http://", self.url))
        }
    }

    /// How long publishers run when neither --duration nor --events is set.
    pub fn publish_for(&self) -> Option<Duration> {
        match (self.duration, self.events) {
            (None, None) => Some(Duration::from_secs(10)),
            (duration, _) => duration,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (expected e.g. 500ms, 10s, 2m)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["livedash-load"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_publish_for_ten_seconds_on_the_load_channel() {
        let config = parse(&[]);
        assert_eq!(config.channel, "load");
        assert_eq!(config.transport, Transport::Sse);
        assert_eq!(config.publish_for(), Some(Duration::from_secs(10)));
        assert!(config.validate().is_ok());
        assert_eq!(parse(&["--events", "5"]).publish_for(), None);
    }

    #[test]
    fn refuses_what_cannot_be_verified_or_sent() {
        for args in [
            &["--channel", "metrics"][..],
            &["--channel", "a b"],
            &["--publishers", "0"],
            &["--rate=-1"],
            &["--batch", "1000", "--payload-bytes", "2000"],
            &["--url", "https://example.org"],
        ] {
            assert!(parse(args).validate().is_err(), "{args:?}");
        }
        assert!(parse(&["--idle", "--publishers", "0"]).validate().is_ok());
        let argv = ["livedash-load", "--batch", "1001"];
        assert!(Config::try_parse_from(argv).is_err());
    }
}
