//! The head: every series the store knows and what of it lives in memory.
//!
//! Each series has an id (its index here, also what the write-ahead log
//! names it by), an open chunk that samples are appended to, and for each
//! rollup tier the bucket being gathered and the points not yet sealed. A
//! chunk is sealed at [`CHUNK_SAMPLES`] samples (about Prometheus' 120;
//! rollup chunks at [`Tier::points_per_chunk`]): the head hands it over as
//! a [`Seal`] and the store writes it to the tier's segment file, so memory
//! per series stays bounded whatever the retention.
//!
//! The head refuses what would make it unbounded or ambiguous: a new series
//! past the series limit (the cardinality guard refuses new series and
//! never drops existing ones), a series with too many labels or too long a
//! label value, and a sample not after its series' newest (samples of one
//! series arrive in order, one per timestamp, as Prometheus requires; the
//! newest sample sent again is accepted and changes nothing, so a retried
//! write is harmless).

use std::{cell::RefCell, collections::HashMap};

use app::protocol::SeriesKey;

use super::{
    chunk::{ChunkEncoder, ChunkReader, Sample},
    key::{pack_into, PackedKey},
    rollup::{self, Accumulator, RollupPoint, Tier},
};

/// Samples per chunk before it is sealed.
pub const CHUNK_SAMPLES: usize = 120;

/// A series, as the store numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u32);

/// What the head accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Series in all (the cardinality guard).
    pub max_series: usize,
    /// Labels per series.
    pub max_labels: usize,
    /// Bytes per label value.
    pub max_label_value_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_series: 200_000,
            max_labels: 30,
            max_label_value_len: 1_024,
        }
    }
}

/// Why the head refused a series or a sample.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HeadError {
    /// The series limit is reached; existing series go on.
    #[error(
        "livedash holds at most {limit} series; new series are refused (existing ones are kept)"
    )]
    TooManySeries {
        /// The limit.
        limit: usize,
    },
    /// Too many labels.
    #[error("a series has at most {limit} labels; {series} has {count}")]
    TooManyLabels {
        /// The series.
        series: String,
        /// Its labels.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label value is too long.
    #[error("label {label:?} of {name} is {len} bytes long; at most {limit}")]
    LabelTooLong {
        /// The metric name.
        name: String,
        /// The label.
        label: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A sample older than the series' newest.
    #[error(
        "{series}: a sample at {ts} does not follow the newest one, at {newest} (a series' samples go forward in time, one per timestamp)"
    )]
    OutOfOrder {
        /// The series.
        series: String,
        /// The refused sample's timestamp.
        ts: i64,
        /// The newest sample's.
        newest: i64,
    },
    /// No such series.
    #[error("no series with id {0}")]
    UnknownSeries(u32),
}

/// A chunk the head sealed, for the store to write to its tier's segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Seal {
    /// Whose.
    pub series: SeriesId,
    /// Which tier.
    pub tier: Tier,
    /// Samples or points in it.
    pub count: u32,
    /// Its time range.
    pub range: (i64, i64),
    /// Its encoded bytes.
    pub bytes: Vec<u8>,
}

/// A series' state in the head: what the write-ahead log's checkpoint
/// keeps of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesState {
    /// The newest sample's time and value bits.
    pub newest: Option<(i64, u64)>,
    /// The newest timestamp sealed to disk, per tier.
    pub sealed_max: [i64; 3],
    /// The open raw chunk.
    pub open: Vec<Sample>,
    /// Per rollup tier (minute, hour): the bucket being gathered and the
    /// finished points not yet sealed.
    pub rollups: [(Accumulator, Vec<RollupPoint>); 2],
}

#[derive(Clone, Debug)]
struct Series {
    /// Shared with the index: a key is held once, packed.
    key: PackedKey,
    open: ChunkEncoder,
    open_min_ts: i64,
    newest: Option<(i64, u64)>,
    sealed_max: [i64; 3],
    rollups: [(Accumulator, Vec<RollupPoint>); 2],
}

