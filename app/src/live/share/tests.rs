//! Tabs of one simulated browser: a lock that passes on as the browser's
//! does, a broadcast channel that hands each post to every other tab in
//! order, and a server whose log the leader's connection reads and whose
//! polls answer catch-ups.

use std::{
    collections::{BTreeMap, VecDeque},
    time::Duration,
};

use serde_json::{json, Value};

use super::*;
use crate::live::{
    backoff::Backoff,
    interest::Needs,
    machine::{Available, Open, Report, TICK_MS},
};
use crate::protocol::{Envelope, PollReply};

const DASHBOARD: &str = "dashboard:main";

fn interest(channels: &[&str]) -> Interest {
    let mut needs = Needs::default();
    for channel in channels {
        needs.add(channel, None);
    }
    needs.interest()
}

fn settings(channels: &[&str], since: Option<Position>) -> Settings {
    Settings {
        interest: interest(channels),
        since,
        pinned: None,
        preferred: Transport::Sse,
        backoff: Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            floor: Duration::from_millis(100),
        },
        max_failures: None,
        heartbeat_ms: 2_000,
        hidden: false,
        available: Available {
            sse: true,
            ws: true,
        },
        seed: 7,
    }
}

/// The leader's open connection, as the server sees it.
#[derive(Clone, Debug)]
struct Link {
    tab: TabId,
    term: u64,
    generation: u64,
    transport: Transport,
    channels: Vec<String>,
    /// The next index of the log to send.
    next: usize,
    opened: bool,
}

#[derive(Debug)]
struct Tab {
    share: Share,
    /// Stream events applied, by sequence number.
    applied: Vec<u64>,
    snapshots: usize,
    status: Option<TabStatus>,
    /// Frozen tabs run nothing until thawed.
    frozen: bool,
    /// Inputs that reached a frozen tab.
    parked: Vec<ShareInput>,
}

struct Browser {
    now: u64,
    epoch: u64,
    log: Vec<Envelope<Value>>,
    tabs: BTreeMap<TabId, Tab>,
    lock: Option<TabId>,
    waiting: VecDeque<TabId>,
    link: Option<Link>,
    /// Posts not yet handed out: (from, message).
    bus: VecDeque<(TabId, TabMessage)>,
    /// Connections opened, in order: (tab, transport, since).
    opened: Vec<(TabId, Transport, Option<Position>)>,
    /// Messages sent over the leader's socket.
    sent: Vec<(TabId, ClientMessageSummary)>,
}

/// What the server was sent, reduced to what the tests check.
#[derive(Clone, Debug, PartialEq)]
enum ClientMessageSummary {
    Publish(String),
    Other,
}

