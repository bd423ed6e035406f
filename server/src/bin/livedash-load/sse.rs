//! A Server-Sent Events subscriber: `GET /api/realtime/sse?channels=<c>`
//! over the minimal HTTP client, with an incremental SSE parser.
//!
//! The stream opens with a `heartbeat` event (the subscription exists once
//! it arrives, so that is when the subscriber is established), then a
//! `snapshot` whose id is where the stream starts, then the channel's events.
//!
//! [`SseParser`] follows the WHATWG rules that matter here: lines end in LF,
//! CRLF or CR (a CRLF may be split between two reads); `field: value` with
//! one optional space after the colon; lines starting with `:` are comments;
//! `data` lines accumulate, joined by LF; a blank line dispatches the event
//! if it has data. `retry` and unknown fields are ignored.

use app::protocol::{Envelope, Position, HEARTBEAT_EVENT, RESET_EVENT, SNAPSHOT_EVENT};
use serde::de::IgnoredAny;

use crate::{
    http::{BodyDecoder, Connection, HttpError},
    probe::Probe,
    subscriber::{Subscriber, SubscriberReport},
};

/// Longest line kept; a longer one is an error (the server's events are
/// far smaller).
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// Its `id:`, if it had one.
    pub id: Option<String>,
    /// Its `event:` (`message` when absent).
    pub event: String,
    /// Its `data:` lines joined by LF.
    pub data: String,
}

/// Why a stream cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an SSE line is longer than {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

