//! Coalescing: what a subscriber gets when updates come faster than a human
//! can read them.
//!
//! Channels of kind [`ChannelKind::Latest`] carry the current value of keyed
//! things (a host's metrics, a service's status, a user's presence): only the
//! newest value of each key matters. Within one delivery window a
//! subscriber's batch keeps only the last event of each (channel, key) and
//! drops the earlier ones; the batch stays in log order, so a client that
//! applies it and resumes from its last position has missed nothing but
//! superseded values. Events of [`ChannelKind::Stream`] channels (alerts,
//! dashboards, user channels) are never dropped.

use std::{collections::HashSet, sync::Arc};

pub use app::protocol::ChannelKind;

use super::Delivery;

/// Removes superseded latest-value events from a batch in log order; returns
/// how many were removed. A snapshot is a barrier: nothing is coalesced
/// across it.
pub fn coalesce(batch: &mut Vec<Delivery>) -> usize {
    let before = batch.len();
    let mut seen: HashSet<(Arc<str>, Arc<str>)> = HashSet::new();
    let mut keep = vec![true; batch.len()];
    for (index, delivery) in batch.iter().enumerate().rev() {
        match delivery {
            Delivery::Snapshot { .. } => seen.clear(),
            Delivery::Event(event) if ChannelKind::of(&event.channel) == ChannelKind::Latest => {
                let key = (event.channel.clone(), event.coalescing_key());
                keep[index] = seen.insert(key);
            }
            Delivery::Event(_) => {}
        }
    }
    let mut flags = keep.into_iter();
    batch.retain(|_| flags.next().unwrap_or(true));
    before - batch.len()
}

#[cfg(test)]
mod tests {
    use app::protocol::Position;
    use bytes::Bytes;

    use super::*;
    use crate::hub::{Event, SnapshotKind};

    fn event(seq: u64, channel: &str, key: Option<&str>) -> Delivery {
        Delivery::Event(Arc::new(
            Event::new(
                Position::new(1, seq),
                channel.into(),
                "update".into(),
                key.map(Arc::from),
                0,
                &seq,
            )
            .unwrap(),
        ))
    }

    fn seqs(batch: &[Delivery]) -> Vec<u64> {
        batch.iter().map(|d| d.position().seq).collect()
    }

    #[test]
    fn only_the_newest_value_of_each_key_survives_in_log_order() {
        let mut batch = vec![
            event(1, "metrics", Some("a")),
            event(2, "metrics", Some("b")),
            event(3, "alerts", None),
            event(4, "metrics", Some("a")),
            event(5, "alerts", None),
            event(6, "metrics", Some("a")),
        ];
        assert_eq!(coalesce(&mut batch), 2);
        assert_eq!(seqs(&batch), [2, 3, 5, 6]);
    }

    #[test]
    fn stream_channels_and_snapshots_are_never_coalesced_across() {
        let snapshot = Delivery::Snapshot {
            kind: SnapshotKind::Initial,
            head: Position::new(1, 3),
            json: Bytes::new(),
            ws_json: Bytes::new(),
        };
        let mut batch = vec![
            event(1, "metrics", Some("a")),
            snapshot,
            event(4, "metrics", Some("a")),
            event(5, "room", None),
            event(6, "room", None),
        ];
        assert_eq!(coalesce(&mut batch), 0);
        assert_eq!(seqs(&batch), [1, 3, 4, 5, 6]);
    }
}
