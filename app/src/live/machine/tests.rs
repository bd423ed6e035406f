//! The connection manager driven by hand: a clock, the network's state and
//! the reports of each connection are played in, the effects checked.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::{
    live::{
        backoff::Backoff,
        frame::Delivery,
        interest::{Interest, Needs},
        policy::FALLBACK_AFTER,
    },
    protocol::{
        Envelope, PollReply, ServerMessage, Snapshot, SnapshotMessage, RESET_EVENT, SNAPSHOT_EVENT,
    },
};

const HEARTBEAT_MS: u64 = 2_000;
const SEED: u64 = 42;
const DASHBOARD: &str = "dashboard:main";

fn interest(channels: &[&str]) -> Interest {
    let mut needs = Needs::default();
    for channel in channels {
        needs.add(channel, None);
    }
    needs.interest()
}

fn backoff() -> Backoff {
    Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(30),
        floor: Duration::from_millis(100),
    }
}

fn settings() -> Settings {
    Settings {
        interest: interest(&[DASHBOARD, "metrics"]),
        since: Some(Position::new(1, 10)),
        pinned: None,
        preferred: Transport::Sse,
        backoff: backoff(),
        max_failures: None,
        heartbeat_ms: HEARTBEAT_MS,
        hidden: false,
        available: Available {
            sse: true,
            ws: true,
        },
        seed: SEED,
    }
}

fn pinned(transport: Transport) -> Settings {
    Settings {
        pinned: Some(transport),
        ..settings()
    }
}

fn envelope(epoch: u64, seq: u64) -> Envelope<Value> {
    Envelope {
        id: Position::new(epoch, seq),
        channel: DASHBOARD.into(),
        event: "message".into(),
        key: None,
        ts: seq as i64,
        data: json!({ "seq": seq }),
    }
}

fn event(seq: u64) -> Envelope<Value> {
    envelope(1, seq)
}

fn snapshot(epoch: u64, seq: u64, channels: &str, event: &str) -> Envelope<Snapshot> {
    Envelope {
        id: Position::new(epoch, seq),
        channel: channels.into(),
        event: event.into(),
        key: None,
        ts: 0,
        data: Snapshot {
            reason: None,
            events: vec![envelope(epoch, seq - 1)],
        },
    }
}

fn snapshot_message(epoch: u64, seq: u64, channels: &str) -> ServerMessage {
    ServerMessage::Snapshot(SnapshotMessage {
        request_id: None,
        envelope: snapshot(epoch, seq, channels, SNAPSHOT_EVENT),
    })
}

fn subscribed() -> ServerMessage {
    ServerMessage::Subscribed {
        request_id: Some(json!("live")),
        channels: vec![],
    }
}

fn poll_reply(events: Vec<Envelope<Value>>, next: u64) -> PollReply {
    PollReply {
        events,
        next: Position::new(1, next),
    }
}

fn annotation(text: &str) -> Input {
    Input::Publish {
        channel: DASHBOARD.into(),
        event: "annotation".into(),
        data: json!(text),
    }
}

fn publish_message(text: &str) -> ClientMessage {
    ClientMessage::Publish {
        channel: DASHBOARD.into(),
        event: Some("annotation".into()),
        key: None,
        data: json!(text),
        request_id: None,
    }
}

/// A page around the machine: its clock, the network, the connection
/// generation it last opened and the timers it was asked to set.
struct Page {
    machine: Machine,
    now_ms: u64,
    online: bool,
    generation: u64,
    timers: Vec<(Timer, u64)>,
}

impl Page {
    fn start(settings: Settings) -> (Self, Vec<Effect>) {
        Self::start_with(settings, true)
    }

    fn start_with(settings: Settings, online: bool) -> (Self, Vec<Effect>) {
        let mut page = Page {
            machine: Machine::new(settings),
            now_ms: 1_000,
            online,
            generation: 0,
            timers: Vec::new(),
        };
        let effects = page.step(Input::Start);
        (page, effects)
    }

    fn step(&mut self, input: Input) -> Vec<Effect> {
        let env = Env {
            now_ms: self.now_ms,
            online: self.online,
        };
        let effects = self.machine.step(env, input);
        for effect in &effects {
            match effect {
                Effect::Open { generation, .. } => self.generation = *generation,
                Effect::Schedule { timer, delay_ms } => self.timers.push((*timer, *delay_ms)),
                _ => {}
            }
        }
        effects
    }

