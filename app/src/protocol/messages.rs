//! The WebSocket protocol: JSON text messages, each an object with a `type`.
//!
//! Every message may carry a `request_id` (any JSON value) that the server
//! echoes in its reply, so a client can match answers to questions.
//!
//! Compatibility: fields a side does not know are ignored, so a newer client
//! works against an older server and the other way round. A message *type*
//! a side does not know is an error (`unknown_type`), never silently dropped.
//!
//! Events, snapshots and resets are [`Envelope`]s with the message type put
//! in front. The server does not serialize them through these types: it
//! splices the envelope it encoded once at publish time (see the server's
//! `hub::wire`), and a test there checks that the bytes decode to
//! [`ServerMessage`] exactly.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Envelope, Position, Snapshot};

/// A message from a client to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Adds channels, resuming after `since` (or starting from a snapshot).
    Subscribe {
        /// Channels to add.
        channels: Vec<String>,
        /// Where the client left off on these channels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Position>,
        /// Channel to the only keys wanted, applied before catch-up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<HashMap<String, Vec<String>>>,
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Removes channels.
    Unsubscribe {
        /// Channels to remove.
        channels: Vec<String>,
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Delivers only these keys of a channel (`None`: every key).
    SetFilter {
        /// A subscribed channel.
        channel: String,
        /// The only keys wanted.
        keys: Option<Vec<String>>,
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Asks for the current state of a subscribed channel.
    RequestSnapshot {
        /// A subscribed channel.
        channel: String,
        /// Echoed in the snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Publishes one event, as `POST /api/realtime/events` does.
    Publish {
        /// The channel.
        channel: String,
        /// The event type (default `message`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<String>,
        /// The key it is the latest value of (latest-value channels).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The payload.
        data: Value,
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Asks for a `pong`.
    Ping {
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// Tells the server whether the page is hidden: a hidden page gets
    /// latest values at most once a second.
    SetVisibility {
        /// True while the page is hidden.
        hidden: bool,
        /// Echoed in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
}

impl ClientMessage {
    /// Every message type a client may send, as on the wire.
    pub const TYPES: [&'static str; 7] = [
        "subscribe",
        "unsubscribe",
        "set_filter",
        "request_snapshot",
        "publish",
        "ping",
        "set_visibility",
    ];

    /// The message as JSON text.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, bool, map with string keys or a
        // `Value`: serialization cannot fail.
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

/// A message from the server to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The next event of a subscribed channel.
    Event(Envelope<Value>),
    /// The current state of some channels (an answer to a fresh subscription
    /// or to `request_snapshot`); resume from its `id`.
    Snapshot(SnapshotMessage),
    /// The client's position could not be honoured: drop state, apply this.
    Reset(SnapshotMessage),
    /// The channels now subscribed.
    Subscribed {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
        /// Every subscribed channel after the change.
        channels: Vec<String>,
    },
    /// The channels that were removed.
    Unsubscribed {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
        /// The channels removed (those that were subscribed).
        channels: Vec<String>,
    },
    /// A filter was set.
    FilterSet {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
        /// The channel filtered.
        channel: String,
    },
    /// An event was published.
    Published {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
        /// Its position.
        id: Position,
    },
    /// The answer to `ping`.
    Pong {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
    /// The answer to `set_visibility`.
    VisibilitySet {
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
        /// The visibility now in effect.
        hidden: bool,
    },
    /// Sent every heartbeat interval: the connection is alive.
    Heartbeat,
    /// A request was refused; the connection stays open.
    Error {
        /// Stable, machine-readable.
        code: String,
        /// For a person.
        message: String,
        /// Echoed from the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<Value>,
    },
}

/// A snapshot or reset envelope, with the `request_id` of the
/// `request_snapshot` it answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMessage {
    /// Echoed from `request_snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Value>,
    /// The snapshot; its id is the position to resume from.
    #[serde(flatten)]
    pub envelope: Envelope<Snapshot>,
}

impl ServerMessage {
    /// The message as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }

    /// An error reply.
    pub fn error(code: &str, message: impl Into<String>, request_id: Option<Value>) -> Self {
        ServerMessage::Error {
            code: code.to_string(),
            message: message.into(),
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn client_messages_round_trip_with_their_wire_names() {
        let messages = [
            ClientMessage::Subscribe {
                channels: vec!["metrics".into()],
                since: Some(Position::new(3, 4)),
                filter: Some(HashMap::from([("metrics".into(), vec!["web-1".into()])])),
                request_id: Some(json!(1)),
            },
            ClientMessage::Unsubscribe {
                channels: vec!["a".into()],
                request_id: None,
            },
            ClientMessage::SetFilter {
                channel: "metrics".into(),
                keys: None,
                request_id: None,
            },
            ClientMessage::RequestSnapshot {
                channel: "a".into(),
                request_id: Some(json!("s")),
            },
            ClientMessage::Publish {
                channel: "room".into(),
                event: Some("note".into()),
                key: None,
                data: json!({"x": 1}),
                request_id: None,
            },
            ClientMessage::Ping { request_id: None },
            ClientMessage::SetVisibility {
                hidden: true,
                request_id: None,
            },
        ];
        for (message, name) in messages.iter().zip(ClientMessage::TYPES) {
            let text = message.to_json();
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], name, "{text}");
            assert_eq!(
                &serde_json::from_str::<ClientMessage>(&text).unwrap(),
                message
            );
        }
        let subscribe: Value = serde_json::from_str(&messages[0].to_json()).unwrap();
        assert_eq!(subscribe["since"], "3-4");
        assert_eq!(subscribe["filter"]["metrics"][0], "web-1");
    }

    #[test]
    fn unknown_fields_are_ignored_but_unknown_types_are_errors() {
        let newer = r#"{"type":"ping","request_id":2,"compression":"zstd"}"#;
        assert_eq!(
            serde_json::from_str::<ClientMessage>(newer).unwrap(),
            ClientMessage::Ping {
                request_id: Some(json!(2))
            }
        );
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"dance"}"#).is_err());
        let reply = r#"{"type":"pong","request_id":2,"server_time":5}"#;
        assert!(matches!(
            serde_json::from_str::<ServerMessage>(reply).unwrap(),
            ServerMessage::Pong { .. }
        ));
    }

    #[test]
    fn server_messages_round_trip() {
        let envelope = Envelope {
            id: Position::new(1, 2),
            channel: "room".into(),
            event: "message".into(),
            key: None,
            ts: 3,
            data: json!({"text": "hi"}),
        };
        let snapshot = SnapshotMessage {
            request_id: Some(json!("snap")),
            envelope: Envelope {
                id: Position::new(1, 2),
                channel: "room".into(),
                event: "snapshot".into(),
                key: None,
                ts: 4,
                data: Snapshot {
                    reason: None,
                    events: vec![envelope.clone()],
                },
            },
        };
        let messages = [
            ServerMessage::Event(envelope),
            ServerMessage::Snapshot(snapshot.clone()),
            ServerMessage::Reset(snapshot),
            ServerMessage::Subscribed {
                request_id: None,
                channels: vec!["room".into()],
            },
            ServerMessage::Published {
                request_id: Some(json!(9)),
                id: Position::new(1, 5),
            },
            ServerMessage::Heartbeat,
            ServerMessage::error("not_subscribed", "not subscribed to \"x\"", None),
        ];
        for message in messages {
            let text = message.to_json();
            assert_eq!(
                serde_json::from_str::<ServerMessage>(&text).unwrap(),
                message,
                "{text}"
            );
        }
        let event: Value = serde_json::from_str(&ServerMessage::Heartbeat.to_json()).unwrap();
        assert_eq!(event, json!({"type": "heartbeat"}));
    }
}
