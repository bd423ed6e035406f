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

use std::{sync::Arc, time::Duration};

use app::protocol::{ClientMessage, ServerMessage, MAX_CHANNELS_PER_SUBSCRIPTION, MAX_FILTER_KEYS};
use axum::{
    extract::{
        ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
};
use bytes::Bytes;
use serde_json::Value;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

use crate::{
    annotations::Annotations,
    counters::Transport,
    error::ApiError,
    hub::{wire, Delivery, Hub, SubscribeRequest, Subscription},
    publish::{self, PublishRequest, Publisher},
    transport::{parse_channels_list, parse_position, validate_filter, StreamSlot, Streams},
};

/// Largest message the protocol accepts; larger ones get an error.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest frame the socket reads at all; larger ones close the connection
/// (1009), since reading them is already the cost.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// How long one write may take before the client is deemed not reading:
/// the connection's own write deadline, checked here too so the client
/// gets a close frame that says why.
pub const WRITE_TIMEOUT: Duration = crate::http::WRITE_TIMEOUT;
/// Most deliveries written per batch.
const MAX_BATCH: usize = 256;
/// The delivery window of latest-value channels while the page is hidden.
const HIDDEN_WINDOW: Duration = Duration::from_secs(1);
/// What a connection's read buffer starts at (it grows to the frame being
/// read, up to `MAX_FRAME_BYTES`).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// `request_snapshot`s a connection may make in a burst...
const SNAPSHOT_BURST: f64 = 5.0;
/// ...and per second after it.
const SNAPSHOTS_PER_SECOND: f64 = 1.0;

/// Upgrades the connection, if a stream slot is free (503 otherwise).
pub async fn handler(
    State(publisher): State<Publisher>,
    State(streams): State<Streams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let slot = streams.admit(Transport::Ws)?;
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // The library's defaults allocate 128 KiB per connection up front
        // for reading; client messages are small, and the buffer grows to
        // the frame being read when one is larger.
        .read_buffer_size(READ_BUFFER_BYTES)
        // Every message is written (and flushed) as it is sent: nothing to
        // gather, so nothing is held between sends.
        .write_buffer_size(0)
        .on_upgrade(move |socket| Connection::new(socket, publisher, streams, slot).run()))
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
    hub: Hub,
    annotations: Annotations,
    streams: Streams,
    _slot: StreamSlot,
    subscription: Option<Subscription>,
    last_heard: Instant,
    /// The client's page is hidden: coalesce harder.
    hidden: bool,
    snapshots: TokenBucket,
}

/// A rate limit: `burst` at once, then `rate` per second.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    updated: Instant,
}

