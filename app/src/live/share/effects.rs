//! What comes out of a [`Share`](super::Share): the [`ShareEffect`]s the
//! browser glue carries out, and the [`TabStatus`] the page shows.

use serde::{Deserialize, Serialize};

use super::TabMessage;
use crate::live::{
    frame::Delivery,
    machine::{Effect, Status},
    subscription::Subscription,
};

/// What this tab is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// It has its own connection: the browser cannot share one.
    Solo,
    /// It holds the shared connection.
    Leader,
    /// It receives through the leader.
    Follower,
}

impl Role {
    /// The stable name (`data-role`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Solo => "solo",
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// What the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TabStatus {
    /// The connection's status (the leader's, in a follower).
    pub status: Status,
    /// What this tab is.
    pub role: Role,
    /// The tabs sharing the connection (1 when alone).
    pub tabs: usize,
    /// Whether this tab can publish now.
    pub can_publish: bool,
}

/// What to do.
#[derive(Clone, Debug, PartialEq)]
pub enum ShareEffect {
    /// Carry out an effect of the connection machine of leadership `term`;
    /// its reports and timers come back as [`ShareInput::Machine`] with
    /// this term.
    Connection {
        /// The leadership.
        term: u64,
        /// What to do.
        effect: Effect,
    },
    /// Post to the other tabs.
    Post(TabMessage),
    /// Hand a delivery to this tab's store.
    Deliver(Delivery),
    /// Show this status.
    Status(TabStatus),
    /// Take the lock from a leader that stopped answering.
    StealLock,
    /// Make one immediate poll (`timeout=0`) and report it as
    /// [`ShareInput::CaughtUp`] or [`ShareInput::CatchUpFailed`].
    CatchUp {
        /// Which catch-up.
        id: u64,
        /// What to ask for.
        request: Subscription,
    },
    /// Log a warning for a person.
    Warn(String),
}
