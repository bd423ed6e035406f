//! The connection manager as a state machine: [`Machine::step`] takes one
//! [`Input`] (something that happened) and returns the [`Effect`]s (what to
//! do about it). It touches no DOM, timer or network: the browser glue
//! (`client`, `connection`) turns page events, timers and transport
//! callbacks into inputs and carries the effects out, and the tests here
//! drive it with a clock of their own.
//!
//! The machine owns at most one connection at a time and decides
//! everything around it: which transport ([`TransportPolicy`]: SSE,
//! WebSocket once the page sends, falling back to polling and probing
//! back), when to reconnect ([`Backoff`](crate::live::backoff::Backoff)
//! with seeded [`Jitter`], at once when the browser comes back online), when a silent connection is dead (no
//! event or heartbeat for twice the server's heartbeat interval, checked on
//! each [`Input::Tick`]), and which events are new ([`ResumePoint`]: every
//! connection resumes from the last position received, so nothing is
//! missed or repeated across reconnects and transport switches).
//!
//! ```text
//! connecting ─open/data─▶ live ─fail/silence─▶ reconnecting(k) ─Retry timer─▶ (connect) ─▶ live
//!      │                   │                      │ k > max_failures ─▶ failed ─Reconnect─▶ (connect)
//!      └───────── Offline ─────────▶ offline ─Online─▶ (connect at once)
//! ```
//!
//! Each connection gets a generation number, carried by its reports; a
//! report from an older generation is ignored, so a connection being torn
//! down cannot disturb its successor. Timers carry an id for the same
//! reason: a timer that was superseded does nothing when it fires.
//!
//! Its interface is in `inputs` and `effects`; what it makes of what
//! arrives is in `receive`, what it sends in `send`, and polling, which it
//! drives one request at a time ([`Effect::Poll`]), in `poll`.

use std::collections::BTreeSet;

use crate::{
    live::{
        backoff::Jitter,
        breaker::CircuitBreaker,
        outbox::Outbox,
        policy::{TransportPolicy, PROBE_EVERY_MS},
        resume::ResumePoint,
        state::{ConnectionState, Transport},
        subscription::Subscription,
    },
    protocol::{ClientMessage, Position},
};

mod effects;
mod inputs;
mod poll;
mod receive;
mod send;
#[cfg(test)]
mod tests;

pub use effects::{Effect, Open, Status, Timer, TimerKind};
pub use inputs::{Available, Env, Input, Report, Settings, TICK_MS};
pub use poll::HIDDEN_POLL_DELAY_MS;

/// The current connection.
#[derive(Clone, Debug)]
struct Link {
    transport: Transport,
    /// The position it resumed from.
    since: Option<Position>,
    /// WebSocket: the socket is open and can carry messages.
    socket_open: bool,
    /// Polling: a request was answered (later ones may wait on the server).
    answered: bool,
}

/// The connection manager's state.
#[derive(Debug)]
pub struct Machine {
    settings: Settings,
    policy: TransportPolicy,
    resume: ResumePoint,
    /// Channels added since the position was taken: they start from a
    /// snapshot, not from the position.
    fresh: BTreeSet<String>,
    breaker: CircuitBreaker,
    jitter: Jitter,
    outbox: Outbox,
    hidden: bool,
    generation: u64,
    link: Option<Link>,
    /// The transport of the current (or last) connection.
    transport: Transport,
    /// The current connection delivered something.
    delivered: bool,
    /// The current connection probes the preferred transport from the fallback.
    probing: bool,
    fallback_since_ms: u64,
    last_activity_ms: u64,
    state: ConnectionState,
    /// Failed attempts since the connection was last live.
    attempt: u32,
    retry_timer: Option<u64>,
    poll_timer: Option<u64>,
    next_timer_id: u64,
    /// The status last shown, so that only changes are.
    shown: Option<Status>,
    /// The effects of the step under way.
    effects: Vec<Effect>,
}

impl Machine {
    /// A machine that has not started; feed it [`Input::Start`].
    pub fn new(settings: Settings) -> Self {
        let policy = TransportPolicy::new(
            settings.pinned,
            settings.preferred,
            settings.available.has(settings.preferred),
        );
        Self {
            resume: ResumePoint::new(settings.since),
            transport: policy.current(),
            policy,
            fresh: BTreeSet::new(),
            breaker: CircuitBreaker::new(3, 5_000),
            jitter: Jitter::new(settings.seed),
            outbox: Outbox::default(),
            hidden: settings.hidden,
            generation: 0,
            link: None,
            delivered: false,
            probing: false,
            fallback_since_ms: 0,
            last_activity_ms: 0,
            state: ConnectionState::Connecting,
            attempt: 0,
            retry_timer: None,
            poll_timer: None,
            next_timer_id: 0,
            shown: None,
            effects: Vec::new(),
            settings,
        }
    }

