//! The bodies of the HTTP API: publishing, polling and errors.
//!
//! Unknown fields are ignored here too, for the same reason as on the
//! WebSocket: a newer client must work against an older server.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Envelope, Position};

/// One event to publish (`POST /api/realtime/events`, or a WebSocket
/// `publish` message without its `type`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest {
    /// The channel.
    pub channel: String,
    /// The event type (default `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The key the event is the latest value of (latest-value channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The payload: any JSON value.
    pub data: Value,
}

/// The body of `POST /api/realtime/events`: one event or a batch,
/// published in order at consecutive positions, all or nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PublishBody {
    /// Several events.
    Batch(Vec<PublishRequest>),
    /// One event.
    One(PublishRequest),
}

/// The answer to a publish: `{"id": ...}` for one event, `{"ids": [...]}`
/// for a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PublishReply {
    /// The positions of a batch's events, in order.
    Batch {
        /// Positions.
        ids: Vec<Position>,
    },
    /// The position of the one event.
    One {
        /// Position.
        id: Position,
    },
}

/// The answer to `GET /api/realtime/poll`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PollReply {
    /// Events, snapshots and resets, in log order.
    pub events: Vec<Envelope<Value>>,
    /// Where the next poll continues (`since=`).
    pub next: Position,
}

/// Every HTTP error: `{"error": {"code": ..., "message": ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: String,
    /// For a person.
    pub message: String,
}

impl ErrorBody {
    /// An error body.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_publish_body_is_one_event_or_a_batch() {
        let one: PublishBody =
            serde_json::from_value(json!({"channel": "room", "data": 1, "later": true})).unwrap();
        assert!(matches!(one, PublishBody::One(ref r) if r.channel == "room"));
        let batch: PublishBody = serde_json::from_value(json!([
            {"channel": "a", "data": null},
            {"channel": "b", "event": "note", "key": "k", "data": [1]}
        ]))
        .unwrap();
        let PublishBody::Batch(events) = batch else {
            panic!("a batch");
        };
        assert_eq!(events[1].key.as_deref(), Some("k"));
    }

    #[test]
    fn replies_and_errors_have_the_documented_shape() {
        let one = PublishReply::One {
            id: Position::new(1, 2),
        };
        assert_eq!(serde_json::to_value(&one).unwrap(), json!({"id": "1-2"}));
        let batch: PublishReply = serde_json::from_value(json!({"ids": ["1-2", "1-3"]})).unwrap();
        assert!(matches!(batch, PublishReply::Batch { ids } if ids.len() == 2));
        let error = ErrorBody::new("invalid_json", "the body is not JSON");
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"error": {"code": "invalid_json", "message": "the body is not JSON"}})
        );
        let poll: PollReply = serde_json::from_value(json!({
            "events": [{"id": "1-2", "channel": "a", "event": "message", "ts": 1, "data": 1}],
            "next": "1-2"
        }))
        .unwrap();
        assert_eq!(poll.next, Position::new(1, 2));
    }
}
