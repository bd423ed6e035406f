//! The metrics store: series' samples kept durably and compactly under the
//! data directory, at three resolutions, for range queries.
//!
//! A write goes through [`Store::ingest`]: the whole batch is checked first
//! (names, values, timestamps, limits, order within each series), so it is
//! either stored whole or refused whole with every refused point and why
//! (unless the caller accepts a partial write). Then it is appended to the
//! write-ahead log (`wal`, as `record`s: new series, then samples) and only
//! then applied to the in-memory `head`: each series' open chunk
//! (`chunk`, over the bit stream of `bits`, compressed the way Gorilla and
//! Prometheus do: delta-of-delta timestamps and XOR'd values) and its
//! minute and hour rollups (`rollup`). Chunks that fill up are sealed and
//! appended to their tier's open `segment` file; memory keeps only what is
//! open. When `ingest` returns, the batch survives the process being
//! killed; the log is flushed to disk every second ([`Store::sync`],
//! driven by [`run_syncer`]), so a power loss costs at most about a second.
//!
//! [`Store::maintain`] (every minute) closes segments that are large or an
//! hour old (writing their index), deletes closed segments older than
//! their tier's retention (raw 24 h, minutes 30 days, hours a year by
//! default), and once the log is large, checkpoints it: every series' key
//! and state (open chunk, rollup buckets) go into fresh log segments and
//! the older ones are deleted.
//!
//! [`Store::open`] closes any segment left open, finds what was sealed
//! after the last checkpoint (so nothing is sealed twice) and replays the
//! log into the head: a restart serves the same history.

pub mod bits;
pub mod chunk;
pub mod downsample;
pub mod head;
pub mod key;
pub mod record;
pub mod rollup;
pub mod segment;
pub mod wal;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use app::protocol::SeriesKey;

use self::{
    chunk::{ChunkReader, Sample},
    head::{Head, HeadError, Limits, Seal, SeriesId},
    key::PackedKey,
    record::Record,
    rollup::{RollupPoint, Tier},
    segment::{OpenSegment, SegmentError, SegmentReader, Shape},
    wal::{Wal, WalError},
};
use crate::shutdown::Shutdown;

/// Segment size of the write-ahead log.
const SEGMENT_BYTES: u64 = 64 << 20;
/// How often [`run_syncer`] runs [`Store::maintain`], in flushes.
const MAINTAIN_EVERY: u32 = 60;
/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1_000;
/// A chunk segment is closed at this size, or when its chunks span
/// [`Tier::segment_span_ms`], or its newest is that old.
pub const CHUNK_SEGMENT_BYTES: u64 = 256 << 20;

/// How the store is set up.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Where its files live.
    pub dir: PathBuf,
    /// What it accepts.
    pub limits: Limits,
    /// How long raw samples are kept: older ones are refused, and deleted
    /// by [`Store::maintain`].
    pub retention_ms: i64,
    /// How long minute and hour rollups are kept.
    pub rollup_retention_ms: [i64; 2],
    /// The log is checkpointed once it is larger than this and than twice
    /// what the head holds.
    pub rewrite_floor_bytes: u64,
}

impl StoreConfig {
    /// A store in `dir` with the default limits and retentions.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            limits: Limits::default(),
            retention_ms: 24 * 3_600_000,
            rollup_retention_ms: [MINUTE_RETENTION_MS, HOUR_RETENTION_MS],
            rewrite_floor_bytes: REWRITE_FLOOR_BYTES,
        }
    }
}

/// The default [`StoreConfig::rewrite_floor_bytes`]: one segment.
pub const REWRITE_FLOOR_BYTES: u64 = SEGMENT_BYTES;
/// The default retention of minute rollups: 30 days.
pub const MINUTE_RETENTION_MS: i64 = 30 * 86_400_000;
/// The default retention of hour rollups: a year.
pub const HOUR_RETENTION_MS: i64 = 365 * 86_400_000;

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
    /// A segment file failed.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

/// What opening the store found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opened {
    /// Series replayed.
    pub series: usize,
    /// Raw samples held (on disk and in memory).
    pub samples: u64,
    /// Records that did not decode or apply, skipped.
    pub skipped_records: usize,
    /// Bytes of an unfinished last write cut off.
    pub torn_bytes: u64,
    /// Damage found before the end of the log: where.
    pub corrupt: Option<(PathBuf, u64)>,
}

/// One tier's segment files.
struct TierFiles {
    dir: PathBuf,
    open: OpenSegment,
    /// Closed segments (and ones being closed), oldest first.
    closed: Vec<Arc<SegmentReader>>,
}

impl TierFiles {
    fn samples(&self) -> u64 {
        let closed: u64 = self
            .closed
            .iter()
            .map(|r| match &r.shape {
                Shape::Indexed(footer) => footer.samples,
                Shape::Chained { samples, .. } => *samples,
            })
            .sum();
        closed + self.open.samples()
    }

