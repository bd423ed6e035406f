//! The log's state, as it sits behind the hub's lock: every channel's
//! history ring, who watches which channel, and the bounds on both.
//!
//! Memory is bounded whatever clients do:
//! - each ring by count, bytes and age ([`HistoryRing`]);
//! - all rings together by a byte budget: past it, the oldest event of the
//!   whole log goes first (`fronts` orders the rings by their oldest event);
//! - the number of channels by a cap: a publish that would create one more
//!   is refused;
//! - a channel nobody watches is removed once its newest event is older than
//!   the history age (or once the budget took its last event), so names
//!   used once do not stay forever. Server channels never expire.
//!
//! A resume from before a removed channel's last event cannot know what it
//! missed there, so `removed_through` remembers the newest such event and
//! turns those resumes into resets.
//!
//! Watchers are the subscribers' wake-up handles, kept per channel: a
//! publish wakes only the subscribers of its channels. A channel's list is
//! copied on change and shared by `Arc`, so a publish takes it with one
//! reference count and wakes outside the lock.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use app::protocol::SERVER_CHANNELS;
use tokio::sync::Notify;

use super::{history::Freed, Event, HistoryRing, HubConfig, PublishError};

/// The subscribers to wake for one channel.
pub(super) type Watchers = Arc<Vec<(u64, Arc<Notify>)>>;

#[derive(Debug)]
pub(super) struct Log {
    /// Sequence number of the newest event (0: none yet).
    pub head: u64,
    pub channels: HashMap<Arc<str>, HistoryRing>,
    /// Each non-empty ring's oldest sequence number, to its channel.
    fronts: BTreeMap<u64, Arc<str>>,
    /// Bytes retained in all rings.
    pub bytes: usize,
    /// Newest sequence number of any removed channel.
    pub removed_through: u64,
    watchers: HashMap<Arc<str>, Watchers>,
}

impl Log {
    pub fn new() -> Self {
        Self {
            head: 0,
            channels: HashMap::new(),
            fronts: BTreeMap::new(),
            bytes: 0,
            removed_through: 0,
            watchers: HashMap::new(),
        }
    }

    /// Refuses a batch that would break a bound, before anything changes.
    pub fn check(&self, config: &HubConfig, batch: &[(&str, usize)]) -> Result<(), PublishError> {
        let limit = config.history_bytes.min(config.history_budget);
        if let Some((_, size)) = batch.iter().find(|(_, size)| *size > limit) {
            return Err(PublishError::TooLarge { size: *size, limit });
        }
        let mut new: Vec<&str> = batch
            .iter()
            .map(|(channel, _)| *channel)
            .filter(|c| !self.channels.contains_key(*c))
            .collect();
        new.sort_unstable();
        new.dedup();
        if !new.is_empty() && self.channels.len() + new.len() > config.max_channels {
            return Err(PublishError::TooManyChannels {
                limit: config.max_channels,
            });
        }
        Ok(())
    }

    /// The interned name of `channel`, if it has a ring or watchers.
    pub fn name(&self, channel: &str) -> Option<Arc<str>> {
        self.channels
            .get_key_value(channel)
            .map(|(name, _)| name.clone())
            .or_else(|| self.watchers.get_key_value(channel).map(|(n, _)| n.clone()))
    }

    /// Creates `channel`'s ring, empty, when it has none, so that it is
    /// live before its first event. False when the channel cap leaves no
    /// room for it.
    pub fn open(&mut self, config: &HubConfig, channel: &str) -> bool {
        if self.channels.contains_key(channel) {
            return true;
        }
        if self.channels.len() >= config.max_channels {
            return false;
        }
        let name = self.name(channel).unwrap_or_else(|| Arc::from(channel));
        self.channels.insert(
            name,
            HistoryRing::new(
                config.history_events,
                config.history_bytes,
                config.history_age,
            ),
        );
        true
    }

    /// Appends an event already placed at `head + 1`; returns what was
    /// evicted to keep the bounds.
    pub fn append(&mut self, config: &HubConfig, event: Arc<Event>) -> Freed {
        self.head = event.position.seq;
        self.bytes += event.size();
        let channel = event.channel.clone();
        let ring = self.channels.entry(channel.clone()).or_insert_with(|| {
            HistoryRing::new(
                config.history_events,
                config.history_bytes,
                config.history_age,
            )
        });
        let before = ring.oldest_seq();
        let mut freed = ring.push(event);
        let after = ring.oldest_seq();
        self.moved_front(&channel, before, after);
        self.bytes -= freed.bytes;
        while self.bytes > config.history_budget {
            let Some((_, oldest)) = self.fronts.first_key_value() else {
                break;
            };
            let oldest = oldest.clone();
            let evicted = self.evict_oldest_of(&oldest);
            freed.events += evicted.events;
            freed.bytes += evicted.bytes;
        }
        freed
    }

