//! A property test of history and resume: whatever the history size, the
//! live buffer size, the channels a client follows and when it disconnects
//! and resumes, the client applies every event of its channels exactly once
//! and in order, except across a `reset`, and gets a `reset` only when some
//! event it had not seen is no longer retained.
//!
//! Clients read either what is ready or through `next_batch` cancelled at a
//! random point (the way a `select!` drops it when another branch wins),
//! with or without a delivery window; on the latest-value channel
//! (`presence`) a value may be skipped only when a newer one of its key
//! follows.
//!
//! Cases are generated from seeds by a small deterministic generator, so a
//! failure names the seed that reproduces it.

use std::{sync::Arc, time::Duration};

use app::protocol::{Envelope, Position, Snapshot};

use super::{Delivery, Hub, HubConfig, SnapshotKind, Subscription};

const EPOCH: u64 = 9;
const CHANNELS: [&str; 3] = ["a", "b", "presence"];
/// The latest-value channel among `CHANNELS`.
const LATEST: usize = 2;

use crate::rng::Rng;

struct Model {
    history: usize,
    /// (seq, channel index) of every published event, in order.
    log: Vec<(u64, usize)>,
}

impl Model {
    fn is_retained(&self, seq: u64, channel: usize) -> bool {
        let of_channel: Vec<u64> = self
            .log
            .iter()
            .filter(|(_, c)| *c == channel)
            .map(|(s, _)| *s)
            .collect();
        let first_kept = of_channel.len().saturating_sub(self.history);
        of_channel[first_kept..].contains(&seq)
    }
}

struct Client {
    subscribed: Vec<usize>,
    last: Option<u64>,
    applied: usize,
}

impl Client {
    fn apply(&mut self, delivery: Delivery, model: &Model, seed: u64) {
        match delivery {
            Delivery::Event(event) => {
                let channel = CHANNELS
                    .iter()
                    .position(|c| **c == *event.channel)
                    .expect("a known channel");
                assert!(
                    self.subscribed.contains(&channel),
                    "seed {seed}: event of an unsubscribed channel"
                );
                let seq = event.position.seq;
                let last = self
                    .last
                    .expect("seed {seed}: an event before any snapshot");
                assert!(
                    seq > last,
                    "seed {seed}: event {seq} after {last}: duplicate or out of order"
                );
                // A presence value may be coalesced away when a newer one
                // (all share one key) is in the same batch: it comes later
                // in the batch, and a client resuming from any event of the
                // batch still gets it.
                let superseded = |s: u64| model.log.iter().any(|(t, c)| *c == LATEST && *t > s);
                let skipped = model.log.iter().find(|(s, c)| {
                    *s > last
                        && *s < seq
                        && self.subscribed.contains(c)
                        && !(*c == LATEST && superseded(*s))
                });
                assert!(
                    skipped.is_none(),
                    "seed {seed}: gap: {skipped:?} missing before {seq}"
                );
                self.last = Some(seq);
                self.applied += 1;
            }
            Delivery::Snapshot {
                kind, head, json, ..
            } => {
                if let (SnapshotKind::Reset { reason }, Some(last)) = (&kind, self.last) {
                    let lost = model.log.iter().any(|(s, c)| {
                        *s > last && self.subscribed.contains(c) && !model.is_retained(*s, *c)
                    });
                    assert!(lost, "seed {seed}: needless reset from {last} ({reason})");
                }
                let envelope: Envelope<Snapshot> =
                    serde_json::from_slice(&json).expect("snapshot JSON");
                assert_eq!(envelope.id, Position::new(EPOCH, head.seq));
                // Each subscribed channel's part of the snapshot is its
                // retained events, in order, ending with its newest.
                for (channel, name) in CHANNELS.iter().enumerate() {
                    let held: Vec<u64> = envelope
                        .data
                        .events
                        .iter()
                        .filter(|e| e.channel == *name)
                        .map(|e| e.id.seq)
                        .collect();
                    let newest = model
                        .log
                        .iter()
                        .rev()
                        .find(|(s, c)| *c == channel && *s <= head.seq)
                        .map(|(s, _)| *s);
                    if self.subscribed.contains(&channel) {
                        assert_eq!(
                            held.last().copied(),
                            newest,
                            "seed {seed}: snapshot ends with the newest of {name}"
                        );
                        assert!(
                            held.len() <= model.history,
                            "seed {seed}: snapshot holds at most the history"
                        );
                        assert!(
                            held.windows(2).all(|w| w[0] < w[1]),
                            "seed {seed}: snapshot in log order"
                        );
                    } else {
                        assert!(
                            held.is_empty(),
                            "seed {seed}: snapshot of an unsubscribed channel"
                        );
                    }
                }
                self.last = Some(head.seq);
            }
        }
    }
}

