//! The hand-spliced JSON that makes zero-copy fan-out possible.
//!
//! An event is encoded once, when it is published, and the same bytes go to
//! every subscriber on every transport. Its position is only known under the
//! hub's lock, and the WebSocket wants a `type` field in front, so the bytes
//! are put together here by splicing fields into an already encoded object
//! instead of encoding again. Everything else on the wire is serialized
//! through the shared types of `app::protocol`; the tests of this module
//! check that these bytes decode to exactly those types.

use std::sync::Arc;

use app::protocol::Position;
use bytes::Bytes;
use serde::Serialize;

use super::Event;

/// `{"type":"<kind>", ...}`: a WebSocket message made from an envelope's JSON
/// object by putting the message type in front.
pub fn ws_frame(kind: &str, envelope_json: &[u8]) -> Bytes {
    Bytes::from(with_leading_field(
        format!("\"type\":\"{kind}\"").as_bytes(),
        envelope_json,
    ))
}

/// `{"request_id":<id>, ...}` from a `{...}` frame (unchanged without an id).
pub fn with_request_id(frame: &Bytes, request_id: Option<&serde_json::Value>) -> Bytes {
    match request_id {
        None => frame.clone(),
        Some(id) => Bytes::from(with_leading_field(
            format!("\"request_id\":{id}").as_bytes(),
            frame,
        )),
    }
}

/// An event as Server-Sent Events send it (`id:`, `event:`, `data:` and
/// the blank line that ends it), and the envelope JSON inside it (the body
/// from [`encode_body`] with `"id":"<position>"` in front). The JSON is a
/// slice of the frame, not a copy: the event holds its envelope once, and
/// every SSE subscriber is written the same bytes.
pub fn sse_event(position: Position, event_type: &str, body: &[u8]) -> (Bytes, Bytes) {
    let mut out = Vec::with_capacity(body.len() + event_type.len() + 96);
    sse_head(&mut out, position, event_type);
    let start = out.len();
    push_with_leading_field(&mut out, format!("\"id\":\"{position}\"").as_bytes(), body);
    let end = out.len();
    out.extend_from_slice(b"\n\n");
    let frame = Bytes::from(out);
    let json = frame.slice(start..end);
    (frame, json)
}

/// The SSE frame of an already encoded envelope (snapshots and resets,
/// built for one subscriber).
pub fn sse_frame(position: Position, event_type: &str, json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + event_type.len() + 96);
    sse_head(&mut out, position, event_type);
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// `id: <position>`, `event: <type>` and the start of the `data:` line.
/// Event types and positions never hold a line break (publish checks the
/// type's characters), and the JSON serde writes has none either, so one
/// `data:` line carries the whole envelope.
fn sse_head(out: &mut Vec<u8>, position: Position, event_type: &str) {
    out.extend_from_slice(format!("id: {position}\nevent: {event_type}\ndata: ").as_bytes());
}

/// The JSON object `object` with `field` (an encoded `"name":value`) put
/// first, without decoding anything.
fn with_leading_field(field: &[u8], object: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object.len() + field.len() + 2);
    push_with_leading_field(&mut out, field, object);
    out
}

fn push_with_leading_field(out: &mut Vec<u8>, field: &[u8], object: &[u8]) {
    out.push(b'{');
    out.extend_from_slice(field);
    match object.get(1..) {
        Some(rest) if rest.len() > 1 => {
            out.push(b',');
            out.extend_from_slice(rest);
        }
        _ => out.push(b'}'),
    }
}

/// An event's envelope without its id, as JSON: everything that does not
/// depend on where the event lands in the log.
pub fn encode_body(
    channel: &str,
    event: &str,
    key: Option<&str>,
    ts: i64,
    data: &impl Serialize,
) -> Result<Vec<u8>, serde_json::Error> {
    /// [`app::protocol::Envelope`] without `id`, field for field.
    #[derive(Serialize)]
    struct Body<'a, T> {
        channel: &'a str,
        event: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<&'a str>,
        ts: i64,
        data: &'a T,
    }
    serde_json::to_vec(&Body {
        channel,
        event,
        key,
        ts,
        data,
    })
}

/// A `snapshot` or `reset` envelope: `events` (already encoded envelopes)
/// as the payload, `head` as id. Built outside the hub's lock: this is the
/// one copy of many events' bytes a subscriber ever causes.
pub fn snapshot_envelope(
    head: Position,
    channels: &[Arc<str>],
    event_type: &str,
    reason: Option<&str>,
    ts: i64,
    events: &[Arc<Event>],
) -> Vec<u8> {
    let channel_list = channels.iter().map(|c| &**c).collect::<Vec<_>>().join(",");
    let size = 128 + channel_list.len() + events.iter().map(|e| e.json.len() + 1).sum::<usize>();
    let mut json = Vec::with_capacity(size);
    json.extend_from_slice(
        format!(
            "{{\"id\":\"{head}\",\"channel\":{},\"event\":{},\"ts\":{ts},\"data\":{{",
            json_string(&channel_list),
            json_string(event_type),
        )
        .as_bytes(),
    );
    if let Some(reason) = reason {
        json.extend_from_slice(format!("\"reason\":{},", json_string(reason)).as_bytes());
    }
    json.extend_from_slice(b"\"events\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(&event.json);
    }
    json.extend_from_slice(b"]}}");
    json
}

