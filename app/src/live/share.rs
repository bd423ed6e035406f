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
//! Where the browser has no Web Locks or `BroadcastChannel`, the tab runs
//! its own connection ([`ShareInput::Start`] with `shared: false`),
//! preferring a WebSocket, which does not count against the six.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    live::{
        frame::Delivery,
        interest::Interest,
        machine::{Effect, Env, Input, Machine, Settings, Status},
        resume::ResumePoint,
        state::{ConnectionState, Transport},
        subscription::Subscription,
    },
    protocol::{Envelope, PollReply, Position, Snapshot, RESET_EVENT, SNAPSHOT_EVENT},
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

    fn heard(&mut self, env: Env, message: TabMessage) {
        match message {
            TabMessage::Here {
                tab,
                interest,
                hidden,
            } => {
                if tab == self.me {
                    return;
                }
                let new = !self.peers.contains_key(&tab);
                self.peers.insert(
                    tab,
                    Peer {
                        interest,
                        hidden,
                        heard_ms: env.now_ms,
                    },
                );
                self.resubscribe(env);
                if new && self.role == Role::Leader {
                    // Tell the newcomer at once who leads.
                    self.beat_leader(env);
                }
            }
            TabMessage::Bye { tab } => {
                if self.peers.remove(&tab).is_some() {
                    self.resubscribe(env);
                }
                if self.leader.is_some_and(|word| word.tab == tab) {
                    // The lock passes on by itself; wait for the new leader.
                    self.leader = None;
                    self.waiting_since_ms = env.now_ms;
                }
            }
            TabMessage::Leader {
                tab,
                status,
                tabs,
                can_publish,
            } => {
                if tab == self.me || self.role != Role::Follower {
                    // A leader hearing another leader: one of the two lost
                    // the lock and will hear of it.
                    return;
                }
                self.stealing = false;
                self.leader = Some(LeaderWord {
                    tab,
                    status,
                    tabs,
                    can_publish,
                    heard_ms: env.now_ms,
                });
            }
            TabMessage::Relay { tab, delivery } => {
                if let Some(word) = self.leader.as_mut() {
                    if word.tab == tab {
                        word.heard_ms = env.now_ms;
                    }
                }
                if self.role == Role::Solo {
                    return;
                }
                match self.catch_up.as_mut() {
                    Some(catch_up) if catch_up.held.len() < MAX_HELD_RELAYS => {
                        catch_up.held.push(delivery);
                    }
                    Some(_) => {
                        // Too far behind: start over from a snapshot.
                        self.catch_up = None;
                        self.begin_catch_up(None);
                    }
                    // A leader applies only its own connection's
                    // deliveries, but a relay of the leader before it
                    // still counts: its position moves `complete` on.
                    None => self.apply(delivery),
                }
            }
            TabMessage::Publish {
                channel,
                event,
                data,
                ..
            } => {
                if self.machine.is_some() && self.role == Role::Leader {
                    self.drive(
                        env,
                        Input::Publish {
                            channel,
                            event,
                            data,
                        },
                    );
                }
            }
            TabMessage::Pin { pinned, .. } => {
                self.settings.pinned = pinned;
                if self.role == Role::Leader {
                    self.drive(env, Input::Pin(pinned));
                }
            }
            TabMessage::Reconnect { .. } => {
                if self.role == Role::Leader {
                    self.drive(env, Input::Reconnect);
                }
            }
        }
    }

    fn page(&mut self, env: Env, input: Input) {
        match input {
            Input::Tick => self.tick(env),
            Input::VisibilityChanged { hidden } => {
                self.hidden = hidden;
                self.announce(env);
                self.resubscribe(env);
            }
            Input::SetInterest(interest) => {
                self.interest = interest;
                self.announce(env);
                self.resubscribe(env);
            }
            Input::Publish {
                channel,
                event,
                data,
            } => {
                if self.machine.is_some() {
                    self.drive(
                        env,
                        Input::Publish {
                            channel,
                            event,
                            data,
                        },
                    );
                } else {
                    self.post(TabMessage::Publish {
                        tab: self.me,
                        channel,
                        event,
                        data,
                    });
                }
            }
            Input::Pin(pinned) => {
                self.settings.pinned = pinned;
                if self.machine.is_some() {
                    self.drive(env, Input::Pin(pinned));
                } else {
                    self.post(TabMessage::Pin {
                        tab: self.me,
                        pinned,
                    });
                }
            }
            Input::Reconnect => {
                if self.machine.is_some() {
                    self.drive(env, Input::Reconnect);
                } else {
                    self.post(TabMessage::Reconnect { tab: self.me });
                }
            }
            Input::Resync => {
                if self.machine.is_some() {
                    self.drive(env, Input::Resync);
                } else {
                    // This tab dropped events it could not hold: it starts
                    // over from a snapshot of its own channels.
                    self.catch_up = None;
                    self.begin_catch_up(None);
                }
            }
            // Online and offline: the connection's business.
            input => self.drive(env, input),
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

    /// Starts catching up from `since` (`None`: from a snapshot of this
    /// tab's channels).
    fn begin_catch_up(&mut self, since: Option<Position>) {
        if self.role != Role::Follower || self.interest.channels.is_empty() {
            return;
        }
        if since.is_none() {
            self.complete = ResumePoint::new(None);
        }
        self.catch_up = Some(CatchUp {
            in_flight: None,
            polls: 0,
            held: Vec::new(),
        });
        self.poll_catch_up();
    }

    /// Asks for what follows `complete` (one immediate poll).
    fn poll_catch_up(&mut self) {
        let Some(catch_up) = self.catch_up.as_mut() else {
            return;
        };
        if catch_up.polls >= MAX_CATCH_UP_POLLS {
            // Too far behind to read it all: start over from a snapshot.
            self.catch_up = None;
            self.begin_catch_up(None);
            return;
        }
        self.next_catch_up += 1;
        catch_up.in_flight = Some(self.next_catch_up);
        catch_up.polls += 1;
        self.effects.push(ShareEffect::CatchUp {
            id: self.next_catch_up,
            request: Subscription::new(&self.interest, self.complete.last(), &Default::default()),
        });
    }

    fn caught_up(&mut self, id: u64, reply: PollReply) {
        let Some(catch_up) = self.catch_up.take_if(|c| c.in_flight == Some(id)) else {
            return;
        };
        let full = reply.events.len() >= 1_000;
        for envelope in reply.events {
            match to_delivery(envelope) {
                Ok(delivery) => self.apply(delivery),
                Err(warning) => self.effects.push(ShareEffect::Warn(warning)),
            }
        }
        if self
            .complete
            .last()
            .is_none_or(|last| reply.next.is_after(&last))
        {
            self.complete.reset_to(reply.next);
        }
        if full {
            // More to read: the relays wait on.
            self.catch_up = Some(catch_up);
            self.poll_catch_up();
            return;
        }
        for delivery in catch_up.held {
            self.apply(delivery);
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
        let visible: Vec<&Interest> = mine
            .into_iter()
            .chain(
                self.peers
                    .values()
                    .filter(|p| !p.hidden)
                    .map(|p| &p.interest),
            )
            .collect();
        if visible.is_empty() {
            Interest::union(
                std::iter::once(&self.interest).chain(self.peers.values().map(|p| &p.interest)),
            )
        } else {
            Interest::union(visible)
        }
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

/// A delivery from an envelope of a poll answer (snapshots and resets
/// carry a [`Snapshot`]).
fn to_delivery(envelope: Envelope<Value>) -> Result<Delivery, String> {
    if envelope.event != SNAPSHOT_EVENT && envelope.event != RESET_EVENT {
        return Ok(Delivery::Event(envelope));
    }
    let snapshot: Snapshot = serde_json::from_value(envelope.data)
        .map_err(|error| format!("livedash: ignoring a malformed snapshot: {error}"))?;
    Ok(Delivery::snapshot(&envelope.channel, envelope.id, snapshot))
}

#[cfg(test)]
mod tests;
