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
    /// Reads a message from JSON text, as the derived `Deserialize` does.
    ///
    /// The browser reads messages with this: serde's internally tagged
    /// enums (and `flatten`) buffer every message into an intermediate
    /// form whose code, instantiated for each type inside, weighs several
    /// kilobytes of the page's bundle. This reads the text once into a
    /// `Value` and takes the fields from it.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let Some(object) = value.as_object_mut() else {
            return Err("a message is a JSON object".into());
        };
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => return Err("a message names its type".into()),
        };
        let request_id = match object.remove("request_id") {
            None | Some(Value::Null) => None,
            Some(id) => Some(id),
        };
        let text_of = |object: &serde_json::Map<String, Value>, name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("{kind} needs the text {name}"))
        };
        let channels = |object: &serde_json::Map<String, Value>| -> Result<Vec<String>, String> {
            object
                .get("channels")
                .and_then(Value::as_array)
                .and_then(|list| {
                    list.iter()
                        .map(|c| c.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| format!("{kind} needs a list of channels"))
        };
        let message = match kind.as_str() {
            "event" => {
                ServerMessage::Event(serde_json::from_value(value).map_err(|e| e.to_string())?)
            }
            "snapshot" | "reset" => {
                let envelope: Envelope<Value> =
                    serde_json::from_value(value).map_err(|e| e.to_string())?;
                let snapshot: Snapshot =
                    serde_json::from_value(envelope.data).map_err(|e| e.to_string())?;
                let message = SnapshotMessage {
                    request_id,
                    envelope: Envelope {
                        id: envelope.id,
                        channel: envelope.channel,
                        event: envelope.event,
                        key: envelope.key,
                        ts: envelope.ts,
                        data: snapshot,
                    },
                };
                if kind == "snapshot" {
                    ServerMessage::Snapshot(message)
                } else {
                    ServerMessage::Reset(message)
                }
            }
            "subscribed" => ServerMessage::Subscribed {
                request_id,
                channels: channels(object)?,
            },
            "unsubscribed" => ServerMessage::Unsubscribed {
                request_id,
                channels: channels(object)?,
            },
            "filter_set" => ServerMessage::FilterSet {
                request_id,
                channel: text_of(object, "channel")?,
            },
            "published" => ServerMessage::Published {
                request_id,
                id: text_of(object, "id")?
                    .parse()
                    .map_err(|_| "published needs a position".to_string())?,
            },
            "pong" => ServerMessage::Pong { request_id },
            "visibility_set" => ServerMessage::VisibilitySet {
                request_id,
                hidden: object
                    .get("hidden")
                    .and_then(Value::as_bool)
                    .ok_or("visibility_set needs hidden")?,
            },
            "heartbeat" => ServerMessage::Heartbeat,
            "error" => ServerMessage::Error {
                code: text_of(object, "code")?,
                message: text_of(object, "message")?,
                request_id,
            },
            other => return Err(format!("unknown message type {other:?}")),
        };
        Ok(message)
    }

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
    fn read_by_hand_as_serde_reads_every_message() {
        let envelope = |data: Value| Envelope {
            id: Position::new(1, 2),
            channel: "dashboard:main".into(),
            event: "message".into(),
            key: Some("k".into()),
            ts: 5,
            data,
        };
        let snapshot = |request_id: Option<Value>| SnapshotMessage {
            request_id,
            envelope: Envelope {
                id: Position::new(1, 9),
                channel: "dashboard:main".into(),
                event: "snapshot".into(),
                key: None,
                ts: 7,
                data: Snapshot {
                    reason: Some("too old".into()),
                    events: vec![envelope(json!({"x": [1, 2]}))],
                },
            },
        };
        let messages = [
            ServerMessage::Event(envelope(json!("text"))),
            ServerMessage::Snapshot(snapshot(None)),
            ServerMessage::Reset(snapshot(Some(json!("r1")))),
            ServerMessage::Subscribed {
                request_id: Some(json!(1)),
                channels: vec!["a".into(), "b".into()],
            },
            ServerMessage::Unsubscribed {
                request_id: None,
                channels: vec![],
            },
            ServerMessage::FilterSet {
                request_id: Some(json!({"n": 1})),
                channel: "metrics".into(),
            },
            ServerMessage::Published {
                request_id: None,
                id: Position::new(3, 4),
            },
            ServerMessage::Pong {
                request_id: Some(json!("p")),
            },
            ServerMessage::VisibilitySet {
                request_id: None,
                hidden: true,
            },
            ServerMessage::Heartbeat,
            ServerMessage::error("bad", "no", Some(json!(2))),
        ];
        for message in messages {
            let text = message.to_json();
            assert_eq!(
                ServerMessage::from_json(&text),
                Ok(message.clone()),
                "{text}"
            );
            assert_eq!(
                serde_json::from_str::<ServerMessage>(&text).unwrap(),
                message
            );
        }
        for bad in [
            "[]",
            "{}",
            r#"{"type": "dance"}"#,
            r#"{"type": "published", "id": 3}"#,
            r#"{"type": "subscribed", "channels": [1]}"#,
            r#"{"type": "visibility_set"}"#,
            r#"{"type": "event", "id": "1-2"}"#,
            r#"{"type": "reset", "id": "1-2", "channel": "a", "event": "reset", "ts": 1, "data": 5}"#,
            "not json",
        ] {
            assert!(ServerMessage::from_json(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<ServerMessage>(bad).is_err(), "{bad}");
        }
    }

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
