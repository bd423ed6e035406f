//! One connection for every tab of a browser: which tab holds it, what it
//! subscribes to, and how its events reach the other tabs.
//!
//! A browser allows six HTTP/1.1 connections to one host; six tabs with an
//! event stream each would leave a seventh nothing to load its page with.
//! So the tabs of one browser elect a *leader* (the tab holding a Web Lock):
//! it alone runs the connection [`Machine`], subscribed to the union of
//! every tab's [`Interest`], and relays each delivery to the other tabs (the
//! *followers*) over a `BroadcastChannel`. Followers send through it
//! (publishes, a pinned transport, Reconnect) and show its status.
//!
//! [`Share`] is the pure state machine behind that, like [`Machine`]: it
//! takes [`ShareInput`]s and returns [`ShareEffect`]s, and the browser glue
//! (`client`) carries them out (posting [`TabMessage`]s, asking for the
//! lock, opening connections).
//!
//! - **Election.** The glue asks for the lock at start. The tab it is
//!   granted to leads ([`ShareInput::LockAcquired`]); when that tab closes or
//!   crashes the browser grants it to the next. A leader posts
//!   [`TabMessage::Leader`] every [`LEADER_BEAT_MS`]; a follower that hears
//!   nothing from any leader for [`LEADER_SILENCE_MS`] (a frozen or hung
//!   tab) takes the lock from it ([`ShareEffect::StealLock`]); a leader
//!   whose lock is taken ([`ShareInput::LockLost`]) closes its connection
//!   and follows.
//! - **Interest.** Every tab posts what it needs ([`TabMessage::Here`]) at
//!   start, on every change and every [`TAB_BEAT_MS`], and
//!   [`TabMessage::Bye`] when it goes away; a tab not heard from for
//!   [`TAB_SILENCE_MS`] no longer counts. The leader subscribes to the
//!   union of the visible tabs' interests (of all tabs when none is
//!   visible): channels a hidden tab alone wants are dropped, and when it
//!   shows again they come back with a snapshot, as on any page.
//! - **Positions.** Each relay carries its log position. Every tab keeps the
//!   position through which it holds everything it needs (`complete`) and
//!   applies an event only past it, so an event relayed twice (after a
//!   hand-over) is applied once. A new leader resumes from its own
//!   `complete`, the last relay it saw: the tabs all saw the same relays,
//!   so none misses an event or gets one twice, whichever transport the new
//!   connection uses.
//! - **Joining.** A tab that joins holds the state its page was rendered
//!   with, at some position; the leader's relays are already past it. So a
//!   follower first catches up by itself with plain polls from that position
//!   ([`ShareEffect::CatchUp`]; a poll answers at once and holds no
//!   connection), keeping the relays that arrive meanwhile, then applies
//!   both in order, each position once.
//!
//! Its interface is in `inputs` and `effects`; what a tab makes of the
//! other tabs' messages is in `tabs`, of its own page's events in `page`,
//! and a joining follower's catch-up in `catch_up`.
//!
//! Where the browser has no Web Locks or `BroadcastChannel`, the tab runs
//! its own connection ([`ShareInput::Start`] with `shared: false`),
//! preferring a WebSocket, which does not count against the six.

use std::collections::BTreeMap;

use crate::{
    live::{
        frame::Delivery,
        interest::Interest,
        machine::{Effect, Env, Input, Machine, Settings, Status},
        resume::ResumePoint,
        state::{ConnectionState, Transport},
    },
    protocol::Position,
};

/// A tab, as the others know it: a random number drawn at start.
pub type TabId = u64;

/// How often the leader says it is there.
pub const LEADER_BEAT_MS: u64 = 500;
/// A follower that hears nothing from a leader for this long takes over.
pub const LEADER_SILENCE_MS: u64 = 1_500;
/// How often each tab says what it needs.
pub const TAB_BEAT_MS: u64 = 1_000;
/// A tab not heard from for this long no longer counts.
pub const TAB_SILENCE_MS: u64 = 5_000;
/// Most relays a catching-up tab keeps; past it, it starts over from a
/// snapshot.
pub const MAX_HELD_RELAYS: usize = 10_000;
/// Most polls one catch-up makes (each answers at most 1,000 events);
/// past it, the tab starts over from a snapshot.
const MAX_CATCH_UP_POLLS: u32 = 20;

/// Another tab, as last heard.
#[derive(Clone, Debug)]
struct Peer {
    interest: Interest,
    hidden: bool,
    heard_ms: u64,
}