    /// Every segment a query of `from..=to` must read, oldest first.
    fn readers(&self, from: i64, to: i64) -> Result<Vec<Arc<SegmentReader>>, SegmentError> {
        let mut out: Vec<Arc<SegmentReader>> = self
            .closed
            .iter()
            .filter(|r| {
                let (lo, hi) = r.range();
                hi >= from && lo <= to
            })
            .cloned()
            .collect();
        if !self.open.is_empty() {
            out.push(Arc::new(self.open.reader()?));
        }
        Ok(out)
    }
}

struct Inner {
    head: Head,
    wal: Wal,
    tiers: [TierFiles; 3],
}

impl Inner {
    fn write_seals(&mut self, seals: Vec<Seal>) -> Result<(), StoreError> {
        for seal in seals {
            self.tiers[seal.tier.index()].open.append(
                seal.series,
                seal.count,
                seal.range,
                &seal.bytes,
            )?;
        }
        Ok(())
    }
}

/// What checking a batch has found so far.
#[derive(Default)]
struct Batch<'a> {
    /// Series the batch names that the store does not know yet, in order.
    new_series: Vec<&'a SeriesKey>,
    /// Their ids.
    new_ids: std::collections::HashMap<&'a SeriesKey, SeriesId>,
    /// Each series' newest sample in the batch so far.
    newest: std::collections::HashMap<SeriesId, (i64, u64)>,
}

/// What [`Store::maintain`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Segments deleted for being older than their retention.
    pub expired: usize,
    /// Segments closed.
    pub closed: usize,
    /// The log's size before and after a checkpoint (`None`: none).
    pub rewritten: Option<(u64, u64)>,
}

/// The store. Cloning shares it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    retention_ms: [i64; 3],
    rewrite_floor: u64,
    /// Who is told of every stored sample (the alert evaluator); set once.
    tap: Arc<std::sync::OnceLock<Tap>>,
}

/// Samples as stored, in the order they were stored: series id (see
/// [`Store::key_of`]), time, value.
pub type Stored = Vec<(u32, i64, f64)>;

/// Where the store hands what it stored, batch by batch, without waiting:
/// a bounded queue. When it is full the batch is not queued and
/// [`Tap::take_missed`] says so once, so the reader can read again from
/// the store instead: ingest never waits for a reader.
#[derive(Debug)]
pub struct Tap {
    sender: tokio::sync::mpsc::Sender<Stored>,
    missed: std::sync::atomic::AtomicBool,
}

impl Tap {
    /// A tap holding at most `capacity` batches, and its reading end.
    pub fn new(capacity: usize) -> (Self, tokio::sync::mpsc::Receiver<Stored>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        (
            Self {
                sender,
                missed: std::sync::atomic::AtomicBool::new(false),
            },
            receiver,
        )
    }