impl TokenBucket {
    fn new(burst: f64, rate: f64) -> Self {
        Self {
            tokens: burst,
            burst,
            rate,
            updated: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.updated).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Connection {
    fn new(socket: WebSocket, publisher: Publisher, streams: Streams, slot: StreamSlot) -> Self {
        Self {
            socket,
            hub: publisher.hub,
            annotations: publisher.annotations,
            streams,
            _slot: slot,
            subscription: None,
            last_heard: Instant::now(),
            hidden: false,
            snapshots: TokenBucket::new(SNAPSHOT_BURST, SNAPSHOTS_PER_SECOND),
        }
    }

    /// Where this connection's `publish` messages go.
    fn publisher(&self) -> Publisher {
        Publisher {
            hub: self.hub.clone(),
            annotations: self.annotations.clone(),
        }
    }

    /// The delivery window for latest-value channels: the configured one,
    /// or at least a second while the client's page is hidden.
    fn window(&self) -> Duration {
        let configured = self.hub.coalesce_window();
        if self.hidden {
            configured.max(HIDDEN_WINDOW)
        } else {
            configured
        }
    }

    async fn run(mut self) {
        let shutdown = self.streams.shutdown.clone().wait();
        tokio::pin!(shutdown);
        let heartbeat = self.streams.heartbeat;
        let mut pings = interval_at(Instant::now() + heartbeat, heartbeat);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);

        // Every branch raced here is cancel safe: `WebSocket::recv`, the
        // interval's tick, the shutdown watch, and `next_batch`, whose
        // partial batch waits in the subscription (see its docs). The loser
        // of a round loses nothing.
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
        match value.get("type").and_then(Value::as_str) {
            Some(kind) if ClientMessage::TYPES.contains(&kind) => {}
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
        // A position that does not parse gets its own code, as on SSE and polls.
        if let Some(since) = value.get("since").and_then(Value::as_str) {
            if let Err(error) = parse_position(since) {
                return self.api_error(error, request_id).await;
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
                let (channels, filters) = match self.check_subscribe(&channels, filter) {
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
                        let mut subscription = self.hub.subscribe_with(SubscribeRequest {
                            channels,
                            since,
                            fresh: Vec::new(),
                            filters,
                        });
                        subscription.set_window(self.window());
                        self.subscription.insert(subscription)
                    }
                };
                let reply = ServerMessage::Subscribed {
                    request_id,
                    channels: names(subscription.channels()),
                };
                self.send_message(&reply).await
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
                let reply = ServerMessage::Unsubscribed {
                    request_id,
                    channels: names(&removed),
                };
                self.send_message(&reply).await
            }
            ClientMessage::SetFilter {
                channel,
                keys,
                request_id,
            } => {
                let Some(channel) = self.subscribed(&channel) else {
                    return self.not_subscribed(&channel, request_id).await;
                };
                let Some(subscription) = self.subscription.as_mut() else {
                    return Ok(());
                };
                let others = subscription.filter_keys() - subscription.filter_keys_of(&channel);
                if others + keys.as_ref().map_or(0, Vec::len) > MAX_FILTER_KEYS {
                    let error = ApiError::invalid(
                        "invalid_filter",
                        format!("the filters of a connection name at most {MAX_FILTER_KEYS} keys"),
                    );
                    return self.api_error(error, request_id).await;
                }
                subscription.set_filter(channel.clone(), keys);
                let reply = ServerMessage::FilterSet {
                    request_id,
                    channel: channel.to_string(),
                };
                self.send_message(&reply).await
            }
            ClientMessage::RequestSnapshot {
                channel,
                request_id,
            } => {
                let Some(channel) = self.subscribed(&channel) else {
                    return self.not_subscribed(&channel, request_id).await;
                };
                if !self.snapshots.take() {
                    let error = ApiError::RateLimited {
                        code: "rate_limited",
                        message: format!(
                            "at most {SNAPSHOT_BURST} snapshots at once and {SNAPSHOTS_PER_SECOND} per second after; the subscription stays current without them"
                        ),
                    };
                    return self.api_error(error, request_id).await;
                }
                let Some(subscription) = self.subscription.as_mut() else {
                    return Ok(());
                };
                let (pending, snapshot) = subscription.snapshot_of(channel);
                self.deliver(pending).await?;
                let frame = wire::with_request_id(snapshot.ws_json(), request_id.as_ref());
                self.send_frame(frame, 1).await
            }
            ClientMessage::Publish {
                channel,
                event,
                key,
                data,
                request_id,
            } => {
                let published = match publish::validate(PublishRequest {
                    channel,
                    event,
                    key,
                    data,
                }) {
                    Ok(event) => self.publisher().publish_async(vec![event]).await,
                    Err(error) => Err(error),
                };
                match published.map(|(ids, _)| ids.first().copied()) {
                    Ok(Some(id)) => {
                        self.send_message(&ServerMessage::Published { request_id, id })
                            .await
                    }
                    Ok(None) => Ok(()),
                    Err(error) => self.api_error(error, request_id).await,
                }
            }
            ClientMessage::Ping { request_id } => {
                self.send_message(&ServerMessage::Pong { request_id }).await
            }
            ClientMessage::SetVisibility { hidden, request_id } => {
                self.hidden = hidden;
                let window = self.window();
                if let Some(subscription) = self.subscription.as_mut() {
                    subscription.set_window(window);
                }
                self.send_message(&ServerMessage::VisibilitySet { request_id, hidden })
                    .await
            }
        }
    }

    /// Validates a `subscribe`: channel names, the per-connection channel
    /// cap, and the filters (at most [`MAX_FILTER_KEYS`] keys over the
    /// connection's channels).
    #[allow(clippy::type_complexity)]
    fn check_subscribe(
        &self,
        channels: &[String],
        filter: Option<std::collections::HashMap<String, Vec<String>>>,
    ) -> Result<
        (
            Vec<Arc<str>>,
            std::collections::HashMap<Arc<str>, std::collections::HashSet<Arc<str>>>,
        ),
        ApiError,
    > {
        let channels = parse_channels_list(channels)?;
        let current = self.subscription.as_ref();
        let existing = current.map_or(0, |s| s.channels().len());
        let added = channels
            .iter()
            .filter(|c| !current.is_some_and(|s| s.channels().contains(c)))
            .count();
        if existing + added > MAX_CHANNELS_PER_SUBSCRIPTION {
            return Err(ApiError::invalid(
                "too_many_channels",
                format!("at most {MAX_CHANNELS_PER_SUBSCRIPTION} channels per connection"),
            ));
        }
        let filters = validate_filter(filter.unwrap_or_default(), &channels)?;
        let replaced: usize = filters
            .keys()
            .map(|c| current.map_or(0, |s| s.filter_keys_of(c)))
            .sum();
        let total = current.map_or(0, Subscription::filter_keys) - replaced
            + filters.values().map(|k| k.len()).sum::<usize>();
        if total > MAX_FILTER_KEYS {
            return Err(ApiError::invalid(
                "invalid_filter",
                format!("the filters of a connection name at most {MAX_FILTER_KEYS} keys"),
            ));
        }
        Ok((channels, filters))
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
        self.streams
            .counters
            .rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send_message(&ServerMessage::error(code, message, request_id))
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
        self.send_message(&ServerMessage::Heartbeat).await
    }

    async fn send_message(&mut self, message: &ServerMessage) -> Result<(), End> {
        self.send_frame(Bytes::from(message.to_json()), 0).await
    }

    /// Sends a text frame; `events` is how many events it carries (for the counters).
    async fn send_frame(&mut self, frame: Bytes, events: usize) -> Result<(), End> {
        let text = Utf8Bytes::try_from(frame)
            .map_err(|_| End::Close(close_code::ERROR, "internal error"))?;
        self.write(Message::Text(text)).await?;
        self.streams.counters.delivered(Transport::Ws, events);
        Ok(())
    }

    async fn write(&mut self, message: Message) -> Result<(), End> {
        match timeout(WRITE_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Client),
            Err(_) => {
                self.streams
                    .counters
                    .slow_disconnects
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("closing a websocket client that does not read");
                Err(End::Close(close_code::POLICY, "client too slow"))
            }
        }
    }
}

/// The next batch of the connection's subscription; pending forever
/// without one.
///
/// # Cancel safety
///
/// Cancel safe, as [`Subscription::next_batch`] is.
async fn next_batch(subscription: &mut Option<Subscription>) -> Option<Vec<Delivery>> {
    match subscription {
        Some(subscription) => subscription.next_batch(MAX_BATCH).await,
        None => std::future::pending().await,
    }
}

fn names(channels: &[Arc<str>]) -> Vec<String> {
    channels.iter().map(|c| c.to_string()).collect()
}
