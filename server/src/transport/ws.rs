//! WebSocket: `GET /api/realtime/ws`, a JSON protocol of typed messages.
//!
//! Client → server, each with an optional `request_id` echoed in the reply:
//! `subscribe {channels, since?, filter?}` (`filter`: channel to the only
//! keys wanted), `unsubscribe {channels}`,
//! `set_filter {channel, keys}` (only these keys of a channel; `null`: all),
//! `request_snapshot {channel}`, `publish {channel, event?, key?, data}`,
//! `ping`, `set_visibility {hidden}` (a hidden page gets latest values at
//! most once a second).
//!
//! Server → client: `event`, `snapshot` and `reset` (the envelope with a
//! `type` in front), `subscribed`, `unsubscribed`, `filter_set`,
//! `published`, `pong`, `visibility_set`, `heartbeat` (every heartbeat
//! interval), and `error {code, message, request_id}`. A bad
//! message gets an error and the connection stays open.
//!
//! One task owns each connection: it reads the client's messages, writes
//! the subscription's deliveries, pings the client when it is idle and
//! closes it when it stops answering, when it stops reading (a write that
//! cannot complete in time), or when the server shuts down (close 1001).

use std::{
    collections::HashMap,
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use app::protocol::Position;
use axum::{
    extract::{
        ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

use crate::{
    counters::Transport,
    error::ApiError,
    hub::{Delivery, SubscribeRequest, Subscription},
    publish::{self, PublishRequest},
    transport::{
        parse_channels_list, parse_position, validate_filter, MAX_CHANNELS_PER_SUBSCRIPTION,
    },
    AppState,
};

/// Largest message the protocol accepts; larger ones get an error.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest frame the socket reads at all; larger ones close the connection
/// (1009), since reading them is already the cost.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// How long one write may take before the client is deemed not reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most deliveries written per batch.
const MAX_BATCH: usize = 256;
/// The delivery window of latest-value channels while the page is hidden.
const HIDDEN_WINDOW: Duration = Duration::from_secs(1);

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        channels: Vec<String>,
        #[serde(default)]
        since: Option<String>,
        /// Channel to the only keys wanted, applied before catch-up.
        #[serde(default)]
        filter: Option<HashMap<String, Vec<String>>>,
        #[serde(default)]
        request_id: Option<Value>,
    },
    Unsubscribe {
        channels: Vec<String>,
        #[serde(default)]
        request_id: Option<Value>,
    },
    SetFilter {
        channel: String,
        keys: Option<Vec<String>>,
        #[serde(default)]
        request_id: Option<Value>,
    },
    RequestSnapshot {
        channel: String,
        #[serde(default)]
        request_id: Option<Value>,
    },
    Publish {
        channel: String,
        #[serde(default)]
        event: Option<String>,
        #[serde(default)]
        key: Option<String>,
        data: Value,
        #[serde(default)]
        request_id: Option<Value>,
    },
    Ping {
        #[serde(default)]
        request_id: Option<Value>,
    },
    SetVisibility {
        hidden: bool,
        #[serde(default)]
        request_id: Option<Value>,
    },
}

/// Upgrades the connection.
pub async fn handler(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if state.shutdown.is_triggered() {
        return Err(ApiError::ShuttingDown);
    }
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| Connection::new(socket, state).run()))
}

/// Why a connection ended.
enum End {
    /// The client closed it or went away.
    Client,
    /// The server closes it with this code and reason.
    Close(u16, &'static str),
}

struct Connection {
    socket: WebSocket,
    state: AppState,
    subscription: Option<Subscription>,
    last_heard: Instant,
    /// The client's page is hidden: coalesce harder.
    hidden: bool,
}

impl Connection {
    fn new(socket: WebSocket, state: AppState) -> Self {
        Self {
            socket,
            state,
            subscription: None,
            last_heard: Instant::now(),
            hidden: false,
        }
    }

