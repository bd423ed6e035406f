//! The transports that carry the hub's events to clients. Each one turns a
//! [`Subscription`](crate::hub::Subscription) into its own framing; none
//! knows what the events mean.

pub mod poll;
pub mod sse;
pub mod ws;

use std::sync::Arc;

use app::protocol::Position;

use crate::error::ApiError;

/// Most channels one subscription may name.
pub const MAX_CHANNELS_PER_SUBSCRIPTION: usize = 64;

/// True for a valid channel name: 1 to 128 of `A-Z a-z 0-9 _ . : -`.
pub fn is_valid_channel(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
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
    if let Some(bad) = names.iter().find(|c| !is_valid_channel(c)) {
        return Err(ApiError::invalid(
            "invalid_channel",
            format!(
                "invalid channel name {:?}: use 1 to 128 of A-Z a-z 0-9 _ . : -",
                bad.chars().take(140).collect::<String>()
            ),
        ));
    }
    Ok(names.iter().map(|n| Arc::from(*n)).collect())
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
    fn channel_names_follow_the_documented_pattern() {
        for good in [
            "metrics",
            "dashboard:ops",
            "user.events-1_x",
            &"a".repeat(128),
        ] {
            assert!(is_valid_channel(good), "{good}");
        }
        for bad in ["", "a b", "ünï", "a/b", &"a".repeat(129)] {
            assert!(!is_valid_channel(bad), "{bad}");
        }
    }

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
}