/// Parses an SSE stream fed in arbitrary pieces.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous piece ended in CR: a leading LF belongs to it.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Parses `input`, pushing each complete event to `events`.
    pub fn feed(&mut self, input: &[u8], events: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        let mut input = input;
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = input.strip_prefix(b"\n") {
                input = rest;
            }
        }
        while let Some(end) = input.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&input[..end]);
            self.take_line(events);
            let crlf = input[end] == b'\r';
            input = &input[end + 1..];
            if crlf {
                match input.first() {
                    Some(b'\n') => input = &input[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
        self.line.extend_from_slice(input);
        if self.line.len() > MAX_LINE_BYTES {
            return Err(LineTooLong);
        }
        Ok(())
    }

    fn take_line(&mut self, events: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(events);
        } else if line[0] != b':' {
            let text = String::from_utf8_lossy(&line);
            let (field, value) = match text.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (&*text, ""),
            };
            match field {
                "id" if !value.contains('\0') => self.id = Some(value.to_string()),
                "event" => self.event = Some(value.to_string()),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        // Keep the allocation for the next line.
        self.line = line;
        self.line.clear();
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let id = self.id.take();
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        events.push(SseEvent {
            id,
            event: event.unwrap_or_else(|| "message".to_string()),
            data: std::mem::take(&mut self.data),
        });
    }
}

/// The stream's state once the response head was read.
struct Stream {
    connection: Connection,
    body: BodyDecoder,
    parser: SseParser,
    bytes: Vec<u8>,
    events: Vec<SseEvent>,
}

impl Stream {
    /// Reads and parses the next piece of the stream into `self.events`;
    /// `Ok(false)` when the stream ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes are parsed only after a read completed
    /// ([`Connection::read_stream`] is cancel-safe).
    async fn next_events(&mut self) -> Result<bool, HttpError> {
        let more = self
            .connection
            .read_stream(&mut self.body, &mut self.bytes)
            .await?;
        let parsed = self.parser.feed(&self.bytes, &mut self.events);
        self.bytes.clear();
        parsed.map_err(|_| HttpError::Malformed("SSE line too long"))?;
        Ok(more)
    }
}

/// Opens the stream and reads up to its first event.
async fn open(subscriber: &Subscriber) -> Result<Stream, HttpError> {
    let shared = &subscriber.shared;
    let mut connection = Connection::connect(&shared.target, shared.connect_timeout).await?;
    let request = shared.target.request(
        "GET",
        &format!("/api/realtime/sse?channels={}", shared.channel),
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
        b"",
    );
    connection.send(&request).await?;
    let mut head = connection.read_head().await?;
    if head.status != 200 {
        let body = connection.read_body(&mut head).await.unwrap_or_default();
        return Err(HttpError::Status {
            status: head.status,
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
    }
    let mut stream = Stream {
        connection,
        body: head.body,
        parser: SseParser::default(),
        bytes: Vec::new(),
        events: Vec::new(),
    };
    while stream.events.is_empty() {
        if !stream.next_events().await? {
            return Err(HttpError::Closed);
        }
    }
    Ok(stream)
}

/// Runs one SSE subscriber until the run tells it to stop.
pub async fn run(mut subscriber: Subscriber) -> SubscriberReport {
    if !subscriber.wait_turn().await {
        return subscriber.into_report();
    }
    let timeout = subscriber.shared.connect_timeout;
    let mut stream = match tokio::time::timeout(timeout, open(&subscriber)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            subscriber.connect_failed(error);
            return subscriber.into_report();
        }
        Err(_) => {
            subscriber.connect_failed(format!("no first event within {timeout:?}"));
            return subscriber.into_report();
        }
    };
    subscriber.established();
    loop {
        for event in stream.events.drain(..) {
            if let Err(error) = apply(&mut subscriber, &event) {
                subscriber.failed(error);
            }
        }
        if subscriber.is_finished() {
            break;
        }
        tokio::select! {
            () = subscriber.phase_moved() => {}
            read = stream.next_events() => match read {
                Ok(true) => {}
                Ok(false) => {
                    subscriber.failed("the server ended the stream");
                    break;
                }
                Err(error) => {
                    subscriber.failed(error);
                    break;
                }
            }
        }
    }
    subscriber.into_report()
}

/// Applies one SSE event to the subscriber's checks.
fn apply(subscriber: &mut Subscriber, event: &SseEvent) -> Result<(), String> {
    let position = || -> Result<Position, String> {
        let id = event.id.as_deref().ok_or("an event without an id")?;
        id.parse().map_err(|e| format!("{e}"))
    };
    match event.event.as_str() {
        HEARTBEAT_EVENT => {}
        SNAPSHOT_EVENT => subscriber.on_snapshot(position()?),
        RESET_EVENT => subscriber.on_reset(position()?),
        _ => match serde_json::from_str::<Envelope<Probe>>(&event.data) {
            Ok(envelope) => subscriber.on_event(&envelope),
            Err(_) => {
                let envelope: Envelope<IgnoredAny> = serde_json::from_str(&event.data)
                    .map_err(|e| format!("an event's data is not an envelope: {e}"))?;
                subscriber.on_foreign(envelope.id);
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for piece in pieces {
            parser.feed(piece, &mut events).unwrap();
        }
        events
    }

    fn event(id: Option<&str>, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(str::to_string),
            event: event.to_string(),
            data: data.to_string(),
        }
    }

    #[test]
    fn parses_id_event_and_data_lines() {
        let events = parse(&[b"retry: 1000\nevent: heartbeat\ndata: {}\n\nid: 1-2\nevent: message\ndata: {\"a\":1}\n\n"]);
        assert_eq!(
            events,
            vec![
                event(None, "heartbeat", "{}"),
                event(Some("1-2"), "message", "{\"a\":1}"),
            ]
        );
    }

    #[test]
    fn comments_and_events_without_data_dispatch_nothing() {
        let events = parse(&[b": heartbeat\n\nretry: 1000\n\nevent: lonely\n\ndata: x\n\n"]);
        assert_eq!(events, vec![event(None, "message", "x")]);
    }

    #[test]
    fn data_lines_join_with_newlines_and_one_space_is_stripped() {
        let events = parse(&[b"data:first\ndata:  second\ndata\n\n"]);
        assert_eq!(events, vec![event(None, "message", "first\n second\n")]);
    }

    #[test]
    fn every_line_ending_works_even_split_across_reads() {
        let stream = b"id: 1-1\r\ndata: a\r\n\r\nid: 1-2\rdata: b\r\rid: 1-3\ndata: c\n\n";
        let whole = parse(&[stream]);
        let expected = vec![
            event(Some("1-1"), "message", "a"),
            event(Some("1-2"), "message", "b"),
            event(Some("1-3"), "message", "c"),
        ];
        assert_eq!(whole, expected);
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(parse(&bytewise), expected);
        for split in 1..stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(parse(&[a, b]), expected, "split at {split}");
        }
    }

    #[test]
    fn an_unfinished_event_waits_for_its_blank_line() {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        parser.feed(b"id: 1-1\ndata: par", &mut events).unwrap();
        assert!(events.is_empty());
        parser.feed(b"tial\n\n", &mut events).unwrap();
        assert_eq!(events, vec![event(Some("1-1"), "message", "partial")]);
    }
}