    fn evict_oldest_of(&mut self, channel: &Arc<str>) -> Freed {
        let Some(ring) = self.channels.get_mut(channel) else {
            return Freed::default();
        };
        let before = ring.oldest_seq();
        let freed = ring.pop_oldest();
        let after = ring.oldest_seq();
        let emptied = ring.is_empty();
        self.moved_front(channel, before, after);
        self.bytes -= freed.bytes;
        if emptied && !self.watchers.contains_key(channel) {
            self.remove(channel);
        }
        freed
    }

    fn moved_front(&mut self, channel: &Arc<str>, before: Option<u64>, after: Option<u64>) {
        if before == after {
            return;
        }
        if let Some(before) = before {
            self.fronts.remove(&before);
        }
        if let Some(after) = after {
            self.fronts.insert(after, channel.clone());
        }
    }

    fn remove(&mut self, channel: &Arc<str>) {
        if let Some(ring) = self.channels.remove(channel) {
            if let Some(oldest) = ring.oldest_seq() {
                self.fronts.remove(&oldest);
            }
            self.bytes -= ring.bytes();
            self.removed_through = self.removed_through.max(ring.newest_seq().unwrap_or(0));
        }
    }

    /// Applies the age bound everywhere and removes idle channels: those
    /// nobody watches whose newest event is older than the history age.
    /// Returns (events evicted, channels removed).
    pub fn sweep(&mut self, config: &HubConfig, now_ms: i64) -> (usize, usize) {
        let oldest_allowed = now_ms
            .saturating_sub(i64::try_from(config.history_age.as_millis()).unwrap_or(i64::MAX));
        let mut idle = Vec::new();
        let mut moved = Vec::new();
        let mut evicted = 0;
        for (name, ring) in &mut self.channels {
            let before = ring.oldest_seq();
            let freed = ring.expire(now_ms);
            evicted += freed.events;
            self.bytes -= freed.bytes;
            if before != ring.oldest_seq() {
                moved.push((name.clone(), before, ring.oldest_seq()));
            }
            let stale = ring.latest().is_none_or(|e| e.ts < oldest_allowed);
            if stale && !self.watchers.contains_key(name) && !SERVER_CHANNELS.contains(&&**name) {
                idle.push(name.clone());
            }
        }
        for (name, before, after) in moved {
            self.moved_front(&name, before, after);
        }
        for name in &idle {
            self.remove(name);
        }
        (evicted, idle.len())
    }

    /// Wakes `notify` when `channel` gets an event.
    pub fn watch(&mut self, channel: &Arc<str>, id: u64, notify: &Arc<Notify>) {
        let list = self.watchers.entry(channel.clone()).or_default();
        let mut copy = Vec::with_capacity(list.len() + 1);
        copy.extend(list.iter().cloned());
        copy.push((id, notify.clone()));
        *list = Arc::new(copy);
    }

    /// Stops waking subscriber `id` for `channel`.
    pub fn unwatch(&mut self, channel: &Arc<str>, id: u64) {
        let Some(list) = self.watchers.get_mut(channel) else {
            return;
        };
        let copy: Vec<_> = list.iter().filter(|(w, _)| *w != id).cloned().collect();
        if copy.is_empty() {
            self.watchers.remove(channel);
            // A ring the budget emptied while watched goes with its last
            // watcher. One opened for a reader and never published to
            // stays: a page renders, catches up with a poll (a watcher that
            // comes and goes), then subscribes; were the channel gone in
            // between, a source that publishes only to live channels would
            // drop the points it stores meanwhile.
            if self
                .channels
                .get(channel)
                .is_some_and(|ring| ring.is_empty() && !ring.never_held())
            {
                self.remove(channel);
            }
        } else {
            *list = Arc::new(copy);
        }
    }

    /// The subscribers to wake for `channel`.
    pub fn watchers(&self, channel: &str) -> Option<Watchers> {
        self.watchers.get(channel).cloned()
    }
}