    fn report(&mut self, report: Report) -> Vec<Effect> {
        let generation = self.generation;
        self.step(Input::Report { generation, report })
    }

    /// Opens the current connection and has the server say something.
    fn go_live(&mut self) -> Vec<Effect> {
        let mut effects = match self.machine.status().transport {
            Transport::Sse => {
                [self.report(Report::Opened), self.report(Report::Heartbeat)].concat()
            }
            Transport::Ws => [
                self.report(Report::SocketOpened),
                self.report(Report::Message(subscribed())),
            ]
            .concat(),
            Transport::Poll => self.report(Report::PollAnswered(poll_reply(vec![], 1))),
        };
        assert_eq!(self.machine.status().state, ConnectionState::Live);
        effects.retain(|e| !matches!(e, Effect::Status(_)));
        effects
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    /// Lets `ms` pass on a connection that answers every second, ticking
    /// all along, until a tick does something; returns what it did.
    fn stay_live_for(&mut self, ms: u64) -> Vec<Effect> {
        let mut ticks = Vec::new();
        for _ in 0..ms / 1_000 {
            self.advance(1_000);
            match self.machine.status().transport {
                Transport::Poll => self.report(Report::PollAnswered(poll_reply(vec![], 1))),
                _ => self.report(Report::Heartbeat),
            };
            ticks = self.step(Input::Tick);
            if !ticks.is_empty() {
                break;
            }
        }
        ticks
    }

    /// The newest timer of `kind`, fired after its delay.
    fn fire(&mut self, kind: TimerKind) -> Vec<Effect> {
        let (timer, delay_ms) = *self
            .timers
            .iter()
            .rev()
            .find(|(timer, _)| timer.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} timer was set"));
        self.advance(delay_ms);
        self.step(Input::TimerFired(timer))
    }

    fn state(&self) -> ConnectionState {
        self.machine.status().state
    }
}

fn opened(effects: &[Effect]) -> Vec<&Open> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Open { open, .. } => Some(open),
            _ => None,
        })
        .collect()
}

fn transports_opened(effects: &[Effect]) -> Vec<Transport> {
    opened(effects).into_iter().map(Open::transport).collect()
}

fn sse_since(effects: &[Effect]) -> Option<Position> {
    match opened(effects).as_slice() {
        [Open::Sse(subscription)] => subscription.since,
        other => panic!("one SSE connection opened, not {other:?}"),
    }
}

fn delivered_seqs(effects: &[Effect]) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver(Delivery::Event(envelope)) => Some(envelope.id.seq),
            _ => None,
        })
        .collect()
}

fn sent(effects: &[Effect]) -> Vec<&ClientMessage> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(message) | Effect::TrySend(message) => Some(message),
            _ => None,
        })
        .collect()
}

fn polls(effects: &[Effect]) -> Vec<(&Subscription, f64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Poll {
                request, timeout_s, ..
            } => Some((request, *timeout_s)),
            _ => None,
        })
        .collect()
}

fn scheduled(effects: &[Effect], kind: TimerKind) -> Option<u64> {
    effects.iter().find_map(|e| match e {
        Effect::Schedule { timer, delay_ms } if timer.kind == kind => Some(*delay_ms),
        _ => None,
    })
}

fn closes(effects: &[Effect]) -> usize {
    effects.iter().filter(|e| **e == Effect::Close).count()
}

fn warned(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Warn(_)))
}

#[test]
fn the_page_starts_on_sse_from_its_bootstrap_position() {
    let (page, effects) = Page::start(settings());
    assert_eq!(sse_since(&effects), Some(Position::new(1, 10)));
    assert_eq!(
        effects.last(),
        Some(&Effect::Status(Status {
            state: ConnectionState::Connecting,
            transport: Transport::Sse,
            pinned: None,
            queued: 0,
        }))
    );
    assert_eq!(page.generation, 1);
}

#[test]
fn an_open_stream_is_live_only_once_the_server_speaks() {
    let (mut page, _) = Page::start(settings());
    page.report(Report::Opened);
    assert_eq!(page.state(), ConnectionState::Connecting);
    let effects = page.report(Report::Heartbeat);
    assert_eq!(page.state(), ConnectionState::Live);
    assert!(matches!(effects.as_slice(), [Effect::Status(s)] if s.state == ConnectionState::Live));
    assert!(
        page.report(Report::Heartbeat).is_empty(),
        "an unchanged status is not shown again"
    );
}

