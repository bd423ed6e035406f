//! The live path of stored points: after the store has taken a batch, each
//! series' new points are published on the hub's `series` channel, one
//! event per series per batch, keyed by the series. Pages follow the series
//! they show by filtering on those keys, and get the same points a query of
//! the store answers, so live and history agree point for point.
//!
//! While nobody follows the channel (and it holds no history a client
//! could resume from) nothing is published: a flood of ingest costs the
//! hub nothing until a page wants it. A page's render opens the channel
//! ([`Hub::open`]) before it reads the store, so the points stored between
//! its render and its subscription are published for it.

use std::collections::BTreeMap;

use app::protocol::{SeriesKey, SeriesPoints, SERIES_CHANNEL, SERIES_EVENT};

use crate::{
    hub::{Hub, NewEvent},
    store::{Ingested, Point},
};

/// Publishes what an ingest of `batch` stored: all of it, or what partial
/// acceptance kept (the points `ingested` does not list as refused).
pub fn publish_stored(hub: &Hub, batch: &[Point], ingested: &Ingested) {
    if ingested.stored == 0 {
        return;
    }
    let refused: std::collections::HashSet<usize> =
        ingested.refused.iter().map(|r| r.index).collect();
    let kept: Vec<&Point> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| !refused.contains(i))
        .map(|(_, p)| p)
        .collect();
    publish(hub, &kept);
}

/// Publishes stored points, grouped by series, in batch order.
pub fn publish(hub: &Hub, points: &[&Point]) {
    if points.is_empty() || !hub.is_live(SERIES_CHANNEL) {
        return;
    }
    let mut by_series: BTreeMap<&SeriesKey, Vec<(i64, f64)>> = BTreeMap::new();
    for point in points {
        by_series
            .entry(&point.key)
            .or_default()
            .push((point.sample.ts, point.sample.value));
    }
    let events: Vec<NewEvent<SeriesPoints>> = by_series
        .into_iter()
        .map(|(key, points)| NewEvent {
            channel: SERIES_CHANNEL.to_string(),
            event_type: SERIES_EVENT.to_string(),
            key: Some(key.to_string()),
            data: SeriesPoints {
                key: key.clone(),
                points,
                band: None,
            },
        })
        .collect();
    for chunk in events.chunks(1_000) {
        if let Err(error) = hub.publish_batch(chunk) {
            tracing::warn!(%error, channel = SERIES_CHANNEL, "cannot publish stored points");
        }
    }
}