/// What the leader last said.
#[derive(Clone, Copy, Debug)]
struct LeaderWord {
    tab: TabId,
    status: Status,
    tabs: usize,
    can_publish: bool,
    heard_ms: u64,
}

/// A follower catching up from its page's position.
#[derive(Clone, Debug)]
struct CatchUp {
    /// The poll under way (`None`: the last one failed; the next tick
    /// asks again).
    in_flight: Option<u64>,
    polls: u32,
    /// Relays that arrived meanwhile, in order.
    held: Vec<Delivery>,
}

/// One tab's share of the browser's connection.
#[derive(Debug)]
pub struct Share {
    me: TabId,
    settings: Settings,
    role: Role,
    /// The connection machine, while this tab runs the connection.
    machine: Option<Machine>,
    /// Bumped whenever a machine starts or stops, so reports and timers of
    /// an earlier one find nothing.
    term: u64,
    interest: Interest,
    hidden: bool,
    peers: BTreeMap<TabId, Peer>,
    leader: Option<LeaderWord>,
    /// Everything this tab needs is applied through here.
    complete: ResumePoint,
    catch_up: Option<CatchUp>,
    next_catch_up: u64,
    /// When a leader was last heard from, or the tab started following.
    waiting_since_ms: u64,
    stealing: bool,
    last_beat_ms: u64,
    last_leader_beat_ms: u64,
    /// The union the machine was last given.
    subscribed: Option<Interest>,
    /// Whether the machine was last told every tab is hidden.
    machine_hidden: Option<bool>,
    shown: Option<TabStatus>,
    effects: Vec<ShareEffect>,
}

impl Share {
    /// A tab that has not started: `me` is its random id; `settings` are the
    /// connection's (their interest is this tab's, `since` where its page's
    /// state stands).
    pub fn new(me: TabId, settings: Settings) -> Self {
        Self {
            me,
            role: Role::Follower,
            machine: None,
            term: 0,
            interest: settings.interest.clone(),
            hidden: settings.hidden,
            peers: BTreeMap::new(),
            leader: None,
            complete: ResumePoint::new(settings.since),
            catch_up: None,
            next_catch_up: 0,
            waiting_since_ms: 0,
            stealing: false,
            last_beat_ms: 0,
            last_leader_beat_ms: 0,
            subscribed: None,
            machine_hidden: None,
            shown: None,
            effects: Vec::new(),
            settings,
        }
    }

    /// This tab's id.
    pub fn id(&self) -> TabId {
        self.me
    }

    /// What this tab is now.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The position through which this tab holds everything it needs.
    pub fn position(&self) -> Option<Position> {
        self.complete.last()
    }

    /// What the page shows now.
    pub fn status(&self) -> TabStatus {
        match (&self.machine, self.role) {
            (Some(machine), role) => TabStatus {
                status: machine.status(),
                role,
                tabs: if role == Role::Solo {
                    1
                } else {
                    1 + self.peers.len()
                },
                can_publish: machine.can_publish(),
            },
            (None, role) => match self.leader {
                Some(word) => TabStatus {
                    status: word.status,
                    role,
                    tabs: word.tabs,
                    can_publish: word.can_publish,
                },
                None => TabStatus {
                    status: Status {
                        state: ConnectionState::Connecting,
                        transport: self.settings.preferred,
                        pinned: self.settings.pinned,
                        queued: 0,
                    },
                    role,
                    tabs: 1 + self.peers.len(),
                    can_publish: false,
                },
            },
        }
    }

    /// Handles one input; returns what to do, in order.
    pub fn step(&mut self, env: Env, input: ShareInput) -> Vec<ShareEffect> {
        match input {
            ShareInput::Start { shared } => self.start(env, shared),
            ShareInput::LockAcquired => self.lead(env),
            ShareInput::LockLost => self.follow(env),
            ShareInput::Tab(message) => self.heard(env, message),
            ShareInput::Machine { term, input } => {
                if term == self.term {
                    self.drive(env, input);
                }
            }
            ShareInput::Page(input) => self.page(env, input),
            ShareInput::CaughtUp { id, reply } => self.caught_up(id, reply),
            ShareInput::CatchUpFailed { id } => {
                if let Some(catch_up) = self.catch_up.as_mut() {
                    if catch_up.in_flight == Some(id) {
                        // The relays are kept meanwhile; the next tick
                        // asks again.
                        catch_up.in_flight = None;
                    }
                }
            }
            ShareInput::Leaving => {
                if self.role != Role::Solo {
                    self.post(TabMessage::Bye { tab: self.me });
                }
                self.stop_machine();
            }
        }
        self.show_status();
        std::mem::take(&mut self.effects)
    }