#[test]
fn failures_schedule_retries_after_jittered_delays_that_grow_with_each_attempt() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    let mut jitter = Jitter::new(SEED);
    for attempt in 1..=3u32 {
        let failed_at = page.now_ms;
        let effects = page.report(Report::Failed);
        let expected = backoff().delay(attempt - 1, jitter.next_unit()).as_millis() as u64;
        assert_eq!(scheduled(&effects, TimerKind::Retry), Some(expected));
        assert!(expected <= backoff().ceiling(attempt - 1).as_millis() as u64);
        assert!(
            opened(&effects).is_empty(),
            "the attempt waits for its timer"
        );
        assert_eq!(
            page.state(),
            ConnectionState::Reconnecting {
                attempt,
                at_ms: failed_at + expected,
            }
        );
        let effects = page.fire(TimerKind::Retry);
        assert_eq!(sse_since(&effects), Some(Position::new(1, 10)));
    }
    page.go_live();
    page.report(Report::Failed);
    assert!(
        matches!(
            page.state(),
            ConnectionState::Reconnecting { attempt: 1, .. }
        ),
        "a live connection starts the count again"
    );
}

#[test]
fn repeated_sse_failures_without_data_fall_back_to_polling_at_once() {
    let (mut page, _) = Page::start(settings());
    for _ in 1..FALLBACK_AFTER {
        page.report(Report::Opened);
        page.report(Report::Failed);
        assert_eq!(
            transports_opened(&page.fire(TimerKind::Retry)),
            [Transport::Sse]
        );
    }
    let effects = page.report(Report::Failed);
    assert_eq!(
        transports_opened(&effects),
        [Transport::Poll],
        "no wait to switch"
    );
    assert_eq!(scheduled(&effects, TimerKind::Retry), None);
    let (request, timeout_s) = polls(&effects)[0];
    assert_eq!(timeout_s, 0.0, "the first poll asks for an answer at once");
    assert_eq!(request.since, Some(Position::new(1, 10)));

    let effects = page.report(Report::PollAnswered(poll_reply(vec![event(11)], 11)));
    assert_eq!(delivered_seqs(&effects), [11]);
    assert_eq!(page.state(), ConnectionState::Live);
    assert_eq!(page.machine.status().transport, Transport::Poll);
    let (request, timeout_s) = polls(&effects)[0];
    assert_eq!(timeout_s, 2.0, "later polls wait on the server");
    assert_eq!(request.since, Some(Position::new(1, 11)));
}

/// A page that fell back to polling and is live there.
fn on_the_fallback() -> Page {
    let (mut page, _) = Page::start(settings());
    for _ in 1..FALLBACK_AFTER {
        page.report(Report::Failed);
        page.fire(TimerKind::Retry);
    }
    page.report(Report::Failed);
    page.go_live();
    assert_eq!(page.machine.status().transport, Transport::Poll);
    page
}

#[test]
fn the_fallback_probes_sse_and_moves_back_when_the_probe_delivers() {
    let mut page = on_the_fallback();
    assert!(page.stay_live_for(PROBE_EVERY_MS).is_empty(), "not yet");
    page.advance(1);
    let effects = page.step(Input::Tick);
    assert_eq!(closes(&effects), 1);
    assert_eq!(transports_opened(&effects), [Transport::Sse]);
    page.report(Report::Heartbeat);

    // Back on SSE: nothing probes any more, and a failure retries SSE.
    assert!(page.stay_live_for(2 * PROBE_EVERY_MS).is_empty());
    page.report(Report::Failed);
    assert_eq!(
        transports_opened(&page.fire(TimerKind::Retry)),
        [Transport::Sse]
    );
}

#[test]
fn a_failed_probe_goes_straight_back_to_polling() {
    let mut page = on_the_fallback();
    let ticks = page.stay_live_for(PROBE_EVERY_MS + 1_000);
    assert_eq!(transports_opened(&ticks), [Transport::Sse]);
    let effects = page.report(Report::Failed);
    assert_eq!(transports_opened(&effects), [Transport::Poll]);
    assert_eq!(scheduled(&effects, TimerKind::Retry), None);
    assert_eq!(
        page.state(),
        ConnectionState::Live,
        "the page never left live"
    );
}