impl Browser {
    fn new() -> Self {
        Self {
            now: 1_000,
            epoch: 5,
            log: Vec::new(),
            tabs: BTreeMap::new(),
            lock: None,
            waiting: VecDeque::new(),
            link: None,
            bus: VecDeque::new(),
            opened: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn env(&self) -> Env {
        Env {
            now_ms: self.now,
            online: true,
        }
    }

    fn head(&self) -> Position {
        Position::new(self.epoch, self.log.len() as u64)
    }

    /// Publishes `n` events on `channel`.
    fn publish(&mut self, channel: &str, n: usize) {
        for _ in 0..n {
            let seq = self.log.len() as u64 + 1;
            self.log.push(Envelope {
                id: Position::new(self.epoch, seq),
                channel: channel.into(),
                event: "message".into(),
                key: None,
                ts: seq as i64,
                data: json!({ "seq": seq }),
            });
        }
        self.settle();
    }

    /// Opens a tab whose page was rendered at the log's head.
    fn open_tab(&mut self, id: TabId, channels: &[&str]) {
        self.open_tab_at(id, channels, Some(self.head()));
    }

    fn open_tab_at(&mut self, id: TabId, channels: &[&str], since: Option<Position>) {
        self.tabs.insert(
            id,
            Tab {
                share: Share::new(id, settings(channels, since)),
                applied: Vec::new(),
                snapshots: 0,
                status: None,
                frozen: false,
                parked: Vec::new(),
            },
        );
        self.input(id, ShareInput::Start { shared: true });
        // The glue asks for the lock at start.
        self.waiting.push_back(id);
        self.grant();
        self.settle();
    }

    /// The browser grants a free lock to the first tab waiting.
    fn grant(&mut self) {
        if self.lock.is_none() {
            if let Some(next) = self.waiting.pop_front() {
                self.lock = Some(next);
                self.input(next, ShareInput::LockAcquired);
            }
        }
    }

    /// The tab closes (or crashes, without a word: `bye` false).
    fn close_tab(&mut self, id: TabId, bye: bool) {
        if bye {
            self.input(id, ShareInput::Leaving);
        }
        self.tabs.remove(&id);
        self.waiting.retain(|t| *t != id);
        if self.link.as_ref().is_some_and(|l| l.tab == id) {
            self.link = None;
        }
        if self.lock == Some(id) {
            self.lock = None;
            self.grant();
        }
        self.settle();
    }

    fn leader(&self) -> Option<TabId> {
        self.tabs
            .iter()
            .filter(|(_, t)| t.share.role() == Role::Leader)
            .map(|(id, _)| *id)
            .next()
    }

    fn input(&mut self, id: TabId, input: ShareInput) {
        let env = self.env();
        let Some(tab) = self.tabs.get_mut(&id) else {
            return;
        };
        if tab.frozen {
            tab.parked.push(input);
            return;
        }
        let effects = tab.share.step(env, input);
        for effect in effects {
            self.carry_out(id, effect);
        }
    }

    fn carry_out(&mut self, id: TabId, effect: ShareEffect) {
        match effect {
            ShareEffect::Post(message) => self.bus.push_back((id, message)),
            ShareEffect::Deliver(Delivery::Event(envelope)) => {
                let seq = envelope.data["seq"].as_u64().expect("seq");
                self.tabs.get_mut(&id).expect("tab").applied.push(seq);
            }
            ShareEffect::Deliver(Delivery::Snapshot { .. }) => {
                self.tabs.get_mut(&id).expect("tab").snapshots += 1;
            }
            ShareEffect::Status(status) => {
                self.tabs.get_mut(&id).expect("tab").status = Some(status)
            }
            ShareEffect::StealLock => {
                if let Some(holder) = self.lock.replace(id) {
                    self.input(holder, ShareInput::LockLost);
                    // The robbed tab asks for the lock again.
                    self.waiting.push_back(holder);
                }
                self.waiting.retain(|t| *t != id);
                self.input(id, ShareInput::LockAcquired);
            }
            ShareEffect::CatchUp { id: poll, request } => {
                let since = request.since;
                let events: Vec<Envelope<Value>> = self
                    .log
                    .iter()
                    .filter(|e| since.is_none_or(|s| e.id.seq > s.seq))
                    .filter(|e| request.channels.contains(&e.channel))
                    .take(1_000)
                    .cloned()
                    .collect();
                let next = events.last().map_or(self.head(), |e| {
                    if events.len() == 1_000 {
                        e.id
                    } else {
                        self.head()
                    }
                });
                let reply = PollReply { events, next };
                self.input(id, ShareInput::CaughtUp { id: poll, reply });
            }
            ShareEffect::Connection { term, effect } => self.connection(id, term, effect),
            ShareEffect::Warn(text) => {
                assert!(text.contains("taking over"), "tab {id} warned: {text}");
            }
        }
    }

    fn connection(&mut self, id: TabId, term: u64, effect: Effect) {
        match effect {
            Effect::Open { generation, open } => {
                let (transport, channels, since) = match &open {
                    Open::Sse(sub) => (Transport::Sse, sub.channels.clone(), sub.since),
                    Open::Ws => (Transport::Ws, Vec::new(), None),
                    Open::Poll => (Transport::Poll, Vec::new(), None),
                };
                let next = since.map_or(self.log.len(), |s| s.seq as usize);
                self.opened.push((id, transport, since));
                self.link = Some(Link {
                    tab: id,
                    term,
                    generation,
                    transport,
                    channels,
                    next,
                    opened: false,
                });
            }
            Effect::Close => {
                if self.link.as_ref().is_some_and(|l| l.tab == id) {
                    self.link = None;
                }
            }
            Effect::Send(message) | Effect::TrySend(message) => {
                let summary = match message {
                    crate::protocol::ClientMessage::Publish { channel, .. } => {
                        ClientMessageSummary::Publish(channel)
                    }
                    _ => ClientMessageSummary::Other,
                };
                self.sent.push((id, summary));
            }
            Effect::Poll { .. } | Effect::Schedule { .. } => {}
            Effect::Deliver(_) | Effect::Status(_) | Effect::Warn(_) => {
                unreachable!("the share takes these")
            }
        }
    }

    /// Hands out posts and lets the leader's connection deliver what the
    /// log holds, until nothing moves.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if let Some((from, message)) = self.bus.pop_front() {
                let others: Vec<TabId> = self.tabs.keys().copied().filter(|t| *t != from).collect();
                for other in others {
                    self.input(other, ShareInput::Tab(message.clone()));
                }
                continue;
            }
            if !self.stream() {
                return;
            }
        }
        panic!("the tabs never settle");
    }

    /// The leader's SSE connection: opens, then sends the next event of its
    /// channels. False when there was nothing to do.
    fn stream(&mut self) -> bool {
        let Some(link) = self.link.clone() else {
            return false;
        };
        if link.transport != Transport::Sse {
            return false;
        }
        let report = if !link.opened {
            self.link.as_mut().expect("link").opened = true;
            Report::Heartbeat
        } else {
            let Some(index) =
                (link.next..self.log.len()).find(|i| link.channels.contains(&self.log[*i].channel))
            else {
                return false;
            };
            self.link.as_mut().expect("link").next = index + 1;
            Report::Envelope(self.log[index].clone())
        };
        let input = ShareInput::Machine {
            term: link.term,
            input: Input::Report {
                generation: link.generation,
                report,
            },
        };
        self.input(link.tab, input);
        true
    }

    /// Lets `ms` pass, ticking every tab.
    fn wait(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += TICK_MS;
            let ids: Vec<TabId> = self.tabs.keys().copied().collect();
            for id in ids {
                self.input(id, ShareInput::Page(Input::Tick));
            }
            // The server's heartbeat keeps an open stream alive.
            if let Some(link) = self.link.clone().filter(|l| l.opened) {
                let input = ShareInput::Machine {
                    term: link.term,
                    input: Input::Report {
                        generation: link.generation,
                        report: Report::Heartbeat,
                    },
                };
                self.input(link.tab, input);
            }
            self.settle();
        }
    }

    fn page(&mut self, id: TabId, input: Input) {
        self.input(id, ShareInput::Page(input));
        self.settle();
    }

    fn applied(&self, id: TabId) -> &[u64] {
        &self.tabs[&id].applied
    }

    fn status(&self, id: TabId) -> TabStatus {
        self.tabs[&id].status.expect("a status was shown")
    }

    /// The sequence numbers of `channel`'s events after `after`.
    fn seqs_of(&self, channel: &str, after: u64) -> Vec<u64> {
        self.log
            .iter()
            .filter(|e| e.channel == channel && e.id.seq > after)
            .map(|e| e.id.seq)
            .collect()
    }
}