    /// The delivery window for latest-value channels: the configured one,
    /// or at least a second while the client's page is hidden.
    fn window(&self) -> Duration {
        let configured = self.state.hub.coalesce_window();
        if self.hidden {
            configured.max(HIDDEN_WINDOW)
        } else {
            configured
        }
    }

    async fn run(mut self) {
        let _guard = self.state.counters.connection(Transport::Ws);
        let shutdown = self.state.shutdown.clone().wait();
        tokio::pin!(shutdown);
        let heartbeat = self.state.heartbeat;
        let mut pings = interval_at(Instant::now() + heartbeat, heartbeat);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);

        let end = loop {
            let step = tokio::select! {
                () = &mut shutdown => Err(End::Close(close_code::AWAY, "server shutting down")),
                message = self.socket.recv() => match message {
                    Some(Ok(message)) => self.on_message(message).await,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "websocket read failed");
                        Err(End::Close(close_code::SIZE, "frame too large or malformed"))
                    }
                    None => Err(End::Client),
                },
                batch = next_batch(&mut self.subscription) => match batch {
                    Some(batch) => self.deliver(batch).await,
                    None => Err(End::Close(close_code::AWAY, "server shutting down")),
                },
                _ = pings.tick() => self.ping(heartbeat).await,
            };
            if let Err(end) = step {
                break end;
            }
        };
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = timeout(
                Duration::from_secs(1),
                self.socket.send(Message::Close(Some(frame))),
            )
            .await;
        }
        tracing::debug!("websocket closed");
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        self.last_heard = Instant::now();
        match message {
            Message::Text(text) => self.on_text(text.as_str()).await,
            Message::Binary(_) => {
                self.error(
                    "unsupported_frame",
                    "binary frames are not supported; send JSON text",
                    None,
                )
                .await
            }
            Message::Close(_) => Err(End::Client),
            // Pings are answered by the socket itself; a pong only shows life.
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        if text.len() > MAX_MESSAGE_BYTES {
            return self
                .error(
                    "message_too_large",
                    &format!("messages are at most {MAX_MESSAGE_BYTES} bytes"),
                    None,
                )
                .await;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => {
                return self
                    .error(
                        "invalid_json",
                        &format!("the message is not JSON: {error}"),
                        None,
                    )
                    .await
            }
        };
        let request_id = value.get("request_id").cloned();
        let known = [
            "subscribe",
            "unsubscribe",
            "set_filter",
            "request_snapshot",
            "publish",
            "ping",
            "set_visibility",
        ];
        match value.get("type").and_then(Value::as_str) {
            Some(kind) if known.contains(&kind) => {}
            Some(kind) => {
                let message = format!(
                    "unknown message type {:?}",
                    kind.chars().take(64).collect::<String>()
                );
                return self.error("unknown_type", &message, request_id).await;
            }
            None => {
                return self
                    .error(
                        "invalid_message",
                        "a message needs a string \"type\"",
                        request_id,
                    )
                    .await
            }
        }
        match serde_json::from_value::<ClientMessage>(value) {
            Ok(message) => self.on_request(message).await,
            Err(error) => {
                self.error("invalid_message", &error.to_string(), request_id)
                    .await
            }
        }
    }

    async fn on_request(&mut self, message: ClientMessage) -> Result<(), End> {
        match message {
            ClientMessage::Subscribe {
                channels,
                since,
                filter,
                request_id,
            } => {
                let result = (|| {
                    let channels = parse_channels_list(&channels)?;
                    let since = since
                        .as_deref()
                        .filter(|s| !s.trim().is_empty())
                        .map(parse_position)
                        .transpose()?;
                    let current = self.subscription.as_ref().map_or(0, |s| s.channels().len());
                    let added = channels.iter().filter(|c| {
                        !self
                            .subscription
                            .as_ref()
                            .is_some_and(|s| s.channels().contains(c))
                    });
                    if current + added.count() > MAX_CHANNELS_PER_SUBSCRIPTION {
                        return Err(ApiError::invalid(
                            "too_many_channels",
                            format!(
                                "at most {MAX_CHANNELS_PER_SUBSCRIPTION} channels per connection"
                            ),
                        ));
                    }
                    let filters = validate_filter(filter.unwrap_or_default(), &channels)?;
                    Ok((channels, since, filters))
                })();
                let (channels, since, filters) = match result {
                    Ok(parsed) => parsed,
                    Err(error) => return self.api_error(error, request_id).await,
                };
                let subscription = match self.subscription.as_mut() {
                    Some(subscription) => {
                        for (channel, keys) in filters {
                            subscription.set_filter(
                                channel,
                                Some(keys.iter().map(|k| k.to_string()).collect()),
                            );
                        }
                        subscription.add_channels(channels, since);
                        subscription
                    }
                    None => {
                        let mut subscription = self.state.hub.subscribe_with(SubscribeRequest {
                            channels,
                            since,
                            fresh: Vec::new(),
                            filters,
                        });
                        subscription.set_window(self.window());
                        self.subscription.insert(subscription)
                    }
                };
                let reply = json!({
                    "type": "subscribed",
                    "request_id": request_id,
                    "channels": subscription.channels().iter().map(|c| &**c).collect::<Vec<_>>(),
                });
                self.send_json(&reply).await
            }
            ClientMessage::Unsubscribe {
                channels,
                request_id,
            } => {
                let channels = match parse_channels_list(&channels) {
                    Ok(channels) => channels,
                    Err(error) => return self.api_error(error, request_id).await,
                };
                let removed = self
                    .subscription
                    .as_mut()
                    .map(|s| s.remove_channels(&channels))
                    .unwrap_or_default();
                let reply = json!({
                    "type": "unsubscribed",
                    "request_id": request_id,
                    "channels": removed.iter().map(|c| &**c).collect::<Vec<_>>(),
                });
                self.send_json(&reply).await
            }
            ClientMessage::SetFilter {
                channel,
                keys,
                request_id,
            } => {
                let Some(channel) = self.subscribed(&channel) else {
                    return self.not_subscribed(&channel, request_id).await;
                };
                if let Some(subscription) = self.subscription.as_mut() {
                    subscription.set_filter(channel.clone(), keys);
                }
                self.send_json(
                    &json!({"type": "filter_set", "request_id": request_id, "channel": &*channel}),
                )
                .await
            }
            ClientMessage::RequestSnapshot {
                channel,
                request_id,
            } => {
                let Some(channel) = self.subscribed(&channel) else {
                    return self.not_subscribed(&channel, request_id).await;
                };
                let Some(subscription) = self.subscription.as_mut() else {
                    return Ok(());
                };
                let (pending, snapshot) = subscription.snapshot_of(channel);
                self.deliver(pending).await?;
                let frame = with_request_id(snapshot.ws_json(), request_id.as_ref());
                self.send_frame(frame, 1).await
            }
            ClientMessage::Publish {
                channel,
                event,
                key,
                data,
                request_id,
            } => {
                let event = match publish::validate(PublishRequest {
                    channel,
                    event,
                    key,
                    data,
                }) {
                    Ok(event) => event,
                    Err(error) => return self.api_error(error, request_id).await,
                };
                match self.state.hub.publish_batch(std::slice::from_ref(&event)) {
                    Ok(positions) => {
                        let id: Option<&Position> = positions.first();
                        self.send_json(
                            &json!({"type": "published", "request_id": request_id, "id": id}),
                        )
                        .await
                    }
                    Err(error) => {
                        self.error("invalid_message", &error.to_string(), request_id)
                            .await
                    }
                }
            }
            ClientMessage::Ping { request_id } => {
                self.send_json(&json!({"type": "pong", "request_id": request_id}))
                    .await
            }
            ClientMessage::SetVisibility { hidden, request_id } => {
                self.hidden = hidden;
                let window = self.window();
                if let Some(subscription) = self.subscription.as_mut() {
                    subscription.set_window(window);
                }
                let reply =
                    json!({"type": "visibility_set", "request_id": request_id, "hidden": hidden});
                self.send_json(&reply).await
            }
        }
    }

    fn subscribed(&self, channel: &str) -> Option<Arc<str>> {
        self.subscription
            .as_ref()?
            .channels()
            .iter()
            .find(|c| &***c == channel)
            .cloned()
    }

    async fn not_subscribed(
        &mut self,
        channel: &str,
        request_id: Option<Value>,
    ) -> Result<(), End> {
        let message = format!(
            "not subscribed to {:?}",
            channel.chars().take(140).collect::<String>()
        );
        self.error("not_subscribed", &message, request_id).await
    }

    async fn api_error(&mut self, error: ApiError, request_id: Option<Value>) -> Result<(), End> {
        self.error(error.code(), &error.to_string(), request_id)
            .await
    }

    async fn error(
        &mut self,
        code: &str,
        message: &str,
        request_id: Option<Value>,
    ) -> Result<(), End> {
        self.state.counters.rejected.fetch_add(1, Relaxed);
        self.send_json(
            &json!({"type": "error", "code": code, "message": message, "request_id": request_id}),
        )
        .await
    }

    async fn deliver(&mut self, batch: Vec<Delivery>) -> Result<(), End> {
        for delivery in batch {
            self.send_frame(delivery.ws_json().clone(), 1).await?;
        }
        Ok(())
    }

    async fn ping(&mut self, heartbeat: Duration) -> Result<(), End> {
        if self.last_heard.elapsed() > heartbeat * 2 {
            return Err(End::Close(close_code::POLICY, "no answer to pings"));
        }
        self.write(Message::Ping(Bytes::new())).await?;
        // Browsers answer pings but never show them to the page: this
        // message is what the page's watchdog sees.
        self.send_frame(Bytes::from_static(br#"{"type":"heartbeat"}"#), 0)
            .await
    }

    async fn send_json(&mut self, value: &Value) -> Result<(), End> {
        self.send_frame(Bytes::from(value.to_string()), 0).await
    }

    /// Sends a text frame; `events` is how many events it carries (for the counters).
    async fn send_frame(&mut self, frame: Bytes, events: usize) -> Result<(), End> {
        let text = Utf8Bytes::try_from(frame)
            .map_err(|_| End::Close(close_code::ERROR, "internal error"))?;
        self.write(Message::Text(text)).await?;
        self.state.counters.delivered(Transport::Ws, events);
        Ok(())
    }

    async fn write(&mut self, message: Message) -> Result<(), End> {
        match timeout(WRITE_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Client),
            Err(_) => {
                self.state.counters.slow_disconnects.fetch_add(1, Relaxed);
                tracing::info!("closing a websocket client that does not read");
                Err(End::Close(close_code::POLICY, "client too slow"))
            }
        }
    }
}

async fn next_batch(subscription: &mut Option<Subscription>) -> Option<Vec<Delivery>> {
    match subscription {
        Some(subscription) => subscription.next_batch(MAX_BATCH).await,
        None => std::future::pending().await,
    }
}

/// `{"type":...,"request_id":<id>, ...}` from a `{"type":..., ...}` frame.
fn with_request_id(frame: &Bytes, request_id: Option<&Value>) -> Bytes {
    let Some(id) = request_id else {
        return frame.clone();
    };
    let mut out = Vec::with_capacity(frame.len() + 32);
    out.extend_from_slice(b"{\"request_id\":");
    out.extend_from_slice(id.to_string().as_bytes());
    out.push(b',');
    out.extend_from_slice(frame.get(1..).unwrap_or_default());
    Bytes::from(out)
}