#[test]
fn the_first_publish_moves_an_automatic_page_to_a_websocket_and_sends_once_subscribed() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    page.report(Report::Envelope(event(11)));
    assert!(page.machine.can_publish());

    let effects = page.step(annotation("deployed"));
    assert_eq!(closes(&effects), 1);
    assert_eq!(opened(&effects), [&Open::Ws]);
    assert_eq!(
        page.machine.status(),
        Status {
            state: ConnectionState::Live,
            transport: Transport::Ws,
            pinned: None,
            queued: 1,
        }
    );

    let effects = page.report(Report::SocketOpened);
    assert_eq!(
        sent(&effects),
        [&ClientMessage::Subscribe {
            channels: vec![DASHBOARD.into(), "metrics".into()],
            since: Some(Position::new(1, 11)),
            filter: None,
            request_id: Some(json!("live")),
        }],
        "the switch resumes from the page's position"
    );
    let effects = page.report(Report::Message(subscribed()));
    assert_eq!(
        effects[0],
        Effect::Send(publish_message("deployed")),
        "the outbox empties once subscribed"
    );
    assert_eq!(page.machine.status().queued, 0);

    let effects = page.step(annotation("again"));
    assert_eq!(effects, [Effect::Send(publish_message("again"))]);
    page.report(Report::Failed);
    assert_eq!(
        transports_opened(&page.fire(TimerKind::Retry)),
        [Transport::Ws],
        "a page that sends stays on WebSocket"
    );
}

#[test]
fn a_page_pinned_to_another_transport_cannot_publish() {
    let (mut page, _) = Page::start(pinned(Transport::Sse));
    page.go_live();
    assert!(!page.machine.can_publish());
    assert!(page.step(annotation("nope")).is_empty());
    assert!(Page::start(pinned(Transport::Ws)).0.machine.can_publish());
}

#[test]
fn a_message_the_socket_could_not_take_waits_for_the_next_one() {
    let (mut page, _) = Page::start(pinned(Transport::Ws));
    page.go_live();
    let effects = page.step(annotation("one"));
    assert_eq!(effects, [Effect::Send(publish_message("one"))]);
    // The socket was closing: the glue hands the message back.
    page.step(Input::Unsent(publish_message("one")));
    page.step(annotation("two"));
    assert_eq!(page.machine.status().queued, 2, "in order, behind it");
    page.report(Report::Failed);
    page.fire(TimerKind::Retry);
    let effects = page.go_live();
    assert_eq!(
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Send(_)))
            .collect::<Vec<_>>(),
        [
            &Effect::Send(publish_message("one")),
            &Effect::Send(publish_message("two"))
        ]
    );
}

#[test]
fn a_reconnect_resumes_from_the_last_event_and_drops_what_the_new_connection_repeats() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    let effects: Vec<Effect> = [11, 12, 13]
        .into_iter()
        .flat_map(|seq| page.report(Report::Envelope(event(seq))))
        .collect();
    assert_eq!(delivered_seqs(&effects), [11, 12, 13]);
    let old = page.generation;
    page.report(Report::Failed);
    let effects = page.fire(TimerKind::Retry);
    assert_eq!(sse_since(&effects), Some(Position::new(1, 13)));

    // The old connection's last words are ignored.
    let stale = page.step(Input::Report {
        generation: old,
        report: Report::Envelope(event(14)),
    });
    assert!(stale.is_empty());
    let effects: Vec<Effect> = [12, 13, 14, 15]
        .into_iter()
        .flat_map(|seq| page.report(Report::Envelope(event(seq))))
        .collect();
    assert_eq!(delivered_seqs(&effects), [14, 15], "no duplicate, no gap");

    // Switching transport overlaps the same way.
    page.step(Input::Pin(Some(Transport::Ws)));
    let effects = page.report(Report::SocketOpened);
    assert!(matches!(
        sent(&effects)[0],
        ClientMessage::Subscribe { since: Some(since), .. } if *since == Position::new(1, 15)
    ));
    let effects: Vec<Effect> = [15, 16]
        .into_iter()
        .flat_map(|seq| page.report(Report::Message(ServerMessage::Event(event(seq)))))
        .collect();
    assert_eq!(delivered_seqs(&effects), [16]);
    assert_eq!(page.machine.position(), Some(Position::new(1, 16)));
}