#[test]
fn the_first_tab_leads_and_the_others_share_its_one_connection() {
    let mut browser = Browser::new();
    for id in 1..=20 {
        browser.open_tab(id, &[DASHBOARD]);
    }
    browser.wait(1_000);
    assert_eq!(browser.leader(), Some(1));
    assert_eq!(browser.opened.len(), 1, "one connection for 20 tabs");
    for id in 1..=20 {
        let status = browser.status(id);
        assert_eq!(status.status.state, ConnectionState::Live, "tab {id}");
        assert_eq!(status.tabs, 20, "tab {id}");
        let role = if id == 1 {
            Role::Leader
        } else {
            Role::Follower
        };
        assert_eq!(status.role, role);
    }
}

#[test]
fn every_tab_gets_every_event_of_its_channels_once_in_order() {
    let mut browser = Browser::new();
    browser.open_tab(1, &[DASHBOARD]);
    browser.publish(DASHBOARD, 5);
    // Rendered at position 5, the second tab opens after 3 more events:
    // it catches up from its page's position, then follows the relays.
    let rendered = browser.head();
    browser.publish(DASHBOARD, 3);
    browser.open_tab_at(2, &[DASHBOARD], Some(rendered));
    browser.open_tab(3, &["alerts"]);
    browser.publish(DASHBOARD, 4);
    browser.publish("alerts", 2);
    browser.publish(DASHBOARD, 1);
    assert_eq!(browser.applied(1), browser.seqs_of(DASHBOARD, 0));
    assert_eq!(browser.applied(2), browser.seqs_of(DASHBOARD, 5));
    assert_eq!(browser.applied(3), browser.seqs_of("alerts", 0));
    // Only the leader connects (again when a tab adds a channel: SSE
    // cannot change what it streams).
    assert!(browser.opened.iter().all(|(tab, _, _)| *tab == 1));
}