    fn send(&self, stored: Stored) {
        if self.sender.try_send(stored).is_err() {
            self.missed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether a batch was dropped since the last call.
    pub fn take_missed(&self) -> bool {
        self.missed
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }
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

/// Series that match, with what a query needs of each, taken under the
/// lock.
type Selection = Vec<(SeriesId, SeriesKey, head::Taken)>;

impl Store {
    /// Opens the store in `config.dir`, replaying its log.
    pub fn open(config: &StoreConfig) -> Result<(Self, Opened), StoreError> {
        let (wal, replayed) = Wal::open(&config.dir.join("wal"), SEGMENT_BYTES)?;
        let first_wal = wal.first_segment();
        // Segments: close those left open; note what was sealed after the
        // checkpoint the log starts with.
        let mut marks: Vec<(Tier, segment::Entry)> = Vec::new();
        let mut tiers = Vec::with_capacity(3);
        for tier in Tier::ALL {
            let dir = config.dir.join(tier.name());
            let mut closed = Vec::new();
            let mut last = 0;
            for number in segment::list(&dir)? {
                let path = segment::segment_path(&dir, number);
                let (reader, scanned) = segment::open_existing(&path, wal.segment())?;
                let recent = match (&reader.shape, scanned) {
                    (_, Some(entries)) => entries,
                    (Shape::Indexed(footer), None) if footer.wal_segment >= first_wal => {
                        reader.all_entries()?
                    }
                    _ => Vec::new(),
                };
                marks.extend(recent.into_iter().map(|e| (tier, e)));
                closed.push(Arc::new(reader));
                last = number;
            }
            let open = OpenSegment::create(&dir, last + 1)?;
            tiers.push(TierFiles { dir, open, closed });
        }
        let tiers: [TierFiles; 3] = match tiers.try_into() {
            Ok(tiers) => tiers,
            Err(_) => unreachable!("one per tier"),
        };
        let mut head = Head::new(config.limits);
        let mut opened = Opened {
            torn_bytes: replayed.torn_bytes,
            corrupt: replayed.corrupt,
            ..Opened::default()
        };
        // Series first, so what is on disk can be marked before samples
        // and states are replayed.
        let records: Vec<Option<Record>> = replayed
            .records
            .iter()
            .map(|bytes| Record::decode(bytes).ok())
            .collect();
        for record in &records {
            let applied = match record {
                Some(Record::Series(id, key)) => head
                    .add(key)
                    .map(|(added, _)| added == *id)
                    .unwrap_or(false),
                Some(_) => true,
                None => false,
            };
            if !applied {
                opened.skipped_records += 1;
            }
        }
        for (tier, entry) in marks {
            head.mark_sealed(entry.series, tier, entry.max_ts);
        }
        let mut inner = Inner { head, wal, tiers };
        for record in records.into_iter().flatten() {
            let mut seals = Vec::new();
            let applied = match record {
                Record::Series(..) => true,
                Record::State(id, state) => inner.head.restore(id, *state).is_ok(),
                // Every sample is applied that can be, even after one
                // that cannot.
                Record::Samples(samples) => {
                    samples
                        .into_iter()
                        .filter(|&(id, sample)| inner.head.append(id, sample, &mut seals).is_err())
                        .count()
                        == 0
                }
            };
            inner.write_seals(seals)?;
            if !applied {
                opened.skipped_records += 1;
            }
        }
        opened.series = inner.head.series_count();
        opened.samples = inner.head.sample_count() + inner.tiers[0].samples();
        let store = Self {
            inner: Arc::new(Mutex::new(inner)),
            retention_ms: [
                config.retention_ms,
                config.rollup_retention_ms[0],
                config.rollup_retention_ms[1],
            ],
            rewrite_floor: config.rewrite_floor_bytes,
            tap: Arc::default(),
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
        // its newest, within the batch too. Each point's series is looked
        // up once (keys are long to hash); after that it is a number.
        let mut batch = Batch::default();
        let mut accepted: Vec<(&Point, SeriesId)> = Vec::with_capacity(points.len());
        let first_id = inner.head.series_count() as u32;
        for (index, point) in points.iter().enumerate() {
            match self.check(&inner.head, point, now_ms, first_id, &mut batch) {
                Ok(id) => accepted.push((point, id)),
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
        // Log first: new series, then the samples. A new series that none
        // of the accepted points needs is not added (with partial
        // acceptance, its only points may all have been refused), but the
        // ids were handed out in order: add them all, as the log says.
        let mut records = Vec::with_capacity(batch.new_series.len() + 1);
        for (next_id, key) in (first_id..).zip(&batch.new_series) {
            records.push(Record::Series(SeriesId(next_id), (*key).clone()));
        }
        let samples: Vec<(SeriesId, Sample)> =
            accepted.iter().map(|(p, id)| (*id, p.sample)).collect();
        records.push(Record::Samples(samples.clone()));
        for record in &records {
            inner.wal.append(&record.encode())?;
        }
        for key in &batch.new_series {
            let _ = inner.head.add(key);
        }
        if let Some(tap) = self.tap.get() {
            // Under the lock: the tap sees each series' samples in order.
            tap.send(
                samples
                    .iter()
                    .map(|(id, s)| (id.0, s.ts, s.value))
                    .collect(),
            );
        }
        let mut seals = Vec::new();
        for (id, sample) in samples {
            // Checked above; the head agrees.
            let _ = inner.head.append(id, sample, &mut seals);
        }
        inner.write_seals(seals)?;
        Ok(Ingested {
            stored: accepted.len(),
            refused,
        })
    }

    /// Checks one point of a batch; its series' id (a new series gets the
    /// next free one) when it is accepted.
    fn check<'a>(
        &self,
        head: &Head,
        point: &'a Point,
        now_ms: i64,
        first_id: u32,
        batch: &mut Batch<'a>,
    ) -> Result<SeriesId, String> {
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
        if ts < now_ms.saturating_sub(self.retention_ms[0]) {
            return Err(format!("timestamp {ts} is older than the retention"));
        }
        let id = match head.id(&point.key) {
            Some(id) => id,
            None => match batch.new_ids.get(&point.key) {
                Some(&id) => id,
                None => {
                    head.check(&point.key, batch.new_series.len())
                        .map_err(|e| e.to_string())?;
                    let id = SeriesId(first_id + batch.new_series.len() as u32);
                    batch.new_series.push(&point.key);
                    batch.new_ids.insert(&point.key, id);
                    id
                }
            },
        };
        let before = batch
            .newest
            .get(&id)
            .copied()
            .or_else(|| head.newest_sample(id));
        let bits = value.to_bits();
        if let Some((before, before_bits)) = before {
            if ts < before || (ts == before && bits != before_bits) {
                return Err(HeadError::OutOfOrder {
                    series: point.key.to_string(),
                    ts,
                    newest: before,
                }
                .to_string());
            }
        }
        batch.newest.insert(id, (ts, bits));
        Ok(id)
    }

    /// Keeps the store within its bounds: closes segments that are large
    /// or old enough, deletes closed segments past their tier's retention
    /// and, once the log is larger than the floor and twice what the head
    /// holds, checkpoints it: segments are synced, then every series' key
    /// and state go into new log segments (synced), then the old segments
    /// are removed. A crash in the middle leaves the old segments and part
    /// of the new: replaying both gives the same head (a series is added
    /// once, a state sets what replaying the old segments already built).
    /// Ingest waits only while segments are swapped and the checkpoint is
    /// written; closing a segment (writing its index) and deleting files
    /// happen outside the lock.
    pub fn maintain(&self, now_ms: i64) -> Result<Maintained, StoreError> {
        self.maintain_closing(now_ms, false)
    }

    /// Closes every open segment that holds a chunk, whatever its size or
    /// age (at shutdown: what is on disk is then in its compact, indexed
    /// form), besides what [`Store::maintain`] does.
    pub fn close_segments(&self, now_ms: i64) -> Result<Maintained, StoreError> {
        self.maintain_closing(now_ms, true)
    }

    fn maintain_closing(&self, now_ms: i64, close_all: bool) -> Result<Maintained, StoreError> {
        let mut maintained = Maintained::default();
        // Swap out segments to close; take out expired ones.
        let mut closing = Vec::new();
        let mut expired = Vec::new();
        let wal_segment = {
            let mut inner = self.lock();
            for (tier, files) in inner.tiers.iter_mut().enumerate() {
                let cutoff = now_ms.saturating_sub(self.retention_ms[tier]);
                let (old, keep): (Vec<_>, Vec<_>) = files
                    .closed
                    .drain(..)
                    .partition(|r| matches!(r.shape, Shape::Indexed(_)) && r.range().1 < cutoff);
                files.closed = keep;
                expired.extend(old);
                let (oldest, newest) = files.open.range();
                let full = close_all
                    || files.open.len() >= CHUNK_SEGMENT_BYTES
                    || newest.saturating_sub(oldest) >= Tier::ALL[tier].segment_span_ms()
                    || now_ms.saturating_sub(newest) >= Tier::ALL[tier].segment_span_ms();
                if full && !files.open.is_empty() {
                    let next = OpenSegment::create(&files.dir, files.open.number() + 1)?;
                    let old = std::mem::replace(&mut files.open, next);
                    files.closed.push(Arc::new(old.reader()?));
                    closing.push((tier, old));
                }
            }
            inner.wal.segment()
        };
        for reader in expired {
            reader.remove()?;
            maintained.expired += 1;
        }
        for (tier, old) in closing {
            let number = old.number();
            // Raw chunks were sealed in the XOR encoding, cheap under the
            // lock; they get their compact encoding now.
            let reseal = (tier == Tier::Raw.index()).then_some(chunk::reseal as segment::Reseal);
            let closed = Arc::new(old.close(wal_segment, reseal)?);
            let mut inner = self.lock();
            if let Some(slot) = inner.tiers[tier]
                .closed
                .iter_mut()
                .find(|r| r.number == number)
            {
                *slot = closed;
            }
            maintained.closed += 1;
        }
        maintained.rewritten = self.checkpoint_if_large()?;
        Ok(maintained)
    }

    fn checkpoint_if_large(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let mut inner = self.lock();
        let Inner { head, wal, tiers } = &mut *inner;
        let live = head.series_count() as u64 * 512 + head.sample_count() * 16;
        let before = wal.total_bytes();
        if before <= self.rewrite_floor.max(2 * live) {
            return Ok(None);
        }
        // What the old log holds that is sealed must be on disk first.
        for files in tiers.iter() {
            files.open.sync()?;
        }
        let first = wal.roll()?;
        let ids: Vec<(SeriesId, SeriesKey)> =
            head.keys().map(|(id, key)| (id, key.unpack())).collect();
        for (id, key) in &ids {
            wal.append(&Record::Series(*id, key.clone()).encode())?;
        }
        for (id, _) in &ids {
            if let Some(state) = head.state(*id) {
                wal.append(&Record::State(*id, Box::new(state)).encode())?;
            }
        }
        wal.sync()?;
        wal.remove_before(first)?;
        Ok(Some((before, wal.total_bytes())))
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

    /// The series that match, and the segments of `tier` a query of
    /// `from..=to` reads, taken under the lock (chunks are read and
    /// decoded after it is released, so ingest goes on meanwhile).
    fn take(
        &self,
        tier: Tier,
        name: &str,
        matchers: &[Matcher],
        (from, to): (i64, i64),
        limit: usize,
    ) -> Result<(Selection, Vec<Arc<SegmentReader>>), SelectError> {
        let inner = self.lock();
        let ids: Vec<(SeriesId, &PackedKey)> = inner
            .head
            .keys()
            .filter(|(_, key)| key.name() == name && matchers.iter().all(|m| m.matches(key)))
            .collect();
        if ids.len() > limit {
            return Err(SelectError::TooMany(ids.len()));
        }
        let selection = ids
            .into_iter()
            .map(|(id, key)| (id, key.unpack(), inner.head.take(id)))
            .collect();
        let readers = inner.tiers[tier.index()].readers(from, to)?;
        Ok((selection, readers))
    }

    /// Hands every batch stored from now on to `tap` (once: a second tap
    /// is refused and returned).
    pub fn set_tap(&self, tap: Tap) -> Result<(), Tap> {
        self.tap.set(tap)
    }

    /// The tap, if one is set.
    pub fn tap(&self) -> Option<&Tap> {
        self.tap.get()
    }

    /// The key of series `id` (as a [`Tap`] names it).
    pub fn key_of(&self, id: u32) -> Option<SeriesKey> {
        self.lock().head.key(SeriesId(id)).map(PackedKey::unpack)
    }

    /// When series `id` was last sampled.
    pub fn newest_of(&self, id: u32) -> Option<i64> {
        self.lock()
            .head
            .newest_sample(SeriesId(id))
            .map(|(ts, _)| ts)
    }

    /// Series whose name is `name` and whose labels pass every matcher,
    /// with their samples from `from` to `to` (inclusive); at most `limit`
    /// series.
    pub fn select(
        &self,
        name: &str,
        matchers: &[Matcher],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(SeriesKey, Vec<Sample>)>, SelectError> {
        Ok(self
            .select_series(name, matchers, from, to, limit)?
            .into_iter()
            .map(|(_, key, samples)| (key, samples))
            .collect())
    }

    /// [`Store::select`] with each series' id.
    pub fn select_series(
        &self,
        name: &str,
        matchers: &[Matcher],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(u32, SeriesKey, Vec<Sample>)>, SelectError> {
        let (selection, readers) = self.take(Tier::Raw, name, matchers, (from, to), limit)?;
        in_parallel(&selection, |(id, key, taken)| {
            let mut out = Vec::new();
            let mut add = |bytes: &[u8]| -> Result<(), SelectError> {
                for sample in ChunkReader::new(bytes).map_err(SelectError::damaged)? {
                    let sample = sample.map_err(SelectError::damaged)?;
                    if (from..=to).contains(&sample.ts) {
                        out.push(sample);
                    }
                }
                Ok(())
            };
            for reader in &readers {
                for (_, bytes) in reader.chunks(*id, from, to)? {
                    add(&bytes)?;
                }
            }
            if let Some(open) = &taken.open {
                add(open)?;
            }
            Ok((id.0, key.clone(), out))
        })
    }

    /// Like [`Store::select`], the minute or hour rollups of the matching
    /// series whose buckets start from `from` to `to` (the newest bucket is
    /// the one being gathered).
    pub fn select_rollups(
        &self,
        tier: Tier,
        name: &str,
        matchers: &[Matcher],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<(SeriesKey, Vec<RollupPoint>)>, SelectError> {
        let level = tier.index().saturating_sub(1).min(1);
        let (selection, readers) = self.take(tier, name, matchers, (from, to), limit)?;
        in_parallel(&selection, |(id, key, taken)| {
            let mut out = Vec::new();
            for reader in &readers {
                for (_, bytes) in reader.chunks(*id, from, to)? {
                    let points = rollup::decode(&bytes).map_err(SelectError::damaged)?;
                    out.extend(points.into_iter().filter(|p| (from..=to).contains(&p.ts)));
                }
            }
            out.extend(
                taken.rollups[level]
                    .iter()
                    .filter(|p| (from..=to).contains(&p.ts)),
            );
            Ok((key.clone(), out))
        })
    }

    /// Metric names starting with `prefix`, sorted, at most `limit`.
    pub fn names(&self, prefix: &str, limit: usize) -> Vec<String> {
        let inner = self.lock();
        let names: std::collections::BTreeSet<&str> = inner
            .head
            .keys()
            .map(|(_, key)| key.name())
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
            .filter(|(_, key)| name.is_none_or(|n| key.name() == n))
            .flat_map(|(_, key)| key.labels().map(|(label, _)| label))
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
            .filter(|(_, key)| name.is_none_or(|n| key.name() == n))
            .filter_map(|(_, key)| key.label(label))
            .filter(|value| value.starts_with(prefix))
            .collect();
        values.into_iter().take(limit).map(str::to_string).collect()
    }

    /// Series and raw samples held (on disk and in memory).
    pub fn counts(&self) -> (usize, u64) {
        let inner = self.lock();
        (
            inner.head.series_count(),
            inner.head.sample_count() + inner.tiers[0].samples(),
        )
    }

    /// The raw tier's retention.
    pub fn retention_ms(&self, tier: Tier) -> i64 {
        self.retention_ms[tier.index()]
    }
}

/// Why a selection failed.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// More series match than the limit.
    #[error("{0} series match")]
    TooMany(usize),
    /// A segment could not be read.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A chunk did not decode.
    #[error("a stored chunk does not decode: {0}")]
    Damaged(String),
}

impl SelectError {
    fn damaged(error: impl std::fmt::Display) -> Self {
        Self::Damaged(error.to_string())
    }
}

/// Runs `read` over every selected series on every core (each thread a
/// contiguous share, so the answer keeps its order).
fn in_parallel<T: Send>(
    selection: &Selection,
    read: impl Fn(&(SeriesId, SeriesKey, head::Taken)) -> Result<T, SelectError> + Sync,
) -> Result<Vec<T>, SelectError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(selection.len().max(1));
    if threads <= 1 {
        return selection.iter().map(&read).collect();
    }
    let share = selection.len().div_ceil(threads).max(1);
    let read = &read;
    std::thread::scope(|scope| {
        let handles: Vec<_> = selection
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().map(read).collect::<Result<Vec<T>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(selection.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part?),
                Err(_) => return Err(SelectError::Damaged("a reading thread panicked".into())),
            }
        }
        Ok(out)
    })
}

/// How a [`Matcher`] compares.
#[derive(Clone, Debug)]
pub enum MatchOp {
    /// `=`
    Equal(String),
    /// `!=`
    NotEqual(String),
    /// `=~`: the whole value matches.
    Regex(regex::Regex),
    /// `!~`
    NotRegex(regex::Regex),
}

impl PartialEq for MatchOp {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Equal(a), Self::Equal(b)) | (Self::NotEqual(a), Self::NotEqual(b)) => a == b,
            (Self::Regex(a), Self::Regex(b)) | (Self::NotRegex(a), Self::NotRegex(b)) => {
                a.as_str() == b.as_str()
            }
            _ => false,
        }
    }
}

impl Eq for MatchOp {}

/// The longest pattern a regular-expression matcher takes, compiled.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// A condition on one label (a missing label has the empty value, as in
/// Prometheus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: String,
    /// How its value must compare.
    pub op: MatchOp,
}

impl Matcher {
    /// `label="value"`.
    pub fn equal(label: &str, value: &str) -> Self {
        Self {
            label: label.to_string(),
            op: MatchOp::Equal(value.to_string()),
        }
    }

