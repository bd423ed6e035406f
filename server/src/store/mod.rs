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
pub mod downsample;
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
/// Samples per record when the log is rewritten.
const REWRITE_BATCH: usize = 100_000;
/// How often [`run_syncer`] runs [`Store::maintain`], in flushes.
const MAINTAIN_EVERY: u32 = 60;
/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1_000;

/// How the store is set up.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Where its files live.
    pub dir: PathBuf,
    /// What it accepts.
    pub limits: Limits,
    /// How long raw samples are kept: older ones are refused, and dropped
    /// by [`Store::maintain`].
    pub retention_ms: i64,
    /// The log is rewritten once it is larger than this and than twice
    /// what the head holds.
    pub rewrite_floor_bytes: u64,
}

/// The default [`StoreConfig::rewrite_floor_bytes`]: one segment.
pub const REWRITE_FLOOR_BYTES: u64 = SEGMENT_BYTES;

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

/// What [`Store::maintain`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Samples dropped for being older than the retention.
    pub dropped: u64,
    /// The log's size before and after a rewrite (`None`: not rewritten).
    pub rewritten: Option<(u64, u64)>,
}

/// The store. Cloning shares it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    retention_ms: i64,
    rewrite_floor: u64,
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
            rewrite_floor: config.rewrite_floor_bytes,
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

    /// Keeps the store within its bounds: drops whole chunks older than
    /// the retention and, once the log is larger than the floor and twice
    /// what the head holds, rewrites it: the head's series and samples go
    /// into new segments (synced), then the old segments are removed. A
    /// crash in the middle leaves the old segments and part of the new:
    /// replaying both gives the same head (a series is added once, and a
    /// sample not after its series' newest is skipped). Ingest waits
    /// meanwhile; a rewrite writes about 20 bytes per sample held.
    pub fn maintain(&self, now_ms: i64) -> Result<Maintained, StoreError> {
        let mut inner = self.lock();
        let Inner { head, wal } = &mut *inner;
        let dropped = head.drop_before(now_ms.saturating_sub(self.retention_ms));
        let live = head.series_count() as u64 * 128 + head.sample_count() * 20;
        let before = wal.total_bytes();
        if before <= self.rewrite_floor.max(2 * live) {
            return Ok(Maintained {
                dropped,
                rewritten: None,
            });
        }
        let first = wal.roll()?;
        let ids: Vec<(SeriesId, SeriesKey)> =
            head.keys().map(|(id, key)| (id, key.clone())).collect();
        for (id, key) in &ids {
            wal.append(&Record::Series(*id, key.clone()).encode())?;
        }
        let mut batch = Vec::new();
        for (id, _) in &ids {
            for sample in head.range(*id, i64::MIN, i64::MAX).unwrap_or_default() {
                batch.push((*id, sample));
                if batch.len() == REWRITE_BATCH {
                    wal.append(&Record::Samples(std::mem::take(&mut batch)).encode())?;
                }
            }
        }
        if !batch.is_empty() {
            wal.append(&Record::Samples(batch).encode())?;
        }
        wal.sync()?;
        wal.remove_before(first)?;
        Ok(Maintained {
            dropped,
            rewritten: Some((before, wal.total_bytes())),
        })
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
        // Under the lock only the chunks are taken (shared, not copied);
        // decoding, the long part, leaves ingest free to go on.
        let taken: Vec<(SeriesKey, Vec<Arc<[u8]>>)> = {
            let inner = self.lock();
            let ids: Vec<(SeriesId, &SeriesKey)> = inner
                .head
                .keys()
                .filter(|(_, key)| key.name == name && matchers.iter().all(|m| m.matches(key)))
                .collect();
            if ids.len() > limit {
                return Err(ids.len());
            }
            ids.into_iter()
                .map(|(id, key)| (key.clone(), inner.head.chunks(id, from, to)))
                .collect()
        };
        // Many series are decoded on every core (each thread a contiguous
        // share, so the answer keeps its order).
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(taken.len().max(1));
        let share = taken.len().div_ceil(threads).max(1);
        let decode = |part: &[(SeriesKey, Vec<Arc<[u8]>>)]| -> Vec<(SeriesKey, Vec<Sample>)> {
            part.iter()
                .map(|(key, chunks)| {
                    let samples = head::decode_range(chunks, from, to).unwrap_or_default();
                    (key.clone(), samples)
                })
                .collect()
        };
        if threads <= 1 {
            return Ok(decode(&taken));
        }
        Ok(std::thread::scope(|scope| {
            let handles: Vec<_> = taken
                .chunks(share)
                .map(|part| scope.spawn(move || decode(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().unwrap_or_default())
                .collect()
        }))
    }

    /// Metric names starting with `prefix`, sorted, at most `limit`.
    pub fn names(&self, prefix: &str, limit: usize) -> Vec<String> {
        let inner = self.lock();
        let names: std::collections::BTreeSet<&str> = inner
            .head
            .keys()
            .map(|(_, key)| key.name.as_str())
            .filter(|name| name.starts_with(prefix))
            .collect();
        names.into_iter().take(limit).map(str::to_string).collect()
    }

    /// The label names of the series named `name` (all series when
    /// `None`), sorted.
    pub fn label_names(&self, name: Option<&str>) -> Vec<String> {
        let inner = self.lock();
        let labels: std::collections::BTreeSet<&str> = inner
            .head
            .keys()
            .filter(|(_, key)| name.is_none_or(|n| key.name == n))
            .flat_map(|(_, key)| key.labels.keys().map(String::as_str))
            .collect();
        labels.into_iter().map(str::to_string).collect()
    }

    /// The values `label` takes among the series named `name` (all series
    /// when `None`) that start with `prefix`, sorted, at most `limit`.
    pub fn label_values(
        &self,
        name: Option<&str>,
        label: &str,
        prefix: &str,
        limit: usize,
    ) -> Vec<String> {
        let inner = self.lock();
        let values: std::collections::BTreeSet<&str> = inner
            .head
            .keys()
            .filter(|(_, key)| name.is_none_or(|n| key.name == n))
            .filter_map(|(_, key)| key.labels.get(label).map(String::as_str))
            .filter(|value| value.starts_with(prefix))
            .collect();
        values.into_iter().take(limit).map(str::to_string).collect()
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

/// Flushes the store's log every `every` until shutdown, then once more;
/// every [`MAINTAIN_EVERY`] flushes it also runs [`Store::maintain`].
pub async fn run_syncer(store: Store, every: Duration, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.clone().wait() => break,
        }
        ticks = ticks.wrapping_add(1);
        let maintain = ticks.is_multiple_of(MAINTAIN_EVERY);
        let store = store.clone();
        let done = tokio::task::spawn_blocking(move || {
            store.sync()?;
            if maintain {
                let maintained = store.maintain(crate::sources::ingest::now_ms())?;
                if let Some((before, after)) = maintained.rewritten {
                    tracing::info!(
                        before,
                        after,
                        dropped = maintained.dropped,
                        "write-ahead log rewritten"
                    );
                }
            }
            Ok::<(), StoreError>(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "flushing or maintaining the store failed"),
            Err(error) => tracing::error!(%error, "the store's flush task failed"),
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
            rewrite_floor_bytes: REWRITE_FLOOR_BYTES,
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
    fn maintenance_drops_old_samples_and_rewrites_the_log_to_what_is_held() {
        let dir = TempDir::new("maintain");
        let mut config = config(&dir);
        config.rewrite_floor_bytes = 0;
        let hour = 3_600_000;
        {
            let (store, _) = Store::open(&config).unwrap();
            // 72 hours of one sample a minute for 20 series, in hourly
            // batches.
            for h in 0..72 {
                let now = NOW + h * hour;
                let batch: Vec<Point> = (0..20)
                    .flat_map(|s| {
                        (0..60).map(move |m| {
                            point("temp", &format!("s{s}"), now - hour + m * 60_000, m as f64)
                        })
                    })
                    .collect();
                assert_eq!(store.ingest(&batch, Mode::All, now).unwrap().stored, 1_200);
            }
            let end = NOW + 71 * hour;
            let maintained = store.maintain(end).unwrap();
            assert!(maintained.dropped > 0);
            let (before, after) = maintained.rewritten.expect("rewritten");
            assert!(after < before, "{after} < {before}");
            let held = store.counts().1;
            // Whole chunks (two hours each) go: between 24 and 26 hours stay.
            assert!((24 * 1_200..=26 * 1_200).contains(&held), "{held}");
            // Writes go on after a rewrite.
            let batch = [point("temp", "s0", end + 1, 1.0)];
            assert_eq!(store.ingest(&batch, Mode::All, end).unwrap().stored, 1);
        }
        let (store, opened) = Store::open(&config).unwrap();
        assert_eq!(opened.skipped_records, 0);
        assert_eq!(opened.series, 20);
        let end = NOW + 71 * hour;
        let all = store.select("temp", &[], i64::MIN, i64::MAX, 100).unwrap();
        assert!(all
            .iter()
            .all(|(_, samples)| samples.first().is_some_and(|s| s.ts >= end - 26 * hour)));
        assert_eq!(
            all.iter().map(|(_, s)| s.len() as u64).sum::<u64>(),
            opened.samples
        );
    }

    #[test]
    fn a_rewrite_cut_short_replays_to_the_same_history() {
        let dir = TempDir::new("cut-rewrite");
        let config = config(&dir);
        let before = {
            let (store, _) = Store::open(&config).unwrap();
            for i in 0..300 {
                let batch = [point("cpu", "a", NOW - 300_000 + i * 1_000, i as f64)];
                store.ingest(&batch, Mode::All, NOW).unwrap();
            }
            store.select("cpu", &[], i64::MIN, i64::MAX, 10).unwrap()
        };
        // The process died while rewriting: after the old records, the
        // series again and part of its samples.
        {
            let (mut wal, _) = Wal::open(&config.dir.join("wal"), SEGMENT_BYTES).unwrap();
            wal.roll().unwrap();
            let key = before[0].0.clone();
            wal.append(&Record::Series(SeriesId(0), key).encode())
                .unwrap();
            let part: Vec<(SeriesId, Sample)> = before[0].1[..200]
                .iter()
                .map(|s| (SeriesId(0), *s))
                .collect();
            wal.append(&Record::Samples(part).encode()).unwrap();
        }
        let (store, opened) = Store::open(&config).unwrap();
        assert_eq!(opened.series, 1);
        assert_eq!(
            store.select("cpu", &[], i64::MIN, i64::MAX, 10).unwrap(),
            before
        );
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