#[test]
fn a_reset_replaces_the_page_state_and_moves_to_its_position() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    let reset = snapshot(2, 4, "dashboard:main,metrics", RESET_EVENT);
    let effects = page.report(Report::Envelope(Envelope {
        id: reset.id,
        channel: reset.channel.clone(),
        event: reset.event.clone(),
        key: None,
        ts: 0,
        data: serde_json::to_value(&reset.data).unwrap(),
    }));
    assert_eq!(
        effects,
        [Effect::Deliver(Delivery::Snapshot {
            channels: vec![DASHBOARD.into(), "metrics".into()],
            head: reset.id,
            snapshot: reset.data.clone(),
        })]
    );
    assert_eq!(page.machine.position(), Some(Position::new(2, 4)));
    let effects: Vec<Effect> = [envelope(2, 4), envelope(2, 5)]
        .into_iter()
        .flat_map(|e| page.report(Report::Envelope(e)))
        .collect();
    assert_eq!(delivered_seqs(&effects), [5]);

    // Over a WebSocket a reset is its own message.
    page.step(Input::Pin(Some(Transport::Ws)));
    page.go_live();
    let effects = page.report(Report::Message(ServerMessage::Reset(SnapshotMessage {
        request_id: None,
        envelope: snapshot(3, 9, DASHBOARD, RESET_EVENT),
    })));
    assert!(
        matches!(&effects[..], [Effect::Deliver(Delivery::Snapshot { channels, .. })] if channels == &[DASHBOARD])
    );
    assert_eq!(page.machine.position(), Some(Position::new(3, 9)));
}

#[test]
fn a_malformed_snapshot_is_reported_and_ignored() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    let effects = page.report(Report::Envelope(Envelope {
        event: SNAPSHOT_EVENT.into(),
        ..event(50)
    }));
    assert!(warned(&effects));
    assert!(delivered_seqs(&effects).is_empty());
    assert_eq!(page.machine.position(), Some(Position::new(1, 10)));
}

#[test]
fn after_the_allowed_failures_the_page_gives_up_until_reconnect() {
    let (mut page, _) = Page::start(Settings {
        max_failures: Some(2),
        ..settings()
    });
    page.go_live();
    for _ in 0..2 {
        page.report(Report::Failed);
        page.fire(TimerKind::Retry);
    }
    let effects = page.report(Report::Failed);
    assert_eq!(page.state(), ConnectionState::Failed);
    assert_eq!(scheduled(&effects, TimerKind::Retry), None);
    assert!(opened(&effects).is_empty());
    page.advance(60_000);
    assert!(
        page.step(Input::Tick).is_empty(),
        "given up: nothing happens"
    );

    let effects = page.step(Input::Reconnect);
    assert_eq!(transports_opened(&effects), [Transport::Sse]);
    page.go_live();
    page.report(Report::Failed);
    assert!(matches!(
        page.state(),
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
}

#[test]
fn offline_closes_the_connection_and_online_reconnects_at_once() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    page.report(Report::Envelope(event(11)));
    page.online = false;
    let effects = page.step(Input::Offline);
    assert_eq!(closes(&effects), 1);
    assert_eq!(page.state(), ConnectionState::Offline);
    page.advance(60_000);
    assert!(page.step(Input::Tick).is_empty());

    page.online = true;
    let effects = page.step(Input::Online);
    assert_eq!(sse_since(&effects), Some(Position::new(1, 11)));
    assert_eq!(scheduled(&effects, TimerKind::Retry), None);
}

#[test]
fn a_failure_while_the_browser_is_offline_waits_for_the_network() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    page.online = false;
    let effects = page.report(Report::Failed);
    assert_eq!(page.state(), ConnectionState::Offline);
    assert_eq!(scheduled(&effects, TimerKind::Retry), None);
    assert!(opened(&effects).is_empty());

    let (starting, effects) = Page::start_with(settings(), false);
    assert!(
        opened(&effects).is_empty(),
        "a page that starts offline waits"
    );
    assert_eq!(starting.state(), ConnectionState::Offline);
}