#[test]
fn relays_that_arrive_during_a_catch_up_are_applied_after_it_once() {
    let mut browser = Browser::new();
    browser.open_tab(1, &[DASHBOARD]);
    browser.publish(DASHBOARD, 3);
    let mut tab = Share::new(2, settings(&[DASHBOARD], Some(Position::new(5, 1))));
    let env = browser.env();
    let effects = tab.step(env, ShareInput::Start { shared: true });
    let Some(ShareEffect::CatchUp { id, request }) = effects
        .iter()
        .find(|e| matches!(e, ShareEffect::CatchUp { .. }))
        .cloned()
    else {
        panic!("a joining tab catches up: {effects:?}");
    };
    assert_eq!(request.since, Some(Position::new(5, 1)));
    // Relays of 3 (already in the catch-up) and 4 (after it) come first.
    for seq in [3, 4] {
        let mut event = browser.log[0].clone();
        event.id = Position::new(5, seq);
        event.data = json!({ "seq": seq });
        let effects = tab.step(
            env,
            ShareInput::Tab(TabMessage::Relay {
                tab: 1,
                delivery: Delivery::Event(event),
            }),
        );
        assert!(
            !effects.iter().any(|e| matches!(e, ShareEffect::Deliver(_))),
            "held while catching up"
        );
    }
    let reply = PollReply {
        events: browser.log[1..3].to_vec(),
        next: Position::new(5, 3),
    };
    let applied: Vec<Position> = tab
        .step(env, ShareInput::CaughtUp { id, reply })
        .into_iter()
        .filter_map(|e| match e {
            ShareEffect::Deliver(d) => Some(d.position()),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [2, 3, 4].map(|seq| Position::new(5, seq)));
    assert_eq!(tab.position(), Some(Position::new(5, 4)));
}

#[test]
fn when_the_leader_closes_mid_stream_the_next_tab_resumes_with_no_gap_or_repeat() {
    for bye in [true, false] {
        let mut browser = Browser::new();
        for id in 1..=4 {
            browser.open_tab(id, &[DASHBOARD]);
        }
        browser.publish(DASHBOARD, 10);
        browser.close_tab(1, bye);
        let leader = browser.leader().expect("a new leader");
        assert_ne!(leader, 1);
        // The new connection resumes from the last relay the tabs saw.
        let (tab, _, since) = *browser.opened.last().expect("reopened");
        assert_eq!((tab, since), (leader, Some(Position::new(5, 10))));
        browser.publish(DASHBOARD, 10);
        for id in 2..=4 {
            assert_eq!(
                browser.applied(id),
                browser.seqs_of(DASHBOARD, 0),
                "tab {id}"
            );
        }
        assert_eq!(browser.opened.len(), 2, "bye {bye}");
    }
}

#[test]
fn a_relay_seen_twice_during_a_hand_over_is_applied_once() {
    let mut browser = Browser::new();
    for id in 1..=3 {
        browser.open_tab(id, &[DASHBOARD]);
    }
    browser.publish(DASHBOARD, 4);
    // The old leader's last relays reach tab 3 again after the new
    // connection has delivered the same positions.
    let late: Vec<Envelope<Value>> = browser.log[2..4].to_vec();
    browser.close_tab(1, false);
    browser.publish(DASHBOARD, 2);
    for event in late {
        browser.input(
            3,
            ShareInput::Tab(TabMessage::Relay {
                tab: 1,
                delivery: Delivery::Event(event),
            }),
        );
    }
    browser.settle();
    assert_eq!(browser.applied(3), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_frozen_leader_is_replaced_within_two_seconds_and_steps_down_when_it_thaws() {
    let mut browser = Browser::new();
    for id in 1..=3 {
        browser.open_tab(id, &[DASHBOARD]);
    }
    browser.publish(DASHBOARD, 3);
    browser.tabs.get_mut(&1).expect("tab").frozen = true;
    // Its connection is stalled with it.
    browser.link = None;
    let frozen_at = browser.now;
    while browser.leader() == Some(1) || browser.leader().is_none() {
        assert!(browser.now - frozen_at <= 2_000, "no take-over within 2 s");
        browser.wait(TICK_MS);
        // A frozen tab keeps its role: look past it.
        if browser
            .tabs
            .iter()
            .any(|(id, t)| *id != 1 && t.share.role() == Role::Leader)
        {
            break;
        }
    }
    let new_leader = browser
        .tabs
        .iter()
        .find(|(id, t)| **id != 1 && t.share.role() == Role::Leader)
        .map(|(id, _)| *id)
        .expect("a new leader");
    browser.publish(DASHBOARD, 3);
    // The old leader thaws: it has lost the lock and follows.
    let tab = browser.tabs.get_mut(&1).expect("tab");
    tab.frozen = false;
    let parked = std::mem::take(&mut tab.parked);
    for input in parked {
        browser.input(1, input);
    }
    browser.settle();
    browser.wait(1_000);
    assert_eq!(browser.tabs[&1].share.role(), Role::Follower);
    assert_eq!(browser.leader(), Some(new_leader));
    for id in 1..=3 {
        assert_eq!(browser.applied(id), [1, 2, 3, 4, 5, 6], "tab {id}");
    }
}

#[test]
fn the_leader_follows_the_union_of_the_visible_tabs_interests() {
    let mut browser = Browser::new();
    browser.open_tab(1, &[DASHBOARD]);
    browser.open_tab(2, &["alerts"]);
    let subscribed = |browser: &Browser| {
        browser.tabs[&1]
            .share
            .subscribed
            .clone()
            .expect("leading")
            .channel_list()
    };
    assert_eq!(subscribed(&browser), ["alerts", DASHBOARD]);
    // Hidden, tab 2 no longer counts while another tab is visible...
    browser.page(2, Input::VisibilityChanged { hidden: true });
    assert_eq!(subscribed(&browser), [DASHBOARD]);
    // ...and showing it again brings its channel back with a snapshot.
    browser.page(2, Input::VisibilityChanged { hidden: false });
    assert_eq!(subscribed(&browser), ["alerts", DASHBOARD]);
    let (_, _, since) = *browser.opened.last().expect("reconnected");
    assert!(since.is_some(), "resumes, with the new channel fresh");
    // A tab that changes what it needs changes the union.
    browser.page(2, Input::SetInterest(interest(&["alerts", "status"])));
    assert_eq!(subscribed(&browser), ["alerts", DASHBOARD, "status"]);
    // A tab that goes away without a word stops counting after a while.
    browser.close_tab(2, false);
    browser.wait(TAB_SILENCE_MS + TICK_MS);
    assert_eq!(subscribed(&browser), [DASHBOARD]);
    assert_eq!(browser.status(1).tabs, 1);
}

#[test]
fn a_follower_publishes_through_the_leader() {
    let mut browser = Browser::new();
    browser.open_tab(1, &[DASHBOARD]);
    browser.open_tab(2, &[DASHBOARD]);
    browser.page(
        2,
        Input::Publish {
            channel: DASHBOARD.into(),
            event: "annotation".into(),
            data: json!({"text": "deployed"}),
        },
    );
    // The leader moves to a WebSocket to send it.
    let (tab, transport, _) = *browser.opened.last().expect("opened");
    assert_eq!((tab, transport), (1, Transport::Ws));
    assert_eq!(browser.status(2).status.transport, Transport::Ws);
}

#[test]
fn a_browser_that_cannot_share_gives_each_tab_a_websocket() {
    let mut tab = Share::new(9, settings(&[DASHBOARD], None));
    let effects = tab.step(
        Env {
            now_ms: 0,
            online: true,
        },
        ShareInput::Start { shared: false },
    );
    assert!(effects.iter().any(|e| matches!(
        e,
        ShareEffect::Connection {
            effect: Effect::Open { open: Open::Ws, .. },
            ..
        }
    )));
    assert!(!effects.iter().any(|e| matches!(e, ShareEffect::Post(_))));
    assert_eq!(tab.status().role, Role::Solo);
}

#[test]
fn events_of_channels_and_keys_a_tab_does_not_want_are_not_applied() {
    let mut needs = Needs::default();
    needs.add("metrics", Some(vec!["web-1".into()]));
    let mut settings = settings(&[], Some(Position::new(5, 0)));
    settings.interest = needs.interest();
    let mut tab = Share::new(2, settings);
    let env = Env {
        now_ms: 0,
        online: true,
    };
    tab.step(env, ShareInput::Start { shared: true });
    tab.step(
        env,
        ShareInput::CaughtUp {
            id: 1,
            reply: PollReply {
                events: Vec::new(),
                next: Position::new(5, 0),
            },
        },
    );
    let relay = |seq: u64, channel: &str, key: &str| {
        ShareInput::Tab(TabMessage::Relay {
            tab: 1,
            delivery: Delivery::Event(Envelope {
                id: Position::new(5, seq),
                channel: channel.into(),
                event: "metrics".into(),
                key: Some(key.into()),
                ts: 0,
                data: json!(null),
            }),
        })
    };
    let delivered: Vec<u64> = [
        relay(1, "metrics", "web-1"),
        relay(2, "metrics", "web-2"),
        relay(3, "alerts", "web-1"),
        relay(4, "metrics", "web-1"),
    ]
    .into_iter()
    .flat_map(|input| tab.step(env, input))
    .filter_map(|e| match e {
        ShareEffect::Deliver(d) => Some(d.position().seq),
        _ => None,
    })
    .collect();
    assert_eq!(delivered, [1, 4]);
    assert_eq!(tab.position(), Some(Position::new(5, 4)));
}

#[test]
fn tab_messages_round_trip_as_json() {
    let messages = [
        TabMessage::Here {
            tab: 1,
            interest: interest(&[DASHBOARD]),
            hidden: true,
        },
        TabMessage::Bye { tab: 2 },
        TabMessage::Pin {
            tab: 3,
            pinned: Some(Transport::Poll),
        },
    ];
    for message in messages {
        let text = serde_json::to_string(&message).unwrap();
        let back: TabMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back, message);
    }
}
