//! Channels: what a name may be, and how a channel's events relate.
//!
//! These rules are part of the protocol, not of a transport: a browser can
//! check a name before it subscribes, and every server entry point (SSE,
//! polling, WebSocket, publishing) refuses the same names with the same
//! message.

/// Longest channel name, in bytes.
pub const MAX_CHANNEL_LEN: usize = 128;
/// Most channels one subscription may name.
pub const MAX_CHANNELS_PER_SUBSCRIPTION: usize = 64;
/// Most keys one subscription's filters may name, over all its channels.
pub const MAX_FILTER_KEYS: usize = 1024;

/// Channels only the server writes to: clients cannot publish there, and
/// they never expire.
pub const SERVER_CHANNELS: [&str; 4] = ["metrics", "alerts", "status", SERIES_CHANNEL];

/// The channel on which every point stored in the metrics store is
/// published: event [`SERIES_EVENT`], keyed by the series (its Prometheus
/// form, `name{label="value"}`), so a page asks for the series it shows by
/// filtering on their keys.
pub const SERIES_CHANNEL: &str = "series";
/// The event type on [`SERIES_CHANNEL`]; its data is a [`SeriesPoints`](super::SeriesPoints).
pub const SERIES_EVENT: &str = "points";

/// The channel of alerts: `alert` events (`{alert, transition?}`), and
/// `rules` and `silences` when those change.
pub const ALERTS_CHANNEL: &str = "alerts";
/// The event of an alert on [`ALERTS_CHANNEL`]: `{alert, transition?}`
/// (no transition: it was acknowledged or silenced).
pub const ALERT_EVENT: &str = "alert";
/// The event of the silences on [`ALERTS_CHANNEL`] when one is made or
/// ends: `{"silences": [...]}`, those not yet over.
pub const SILENCES_EVENT: &str = "silences";
/// The event of the rules on [`ALERTS_CHANNEL`] when one changes:
/// `{"rules": [...]}`, every rule in force.
pub const RULES_EVENT: &str = "rules";
/// The prefix of a named viewer's channel ([`notify_channel`]): only the
/// server writes there.
pub const NOTIFY_CHANNEL_PREFIX: &str = "notify:";
/// The event on a viewer's channel: an alert addressed to that viewer
/// (`{alert, transition}`).
pub const NOTIFICATION_EVENT: &str = "notification";

/// The channel of the viewer named `name` (names are compared without
/// case or surrounding space): `notify:` and 16 hex digits of the name's
/// FNV-1a hash, so any name makes a valid channel name.
pub fn notify_channel(name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.trim().to_lowercase().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{NOTIFY_CHANNEL_PREFIX}{hash:016x}")
}

/// Whether only the server writes to `channel`.
pub fn server_owned(channel: &str) -> bool {
    SERVER_CHANNELS.contains(&channel) || channel.starts_with(NOTIFY_CHANNEL_PREFIX)
}

/// Why a string is not a valid channel name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid channel name {name:?}: use 1 to {MAX_CHANNEL_LEN} of A-Z a-z 0-9 _ . : -")]
pub struct ChannelNameError {
    /// The refused name, cut to 140 characters.
    pub name: String,
}

/// Checks a channel name: 1 to [`MAX_CHANNEL_LEN`] of `A-Z a-z 0-9 _ . : -`.
pub fn validate_channel(name: &str) -> Result<(), ChannelNameError> {
    let valid = (1..=MAX_CHANNEL_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ChannelNameError {
            name: name.chars().take(140).collect(),
        })
    }
}

/// How a channel's events relate to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// Each event replaces the previous value of its key: coalescible.
    Latest,
    /// Every event matters: delivered one by one, in order.
    Stream,
}

/// Whether a snapshot of `channel` replaces what came before it on that
/// channel. It does on every channel but [`SERIES_CHANNEL`]: its events are
/// samples, each true on its own, so its snapshot (the newest events after
/// a `reset`) adds to them, and a sample that waited for the page's next
/// frame must not be dropped for it.
pub fn snapshot_replaces(channel: &str) -> bool {
    channel != SERIES_CHANNEL
}

impl ChannelKind {
    /// The kind of a channel, by name: `metrics`, `status` and `presence`
    /// hold latest values; every other channel is a stream.
    pub fn of(channel: &str) -> Self {
        match channel {
            "metrics" | "status" | "presence" => ChannelKind::Latest,
            _ => ChannelKind::Stream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_documented_pattern() {
        for good in [
            "metrics",
            "dashboard:ops",
            "user.events-1_x",
            &"a".repeat(MAX_CHANNEL_LEN),
        ] {
            assert_eq!(validate_channel(good), Ok(()), "{good}");
        }
        for bad in ["", "a b", "ünï", "a/b", &"a".repeat(MAX_CHANNEL_LEN + 1)] {
            assert!(validate_channel(bad).is_err(), "{bad}");
        }
        let long = "é".repeat(500);
        let error = validate_channel(&long).unwrap_err();
        assert_eq!(error.name.chars().count(), 140, "refused names are cut");
    }

    #[test]
    fn only_the_named_channels_hold_latest_values() {
        for latest in ["metrics", "status", "presence"] {
            assert_eq!(ChannelKind::of(latest), ChannelKind::Latest);
        }
        for stream in ["alerts", "dashboard:main", "metrics2"] {
            assert_eq!(ChannelKind::of(stream), ChannelKind::Stream);
        }
    }
}