#[test]
fn a_connection_silent_for_twice_the_heartbeat_is_declared_dead() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    page.advance(2 * HEARTBEAT_MS);
    assert!(
        page.step(Input::Tick).is_empty(),
        "exactly twice is still alive"
    );
    page.advance(1);
    let effects = page.step(Input::Tick);
    assert!(warned(&effects));
    assert_eq!(closes(&effects), 1);
    assert!(scheduled(&effects, TimerKind::Retry).is_some());
    assert!(matches!(
        page.state(),
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
}

#[test]
fn interest_changes_over_an_open_websocket_become_messages() {
    let (mut page, _) = Page::start(pinned(Transport::Ws));
    page.go_live();
    let mut next = Needs::default();
    next.add("metrics", Some(vec!["web-1".into()]));
    next.add("alerts", None);
    let effects = page.step(Input::SetInterest(next.interest()));
    assert!(
        opened(&effects).is_empty() && closes(&effects) == 0,
        "the socket stays"
    );
    let types: Vec<Value> = sent(&effects)
        .iter()
        .map(|m| serde_json::from_str::<Value>(&m.to_json()).unwrap()["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("subscribe"),
            json!("unsubscribe"),
            json!("set_filter")
        ]
    );
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::TrySend(_))),
        "each waits in the outbox should the socket be closing"
    );
    assert!(matches!(
        sent(&effects)[0],
        ClientMessage::Subscribe { channels, since: None, .. } if channels == &["alerts"]
    ));

    // Widening the filter asks for a snapshot of the keys it lets through.
    let mut wider = Needs::default();
    wider.add("metrics", None);
    wider.add("alerts", None);
    let effects = page.step(Input::SetInterest(wider.interest()));
    assert_eq!(
        sent(&effects),
        [
            &ClientMessage::SetFilter {
                channel: "metrics".into(),
                keys: None,
                request_id: None,
            },
            &ClientMessage::RequestSnapshot {
                channel: "metrics".into(),
                request_id: None,
            },
        ]
    );
}

#[test]
fn a_channel_added_on_a_websocket_starts_fresh_on_the_next_socket_until_its_snapshot_came() {
    let (mut page, _) = Page::start(Settings {
        interest: interest(&["metrics"]),
        ..pinned(Transport::Ws)
    });
    page.go_live();
    page.step(Input::SetInterest(interest(&["metrics", DASHBOARD])));
    page.report(Report::Failed);
    page.fire(TimerKind::Retry);
    let effects = page.report(Report::SocketOpened);
    let subscribes: Vec<(Vec<String>, Option<Position>)> = sent(&effects)
        .into_iter()
        .map(|m| match m {
            ClientMessage::Subscribe {
                channels, since, ..
            } => (channels.clone(), *since),
            other => panic!("a subscribe, not {other:?}"),
        })
        .collect();
    assert_eq!(
        subscribes,
        [
            (vec!["metrics".to_string()], Some(Position::new(1, 10))),
            (vec![DASHBOARD.to_string()], None),
        ]
    );

    page.report(Report::Message(snapshot_message(1, 12, DASHBOARD)));
    page.report(Report::Failed);
    page.fire(TimerKind::Retry);
    let effects = page.report(Report::SocketOpened);
    assert_eq!(sent(&effects).len(), 1, "its snapshot came: it resumes too");
}

#[test]
fn interest_changes_on_sse_reconnect_with_the_added_channels_fresh() {
    let (mut page, _) = Page::start(Settings {
        interest: interest(&["metrics"]),
        ..settings()
    });
    page.go_live();
    page.report(Report::Envelope(event(11)));
    let effects = page.step(Input::SetInterest(interest(&["metrics", DASHBOARD])));
    assert_eq!(closes(&effects), 1);
    match opened(&effects).as_slice() {
        [Open::Sse(subscription)] => {
            assert_eq!(subscription.channels, [DASHBOARD, "metrics"]);
            assert_eq!(subscription.fresh, [DASHBOARD]);
            assert_eq!(subscription.since, Some(Position::new(1, 11)));
        }
        other => panic!("one SSE connection, not {other:?}"),
    }
    let effects = page.step(Input::SetInterest(interest(&["metrics", DASHBOARD])));
    assert!(effects.is_empty(), "no change, no reconnect");
}

#[test]
fn polls_name_a_fresh_channel_until_its_snapshot_arrives() {
    let (mut page, _) = Page::start(Settings {
        interest: interest(&["metrics"]),
        ..pinned(Transport::Poll)
    });
    page.go_live();
    let effects = page.step(Input::SetInterest(interest(&["metrics", DASHBOARD])));
    assert_eq!(polls(&effects)[0].0.fresh, [DASHBOARD]);
    let reply = poll_reply(
        vec![Envelope {
            id: Position::new(1, 12),
            channel: DASHBOARD.into(),
            event: SNAPSHOT_EVENT.into(),
            key: None,
            ts: 0,
            data: json!({"events": []}),
        }],
        12,
    );
    let effects = page.report(Report::PollAnswered(reply));
    let (request, _) = polls(&effects)[0];
    assert!(request.fresh.is_empty());
    assert_eq!(request.since, Some(Position::new(1, 12)));
}

