//! The server's configuration: one typed struct, read once in `main` from
//! the command line, `LIVEDASH_*` environment variables and the optional
//! config file (`file`), then passed down.

mod file;

pub use file::{load, ConfigError, CONFIG_ENV};

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use crate::{
    origin::{AllowedOrigin, Host},
    sources::scrape::ScrapeTarget,
};

/// livedash: a self-hosted live metrics dashboard in one binary.
///
/// Every option can also be set through the environment variable named in
/// its description, or in the config file by its long name; a command-line
/// option wins over the variable, which wins over the file.
#[derive(Parser, Debug, Clone)]
#[command(name = "livedash", version, about, long_about = None)]
pub struct Config {
    /// A TOML file setting any of these options by long name (e.g.
    /// `data-dir = "/var/lib/livedash"`) and `[[scrape]]` targets.
    #[arg(long, env = "LIVEDASH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Prometheus targets to scrape (`[[scrape]]` tables of the config
    /// file).
    #[arg(skip)]
    pub scrape: Vec<ScrapeTarget>,

    /// Alert rules (`[[alert]]` tables of the config file), each checked.
    #[arg(skip)]
    pub alert_rules: Vec<crate::alerts::Rule>,

    /// URLs every alert that fires, changes severity or resolves is posted
    /// to as JSON (comma-separated, `http://` or `https://`), through an
    /// outbox kept under the data directory.
    #[arg(long, env = "LIVEDASH_ALERT_WEBHOOKS", value_delimiter = ',')]
    pub alert_webhooks: Vec<crate::alerts::webhook::WebhookUrl>,

    /// Certificate authorities (a PEM file) trusted for `https://` webhooks
    /// and scrape targets, beside the public roots built in: for
    /// receivers behind a private CA.
    #[arg(long, env = "LIVEDASH_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "LIVEDASH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for livedash's persistent state; created if missing.
    #[arg(long, env = "LIVEDASH_DATA_DIR", default_value = "livedash-data")]
    pub data_dir: PathBuf,

    /// Directory of dashboard files, one canonical JSON file each (default:
    /// `<data-dir>/dashboards`); edits made on disk are picked up live.
    #[arg(long, env = "LIVEDASH_DASHBOARDS_DIR")]
    pub dashboards_dir: Option<PathBuf>,

    /// How long raw metric samples are kept; older ones are refused at
    /// ingest.
    #[arg(long, env = "LIVEDASH_RETENTION_RAW", default_value = "24h", value_parser = parse_interval)]
    pub retention_raw: Duration,

    /// How long minute rollups are kept.
    #[arg(long = "retention-1m", env = "LIVEDASH_RETENTION_1M", default_value = "30d", value_parser = parse_interval)]
    pub retention_1m: Duration,

    /// How long hour rollups are kept (days are computed from hours).
    #[arg(long = "retention-1h", env = "LIVEDASH_RETENTION_1H", default_value = "365d", value_parser = parse_interval)]
    pub retention_1h: Duration,

    /// Most metric series the store holds (the cardinality guard: new
    /// series past it are refused, existing ones are kept).
    #[arg(long, env = "LIVEDASH_MAX_SERIES", default_value_t = 200_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_series: u32,

    /// Write business-like demo series (users, orders, revenue, errors,
    /// latency), with 24 hours of history at first start.
    #[arg(long, env = "LIVEDASH_DEMO")]
    pub demo: bool,

    /// How often the host is sampled (e.g. `1s`, `500ms`; at least 100ms).
    #[arg(long, env = "LIVEDASH_SAMPLE_INTERVAL", default_value = "1s", value_parser = parse_sample_interval)]
    pub sample_interval: Duration,

    /// How often idle streams get a heartbeat (e.g. `15s`; at least 100ms).
    #[arg(long, env = "LIVEDASH_HEARTBEAT_INTERVAL", default_value = "15s", value_parser = parse_interval)]
    pub heartbeat_interval: Duration,

    /// Most events each channel keeps for clients that resume.
    #[arg(long, env = "LIVEDASH_HISTORY_EVENTS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub history_events: u32,

