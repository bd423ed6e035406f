//! The transports that carry the hub's events to clients. Each one turns a
//! [`Subscription`](crate::hub::Subscription) into its own framing; none
//! knows what the events mean.
//!
//! What they share is [`Streams`]: the heartbeat interval, the shutdown
//! signal, the counters, and the slots that bound how many streaming
//! connections are open at once.

pub mod poll;
pub mod sse;
pub mod ws;

use std::{
    collections::{HashMap, HashSet},
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use app::protocol::{validate_channel, Position, MAX_CHANNELS_PER_SUBSCRIPTION, MAX_FILTER_KEYS};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    counters::{ConnectionGuard, Counters, Transport},
    error::ApiError,
    hub::SubscribeRequest,
    shutdown::Shutdown,
};

/// What every streaming transport needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Streams {
    /// Connection and delivery counters.
    pub counters: Arc<Counters>,
    /// How often idle streams get a heartbeat.
    pub heartbeat: Duration,
    /// Fires when the server starts shutting down.
    pub shutdown: Shutdown,
    slots: Arc<Semaphore>,
    max: usize,
}

/// A streaming connection's place among the `--max-connections`, held for
/// as long as it is open; it is counted in `livedash_connections` too.
#[derive(Debug)]
pub struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    _guard: ConnectionGuard,
}

impl Streams {
    /// Shared state for at most `max` streaming connections at once.
    pub fn new(
        counters: Arc<Counters>,
        heartbeat: Duration,
        shutdown: Shutdown,
        max: usize,
    ) -> Self {
        Self {
            counters,
            heartbeat,
            shutdown,
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Takes a slot for a new stream, or refuses it: the server is shutting
    /// down (SSE and WebSocket), or `--max-connections` streams are open.
    pub fn admit(&self, transport: Transport) -> Result<StreamSlot, ApiError> {
        // A poll during shutdown still gets its (immediate) answer.
        if transport != Transport::Poll && self.shutdown.is_triggered() {
            return Err(ApiError::ShuttingDown);
        }
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            self.counters.over_capacity.fetch_add(1, Relaxed);
            tracing::warn!(
                limit = self.max,
                transport = transport.as_str(),
                "connection cap reached; refusing a stream"
            );
            ApiError::OverCapacity { limit: self.max }
        })?;
        Ok(StreamSlot {
            _permit: permit,
            _guard: self.counters.connection(transport),
        })
    }
}

/// Parses a comma-separated channel list (`None` or empty: `default`).
pub fn parse_channels(list: Option<&str>, default: &str) -> Result<Vec<Arc<str>>, ApiError> {
    let list = list
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or(default);
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    validate_channels(&names)
}

/// Validates a list of channel names.
pub fn parse_channels_list(names: &[String]) -> Result<Vec<Arc<str>>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::invalid(
            "invalid_channel",
            "name at least one channel",
        ));
    }
    validate_channels(&names.iter().map(String::as_str).collect::<Vec<_>>())
}

fn validate_channels(names: &[&str]) -> Result<Vec<Arc<str>>, ApiError> {
    if names.len() > MAX_CHANNELS_PER_SUBSCRIPTION {
        return Err(ApiError::invalid(
            "too_many_channels",
            format!("at most {MAX_CHANNELS_PER_SUBSCRIPTION} channels per subscription"),
        ));
    }
    for name in names {
        validate_channel(name).map_err(|e| ApiError::invalid("invalid_channel", e.to_string()))?;
    }
    Ok(names.iter().map(|n| Arc::from(*n)).collect())
}

/// The subscription parameters SSE and polling share: `channels`, a resume
/// position, `fresh` (channels, among `channels`, that start with a snapshot
/// instead of resuming) and `filter` (a JSON object of channel to the only
/// keys wanted, e.g. `{"metrics":["web-1"]}`).
pub fn parse_request(
    channels: Option<&str>,
    since: Option<&str>,
    fresh: Option<&str>,
    filter: Option<&str>,
) -> Result<SubscribeRequest, ApiError> {
    let channels = parse_channels(channels, app::protocol::METRICS_CHANNEL)?;
    let since = since
        .filter(|s| !s.trim().is_empty())
        .map(parse_position)
        .transpose()?;
    let fresh = match fresh.map(str::trim).filter(|f| !f.is_empty()) {
        None => Vec::new(),
        Some(list) => {
            let fresh = validate_channels(&list.split(',').map(str::trim).collect::<Vec<_>>())?;
            if let Some(stray) = fresh.iter().find(|c| !channels.contains(c)) {
                return Err(ApiError::invalid(
                    "invalid_channel",
                    format!("fresh names {stray:?}, which is not among the channels"),
                ));
            }
            fresh
        }
    };
    let filters = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => HashMap::new(),
        Some(text) => parse_filter(text, &channels)?,
    };
    Ok(SubscribeRequest {
        channels,
        since,
        fresh,
        filters,
    })
}

