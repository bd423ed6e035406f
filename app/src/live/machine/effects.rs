//! What comes out of the [`Machine`](super::Machine): the [`Effect`]s the
//! browser glue carries out, and the [`Status`] the page shows.

use crate::{
    live::{
        frame::Delivery,
        state::{ConnectionState, Transport},
        subscription::Subscription,
    },
    protocol::ClientMessage,
};

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open connection `generation` (any earlier one is closed first).
    Open {
        /// Tags the connection's reports.
        generation: u64,
        /// On which transport, asking for what.
        open: Open,
    },
    /// Close the connection; it must report nothing more.
    Close,
    /// Send over the open WebSocket; if it cannot go now, report
    /// [`Input::Unsent`](super::Input::Unsent) so it waits in the outbox.
    Send(ClientMessage),
    /// Send over the open WebSocket if it can go now; otherwise drop it
    /// (it describes the current state, which the next socket sends anew).
    TrySend(ClientMessage),
    /// Make one poll request on connection `generation` and report its
    /// answer or failure.
    Poll {
        /// The polling connection.
        generation: u64,
        /// What to ask for (`since` is where the next poll continues).
        request: Subscription,
        /// How long the server may hold the request, in seconds.
        timeout_s: f64,
    },
    /// Feed [`Input::TimerFired`](super::Input::TimerFired) with `timer` after `delay_ms`.
    Schedule {
        /// Which timer.
        timer: Timer,
        /// In milliseconds.
        delay_ms: u64,
    },
    /// Hand a delivery to the store.
    Deliver(Delivery),
    /// Show this status.
    Status(Status),
    /// Log a warning for a person.
    Warn(String),
}

/// A connection to open.
#[derive(Clone, Debug, PartialEq)]
pub enum Open {
    /// An `EventSource` asking for this.
    Sse(Subscription),
    /// A WebSocket; it subscribes once open (see [`Report::SocketOpened`](super::Report::SocketOpened)).
    Ws,
    /// Polling; the requests follow as [`Effect::Poll`].
    Poll,
}

impl Open {
    /// The transport.
    pub fn transport(&self) -> Transport {
        match self {
            Open::Sse(_) => Transport::Sse,
            Open::Ws => Transport::Ws,
            Open::Poll => Transport::Poll,
        }
    }
}

/// A timer: its kind and the id that tells a current one from a superseded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// What it is for.
    pub kind: TimerKind,
    /// Unique per machine.
    pub id: u64,
}

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// The next reconnection attempt.
    Retry,
    /// The next poll request (after a hidden page's pause or while the
    /// circuit breaker is open).
    Poll,
}

/// What the page shows about the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Where the connection stands.
    pub state: ConnectionState,
    /// The transport in use (or being tried).
    pub transport: Transport,
    /// The transport the user pinned, if any.
    pub pinned: Option<Transport>,
    /// Messages waiting for a WebSocket to carry them.
    pub queued: usize,
}
