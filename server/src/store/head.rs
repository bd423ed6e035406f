//! The head: every series the store knows and its recent samples, in
//! memory, compressed.
//!
//! Each series has an id (its index here, also what the write-ahead log
//! names it by), an open chunk that samples are appended to, and the
//! chunks it sealed before, each covering a time range. A chunk is sealed
//! at [`CHUNK_SAMPLES`] samples (about Prometheus' 120), which keeps the
//! cost of reading the open one small.
//!
//! The head refuses what would make it unbounded or ambiguous: a new series
//! past the series limit (the cardinality guard refuses new series and
//! never drops existing ones), a series with too many labels or too long a
//! label value, and a sample older than its series' newest (samples of one
//! series arrive in order, as Prometheus requires).

use std::{collections::HashMap, sync::Arc};

use app::protocol::SeriesKey;

use super::chunk::{ChunkEncoder, ChunkError, ChunkReader, Sample};

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
    #[error("{series}: sample at {ts} is older than the newest one, at {newest}")]
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

/// A sealed chunk and the range it covers.
#[derive(Clone, Debug)]
struct Sealed {
    min_ts: i64,
    max_ts: i64,
    /// Shared, so a query takes the chunks it reads without copying them
    /// and decodes them after the store's lock is released.
    bytes: Arc<[u8]>,
}

#[derive(Clone, Debug)]
struct Series {
    /// Shared with the index: a key is held once.
    key: Arc<SeriesKey>,
    open: ChunkEncoder,
    open_min_ts: i64,
    sealed: Vec<Sealed>,
}

/// Every series and its samples.
#[derive(Debug, Default)]
pub struct Head {
    limits: Limits,
    ids: HashMap<Arc<SeriesKey>, SeriesId>,
    series: Vec<Series>,
    samples: u64,
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

    /// Samples held.
    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// The id of `key`, if the head has it.
    pub fn id(&self, key: &SeriesKey) -> Option<SeriesId> {
        self.ids.get(key).copied()
    }

    /// The key of a series.
    pub fn key(&self, id: SeriesId) -> Option<&SeriesKey> {
        self.series.get(id.0 as usize).map(|s| &*s.key)
    }

    /// Every series, by id.
    pub fn keys(&self) -> impl Iterator<Item = (SeriesId, &SeriesKey)> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| (SeriesId(i as u32), &*s.key))
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
        if !self.ids.contains_key(key) && self.series.len() + adding >= self.limits.max_series {
            return Err(HeadError::TooManySeries {
                limit: self.limits.max_series,
            });
        }
        Ok(())
    }

    /// The id of `key`, adding the series if it is new (and allowed).
    pub fn add(&mut self, key: &SeriesKey) -> Result<(SeriesId, bool), HeadError> {
        if let Some(&id) = self.ids.get(key) {
            return Ok((id, false));
        }
        self.check(key, 0)?;
        let id = SeriesId(self.series.len() as u32);
        let key = Arc::new(key.clone());
        self.series.push(Series {
            key: key.clone(),
            open: ChunkEncoder::new(),
            open_min_ts: 0,
            sealed: Vec::new(),
        });
        self.ids.insert(key, id);
        Ok((id, true))
    }

    /// The newest sample's timestamp of a series.
    pub fn newest(&self, id: SeriesId) -> Option<i64> {
        let series = self.series.get(id.0 as usize)?;
        series
            .open
            .last_ts()
            .or_else(|| series.sealed.last().map(|c| c.max_ts))
    }

    /// Appends a sample to a series.
    pub fn append(&mut self, id: SeriesId, sample: Sample) -> Result<(), HeadError> {
        let newest = self.newest(id);
        let series = self
            .series
            .get_mut(id.0 as usize)
            .ok_or(HeadError::UnknownSeries(id.0))?;
        if let Some(newest) = newest {
            if sample.ts == newest && series.open.last_value_bits() == Some(sample.value.to_bits())
            {
                // The very sample the series ends with, again (a log
                // rewrite cut short replays some twice): nothing to add.
                return Ok(());
            }
            if sample.ts < newest {
                return Err(HeadError::OutOfOrder {
                    series: series.key.to_string(),
                    ts: sample.ts,
                    newest,
                });
            }
        }
        if series.open.len() >= CHUNK_SAMPLES {
            let full = std::mem::take(&mut series.open);
            series.sealed.push(Sealed {
                min_ts: series.open_min_ts,
                max_ts: full.last_ts().unwrap_or(series.open_min_ts),
                bytes: Arc::from(full.to_bytes()),
            });
        }
        if series.open.is_empty() {
            series.open_min_ts = sample.ts;
        }
        series
            .open
            .push(sample)
            .map_err(|_| HeadError::UnknownSeries(id.0))?;
        self.samples += 1;
        Ok(())
    }

    /// Drops the sealed chunks that end before `cutoff` (the open chunk
    /// stays: it holds the newest samples); returns how many samples went.
    pub fn drop_before(&mut self, cutoff: i64) -> u64 {
        let mut dropped = 0;
        for series in &mut self.series {
            let keep_from = series.sealed.partition_point(|c| c.max_ts < cutoff);
            for chunk in series.sealed.drain(..keep_from) {
                dropped += ChunkReader::new(&chunk.bytes).map_or(0, |r| r.len() as u64);
            }
        }
        self.samples -= dropped.min(self.samples);
        dropped
    }

    /// Bytes the samples take, compressed.
    pub fn sample_bytes(&self) -> usize {
        self.series
            .iter()
            .map(|s| s.open.size() + s.sealed.iter().map(|c| c.bytes.len()).sum::<usize>())
            .sum()
    }

    /// The chunks of a series that overlap `from..=to`, oldest first: the
    /// sealed ones shared, the open one copied.
    pub fn chunks(&self, id: SeriesId, from: i64, to: i64) -> Vec<Arc<[u8]>> {
        let Some(series) = self.series.get(id.0 as usize) else {
            return Vec::new();
        };
        let mut out: Vec<Arc<[u8]>> = series
            .sealed
            .iter()
            .filter(|c| c.max_ts >= from && c.min_ts <= to)
            .map(|c| c.bytes.clone())
            .collect();
        let open_overlaps = series
            .open
            .last_ts()
            .is_some_and(|last| last >= from && series.open_min_ts <= to);
        if open_overlaps {
            out.push(Arc::from(series.open.to_bytes()));
        }
        out
    }

    /// The samples of a series from `from` to `to` (inclusive), in order.
    pub fn range(&self, id: SeriesId, from: i64, to: i64) -> Result<Vec<Sample>, ChunkError> {
        decode_range(&self.chunks(id, from, to), from, to)
    }
}