#[test]
fn polls_continue_from_where_the_server_says_and_pause_while_hidden() {
    let (mut page, _) = Page::start(pinned(Transport::Poll));
    page.go_live();
    let effects = page.report(Report::PollAnswered(poll_reply(vec![], 30)));
    assert_eq!(polls(&effects)[0].0.since, Some(Position::new(1, 30)));

    page.step(Input::VisibilityChanged { hidden: true });
    let effects = page.report(Report::PollAnswered(poll_reply(vec![], 30)));
    assert!(polls(&effects).is_empty());
    assert_eq!(
        scheduled(&effects, TimerKind::Poll),
        Some(HIDDEN_POLL_DELAY_MS)
    );
    let effects = page.fire(TimerKind::Poll);
    assert_eq!(polls(&effects).len(), 1);
}

#[test]
fn a_failing_server_trips_the_breaker_and_polls_wait_for_its_cool_down() {
    let (mut page, _) = Page::start(pinned(Transport::Poll));
    for _ in 0..3 {
        page.report(Report::PollFailed);
        page.fire(TimerKind::Retry);
    }
    let (timer, wait) = *page.timers.last().expect("a timer");
    assert_eq!(timer.kind, TimerKind::Poll, "the new connection waits");
    assert!(wait > 0 && wait <= 5_000, "{wait}");
    let effects = page.fire(TimerKind::Poll);
    assert_eq!(
        polls(&effects).len(),
        1,
        "one trial once the cool-down is over"
    );
}

#[test]
fn a_superseded_timer_does_nothing() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    page.report(Report::Failed);
    let (stale, _) = *page.timers.last().unwrap();
    let effects = page.step(Input::Reconnect);
    assert_eq!(transports_opened(&effects), [Transport::Sse]);
    assert!(page.step(Input::TimerFired(stale)).is_empty());

    // A hidden poll's pause dies with its connection.
    page.step(Input::Pin(Some(Transport::Poll)));
    page.step(Input::VisibilityChanged { hidden: true });
    page.report(Report::PollAnswered(poll_reply(vec![], 1)));
    let (pause, _) = *page.timers.last().unwrap();
    page.step(Input::Reconnect);
    assert!(page.step(Input::TimerFired(pause)).is_empty());
}

#[test]
fn visibility_goes_to_an_open_websocket_and_to_each_new_one() {
    let (mut page, _) = Page::start(pinned(Transport::Ws));
    page.go_live();
    let effects = page.step(Input::VisibilityChanged { hidden: true });
    assert_eq!(
        effects,
        [Effect::TrySend(ClientMessage::SetVisibility {
            hidden: true,
            request_id: None,
        })]
    );
    page.report(Report::Failed);
    page.fire(TimerKind::Retry);
    let effects = page.report(Report::SocketOpened);
    assert!(matches!(
        sent(&effects).last(),
        Some(ClientMessage::SetVisibility { hidden: true, .. })
    ));
    let (mut sse, _) = Page::start(settings());
    sse.go_live();
    assert!(sse
        .step(Input::VisibilityChanged { hidden: true })
        .is_empty());
}

#[test]
fn replies_count_as_signs_of_life_and_refusals_are_reported() {
    let (mut page, _) = Page::start(pinned(Transport::Ws));
    page.go_live();
    page.advance(2 * HEARTBEAT_MS);
    page.report(Report::Message(ServerMessage::Pong { request_id: None }));
    page.advance(1);
    assert!(page.step(Input::Tick).is_empty());
    let effects = page.report(Report::Message(ServerMessage::error(
        "not_subscribed",
        "not subscribed to \"x\"",
        None,
    )));
    assert!(warned(&effects));
    assert_eq!(page.state(), ConnectionState::Live);
}

#[test]
fn resync_forgets_the_position_and_starts_from_a_snapshot() {
    let (mut page, _) = Page::start(settings());
    page.go_live();
    let effects = page.step(Input::Resync);
    assert_eq!(closes(&effects), 1);
    assert_eq!(sse_since(&effects), None);
}
