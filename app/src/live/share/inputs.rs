//! What goes into a [`Share`](super::Share): what the other tabs post
//! ([`TabMessage`], over the `BroadcastChannel`, as JSON) and everything
//! else that happens to a tab ([`ShareInput`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::TabId;
use crate::{
    live::{
        frame::Delivery,
        interest::Interest,
        machine::{Input, Status},
        state::Transport,
    },
    protocol::PollReply,
};

/// What tabs tell each other over the `BroadcastChannel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabMessage {
    /// A tab is there and needs this.
    Here {
        /// Who.
        tab: TabId,
        /// What its widgets need.
        interest: Interest,
        /// Whether it is hidden.
        hidden: bool,
    },
    /// A tab goes away.
    Bye {
        /// Who.
        tab: TabId,
    },
    /// The leader is there; this is the shared connection's status.
    Leader {
        /// Who leads.
        tab: TabId,
        /// The connection's status.
        status: Status,
        /// The tabs sharing it, the leader included.
        tabs: usize,
        /// Whether the connection can publish (not pinned to SSE or polls).
        can_publish: bool,
    },
    /// A delivery of the leader's connection.
    Relay {
        /// From which leader.
        tab: TabId,
        /// What arrived.
        delivery: Delivery,
    },
    /// A follower asks the leader to publish.
    Publish {
        /// Who asks.
        tab: TabId,
        /// The channel.
        channel: String,
        /// The event type.
        event: String,
        /// The payload.
        data: Value,
    },
    /// A follower pins a transport (`None`: automatic) for everyone.
    Pin {
        /// Who asks.
        tab: TabId,
        /// The transport.
        pinned: Option<Transport>,
    },
    /// A follower's user clicked Reconnect.
    Reconnect {
        /// Who asks.
        tab: TabId,
    },
}

/// Something that happened to this tab.
#[derive(Clone, Debug, PartialEq)]
pub enum ShareInput {
    /// The page started (`shared`: the browser has Web Locks and
    /// `BroadcastChannel`).
    Start {
        /// Whether tabs can share.
        shared: bool,
    },
    /// The lock was granted: lead.
    LockAcquired,
    /// Another tab took the lock: follow.
    LockLost,
    /// Another tab posted this.
    Tab(TabMessage),
    /// Something for the connection machine of leadership `term` (a
    /// connection's report or a timer it set).
    Machine {
        /// The leadership it belongs to.
        term: u64,
        /// What happened.
        input: Input,
    },
    /// Something that happened to the page: [`Input::Tick`], online,
    /// offline, visibility, the user's actions, interest, publishing,
    /// resynchronising.
    Page(Input),
    /// Catch-up poll `id` answered.
    CaughtUp {
        /// Which catch-up.
        id: u64,
        /// The answer.
        reply: PollReply,
    },
    /// Catch-up poll `id` failed.
    CatchUpFailed {
        /// Which catch-up.
        id: u64,
    },
    /// The page is going away.
    Leaving,
}