/// The samples of `chunks` (one series', oldest first) from `from` to `to`
/// (inclusive).
pub fn decode_range(chunks: &[Arc<[u8]>], from: i64, to: i64) -> Result<Vec<Sample>, ChunkError> {
    let mut out = Vec::new();
    for bytes in chunks {
        for sample in ChunkReader::new(bytes)? {
            let sample = sample?;
            if (from..=to).contains(&sample.ts) {
                out.push(sample);
            }
        }
    }
    Ok(out)
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

    #[test]
    fn samples_come_back_by_range_across_sealed_chunks() {
        let mut head = Head::new(Limits::default());
        let (id, new) = head.add(&key("up", &[("job", "node")])).unwrap();
        assert!(new);
        assert_eq!(
            head.add(&key("up", &[("job", "node")])).unwrap(),
            (id, false)
        );
        for i in 0..1_000i64 {
            head.append(
                id,
                Sample {
                    ts: i * 1_000,
                    value: i as f64,
                },
            )
            .unwrap();
        }
        let range = head.range(id, 250_000, 749_000).unwrap();
        assert_eq!(range.len(), 500);
        assert_eq!(range[0].ts, 250_000);
        assert_eq!(range[499].value, 749.0);
        assert_eq!(head.range(id, i64::MIN, i64::MAX).unwrap().len(), 1_000);
        assert_eq!(head.sample_count(), 1_000);
    }

    #[test]
    fn retention_drops_whole_old_chunks_and_keeps_the_newest() {
        let mut head = Head::new(Limits::default());
        let (id, _) = head.add(&key("m", &[])).unwrap();
        for i in 0..(CHUNK_SAMPLES as i64 * 3 + 10) {
            head.append(id, Sample { ts: i, value: 1.0 }).unwrap();
        }
        // Chunks end at 119, 239, 359; the open one holds 360..369.
        assert_eq!(head.drop_before(240), 2 * CHUNK_SAMPLES as u64);
        let left = head.range(id, i64::MIN, i64::MAX).unwrap();
        assert_eq!(left.first().map(|s| s.ts), Some(240));
        assert_eq!(head.sample_count(), left.len() as u64);
        assert_eq!(head.drop_before(i64::MAX), CHUNK_SAMPLES as u64);
        assert_eq!(
            head.range(id, i64::MIN, i64::MAX).unwrap().len(),
            10,
            "the open chunk stays"
        );
    }

    #[test]
    fn the_newest_sample_again_is_a_no_op_and_another_value_at_its_time_is_kept() {
        let mut head = Head::new(Limits::default());
        let (id, _) = head.add(&key("m", &[])).unwrap();
        head.append(id, Sample { ts: 5, value: 1.0 }).unwrap();
        head.append(id, Sample { ts: 5, value: 1.0 }).unwrap();
        assert_eq!(head.sample_count(), 1);
        head.append(id, Sample { ts: 5, value: 2.0 }).unwrap();
        assert_eq!(head.sample_count(), 2);
    }

    #[test]
    fn an_older_sample_is_refused_and_changes_nothing() {
        let mut head = Head::new(Limits::default());
        let (id, _) = head.add(&key("temp", &[])).unwrap();
        head.append(
            id,
            Sample {
                ts: 2_000,
                value: 1.0,
            },
        )
        .unwrap();
        head.append(
            id,
            Sample {
                ts: 2_000,
                value: 2.0,
            },
        )
        .unwrap();
        assert!(matches!(
            head.append(
                id,
                Sample {
                    ts: 1_000,
                    value: 3.0
                }
            ),
            Err(HeadError::OutOfOrder {
                ts: 1_000,
                newest: 2_000,
                ..
            })
        ));
        assert_eq!(head.range(id, 0, 10_000).unwrap().len(), 2);
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
        head.append(id, Sample { ts: 1, value: 1.0 }).unwrap();
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
