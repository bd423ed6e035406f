//! The connection states a page shows to its user.
//!
//! The status indicator renders [`ConnectionState::as_str`] into its
//! `data-state` attribute; end-to-end tests and users' own tooling rely on
//! these exact strings.

/// Where the page's live connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectionState {
    /// The first connection is being opened.
    Connecting,
    /// Connected; events arrive.
    Live,
    /// The connection broke; a new attempt is scheduled or under way.
    Reconnecting {
        /// Which attempt this is since the connection was last live (1-based).
        attempt: u32,
        /// When the attempt starts, in page milliseconds (`performance.now()`).
        at_ms: u64,
    },
    /// The browser reports it has no network; the client waits for it.
    Offline,
    /// The client gave up; the user can ask for a new attempt.
    Failed,
}

/// The transports the client can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Transport {
    /// Server-Sent Events (the default).
    Sse,
    /// WebSocket (when the page sends, or by choice).
    Ws,
    /// Long polling (the fallback).
    Poll,
}

impl Transport {
    /// The stable name (`data-transport`, `?transport=`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Ws => "ws",
            Transport::Poll => "poll",
        }
    }

    /// The name shown to a person.
    pub fn label(&self) -> &'static str {
        match self {
            Transport::Sse => "SSE",
            Transport::Ws => "WebSocket",
            Transport::Poll => "polling",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sse" => Some(Transport::Sse),
            "ws" => Some(Transport::Ws),
            "poll" => Some(Transport::Poll),
            _ => None,
        }
    }
}

impl ConnectionState {
    /// The stable machine-readable name (`data-state`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Live => "live",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Offline => "offline",
            ConnectionState::Failed => "failed",
        }
    }

    /// The text shown to a person.
    pub fn label(&self) -> String {
        match self {
            ConnectionState::Connecting => "Connecting…".to_string(),
            ConnectionState::Live => "Live".to_string(),
            ConnectionState::Reconnecting { attempt, .. } => {
                format!("Reconnecting (attempt {attempt})")
            }
            ConnectionState::Offline => "Offline".to_string(),
            ConnectionState::Failed => "Connection failed".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_documented_contract() {
        let names: Vec<_> = [
            ConnectionState::Connecting,
            ConnectionState::Live,
            ConnectionState::Reconnecting {
                attempt: 3,
                at_ms: 0,
            },
            ConnectionState::Offline,
            ConnectionState::Failed,
        ]
        .iter()
        .map(ConnectionState::as_str)
        .collect();
        assert_eq!(
            names,
            ["connecting", "live", "reconnecting", "offline", "failed"]
        );
        assert_eq!(
            ConnectionState::Reconnecting {
                attempt: 3,
                at_ms: 0
            }
            .label(),
            "Reconnecting (attempt 3)"
        );
    }
}
