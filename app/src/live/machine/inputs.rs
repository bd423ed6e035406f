//! What goes into the [`Machine`](super::Machine): its settings, what the
//! browser says at each step ([`Env`]), and the [`Input`]s, among them what
//! a connection [`Report`]s.

use serde_json::Value;

use super::Timer;
use crate::{
    live::{backoff::Backoff, interest::Interest, state::Transport},
    protocol::{ClientMessage, Envelope, PollReply, Position, ServerMessage},
};

/// How often the glue feeds [`Input::Tick`].
pub const TICK_MS: u64 = 250;

/// How the client connects.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The channels (and keys) to subscribe to at first.
    pub interest: Interest,
    /// Where to resume from on the first connection.
    pub since: Option<Position>,
    /// A transport the user pinned.
    pub pinned: Option<Transport>,
    /// The transport to use when it works.
    pub preferred: Transport,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Failed attempts before giving up (`None`: never give up).
    pub max_failures: Option<u32>,
    /// The server's heartbeat interval.
    pub heartbeat_ms: u64,
    /// Whether the page is hidden at the start.
    pub hidden: bool,
    /// Which transports this browser has.
    pub available: Available,
    /// Seeds the reconnection jitter.
    pub seed: u64,
}

/// Which transports the browser has (polling needs only `fetch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    /// `EventSource` exists.
    pub sse: bool,
    /// `WebSocket` exists.
    pub ws: bool,
}

impl Available {
    /// Whether `transport` exists here.
    pub fn has(&self, transport: Transport) -> bool {
        match transport {
            Transport::Sse => self.sse,
            Transport::Ws => self.ws,
            Transport::Poll => true,
        }
    }
}

/// What the browser says at the moment of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// The page clock (`performance.now()`), in milliseconds.
    pub now_ms: u64,
    /// `navigator.onLine`.
    pub online: bool,
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The page started the client.
    Start,
    /// Connection `generation` reports.
    Report {
        /// Which connection (see [`Effect::Open`](super::Effect::Open)).
        generation: u64,
        /// What it reports.
        report: Report,
    },
    /// A timer set by [`Effect::Schedule`](super::Effect::Schedule) fired.
    TimerFired(Timer),
    /// The clock ticked (every [`TICK_MS`]): time to check for silence and
    /// to probe.
    Tick,
    /// The browser's `online` event.
    Online,
    /// The browser's `offline` event.
    Offline,
    /// The page was hidden or shown.
    VisibilityChanged {
        /// True when hidden.
        hidden: bool,
    },
    /// The user pinned a transport (`None`: automatic).
    Pin(Option<Transport>),
    /// The user clicked Reconnect.
    Reconnect,
    /// The page lost events it could not hold: start over from a snapshot.
    Resync,
    /// The mounted widgets now need this.
    SetInterest(Interest),
    /// The page publishes an event (see [`Machine::can_publish`](super::Machine::can_publish)).
    Publish {
        /// The channel.
        channel: String,
        /// The event type.
        event: String,
        /// The payload.
        data: Value,
    },
    /// An [`Effect::Send`](super::Effect::Send) could not go out: the socket was not open.
    Unsent(ClientMessage),
}

/// What a connection reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// WebSocket: the socket is open (subscriptions not yet confirmed).
    SocketOpened,
    /// SSE: the stream is open (it may not deliver anything yet).
    Opened,
    /// SSE: a heartbeat.
    Heartbeat,
    /// SSE: an event, snapshot or reset.
    Envelope(Envelope<Value>),
    /// WebSocket: a message from the server.
    Message(ServerMessage),
    /// Polling: the answer to [`Effect::Poll`](super::Effect::Poll).
    PollAnswered(PollReply),
    /// Polling: the request failed.
    PollFailed,
    /// The connection failed or ended.
    Failed,
}