    /// Handles one input; returns what to do, in order.
    pub fn step(&mut self, env: Env, input: Input) -> Vec<Effect> {
        match input {
            Input::Start => self.start(env),
            Input::Report { generation, report } => self.report(env, generation, report),
            Input::TimerFired(timer) => self.timer_fired(env, timer),
            Input::Tick => self.tick(env),
            Input::Online => {
                if self.state != ConnectionState::Live {
                    self.restart(env);
                }
            }
            Input::Offline => {
                self.retry_timer = None;
                self.generation += 1;
                self.drop_link();
                self.state = ConnectionState::Offline;
            }
            Input::VisibilityChanged { hidden } => {
                self.hidden = hidden;
                if self.socket_open() {
                    self.effects
                        .push(Effect::TrySend(ClientMessage::SetVisibility {
                            hidden,
                            request_id: None,
                        }));
                }
            }
            Input::Pin(pinned) => {
                self.settings.pinned = pinned;
                self.policy = self.policy_for(self.settings.preferred);
                self.restart(env);
            }
            Input::Reconnect => self.restart(env),
            Input::Resync => {
                self.resume = ResumePoint::new(None);
                self.restart(env);
            }
            Input::SetInterest(next) => self.set_interest(env, next),
            Input::Publish {
                channel,
                event,
                data,
            } => self.publish(env, channel, event, data),
            Input::Unsent(message) => self.outbox.push(message),
        }
        self.show_status();
        std::mem::take(&mut self.effects)
    }

    /// Whether the page can publish: not while a transport other than
    /// WebSocket is pinned.
    pub fn can_publish(&self) -> bool {
        self.settings
            .pinned
            .is_none_or(|pinned| pinned == Transport::Ws)
    }