fn run_case(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let history = 1 + rng.below(8) as usize;
    let config = HubConfig {
        history_events: history,
        history_age: Duration::from_secs(3600),
        coalesce_window: Duration::from_millis(rng.below(2) * 2),
        ..HubConfig::default()
    };
    let hub = Hub::with_epoch(config, EPOCH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a test runtime");
    let mut subscribed: Vec<usize> = (0..3).filter(|_| rng.below(2) == 0).collect();
    if subscribed.is_empty() {
        subscribed.push(rng.below(3) as usize);
    }
    let names = |subscribed: &[usize]| {
        subscribed
            .iter()
            .map(|&c| Arc::from(CHANNELS[c]))
            .collect::<Vec<_>>()
    };
    let mut model = Model {
        history,
        log: Vec::new(),
    };
    let mut client = Client {
        subscribed: subscribed.clone(),
        last: None,
        applied: 0,
    };
    let mut subscription: Option<Subscription> = Some(hub.subscribe(names(&subscribed), None));

    for _ in 0..150 {
        match rng.below(10) {
            0..=5 => {
                let channel = rng.below(3) as usize;
                let key = (channel == LATEST).then_some("k");
                let position = hub
                    .publish(CHANNELS[channel], "message", key, &0)
                    .expect("publish");
                model.log.push((position.seq, channel));
            }
            6 => {
                if let Some(subscription) = subscription.as_mut() {
                    // Drain only part of what is ready: a slow reader.
                    let take = 1 + rng.below(4) as usize;
                    for delivery in subscription.ready_batch(take) {
                        client.apply(delivery, &model, seed);
                    }
                }
            }
            7 => {
                if let Some(subscription) = subscription.as_mut() {
                    // A batch raced against a timer that may win first: the
                    // dropped future must lose nothing.
                    let take = 1 + rng.below(4) as usize;
                    let patience = Duration::from_micros(rng.below(3) * 1500);
                    let batch = runtime.block_on(async {
                        tokio::time::timeout(patience, subscription.next_batch(take)).await
                    });
                    for delivery in batch.ok().flatten().unwrap_or_default() {
                        client.apply(delivery, &model, seed);
                    }
                }
            }
            8 => subscription = None,
            _ => {
                if subscription.is_none() {
                    let since = client.last.map(|seq| Position::new(EPOCH, seq));
                    subscription = Some(hub.subscribe(names(&subscribed), since));
                }
            }
        }
    }
    let since = client.last.map(|seq| Position::new(EPOCH, seq));
    let mut subscription = subscription.unwrap_or_else(|| hub.subscribe(names(&subscribed), since));
    loop {
        let batch = subscription.ready_batch(usize::MAX);
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            client.apply(delivery, &model, seed);
        }
    }
    let newest = model
        .log
        .iter()
        .rev()
        .find(|(_, c)| subscribed.contains(c))
        .map(|(s, _)| *s);
    if let Some(newest) = newest {
        assert!(
            client.last >= Some(newest),
            "seed {seed}: caught up to {:?}, log reaches {newest}",
            client.last
        );
    }
}

#[test]
fn every_event_is_applied_once_in_order_or_replaced_by_a_necessary_reset() {
    for seed in 1..=500 {
        run_case(seed);
    }
}