    /// `label` compared by `op` (`=`, `!=`, `=~`, `!~`) with `value`; a
    /// pattern is anchored at both ends, as in Prometheus.
    pub fn new(label: &str, op: &str, value: &str) -> Result<Self, String> {
        let regex = || {
            regex::RegexBuilder::new(&format!("^(?:{value})$"))
                .size_limit(MAX_REGEX_BYTES)
                .build()
                .map_err(|e| {
                    format!("the pattern for {label} is not a valid regular expression: {e}")
                })
        };
        let op = match op {
            "=" => MatchOp::Equal(value.to_string()),
            "!=" => MatchOp::NotEqual(value.to_string()),
            "=~" => MatchOp::Regex(regex()?),
            "!~" => MatchOp::NotRegex(regex()?),
            other => return Err(format!("unknown matcher {other:?}")),
        };
        Ok(Self {
            label: label.to_string(),
            op,
        })
    }

    /// Whether `key` passes.
    pub fn matches(&self, key: &PackedKey) -> bool {
        self.passes(key.label(&self.label).unwrap_or(""))
    }

    /// Whether a series of these labels passes.
    pub fn matches_labels(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        self.passes(labels.get(&self.label).map_or("", String::as_str))
    }

    fn passes(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(want) => value == want,
            MatchOp::NotEqual(want) => value != want,
            MatchOp::Regex(re) => re.is_match(value),
            MatchOp::NotRegex(re) => !re.is_match(value),
        }
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
                if maintained != Maintained::default() {
                    tracing::info!(
                        closed = maintained.closed,
                        expired = maintained.expired,
                        rewritten = ?maintained.rewritten,
                        "store maintained"
                    );
                }
                // What sealing, closing and queries freed since the last
                // pass goes back to the system (see `crate::memory`).
                let took = crate::memory::release_free();
                tracing::debug!(took_us = took.as_micros() as u64, "free memory released");
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
    // What the open segments hold goes into its compact, indexed form now,
    // rather than at the next start.
    let closing =
        tokio::task::spawn_blocking(move || store.close_segments(crate::sources::ingest::now_ms()))
            .await;
    match closing {
        Ok(Ok(done)) => tracing::debug!(closed = done.closed, "segments closed at shutdown"),
        Ok(Err(error)) => tracing::error!(%error, "closing segments at shutdown failed"),
        Err(error) => tracing::error!(%error, "the task closing segments failed"),
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
            rollup_retention_ms: [MINUTE_RETENTION_MS, HOUR_RETENTION_MS],
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
        assert!(result.refused[0]
            .reason
            .contains("does not follow the newest"));
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
        let host_b = Matcher::equal("host", "b");
        let selected = store
            .select("cpu", std::slice::from_ref(&host_b), NOW - 100_000, NOW, 10)
            .unwrap();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].1.len(), 100);
        assert_eq!(selected[0].1.last().unwrap().value, 499.0);
        assert_eq!(store.select("cpu", &[], 0, NOW, 10).unwrap().len(), 3);
        let not_b = Matcher::new("host", "!=", "b").unwrap();
        assert_eq!(store.select("cpu", &[not_b], 0, NOW, 10).unwrap().len(), 2);
        let a_or_c = Matcher::new("host", "=~", "a|c").unwrap();
        assert_eq!(store.select("cpu", &[a_or_c], 0, NOW, 10).unwrap().len(), 2);
        // Anchored: "b" does not match "b.+" and ".*" matches all.
        let anchored = Matcher::new("host", "=~", "b.+").unwrap();
        assert!(store
            .select("cpu", &[anchored], 0, NOW, 10)
            .unwrap()
            .is_empty());
        let not_any = Matcher::new("host", "!~", ".*").unwrap();
        assert!(store
            .select("cpu", &[not_any], 0, NOW, 10)
            .unwrap()
            .is_empty());
        assert!(matches!(
            store.select("cpu", &[], 0, NOW, 2),
            Err(SelectError::TooMany(3))
        ));
    }

    /// `minutes` of one sample a second for `series` series, ending at
    /// `end`, in batches of a minute; noisy values.
    fn fill(store: &Store, series: usize, end: i64, minutes: i64) -> Vec<Vec<Sample>> {
        let mut all = vec![Vec::new(); series];
        let start = end - minutes * 60_000;
        for minute in 0..minutes {
            let mut batch = Vec::new();
            for s in 0..60 {
                let ts = start + minute * 60_000 + s * 1_000;
                for (i, kept) in all.iter_mut().enumerate() {
                    let value = ((ts / 1_000 * 7_919 + i as i64 * 31) % 1_000) as f64 / 10.0;
                    kept.push(Sample { ts, value });
                    batch.push(point("temp", &format!("s{i}"), ts, value));
                }
            }
            let now = start + minute * 60_000 + 60_000;
            assert_eq!(store.ingest(&batch, Mode::All, now).unwrap().refused, []);
        }
        all
    }

    fn raw(store: &Store) -> Vec<Vec<Sample>> {
        store
            .select("temp", &[], i64::MIN, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|(_, samples)| samples)
            .collect()
    }

    fn rollups(store: &Store, tier: Tier) -> Vec<Vec<RollupPoint>> {
        store
            .select_rollups(tier, "temp", &[], i64::MIN, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|(_, points)| points)
            .collect()
    }

    #[test]
    fn every_tier_serves_what_was_written_before_and_after_a_restart() {
        let dir = TempDir::new("tiers");
        let config = config(&dir);
        let end = rollup::bucket_of(NOW, 3_600_000) - 3_600_000;
        let (written, minutes, hours) = {
            let (store, _) = Store::open(&config).unwrap();
            let written = fill(&store, 3, end, 180);
            assert_eq!(raw(&store), written);
            let minutes = rollups(&store, Tier::Minute);
            let hours = rollups(&store, Tier::Hour);
            for (samples, points) in written.iter().zip(&minutes) {
                assert_eq!(points.len(), 180);
                let parts: Vec<RollupPoint> = samples
                    .iter()
                    .map(|s| RollupPoint::of(s.ts, s.value))
                    .collect();
                assert_eq!(*points, rollup::merge_into(&parts, 60_000));
            }
            assert!(hours.iter().all(|h| h.len() == 3 && h[0].count == 3_600));
            // Segments hold the sealed chunks: memory holds the open ones.
            let inner = store.lock();
            assert!(inner.head.sample_count() <= 3 * 120);
            drop(inner);
            // Closing segments changes nothing a query sees (two days
            // later both the raw and the minute segment are idle long
            // enough to close).
            let maintained = store.maintain(NOW + 2 * 86_400_000).unwrap();
            assert_eq!(maintained.closed, 2, "raw and minute segments close");
            assert_eq!(raw(&store), written);
            assert_eq!(rollups(&store, Tier::Minute), minutes);
            (written, minutes, hours)
        };
        let (store, opened) = Store::open(&config).unwrap();
        assert_eq!(opened.skipped_records, 0);
        assert_eq!(opened.samples, 3 * 3 * 3_600);
        assert_eq!(raw(&store), written);
        assert_eq!(rollups(&store, Tier::Minute), minutes);
        assert_eq!(rollups(&store, Tier::Hour), hours);
    }

    #[test]
    fn a_kill_at_any_point_after_seals_and_checkpoints_stores_each_sample_once() {
        let dir = TempDir::new("kill");
        let mut config = config(&dir);
        config.rewrite_floor_bytes = 0;
        let end = NOW - 60 * 60_000;
        let mut expected: Vec<Vec<Sample>> = vec![Vec::new(); 2];
        let mut extend = |written: Vec<Vec<Sample>>| {
            for (all, more) in expected.iter_mut().zip(written) {
                all.extend(more);
            }
        };
        // Killed (dropped) with segments open and the log never cut.
        {
            let (store, _) = Store::open(&config).unwrap();
            extend(fill(&store, 2, end - 3_600_000, 60));
        }
        // Reopened, written to, checkpointed, written to, killed.
        {
            let (store, _) = Store::open(&config).unwrap();
            extend(fill(&store, 2, end - 1_800_000, 30));
            let maintained = store.maintain(end - 1_800_000).unwrap();
            assert!(maintained.rewritten.is_some(), "checkpointed");
            extend(fill(&store, 2, end, 30));
        }
        let (store, _) = Store::open(&config).unwrap();
        let got = raw(&store);
        for samples in &got {
            assert!(
                samples.windows(2).all(|w| w[0].ts < w[1].ts),
                "no sample twice"
            );
        }
        assert_eq!(got, expected);
        let minutes = rollups(&store, Tier::Minute);
        for (samples, points) in expected.iter().zip(&minutes) {
            let parts: Vec<RollupPoint> = samples
                .iter()
                .map(|s| RollupPoint::of(s.ts, s.value))
                .collect();
            assert_eq!(*points, rollup::merge_into(&parts, 60_000));
        }
    }

    #[test]
    fn maintenance_expires_old_segments_and_checkpoints_the_log() {
        let dir = TempDir::new("maintain");
        let mut config = config(&dir);
        config.rewrite_floor_bytes = 0;
        let hour = 3_600_000;
        let end = NOW + 40 * hour;
        {
            let (store, _) = Store::open(&config).unwrap();
            // 40 hours of one sample a minute for 20 series, in hourly
            // batches, maintained every hour.
            let mut expired = 0;
            let mut checkpoints = 0;
            for h in 0..40 {
                let now = NOW + (h + 1) * hour;
                let batch: Vec<Point> = (0..20)
                    .flat_map(|s| {
                        (0..60).map(move |m| {
                            point("temp", &format!("s{s}"), now - hour + m * 60_000, m as f64)
                        })
                    })
                    .collect();
                assert_eq!(store.ingest(&batch, Mode::All, now).unwrap().stored, 1_200);
                let maintained = store.maintain(now).unwrap();
                expired += maintained.expired;
                if let Some((before, after)) = maintained.rewritten {
                    assert!(after < before, "{after} < {before}");
                    checkpoints += 1;
                }
            }
            assert!(expired >= 5, "{expired}");
            assert!(checkpoints >= 5, "{checkpoints}");
            let held = store.counts().1;
            // Whole segments go: between 24 and 27 hours stay.
            assert!((24 * 1_200..=27 * 1_200).contains(&held), "{held}");
            // Rollups outlive raw samples.
            let minutes = rollups(&store, Tier::Minute);
            assert!(
                minutes.iter().all(|m| m.len() >= 39 * 60),
                "{}",
                minutes[0].len()
            );
        }
        let (store, opened) = Store::open(&config).unwrap();
        assert_eq!(opened.skipped_records, 0);
        assert_eq!(opened.series, 20);
        let all = store.select("temp", &[], i64::MIN, i64::MAX, 100).unwrap();
        assert!(all
            .iter()
            .all(|(_, samples)| samples.first().is_some_and(|s| s.ts >= end - 28 * hour)));
        assert_eq!(
            all.iter().map(|(_, s)| s.len() as u64).sum::<u64>(),
            opened.samples
        );
    }

    #[test]
    fn a_checkpoint_cut_short_replays_to_the_same_history() {
        let dir = TempDir::new("cut-rewrite");
        let config = config(&dir);
        let (before, state) = {
            let (store, _) = Store::open(&config).unwrap();
            for i in 0..300 {
                let batch = [point("cpu", "a", NOW - 300_000 + i * 1_000, i as f64)];
                store.ingest(&batch, Mode::All, NOW).unwrap();
            }
            let state = store.lock().head.state(SeriesId(0)).unwrap();
            (
                store.select("cpu", &[], i64::MIN, i64::MAX, 10).unwrap(),
                state,
            )
        };
        // The process died while checkpointing: after the old records, the
        // series again and its state.
        {
            let (mut wal, _) = Wal::open(&config.dir.join("wal"), SEGMENT_BYTES).unwrap();
            wal.roll().unwrap();
            let key = before[0].0.clone();
            wal.append(&Record::Series(SeriesId(0), key).encode())
                .unwrap();
            wal.append(&Record::State(SeriesId(0), Box::new(state)).encode())
                .unwrap();
        }
        let (store, opened) = Store::open(&config).unwrap();
        assert_eq!(opened.series, 1);
        assert_eq!(opened.skipped_records, 0);
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