impl Series {
    fn new(key: PackedKey) -> Self {
        Self {
            key,
            open: ChunkEncoder::new(),
            open_min_ts: 0,
            newest: None,
            sealed_max: [i64::MIN; 3],
            rollups: Default::default(),
        }
    }

    fn seal_open(&mut self, id: SeriesId, seals: &mut Vec<Seal>) {
        let full = std::mem::take(&mut self.open);
        let Some(max_ts) = full.last_ts() else {
            return;
        };
        self.sealed_max[0] = max_ts;
        seals.push(Seal {
            series: id,
            tier: Tier::Raw,
            count: full.len() as u32,
            range: (self.open_min_ts, max_ts),
            // The compact encoding is chosen when the segment closes, off
            // the ingest path (`chunk::reseal`).
            bytes: full.to_bytes(),
        });
    }

    fn push_raw(&mut self, id: SeriesId, sample: Sample, seals: &mut Vec<Seal>) {
        if sample.ts <= self.sealed_max[0] {
            // Already on disk (a replay of what was sealed after the last
            // checkpoint).
            return;
        }
        if self.open.len() >= CHUNK_SAMPLES {
            self.seal_open(id, seals);
        }
        if self.open.is_empty() {
            self.open_min_ts = sample.ts;
        }
        // The open chunk is sealed well before the codec's limit.
        let _ = self.open.push(sample);
    }

    /// Feeds a part to rollup tier `level` (0: minute, 1: hour); a finished
    /// bucket goes to the open points (sealed when enough) and on to the
    /// next tier.
    fn push_rollup(
        &mut self,
        id: SeriesId,
        level: usize,
        part: &RollupPoint,
        seals: &mut Vec<Seal>,
    ) {
        let tier = Tier::ALL[level + 1];
        let step = tier.step_ms().unwrap_or(60_000);
        let Some(done) = self.rollups[level].0.add(part, step) else {
            return;
        };
        if done.ts > self.sealed_max[level + 1] {
            let points = &mut self.rollups[level].1;
            if points.len() == points.capacity() {
                // A few at a time, up to a chunk's worth: little slack
                // per series.
                let more = 4.min(tier.points_per_chunk() - points.len()).max(1);
                points.reserve_exact(more);
            }
            points.push(done);
            if points.len() >= tier.points_per_chunk() {
                let points = std::mem::take(points);
                if let Ok(bytes) = rollup::encode(&points) {
                    let range = (points[0].ts, done.ts);
                    self.sealed_max[level + 1] = done.ts;
                    seals.push(Seal {
                        series: id,
                        tier,
                        count: points.len() as u32,
                        range,
                        bytes,
                    });
                }
            }
        }
        if level == 0 {
            self.push_rollup(id, 1, &done, seals);
        }
    }
}

/// Every series and its samples.
#[derive(Debug, Default)]
pub struct Head {
    limits: Limits,
    ids: HashMap<PackedKey, SeriesId>,
    series: Vec<Series>,
    /// Samples in open chunks.
    samples: u64,
}

/// What a query takes of a series from the head, under the store's lock.
#[derive(Clone, Debug, Default)]
pub struct Taken {
    /// The open raw chunk's bytes.
    pub open: Option<Vec<u8>>,
    /// Per rollup tier: the unsealed points and the bucket being gathered.
    pub rollups: [Vec<RollupPoint>; 2],
}

