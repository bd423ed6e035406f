//! The metrics store: series' samples kept durably and compactly under the
//! data directory, for range queries (and, to come, rollups).
//!
//! A write goes through [`Store::ingest`]: the whole batch is checked first
//! (names, values, timestamps, limits, order within each series), so it is
//! either stored whole or refused whole with every refused point and why
//! (unless the caller accepts a partial write). Then it is appended to the
//! write-ahead log (`wal`, as `record`s: new series, then samples) and only
//! then applied to the in-memory `head`, whose per-series chunks (`chunk`,
//! over the bit stream of `bits`) are compressed the way Gorilla and
//! Prometheus do: delta-of-delta timestamps and XOR'd values. When
//! `ingest` returns, the batch survives the process being killed; the log
//! is flushed to disk every second ([`Store::sync`], driven by
//! [`run_syncer`]), so a power loss costs at most about a second.
//!
//! [`Store::open`] replays the log into the head: a restart serves the same
//! history.

pub mod bits;
pub mod chunk;
pub mod head;
pub mod record;
pub mod wal;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use app::protocol::SeriesKey;

use self::{
    chunk::Sample,
    head::{Head, HeadError, Limits, SeriesId},
    record::Record,
    wal::{Wal, WalError},
};
use crate::shutdown::Shutdown;

/// Segment size of the write-ahead log.
const SEGMENT_BYTES: u64 = 64 << 20;
/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1_000;

/// How the store is set up.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Where its files live.
    pub dir: PathBuf,
    /// What it accepts.
    pub limits: Limits,
    /// How long raw samples are kept: older ones are refused.
    pub retention_ms: i64,
}

/// One point to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The series.
    pub key: SeriesKey,
    /// When and what.
    pub sample: Sample,
}

/// How much of a batch to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// All of it, or nothing if a point is refused.
    All,
    /// What can be stored.
    Partial,
    /// Nothing: only find the refusals.
    CheckOnly,
}

/// A point that was refused, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Its index in the batch.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// What an ingest did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ingested {
    /// Points stored.
    pub stored: usize,
    /// Points refused (all of them are then unstored, unless partial).
    pub refused: Vec<Refusal>,
}

/// Why the store cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] WalError),
}

/// What opening the store found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opened {
    /// Series replayed.
    pub series: usize,
    /// Samples replayed.
    pub samples: u64,
    /// Records that did not decode or apply, skipped.
    pub skipped_records: usize,
    /// Bytes of an unfinished last write cut off.
    pub torn_bytes: u64,
    /// Damage found before the end of the log: where.
    pub corrupt: Option<(PathBuf, u64)>,
}

struct Inner {
    head: Head,
    wal: Wal,
}

/// The store. Cloning shares it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    retention_ms: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (series, samples) = self.counts();
        f.debug_struct("Store")
            .field("series", &series)
            .field("samples", &samples)
            .finish()
    }
}