    /// Longest time each channel keeps events for clients that resume (e.g. `10m`).
    #[arg(long, env = "LIVEDASH_HISTORY_AGE", default_value = "10m", value_parser = parse_interval)]
    pub history_age: Duration,

    /// Most bytes of events each channel keeps (e.g. `16MiB`); no single
    /// event may be larger.
    #[arg(long, env = "LIVEDASH_HISTORY_BYTES", default_value = "16MiB", value_parser = parse_bytes)]
    pub history_bytes: usize,

    /// Most bytes of events all channels keep together (e.g. `256MiB`);
    /// past it the oldest events of the whole log are evicted first.
    #[arg(long, env = "LIVEDASH_HISTORY_BUDGET", default_value = "256MiB", value_parser = parse_bytes)]
    pub history_budget: usize,

    /// Most channels with history; a publish that would create one more is
    /// refused (429). Idle channels expire after `--history-age`.
    #[arg(long, env = "LIVEDASH_MAX_CHANNELS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_channels: u32,

    /// Most streaming connections (SSE, WebSocket, waiting polls) at once;
    /// beyond it new ones get 503.
    #[arg(long, env = "LIVEDASH_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Most updates per second each key of a latest-value channel (`metrics`,
    /// `status`, `presence`) is delivered to a client; faster updates are
    /// coalesced to the newest value. 0: no limit.
    #[arg(long, env = "LIVEDASH_MAX_UPDATES_PER_SECOND", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub max_updates_per_second: u32,

    /// The ceiling of a page's first reconnection delay; each further attempt
    /// doubles it, up to `--reconnect-cap`, with full random jitter.
    #[arg(long, env = "LIVEDASH_RECONNECT_BASE", default_value = "1s", value_parser = parse_interval)]
    pub reconnect_base: Duration,

    /// The longest a page waits between reconnection attempts.
    #[arg(long, env = "LIVEDASH_RECONNECT_CAP", default_value = "30s", value_parser = parse_interval)]
    pub reconnect_cap: Duration,

    /// Failed attempts after which a page stops reconnecting and offers a
    /// Reconnect button; 0: never give up.
    #[arg(long, env = "LIVEDASH_RECONNECT_MAX_FAILURES", default_value_t = 0)]
    pub reconnect_max_failures: u32,

    /// How long shutdown waits for open connections before closing them.
    #[arg(long, env = "LIVEDASH_SHUTDOWN_GRACE", default_value = "1500ms", value_parser = parse_interval)]
    pub shutdown_grace: Duration,

    /// Origins whose pages may publish and open WebSockets besides the
    /// page's own (the origin a request is served under); comma-separated
    /// full origins such as `https://dash.example.com`, or `*` for any.
    #[arg(long, env = "LIVEDASH_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = parse_allowed_origin)]
    pub allowed_origins: Vec<AllowedOrigin>,

    /// Host names this server answers for besides loopback ones
    /// (`localhost`, `*.localhost`, 127.x.x.x, [::1]); comma-separated, no
    /// port (e.g. `dash.example.com`). Other hosts get 421, a guard against
    /// DNS rebinding: always when listening on loopback, otherwise once this
    /// is set.
    #[arg(long, env = "LIVEDASH_PUBLIC_HOSTS", value_delimiter = ',', value_parser = parse_public_host)]
    pub public_hosts: Vec<Host>,

    /// Least severe log level printed.
    #[arg(long, env = "LIVEDASH_LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
}

impl Config {
    /// How pages reconnect, as they are told in their bootstrap.
    pub fn reconnect_settings(&self) -> app::protocol::ReconnectSettings {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        app::protocol::ReconnectSettings {
            base_ms: millis(self.reconnect_base),
            cap_ms: millis(self.reconnect_cap.max(self.reconnect_base)),
            max_failures: (self.reconnect_max_failures > 0).then_some(self.reconnect_max_failures),
        }
    }
}

/// How much the server logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// Lifecycle events (start, stop, connections failing).
    Info,
    /// Every connection and subscription.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

const MIN_INTERVAL: Duration = Duration::from_millis(100);

fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (expected e.g. 500ms, 15s, 10m)"))?;
    if duration < MIN_INTERVAL {
        return Err(format!(
            "must be at least {}",
            humantime::format_duration(MIN_INTERVAL)
        ));
    }
    Ok(duration)
}

/// Parses a size: a number of bytes with an optional unit (`B`, `KiB`,
/// `MiB`, `GiB`, or `KB`, `MB`, `GB` in powers of ten).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (expected e.g. 65536, 512KiB, 16MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB or GiB)"
            ))
        }
    };
    let bytes = number
        .checked_mul(scale)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < 4096 {
        return Err("must be at least 4KiB".to_string());
    }
    Ok(bytes)
}

fn parse_sample_interval(text: &str) -> Result<Duration, String> {
    let duration = parse_interval(text)?;
    if duration > Duration::from_secs(3600) {
        return Err("must be at most 1h".to_string());
    }
    Ok(duration)
}

fn parse_allowed_origin(text: &str) -> Result<AllowedOrigin, String> {
    text.parse().map_err(|e| format!("invalid origin: {e}"))
}

fn parse_public_host(text: &str) -> Result<Host, String> {
    Host::parse_public(text).map_err(|e| format!("invalid host: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let config = Config::try_parse_from(["livedash"]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.sample_interval, Duration::from_secs(1));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(15));
        assert_eq!(config.history_events, 1000);
        assert!(config.allowed_origins.is_empty());
        assert!(config.public_hosts.is_empty());
        let reconnect = config.reconnect_settings();
        assert_eq!(reconnect, app::protocol::ReconnectSettings::default());
    }

    #[test]
    fn reconnect_settings_reach_the_page() {
        let config = Config::try_parse_from([
            "livedash",
            "--reconnect-base",
            "500ms",
            "--reconnect-cap",
            "1m",
            "--reconnect-max-failures",
            "5",
        ])
        .unwrap();
        let reconnect = config.reconnect_settings();
        assert_eq!(
            (reconnect.base_ms, reconnect.cap_ms, reconnect.max_failures),
            (500, 60_000, Some(5))
        );
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_bytes("65536"), Ok(65_536));
        assert_eq!(parse_bytes("16MiB"), Ok(16 << 20));
        assert_eq!(parse_bytes("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        for bad in [
            "",
            "MiB",
            "12 parsecs",
            "1KiB",
            "-5MiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_origins_and_public_hosts_are_comma_separated_lists() {
        let config = Config::try_parse_from([
            "livedash",
            "--allowed-origins",
            "https://dash.example.com, http://127.0.0.1:8080",
            "--public-hosts",
            "dash.example.com,Other.Example",
        ])
        .unwrap();
        let origins: Vec<String> = config
            .allowed_origins
            .iter()
            .map(|o| format!("{o:?}"))
            .collect();
        assert_eq!(origins.len(), 2, "{origins:?}");
        assert_eq!(
            config.public_hosts,
            [
                Host::Name("dash.example.com".to_string()),
                Host::Name("other.example".to_string())
            ]
        );
        let any = Config::try_parse_from(["livedash", "--allowed-origins", "*"]).unwrap();
        assert_eq!(any.allowed_origins, [AllowedOrigin::Any]);
    }

    #[test]
    fn invalid_values_are_usage_errors() {
        for args in [
            &["livedash", "--listen", "nowhere"][..],
            &["livedash", "--sample-interval", "0s"],
            &["livedash", "--sample-interval", "fast"],
            &["livedash", "--log-level", "loud"],
            &["livedash", "--max-channels", "0"],
            &["livedash", "--history-budget", "lots"],
            &["livedash", "--no-such-option"],
            &["livedash", "--allowed-origins", "foo"],
            &[
                "livedash",
                "--allowed-origins",
                "https://ok.example,dash.example.com",
            ],
            &[
                "livedash",
                "--allowed-origins",
                "https://dash.example.com/path",
            ],
            &["livedash", "--public-hosts", "dash.example.com:443"],
            &["livedash", "--public-hosts", "https://dash.example.com"],
        ] {
            let error = Config::try_parse_from(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }
}