    fn start(&mut self, env: Env, shared: bool) {
        self.waiting_since_ms = env.now_ms;
        if !shared {
            // Each tab on its own: prefer a WebSocket, which does not hold
            // one of the browser's six HTTP/1.1 connections to the host.
            self.role = Role::Solo;
            if self.settings.available.ws {
                self.settings.preferred = Transport::Ws;
            }
            self.start_machine(env, self.interest.clone());
            return;
        }
        self.role = Role::Follower;
        self.announce(env);
        self.begin_catch_up(self.complete.last());
    }

    /// This tab was granted the lock: it runs the connection from where it
    /// stands, for every tab.
    fn lead(&mut self, env: Env) {
        if self.role == Role::Leader {
            return;
        }
        self.role = Role::Leader;
        self.stealing = false;
        self.leader = None;
        // What a catch-up had not applied yet comes again on the
        // connection: it resumes from `complete`.
        self.catch_up = None;
        let union = self.union();
        self.start_machine(env, union);
        self.beat_leader(env);
    }

    /// Another tab took the lock: stop the connection and follow it.
    fn follow(&mut self, env: Env) {
        if self.role != Role::Leader {
            return;
        }
        self.stop_machine();
        self.role = Role::Follower;
        self.waiting_since_ms = env.now_ms;
    }

    fn start_machine(&mut self, env: Env, interest: Interest) {
        let mut settings = self.settings.clone();
        settings.since = self.complete.last();
        settings.hidden = self.all_hidden();
        settings.interest = interest.clone();
        self.machine_hidden = Some(settings.hidden);
        self.subscribed = Some(interest);
        self.term += 1;
        self.machine = Some(Machine::new(settings));
        self.drive(env, Input::Start);
    }

    fn stop_machine(&mut self) {
        if let Some(machine) = self.machine.take() {
            // Its pinned transport stays this tab's choice.
            self.settings.pinned = machine.status().pinned;
            self.effects.push(ShareEffect::Connection {
                term: self.term,
                effect: Effect::Close,
            });
        }
        self.subscribed = None;
        self.machine_hidden = None;
        self.term += 1;
    }

    /// Feeds the machine and takes its effects: deliveries go to this tab
    /// (and, from a leader, to every tab), its status is the shared one.
    fn drive(&mut self, env: Env, input: Input) {
        let Some(machine) = self.machine.as_mut() else {
            return;
        };
        let effects = machine.step(env, input);
        for effect in effects {
            match effect {
                Effect::Deliver(delivery) => {
                    if self.role == Role::Leader {
                        self.post(TabMessage::Relay {
                            tab: self.me,
                            delivery: delivery.clone(),
                        });
                    }
                    self.apply(delivery);
                }
                Effect::Status(_) => {
                    if self.role == Role::Leader {
                        self.beat_leader(env);
                    }
                }
                Effect::Warn(text) => self.effects.push(ShareEffect::Warn(text)),
                effect => self.effects.push(ShareEffect::Connection {
                    term: self.term,
                    effect,
                }),
            }
        }
    }