    /// What the page shows now.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            transport: self.transport,
            pinned: self.settings.pinned,
            queued: self.outbox.len(),
        }
    }

    /// The last position received.
    pub fn position(&self) -> Option<Position> {
        self.resume.last()
    }

    fn start(&mut self, env: Env) {
        self.fallback_since_ms = env.now_ms;
        self.last_activity_ms = env.now_ms;
        if env.online {
            self.connect(env);
        } else {
            self.state = ConnectionState::Offline;
        }
    }

    fn policy_for(&self, preferred: Transport) -> TransportPolicy {
        TransportPolicy::new(
            self.settings.pinned,
            preferred,
            self.settings.available.has(preferred),
        )
    }

    fn socket_open(&self) -> bool {
        self.link
            .as_ref()
            .is_some_and(|link| link.transport == Transport::Ws && link.socket_open)
    }

    /// What a connection (or a poll) from `since` asks for now.
    fn subscription(&self, since: Option<Position>) -> Subscription {
        Subscription::new(&self.settings.interest, since, &self.fresh)
    }

    fn schedule(&mut self, kind: TimerKind, delay_ms: u64) -> u64 {
        self.next_timer_id += 1;
        let timer = Timer {
            kind,
            id: self.next_timer_id,
        };
        self.effects.push(Effect::Schedule { timer, delay_ms });
        timer.id
    }

    /// Closes the current connection, if any; its poll timer goes with it.
    fn drop_link(&mut self) {
        self.poll_timer = None;
        if self.link.take().is_some() {
            self.effects.push(Effect::Close);
        }
    }

    /// Opens a new connection, replacing the current one.
    fn connect(&mut self, env: Env) {
        self.drop_link();
        self.generation += 1;
        self.transport = if self.probing {
            self.settings.preferred
        } else {
            self.policy.current()
        };
        self.delivered = false;
        self.last_activity_ms = env.now_ms;
        let since = self.resume.last();
        self.link = Some(Link {
            transport: self.transport,
            since,
            socket_open: false,
            answered: false,
        });
        let open = match self.transport {
            Transport::Sse => Open::Sse(self.subscription(since)),
            Transport::Ws => Open::Ws,
            Transport::Poll => Open::Poll,
        };
        self.effects.push(Effect::Open {
            generation: self.generation,
            open,
        });
        self.poll(env);
    }

    /// Drops any scheduled attempt and connects now (or waits for the
    /// network).
    fn restart(&mut self, env: Env) {
        self.retry_timer = None;
        self.attempt = 0;
        self.probing = false;
        if env.online {
            self.connect(env);
        } else {
            self.state = ConnectionState::Offline;
        }
    }

    fn timer_fired(&mut self, env: Env, timer: Timer) {
        match timer.kind {
            TimerKind::Retry if self.retry_timer == Some(timer.id) => {
                self.retry_timer = None;
                self.connect(env);
            }
            TimerKind::Poll if self.poll_timer == Some(timer.id) => {
                self.poll_timer = None;
                self.poll(env);
            }
            // Superseded: a restart, a new connection or going offline
            // came in between.
            _ => {}
        }
    }

    fn report(&mut self, env: Env, generation: u64, report: Report) {
        // The breaker judges the server, whichever connection asked.
        match report {
            Report::PollAnswered(_) => self.breaker.success(),
            Report::PollFailed => self.breaker.failure(env.now_ms),
            _ => {}
        }
        if generation != self.generation || self.link.is_none() {
            return;
        }
        match report {
            Report::SocketOpened => self.socket_opened(),
            Report::Opened => self.opened(env),
            Report::Heartbeat => self.heard(env),
            Report::Envelope(envelope) => self.receive(env, envelope),
            Report::Message(message) => self.message(env, message),
            Report::PollAnswered(reply) => self.poll_answered(env, reply),
            Report::PollFailed | Report::Failed => self.fail(env),
        }
    }

    /// The connection is open (WebSocket: its subscription confirmed).
    fn opened(&mut self, env: Env) {
        self.last_activity_ms = env.now_ms;
        if self.socket_open() {
            for message in self.outbox.take_all() {
                self.effects.push(Effect::Send(message));
            }
        }
        // An open stream proves little (a buffering proxy opens it and
        // holds every event back); a poll answer proves the server talks.
        if self.transport == Transport::Poll || self.delivered {
            self.went_live();
        }
    }

    /// The server spoke on the current connection: it works.
    fn heard(&mut self, env: Env) {
        self.last_activity_ms = env.now_ms;
        self.delivered = true;
        let was_on_fallback = self.policy.on_fallback();
        self.policy.delivered(self.transport);
        self.probing = false;
        if !was_on_fallback && self.policy.on_fallback() {
            self.fallback_since_ms = env.now_ms;
        }
        self.went_live();
    }

    fn went_live(&mut self) {
        self.attempt = 0;
        self.state = ConnectionState::Live;
    }

    /// The current connection failed: reconnect, at once or after a
    /// delay, or give up.
    fn fail(&mut self, env: Env) {
        self.generation += 1;
        self.drop_link();
        let (transport, delivered) = (self.transport, self.delivered);
        let was_on_fallback = self.policy.on_fallback();
        self.policy.failed(transport, delivered);
        if !was_on_fallback && self.policy.on_fallback() {
            self.fallback_since_ms = env.now_ms;
        }
        let attempt = if self.probing {
            // The probe failed: straight back to the fallback.
            self.probing = false;
            None
        } else if self.policy.current() != transport {
            // Switching transport: no reason to wait.
            None
        } else {
            self.attempt = self.attempt.saturating_add(1);
            Some(self.attempt)
        };
        if !env.online {
            self.state = ConnectionState::Offline;
            return;
        }
        let Some(attempt) = attempt else {
            self.connect(env);
            return;
        };
        if self.settings.max_failures.is_some_and(|max| attempt > max) {
            self.state = ConnectionState::Failed;
            return;
        }
        let delay = self
            .settings
            .backoff
            .delay(attempt - 1, self.jitter.next_unit());
        // Browsers take timeouts as 32-bit milliseconds.
        let delay_ms = u64::try_from(delay.as_millis())
            .unwrap_or(u64::MAX)
            .min(i32::MAX as u64);
        self.state = ConnectionState::Reconnecting {
            attempt,
            at_ms: env.now_ms + delay_ms,
        };
        self.retry_timer = Some(self.schedule(TimerKind::Retry, delay_ms));
    }

    /// Declares a silent connection dead, and probes the preferred
    /// transport now and then while on the fallback.
    fn tick(&mut self, env: Env) {
        if self.link.is_none() {
            return;
        }
        let silent =
            env.now_ms.saturating_sub(self.last_activity_ms) > 2 * self.settings.heartbeat_ms;
        let probe = self.state == ConnectionState::Live
            && self.policy.on_fallback()
            && env.now_ms.saturating_sub(self.fallback_since_ms) > PROBE_EVERY_MS;
        if silent {
            self.effects.push(Effect::Warn(
                "livedash: no event or heartbeat for twice the heartbeat interval; reconnecting"
                    .to_string(),
            ));
            self.fail(env);
        } else if probe {
            self.probing = true;
            self.fallback_since_ms = env.now_ms;
            self.connect(env);
        }
    }

    fn show_status(&mut self) {
        let status = self.status();
        if self.shown != Some(status) {
            self.shown = Some(status);
            self.effects.push(Effect::Status(status));
        }
    }
}