impl Head {
    /// An empty head with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Series held.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Samples in open chunks (the rest are on disk).
    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// The id of `key`, if the head has it.
    pub fn id(&self, key: &SeriesKey) -> Option<SeriesId> {
        thread_local! {
            // The packed bytes of the key looked up: one buffer a thread,
            // so a lookup allocates nothing.
            static PACKED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        PACKED.with_borrow_mut(|packed| {
            pack_into(key, packed);
            self.ids.get(&packed[..]).copied()
        })
    }

    /// The key of series `id`.
    pub fn key(&self, id: SeriesId) -> Option<&PackedKey> {
        self.series.get(id.0 as usize).map(|s| &s.key)
    }

    /// Every series, by id.
    pub fn keys(&self) -> impl Iterator<Item = (SeriesId, &PackedKey)> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| (SeriesId(i as u32), &s.key))
    }

    /// Whether `key` could be added (or is there already): the checks of
    /// [`Head::add`] without adding.
    pub fn check(&self, key: &SeriesKey, adding: usize) -> Result<(), HeadError> {
        if key.labels.len() > self.limits.max_labels {
            return Err(HeadError::TooManyLabels {
                series: key.to_string(),
                count: key.labels.len(),
                limit: self.limits.max_labels,
            });
        }
        if let Some((label, value)) = key
            .labels
            .iter()
            .find(|(_, v)| v.len() > self.limits.max_label_value_len)
        {
            return Err(HeadError::LabelTooLong {
                name: key.name.clone(),
                label: label.clone(),
                len: value.len(),
                limit: self.limits.max_label_value_len,
            });
        }
        if self.id(key).is_none() && self.series.len() + adding >= self.limits.max_series {
            return Err(HeadError::TooManySeries {
                limit: self.limits.max_series,
            });
        }
        Ok(())
    }

    /// The id of `key`, adding the series if it is new (and allowed).
    pub fn add(&mut self, key: &SeriesKey) -> Result<(SeriesId, bool), HeadError> {
        if let Some(id) = self.id(key) {
            return Ok((id, false));
        }
        self.check(key, 0)?;
        let id = SeriesId(self.series.len() as u32);
        let key = PackedKey::pack(key);
        self.series.push(Series::new(key.clone()));
        self.ids.insert(key, id);
        Ok((id, true))
    }

    /// The newest sample's timestamp of a series.
    pub fn newest(&self, id: SeriesId) -> Option<i64> {
        self.series.get(id.0 as usize)?.newest.map(|(ts, _)| ts)
    }

    /// The newest sample's timestamp and value bits.
    pub fn newest_sample(&self, id: SeriesId) -> Option<(i64, u64)> {
        self.series.get(id.0 as usize)?.newest
    }

    /// Whether `sample` may follow the series' newest: `Ok(false)` when it
    /// *is* the newest (the same time and value again: nothing to do).
    pub fn accepts(&self, id: SeriesId, sample: Sample) -> Result<bool, HeadError> {
        let series = self
            .series
            .get(id.0 as usize)
            .ok_or(HeadError::UnknownSeries(id.0))?;
        match series.newest {
            Some((ts, bits)) if ts == sample.ts && bits == sample.value.to_bits() => Ok(false),
            Some((ts, _)) if sample.ts <= ts => Err(HeadError::OutOfOrder {
                series: series.key.unpack().to_string(),
                ts: sample.ts,
                newest: ts,
            }),
            _ => Ok(true),
        }
    }

    /// Appends a sample to a series (and its rollups); chunks that fill up
    /// are sealed into `seals`, for the store to write.
    pub fn append(
        &mut self,
        id: SeriesId,
        sample: Sample,
        seals: &mut Vec<Seal>,
    ) -> Result<(), HeadError> {
        if !self.accepts(id, sample)? {
            return Ok(());
        }
        let series = &mut self.series[id.0 as usize];
        series.newest = Some((sample.ts, sample.value.to_bits()));
        let before = series.open.len();
        series.push_raw(id, sample, seals);
        series.push_rollup(id, 0, &RollupPoint::of(sample.ts, sample.value), seals);
        let after = series.open.len();
        // A seal moves the open chunk's samples to disk.
        self.samples = self.samples.saturating_sub(before as u64) + after as u64;
        Ok(())
    }

    /// A series' state, for the log's checkpoint.
    pub fn state(&self, id: SeriesId) -> Option<SeriesState> {
        let series = self.series.get(id.0 as usize)?;
        let open = ChunkReader::new(&series.open.to_bytes())
            .map(|r| r.filter_map(Result::ok).collect())
            .unwrap_or_default();
        Some(SeriesState {
            newest: series.newest,
            sealed_max: series.sealed_max,
            open,
            rollups: series.rollups.clone(),
        })
    }

    /// Sets a series' state from a checkpoint, keeping only what is newer
    /// than what is on disk.
    pub fn restore(&mut self, id: SeriesId, state: SeriesState) -> Result<(), HeadError> {
        let series = self
            .series
            .get_mut(id.0 as usize)
            .ok_or(HeadError::UnknownSeries(id.0))?;
        self.samples -= (series.open.len() as u64).min(self.samples);
        for (mine, theirs) in series.sealed_max.iter_mut().zip(state.sealed_max) {
            *mine = (*mine).max(theirs);
        }
        series.newest = series.newest.max(state.newest);
        series.open = ChunkEncoder::new();
        for sample in state
            .open
            .into_iter()
            .filter(|s| s.ts > series.sealed_max[0])
        {
            if series.open.is_empty() {
                series.open_min_ts = sample.ts;
            }
            let _ = series.open.push(sample);
        }
        self.samples += series.open.len() as u64;
        for (level, (acc, points)) in state.rollups.into_iter().enumerate() {
            let sealed = series.sealed_max[level + 1];
            series.rollups[level] = (acc, points.into_iter().filter(|p| p.ts > sealed).collect());
        }
        Ok(())
    }

    /// Raises what a series has on disk (found at start-up), so a replay
    /// does not seal it twice.
    pub fn mark_sealed(&mut self, id: SeriesId, tier: Tier, max_ts: i64) {
        if let Some(series) = self.series.get_mut(id.0 as usize) {
            let at = &mut series.sealed_max[tier.index()];
            *at = (*at).max(max_ts);
        }
    }

    /// Bytes the open chunks take, compressed.
    pub fn sample_bytes(&self) -> usize {
        self.series.iter().map(|s| s.open.size()).sum()
    }

    /// What a query needs of a series from memory.
    pub fn take(&self, id: SeriesId) -> Taken {
        let Some(series) = self.series.get(id.0 as usize) else {
            return Taken::default();
        };
        let rollup = |level: usize| -> Vec<RollupPoint> {
            let (acc, points) = &series.rollups[level];
            points.iter().copied().chain(acc.current).collect()
        };
        let mut hours = rollup(1);
        // The hour being gathered has only finished minutes: add the
        // minute being gathered.
        if let Some(minute) = series.rollups[0].0.current {
            let hour = rollup::bucket_of(minute.ts, Tier::Hour.step_ms().unwrap_or(3_600_000));
            match hours.last_mut() {
                Some(last) if last.ts == hour => last.merge(&minute),
                _ => hours.push(RollupPoint { ts: hour, ..minute }),
            }
        }
        Taken {
            open: (!series.open.is_empty()).then(|| series.open.to_bytes()),
            rollups: [rollup(0), hours],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(
            name,
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap()
    }

    fn sample(ts: i64, value: f64) -> Sample {
        Sample { ts, value }
    }

    #[test]
    fn full_chunks_are_sealed_for_every_tier_and_rollups_hold_every_sample() {
        let mut head = Head::new(Limits::default());
        let (id, new) = head.add(&key("up", &[("job", "node")])).unwrap();
        assert!(new);
        assert_eq!(
            head.add(&key("up", &[("job", "node")])).unwrap(),
            (id, false)
        );
        let mut seals = Vec::new();
        // Two hours and a bit of one sample a second.
        let n = 7_300i64;
        for i in 0..n {
            head.append(id, sample(i * 1_000, i as f64), &mut seals)
                .unwrap();
        }
        let raw: Vec<&Seal> = seals.iter().filter(|s| s.tier == Tier::Raw).collect();
        assert_eq!(raw.len(), (n as usize - 1) / CHUNK_SAMPLES);
        assert!(raw.windows(2).all(|w| w[0].range.1 < w[1].range.0));
        let on_disk: u64 = raw.iter().map(|s| u64::from(s.count)).sum();
        assert_eq!(head.sample_count() + on_disk, n as u64);
        // 121 finished minutes: eight sealed chunks of 15, one point open.
        let minutes: Vec<&Seal> = seals.iter().filter(|s| s.tier == Tier::Minute).collect();
        assert_eq!(minutes.len(), 8);
        let first = rollup::decode(&minutes[0].bytes).unwrap();
        assert_eq!(
            first[0],
            RollupPoint {
                ts: 0,
                count: 60,
                sum: (0..60).sum::<i64>() as f64,
                min: 0.0,
                max: 59.0,
                last: 59.0
            }
        );
        let taken = head.take(id);
        // The open minute points, then the minute being gathered.
        assert_eq!(taken.rollups[0].len(), 2);
        assert_eq!(taken.rollups[0][1].count, 40);
        // Two finished hours (not yet a chunk) and the third.
        assert_eq!(
            taken.rollups[1].iter().map(|p| p.count).collect::<Vec<_>>(),
            [3_600, 3_600, 100]
        );
        assert!(taken.open.is_some());
    }

    #[test]
    fn the_newest_sample_again_is_a_no_op_and_another_value_at_its_time_is_refused() {
        let mut head = Head::new(Limits::default());
        let (id, _) = head.add(&key("m", &[])).unwrap();
        let mut seals = Vec::new();
        head.append(id, sample(5, 1.0), &mut seals).unwrap();
        head.append(id, sample(5, 1.0), &mut seals).unwrap();
        assert_eq!(head.sample_count(), 1);
        assert!(matches!(
            head.append(id, sample(5, 2.0), &mut seals),
            Err(HeadError::OutOfOrder {
                ts: 5,
                newest: 5,
                ..
            })
        ));
        assert!(matches!(
            head.append(id, sample(4, 2.0), &mut seals),
            Err(HeadError::OutOfOrder {
                ts: 4,
                newest: 5,
                ..
            })
        ));
        assert_eq!(head.sample_count(), 1);
        assert_eq!(head.take(id).rollups[0][0].count, 1);
    }

    #[test]
    fn a_restored_state_keeps_only_what_is_not_on_disk() {
        let mut head = Head::new(Limits::default());
        let (id, _) = head.add(&key("m", &[])).unwrap();
        let mut seals = Vec::new();
        for i in 0..200 {
            head.append(id, sample(i * 1_000, 1.0), &mut seals).unwrap();
        }
        let state = head.state(id).unwrap();
        assert_eq!(state.open.len(), 80);
        let mut again = Head::new(Limits::default());
        let (id2, _) = again.add(&key("m", &[])).unwrap();
        again.restore(id2, state.clone()).unwrap();
        assert_eq!(again.state(id2).unwrap(), state);
        assert_eq!(again.sample_count(), 80);
        // What was sealed after the checkpoint is found on disk at start-up:
        // the restored open chunk keeps only what is newer.
        let mut third = Head::new(Limits::default());
        let (id3, _) = third.add(&key("m", &[])).unwrap();
        third.mark_sealed(id3, Tier::Raw, 150_000);
        third.restore(id3, state).unwrap();
        assert_eq!(third.sample_count(), 49);
        assert!(matches!(
            third.append(id3, sample(199_000, 2.0), &mut seals),
            Err(HeadError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn the_cardinality_guard_refuses_new_series_and_keeps_old_ones() {
        let mut head = Head::new(Limits {
            max_series: 3,
            ..Limits::default()
        });
        for i in 0..3 {
            head.add(&key("m", &[("i", &i.to_string())])).unwrap();
        }
        assert_eq!(
            head.add(&key("m", &[("i", "new")])),
            Err(HeadError::TooManySeries { limit: 3 })
        );
        // Existing series still take samples.
        let (id, new) = head.add(&key("m", &[("i", "1")])).unwrap();
        assert!(!new);
        head.append(id, Sample { ts: 1, value: 1.0 }, &mut Vec::new())
            .unwrap();
        assert_eq!(head.series_count(), 3);
    }

    #[test]
    fn label_limits_are_enforced() {
        let mut head = Head::new(Limits {
            max_labels: 2,
            max_label_value_len: 4,
            ..Limits::default()
        });
        assert!(matches!(
            head.add(&key("m", &[("a", "1"), ("b", "2"), ("c", "3")])),
            Err(HeadError::TooManyLabels { count: 3, .. })
        ));
        assert!(matches!(
            head.add(&key("m", &[("a", "12345")])),
            Err(HeadError::LabelTooLong { len: 5, .. })
        ));
        assert_eq!(head.series_count(), 0);
    }
}