    /// Applies a delivery to this tab's store, each position once: events
    /// past `complete` (and wanted here), snapshots at or past it.
    fn apply(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Event(envelope) => {
                let wanted = self
                    .interest
                    .wants(&envelope.channel, envelope.key.as_deref());
                if self.complete.accept(envelope.id) && wanted {
                    self.effects
                        .push(ShareEffect::Deliver(Delivery::Event(envelope)));
                }
            }
            Delivery::Snapshot {
                channels,
                head,
                mut snapshot,
            } => {
                if self
                    .complete
                    .last()
                    .is_some_and(|last| last.epoch == head.epoch && last.seq > head.seq)
                {
                    return;
                }
                self.complete.reset_to(head);
                let channels: Vec<String> = channels
                    .into_iter()
                    .filter(|c| self.interest.channels.contains(c))
                    .collect();
                if channels.is_empty() {
                    return;
                }
                snapshot
                    .events
                    .retain(|e| self.interest.wants(&e.channel, e.key.as_deref()));
                self.effects.push(ShareEffect::Deliver(Delivery::Snapshot {
                    channels,
                    head,
                    snapshot,
                }));
            }
        }
    }

    fn tick(&mut self, env: Env) {
        self.drive(env, Input::Tick);
        if self.role == Role::Solo {
            return;
        }
        if env.now_ms.saturating_sub(self.last_beat_ms) >= TAB_BEAT_MS {
            self.announce(env);
        }
        let before = self.peers.len();
        self.peers
            .retain(|_, peer| env.now_ms.saturating_sub(peer.heard_ms) <= TAB_SILENCE_MS);
        if self.peers.len() != before {
            self.resubscribe(env);
        }
        match self.role {
            Role::Leader => {
                if env.now_ms.saturating_sub(self.last_leader_beat_ms) >= LEADER_BEAT_MS {
                    self.beat_leader(env);
                }
            }
            Role::Follower => {
                let since = self
                    .leader
                    .map_or(self.waiting_since_ms, |word| word.heard_ms);
                if !self.stealing && env.now_ms.saturating_sub(since) > LEADER_SILENCE_MS {
                    // No leader, or one that stopped answering (frozen,
                    // hung): take over.
                    self.stealing = true;
                    self.effects.push(ShareEffect::Warn(format!(
                        "livedash: no word from a leading tab for {} ms; taking over",
                        env.now_ms.saturating_sub(since)
                    )));
                    self.leader = None;
                    self.waiting_since_ms = env.now_ms;
                    self.effects.push(ShareEffect::StealLock);
                } else if self.stealing
                    && env.now_ms.saturating_sub(self.waiting_since_ms) > LEADER_SILENCE_MS
                {
                    // The steal went nowhere; try again.
                    self.stealing = false;
                }
            }
            Role::Solo => {}
        }
        if self
            .catch_up
            .as_ref()
            .is_some_and(|c| c.in_flight.is_none())
        {
            self.poll_catch_up();
        }
    }

    /// The leader gives the machine the union when it changed.
    fn resubscribe(&mut self, env: Env) {
        if self.machine.is_none() {
            return;
        }
        let next = match self.role {
            Role::Solo => self.interest.clone(),
            _ => self.union(),
        };
        if self.subscribed.as_ref() != Some(&next) {
            self.subscribed = Some(next.clone());
            self.drive(env, Input::SetInterest(next));
        }
        let hidden = self.all_hidden();
        if self.machine_hidden != Some(hidden) {
            self.machine_hidden = Some(hidden);
            self.drive(env, Input::VisibilityChanged { hidden });
        }
    }

    /// What the visible tabs need together (all tabs', when none is
    /// visible).
    fn union(&self) -> Interest {
        let mine = (!self.hidden).then_some(&self.interest);
        let mut wanted: Vec<&Interest> = mine
            .into_iter()
            .chain(
                self.peers
                    .values()
                    .filter(|p| !p.hidden)
                    .map(|p| &p.interest),
            )
            .collect();
        if wanted.is_empty() {
            wanted = std::iter::once(&self.interest)
                .chain(self.peers.values().map(|p| &p.interest))
                .collect();
        }
        Interest::union(&wanted)
    }

    fn all_hidden(&self) -> bool {
        match self.role {
            Role::Solo => self.hidden,
            _ => self.hidden && self.peers.values().all(|p| p.hidden),
        }
    }

    fn announce(&mut self, env: Env) {
        if self.role == Role::Solo {
            return;
        }
        self.last_beat_ms = env.now_ms;
        self.post(TabMessage::Here {
            tab: self.me,
            interest: self.interest.clone(),
            hidden: self.hidden,
        });
    }

    fn beat_leader(&mut self, env: Env) {
        let Some(machine) = &self.machine else {
            return;
        };
        if self.role != Role::Leader {
            return;
        }
        self.last_leader_beat_ms = env.now_ms;
        let message = TabMessage::Leader {
            tab: self.me,
            status: machine.status(),
            tabs: 1 + self.peers.len(),
            can_publish: machine.can_publish(),
        };
        self.post(message);
    }

    fn post(&mut self, message: TabMessage) {
        self.effects.push(ShareEffect::Post(message));
    }

    fn show_status(&mut self) {
        let status = self.status();
        if self.shown != Some(status) {
            self.shown = Some(status);
            self.effects.push(ShareEffect::Status(status));
        }
    }
}

mod catch_up;
mod effects;
mod inputs;
mod page;
mod tabs;
#[cfg(test)]
mod tests;

pub use effects::{Role, ShareEffect, TabStatus};
pub use inputs::{ShareInput, TabMessage};