fn parse_filter(
    text: &str,
    channels: &[Arc<str>],
) -> Result<HashMap<Arc<str>, HashSet<Arc<str>>>, ApiError> {
    let parsed: HashMap<String, Vec<String>> = serde_json::from_str(text).map_err(|e| {
        ApiError::invalid(
            "invalid_filter",
            format!(
                "filter is a JSON object of channel to a list of keys, as in {{\"metrics\":[\"web-1\"]}}: {e}"
            ),
        )
    })?;
    validate_filter(parsed, channels)
}

/// Checks a filter (channel to the only keys wanted) against the channels
/// it applies to.
pub fn validate_filter(
    filter: HashMap<String, Vec<String>>,
    channels: &[Arc<str>],
) -> Result<HashMap<Arc<str>, HashSet<Arc<str>>>, ApiError> {
    let invalid = |message: String| ApiError::invalid("invalid_filter", message);
    if filter.values().map(Vec::len).sum::<usize>() > MAX_FILTER_KEYS {
        return Err(invalid(format!(
            "a filter names at most {MAX_FILTER_KEYS} keys"
        )));
    }
    filter
        .into_iter()
        .map(|(channel, keys)| {
            let channel = channels
                .iter()
                .find(|c| ***c == *channel)
                .cloned()
                .ok_or_else(|| {
                    invalid(format!(
                        "the filter names {:?}, which is not among the channels",
                        channel.chars().take(140).collect::<String>()
                    ))
                })?;
            Ok((channel, keys.into_iter().map(Arc::from).collect()))
        })
        .collect()
}

/// Parses a client's resume position.
pub fn parse_position(text: &str) -> Result<Position, ApiError> {
    text.trim()
        .parse()
        .map_err(|e: app::protocol::PositionParseError| {
            ApiError::invalid("invalid_position", e.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_lists_default_and_reject_bad_names() {
        assert_eq!(
            parse_channels(None, "metrics").unwrap(),
            vec![Arc::<str>::from("metrics")]
        );
        assert_eq!(parse_channels(Some("a, b"), "metrics").unwrap().len(), 2);
        assert!(parse_channels(Some("a,,b"), "metrics").is_err());
        let many = vec!["c"; MAX_CHANNELS_PER_SUBSCRIPTION + 1].join(",");
        assert!(parse_channels(Some(&many), "metrics").is_err());
    }

    #[test]
    fn fresh_channels_and_filters_must_name_subscribed_channels() {
        let request = parse_request(
            Some("metrics,dashboard:main"),
            None,
            Some("dashboard:main"),
            Some(r#"{"metrics":["web-1","web-2"]}"#),
        )
        .unwrap();
        assert_eq!(request.fresh, vec![Arc::<str>::from("dashboard:main")]);
        assert_eq!(request.filters[&Arc::<str>::from("metrics")].len(), 2);

        let code = |result: Result<SubscribeRequest, ApiError>| match result {
            Err(ApiError::InvalidParameter { code, .. }) => code,
            other => panic!("expected an invalid parameter, got {other:?}"),
        };
        assert_eq!(
            code(parse_request(Some("metrics"), None, Some("alerts"), None)),
            "invalid_channel"
        );
        for bad in [
            r#"{"alerts":["a"]}"#,
            r#"["metrics"]"#,
            r#"{"metrics":"a"}"#,
            "{",
        ] {
            assert_eq!(
                code(parse_request(Some("metrics"), None, None, Some(bad))),
                "invalid_filter",
                "{bad}"
            );
        }
        let many: Vec<String> = (0..=MAX_FILTER_KEYS).map(|i| i.to_string()).collect();
        let too_many = serde_json::json!({ "metrics": many }).to_string();
        assert_eq!(
            code(parse_request(Some("metrics"), None, None, Some(&too_many))),
            "invalid_filter"
        );
    }
}