impl Store {
    /// Opens the store in `config.dir`, replaying its log.
    pub fn open(config: &StoreConfig) -> Result<(Self, Opened), StoreError> {
        let (wal, replayed) = Wal::open(&config.dir.join("wal"), SEGMENT_BYTES)?;
        let mut head = Head::new(config.limits);
        let mut opened = Opened {
            torn_bytes: replayed.torn_bytes,
            corrupt: replayed.corrupt,
            ..Opened::default()
        };
        for bytes in &replayed.records {
            let applied = match Record::decode(bytes) {
                Ok(Record::Series(id, key)) => match head.add(&key) {
                    Ok((added, _)) => added == id,
                    Err(_) => false,
                },
                // Every sample is applied that can be, even after one
                // that cannot.
                Ok(Record::Samples(samples)) => {
                    samples
                        .into_iter()
                        .filter(|&(id, sample)| head.append(id, sample).is_err())
                        .count()
                        == 0
                }
                Err(_) => false,
            };
            if !applied {
                opened.skipped_records += 1;
            }
        }
        opened.series = head.series_count();
        opened.samples = head.sample_count();
        let store = Self {
            inner: Arc::new(Mutex::new(Inner { head, wal })),
            retention_ms: config.retention_ms,
        };
        Ok((store, opened))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the head as consistent as
        // any single step: keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a batch, as `mode` says: all of it or (with refusals) none
    /// of it; or what can be stored; or nothing (only the refusals are
    /// found). `now_ms` is the server's clock, against which timestamps are
    /// judged.
    pub fn ingest(
        &self,
        points: &[Point],
        mode: Mode,
        now_ms: i64,
    ) -> Result<Ingested, StoreError> {
        let mut inner = self.lock();
        let mut refused = Vec::new();
        // The batch is checked as a whole: new series count against the
        // limit together, and each series' samples must go forward from
        // its newest, within the batch too.
        let mut newest: std::collections::HashMap<&SeriesKey, i64> = Default::default();
        let mut new_series: Vec<&SeriesKey> = Vec::new();
        let mut accepted = Vec::with_capacity(points.len());
        for (index, point) in points.iter().enumerate() {
            match self.check(&inner.head, point, now_ms, &mut newest, &mut new_series) {
                Ok(()) => accepted.push(point),
                Err(reason) => refused.push(Refusal { index, reason }),
            }
        }
        let store_none = match mode {
            Mode::All => !refused.is_empty(),
            Mode::Partial => false,
            Mode::CheckOnly => true,
        };
        if store_none {
            return Ok(Ingested { stored: 0, refused });
        }
        // Log first: new series, then the samples.
        let mut records = Vec::new();
        let mut ids: std::collections::HashMap<&SeriesKey, SeriesId> = Default::default();
        let first_id = inner.head.series_count() as u32;
        for (next_id, key) in (first_id..).zip(&new_series) {
            let id = SeriesId(next_id);
            ids.insert(key, id);
            records.push(Record::Series(id, (*key).clone()));
        }
        let samples: Vec<(SeriesId, Sample)> = accepted
            .iter()
            .map(|p| {
                let id = inner.head.id(&p.key).or_else(|| ids.get(&p.key).copied());
                // Every accepted point's series exists or was just named.
                (id.expect("an accepted point has a series"), p.sample)
            })
            .collect();
        records.push(Record::Samples(samples.clone()));
        for record in &records {
            inner.wal.append(&record.encode())?;
        }
        for key in new_series {
            let _ = inner.head.add(key);
        }
        for (id, sample) in samples {
            // Checked above; the head agrees.
            let _ = inner.head.append(id, sample);
        }
        Ok(Ingested {
            stored: accepted.len(),
            refused,
        })
    }

    fn check<'a>(
        &self,
        head: &Head,
        point: &'a Point,
        now_ms: i64,
        newest: &mut std::collections::HashMap<&'a SeriesKey, i64>,
        new_series: &mut Vec<&'a SeriesKey>,
    ) -> Result<(), String> {
        point.key.validate().map_err(|e| e.to_string())?;
        let Sample { ts, value } = point.sample;
        if !value.is_finite() {
            return Err(format!("value {value} is not a finite number"));
        }
        if ts > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(format!(
                "timestamp {ts} is more than 10 minutes in the future"
            ));
        }
        if ts < now_ms.saturating_sub(self.retention_ms) {
            return Err(format!("timestamp {ts} is older than the retention"));
        }
        let known = head.id(&point.key);
        if known.is_none() && !new_series.contains(&&point.key) {
            head.check(&point.key, new_series.len())
                .map_err(|e| e.to_string())?;
            new_series.push(&point.key);
        }
        let before = newest
            .get(&point.key)
            .copied()
            .or_else(|| known.and_then(|id| head.newest(id)));
        if let Some(before) = before {
            if ts < before {
                return Err(HeadError::OutOfOrder {
                    series: point.key.to_string(),
                    ts,
                    newest: before,
                }
                .to_string());
            }
        }
        newest.insert(&point.key, ts);
        Ok(())
    }

    /// Flushes the log to disk. The lock is held only to take a handle.
    pub fn sync(&self) -> Result<(), StoreError> {
        let handle = self.lock().wal.sync_handle()?;
        handle.sync_data().map_err(|source| {
            StoreError::Wal(WalError::Io {
                path: PathBuf::from("wal"),
                source,
            })
        })
    }

    /// Series whose name is `name` and whose labels pass every matcher,
    /// with their samples from `from` to `to` (inclusive); at most `limit`
    /// series (`Err` with the count when more match).
    pub fn select(
        &self,
        name: &str,
        matchers: &[Matcher],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(SeriesKey, Vec<Sample>)>, usize> {
        let inner = self.lock();
        let ids: Vec<(SeriesId, SeriesKey)> = inner
            .head
            .keys()
            .filter(|(_, key)| key.name == name && matchers.iter().all(|m| m.matches(key)))
            .map(|(id, key)| (id, key.clone()))
            .collect();
        if ids.len() > limit {
            return Err(ids.len());
        }
        Ok(ids
            .into_iter()
            .map(|(id, key)| {
                let samples = inner.head.range(id, from, to).unwrap_or_default();
                (key, samples)
            })
            .collect())
    }

    /// Series and samples held.
    pub fn counts(&self) -> (usize, u64) {
        let inner = self.lock();
        (inner.head.series_count(), inner.head.sample_count())
    }
}

/// A condition on one label (a missing label has the empty value, as in
/// Prometheus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: String,
    /// The value it must (or must not) have.
    pub value: String,
    /// `!=` instead of `=`.
    pub negated: bool,
}

