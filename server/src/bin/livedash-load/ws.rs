//! A WebSocket subscriber: `GET /api/realtime/ws`, then a `subscribe`
//! message; established once the `subscribed` reply arrives (the
//! subscription exists from then on). Then a `snapshot`, then `event`s.
//!
//! Event messages are the bulk of the traffic, so they are read in two
//! cheap passes (the `type`, then the envelope with only the probe's fields
//! of its payload) instead of as a whole [`ServerMessage`] with a JSON tree
//! for every payload; every other message goes through [`ServerMessage`].
//!
//! The client's buffers are kept small (the default read buffer is 128 KiB)
//! so that ten thousand idle connections stay cheap on this side too.
//! tungstenite answers the server's pings by itself while the stream is
//! read.

use std::borrow::Cow;

use app::protocol::{ClientMessage, Envelope, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    WebSocketStream,
};

use crate::{
    probe::Probe,
    subscriber::{Subscriber, SubscriberReport},
};

/// The client's read buffer.
const READ_BUFFER_BYTES: usize = 8 * 1024;

type Socket = WebSocketStream<TcpStream>;

/// The `type` of a server message, read without the rest.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// Connects, subscribes and waits for the `subscribed` reply.
async fn open(subscriber: &Subscriber) -> Result<Socket, String> {
    let shared = &subscriber.shared;
    let tcp = TcpStream::connect(shared.target.addr)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let url = format!(
        "ws://{}{}/api/realtime/ws",
        shared.target.host, shared.target.prefix
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config))
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    let subscribe = ClientMessage::Subscribe {
        channels: vec![shared.channel.clone()],
        since: None,
        filter: None,
        request_id: None,
    };
    socket
        .send(Message::text(subscribe.to_json()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                match serde_json::from_str::<ServerMessage>(text.as_str()) {
                    Ok(ServerMessage::Subscribed { .. }) => return Ok(socket),
                    Ok(ServerMessage::Error { code, message, .. }) => {
                        return Err(format!("subscribe refused: {code}: {message}"))
                    }
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed before subscribing: {frame:?}"))
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("closed before subscribing".to_string()),
        }
    }
}

/// Runs one WebSocket subscriber until the run tells it to stop.
pub async fn run(mut subscriber: Subscriber) -> SubscriberReport {
    if !subscriber.wait_turn().await {
        return subscriber.into_report();
    }
    let timeout = subscriber.shared.connect_timeout;
    let mut socket = match tokio::time::timeout(timeout, open(&subscriber)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(error)) => {
            subscriber.connect_failed(error);
            return subscriber.into_report();
        }
        Err(_) => {
            subscriber.connect_failed(format!("no `subscribed` reply within {timeout:?}"));
            return subscriber.into_report();
        }
    };
    subscriber.established();
    while !subscriber.is_finished() {
        tokio::select! {
            () = subscriber.phase_moved() => {}
            // Cancel-safe: `next` on a WebSocketStream loses nothing.
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Err(error) = apply(&mut subscriber, text.as_str()) {
                        subscriber.failed(error);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    subscriber.failed(format!("the server closed the connection: {frame:?}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    subscriber.failed(error);
                    break;
                }
                None => {
                    subscriber.failed("the connection ended");
                    break;
                }
            }
        }
    }
    // A polite close, briefly: the run is ending either way.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), socket.close(None)).await;
    subscriber.into_report()
}

/// Applies one server message to the subscriber's checks.
fn apply(subscriber: &mut Subscriber, text: &str) -> Result<(), String> {
    let kind: Kind = serde_json::from_str(text).map_err(|e| format!("bad message: {e}"))?;
    if kind.kind == "event" {
        if let Ok(envelope) = serde_json::from_str::<Envelope<Probe>>(text) {
            subscriber.on_event(&envelope);
            return Ok(());
        }
    }
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Event(envelope)) => subscriber.on_foreign(envelope.id),
        Ok(ServerMessage::Snapshot(snapshot)) => subscriber.on_snapshot(snapshot.envelope.id),
        Ok(ServerMessage::Reset(reset)) => subscriber.on_reset(reset.envelope.id),
        Ok(ServerMessage::Error { code, message, .. }) => {
            return Err(format!("server error: {code}: {message}"))
        }
        Ok(_) => {}
        Err(error) => return Err(format!("unknown message: {error}")),
    }
    Ok(())
}