/// A poll answer (`app::protocol::PollReply`): the envelopes, then `next`.
pub fn poll_reply<'a>(envelopes: impl Iterator<Item = &'a [u8]>, next: Position) -> Vec<u8> {
    let mut body = b"{\"events\":[".to_vec();
    for (index, envelope) in envelopes.enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(envelope);
    }
    body.extend_from_slice(format!("],\"next\":\"{next}\"}}").as_bytes());
    body
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use app::protocol::{
        Envelope, PollReply, ServerMessage, Snapshot, SnapshotMessage, RESET_EVENT,
    };
    use serde_json::{json, Value};

    use super::*;

    fn event(seq: u64, key: Option<&str>) -> Arc<Event> {
        Arc::new(
            Event::new(
                Position::new(1_795_399_686_776, seq),
                "dashboard:main".into(),
                "note".into(),
                key.map(Arc::from),
                1_795_399_689_980,
                &json!({"text": "hé \"quoted\"", "n": [1, 2.5, null]}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn an_event_is_encoded_exactly_as_the_shared_envelope_type() {
        for key in [None, Some("web-\"1\"")] {
            let event = event(42, key);
            let expected = Envelope {
                id: event.position,
                channel: "dashboard:main".to_string(),
                event: "note".to_string(),
                key: key.map(str::to_string),
                ts: 1_795_399_689_980,
                data: json!({"text": "hé \"quoted\"", "n": [1, 2.5, null]}),
            };
            assert_eq!(
                event.json_str(),
                serde_json::to_string(&expected).unwrap(),
                "same bytes as serde"
            );
            let frame: ServerMessage = serde_json::from_slice(&event.ws_json).unwrap();
            assert_eq!(frame, ServerMessage::Event(expected));
        }
    }

    /// The fields of one SSE frame as an EventSource would read them
    /// (`None`: not exactly one frame).
    fn sse_fields(frame: &[u8]) -> Option<(String, String, String)> {
        let text = std::str::from_utf8(frame).ok()?.strip_suffix("\n\n")?;
        let mut lines = text.split('\n');
        let id = lines.next()?.strip_prefix("id: ")?.to_string();
        let event = lines.next()?.strip_prefix("event: ")?.to_string();
        let data = lines.next()?.strip_prefix("data: ")?.to_string();
        lines.next().is_none().then_some((id, event, data))
    }

    #[test]
    fn an_event_is_one_sse_frame_whose_data_is_its_envelope() {
        let event = event(42, Some("multi\nline\rkey"));
        let (id, event_type, data) = sse_fields(&event.sse).expect("one frame");
        assert_eq!(id, event.position.to_string());
        assert_eq!(event_type, "note");
        assert_eq!(data, event.json_str(), "data is the envelope, on one line");
        // The envelope is a view into the frame, not a second copy.
        let frame = event.sse.as_ptr_range();
        let json = event.json.as_ptr_range();
        assert!(frame.start <= json.start && json.end <= frame.end);
    }

    #[test]
    fn a_snapshot_is_one_sse_frame_of_its_type_and_head() {
        let head = Position::new(1_795_399_686_776, 9);
        let json = snapshot_envelope(head, &["a".into()], RESET_EVENT, None, 7, &[event(3, None)]);
        let (id, event_type, data) =
            sse_fields(&sse_frame(head, RESET_EVENT, &json)).expect("one frame");
        assert_eq!(id, head.to_string());
        assert_eq!(event_type, RESET_EVENT);
        assert_eq!(data.as_bytes(), json);
    }

    #[test]
    fn snapshots_decode_as_the_shared_snapshot_message() {
        let events = [event(3, Some("a")), event(5, None)];
        let channels: Vec<Arc<str>> = vec!["dashboard:main".into(), "b".into()];
        let head = Position::new(1_795_399_686_776, 9);
        let json = snapshot_envelope(
            head,
            &channels,
            RESET_EVENT,
            Some("too \"old\""),
            7,
            &events,
        );
        let envelope: Envelope<Snapshot> = serde_json::from_slice(&json).unwrap();
        assert_eq!(envelope.id, head);
        assert_eq!(envelope.channel, "dashboard:main,b");
        assert_eq!(envelope.data.reason.as_deref(), Some("too \"old\""));
        assert_eq!(envelope.data.events.len(), 2);
        assert_eq!(envelope.data.events[0].key.as_deref(), Some("a"));

        let frame = with_request_id(&ws_frame(RESET_EVENT, &json), Some(&json!({"n": 1})));
        let message: ServerMessage = serde_json::from_slice(&frame).unwrap();
        assert_eq!(
            message,
            ServerMessage::Reset(SnapshotMessage {
                request_id: Some(json!({"n": 1})),
                envelope,
            })
        );
    }

    #[test]
    fn splicing_into_an_empty_object_stays_valid_json() {
        let frame = ws_frame("heartbeat", b"{}");
        assert_eq!(&frame[..], br#"{"type":"heartbeat"}"#);
        assert_eq!(
            serde_json::from_slice::<ServerMessage>(&frame).unwrap(),
            ServerMessage::Heartbeat
        );
        let unchanged = with_request_id(&frame, None);
        assert_eq!(unchanged, frame);
    }

    #[test]
    fn poll_replies_decode_as_the_shared_type() {
        let events = [event(3, None), event(4, Some("k"))];
        let next = Position::new(1_795_399_686_776, 4);
        let body = poll_reply(events.iter().map(|e| &e.json[..]), next);
        let reply: PollReply = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply.next, next);
        assert_eq!(reply.events.len(), 2);
        let empty: Value = serde_json::from_slice(&poll_reply(std::iter::empty(), next)).unwrap();
        assert_eq!(empty, json!({"events": [], "next": next.to_string()}));
    }
}