impl Matcher {
    /// Whether `key` passes.
    pub fn matches(&self, key: &SeriesKey) -> bool {
        let value = key.labels.get(&self.label).map_or("", String::as_str);
        (value == self.value) != self.negated
    }
}

/// Flushes the store's log every `every` until shutdown, then once more.
pub async fn run_syncer(store: Store, every: Duration, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.clone().wait() => break,
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.sync()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "flushing the write-ahead log failed"),
            Err(error) => tracing::error!(%error, "the write-ahead log flush task failed"),
        }
    }
    if let Err(error) = store.sync() {
        tracing::error!(%error, "flushing the write-ahead log at shutdown failed");
    }
}

/// The directory a store would use under `data_dir`.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("metrics")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("livedash-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const NOW: i64 = 1_795_000_000_000;

    fn config(dir: &TempDir) -> StoreConfig {
        StoreConfig {
            dir: dir.0.clone(),
            limits: Limits::default(),
            retention_ms: 24 * 3_600_000,
        }
    }

    fn point(name: &str, host: &str, ts: i64, value: f64) -> Point {
        Point {
            key: SeriesKey::new(name, [("host".to_string(), host.to_string())]).unwrap(),
            sample: Sample { ts, value },
        }
    }

    #[test]
    fn a_batch_with_a_bad_point_stores_nothing_and_names_every_refusal() {
        let dir = TempDir::new("refuse");
        let (store, _) = Store::open(&config(&dir)).unwrap();
        let batch = [
            point("cpu", "a", NOW, 1.0),
            point("cpu", "a", NOW - 1_000, 2.0),
            point("cpu", "b", NOW + 3_600_000, 3.0),
            point("cpu", "c", NOW - 48 * 3_600_000, 4.0),
            point("cpu", "d", NOW, f64::NAN),
            point("mem", "a", NOW, 5.0),
        ];
        let result = store.ingest(&batch, Mode::All, NOW).unwrap();
        assert_eq!(result.stored, 0);
        let refused: Vec<usize> = result.refused.iter().map(|r| r.index).collect();
        assert_eq!(refused, [1, 2, 3, 4]);
        assert!(result.refused[0].reason.contains("older than the newest"));
        assert_eq!(store.counts(), (0, 0));
        // With partial acceptance the good points are stored.
        let result = store.ingest(&batch, Mode::Partial, NOW).unwrap();
        assert_eq!(result.stored, 2);
        assert_eq!(store.counts(), (2, 2));
    }

    #[test]
    fn a_reopened_store_serves_the_same_history() {
        let dir = TempDir::new("reopen");
        {
            let (store, _) = Store::open(&config(&dir)).unwrap();
            for i in 0..500 {
                let batch: Vec<Point> = ["a", "b", "c"]
                    .iter()
                    .map(|host| point("cpu", host, NOW - 500_000 + i * 1_000, i as f64))
                    .collect();
                assert_eq!(store.ingest(&batch, Mode::All, NOW).unwrap().stored, 3);
            }
        }
        let (store, opened) = Store::open(&config(&dir)).unwrap();
        assert_eq!(
            (opened.series, opened.samples, opened.skipped_records),
            (3, 1_500, 0)
        );
        let host_b = Matcher {
            label: "host".into(),
            value: "b".into(),
            negated: false,
        };
        let selected = store
            .select("cpu", std::slice::from_ref(&host_b), NOW - 100_000, NOW, 10)
            .unwrap();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].1.len(), 100);
        assert_eq!(selected[0].1.last().unwrap().value, 499.0);
        assert_eq!(store.select("cpu", &[], 0, NOW, 10).unwrap().len(), 3);
        let not_b = Matcher {
            negated: true,
            ..host_b
        };
        assert_eq!(store.select("cpu", &[not_b], 0, NOW, 10).unwrap().len(), 2);
        assert_eq!(store.select("cpu", &[], 0, NOW, 2), Err(3));
    }

    #[test]
    fn the_series_limit_counts_a_batch_s_new_series_together() {
        let dir = TempDir::new("limit");
        let mut config = config(&dir);
        config.limits.max_series = 2;
        let (store, _) = Store::open(&config).unwrap();
        let batch = [
            point("cpu", "a", NOW, 1.0),
            point("cpu", "b", NOW, 1.0),
            point("cpu", "c", NOW, 1.0),
        ];
        let result = store.ingest(&batch, Mode::All, NOW).unwrap();
        assert_eq!(result.refused.len(), 1);
        assert_eq!(result.refused[0].index, 2);
        assert!(result.refused[0].reason.contains("at most 2 series"));
        assert_eq!(store.counts(), (0, 0));
    }
}
