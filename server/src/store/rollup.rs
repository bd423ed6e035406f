//! Rollups: a series summarised per minute and per hour, so a month or a
//! year of it is read from a few thousand points instead of millions of
//! samples, as Netdata's tiers do.
//!
//! A [`RollupPoint`] holds a bucket's count, sum, smallest, largest and last
//! value: enough for every aggregation the query API offers (average, min,
//! max, sum, count, last), for a band from min to max that never hides a
//! one-sample spike, and for a counter's rate (from the last values of
//! consecutive buckets). Buckets are aligned to the clock (UTC minutes and
//! hours, as Unix time counts them), so the same minute is the same bucket
//! whichever sample opened it and a chart's buckets do not shift as points
//! arrive.
//!
//! Rollups are made as samples arrive (samples of one series come in
//! order): an [`Accumulator`] gathers the current bucket and yields the
//! finished point when a sample of a later bucket comes. Minute points feed
//! the hour accumulator in the same way; days are merged from hours when a
//! query asks for them ([`merge_into`]).
//!
//! Sealed rollup chunks are the chunk codec five times over (count, sum,
//! min, max, last, each with the bucket's timestamp), length-prefixed; see
//! [`encode`] and [`decode`].

use super::chunk::{ChunkEncoder, ChunkError, ChunkReader, Sample};

/// A resolution the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Every sample as it came.
    Raw,
    /// One point per minute.
    Minute,
    /// One point per hour.
    Hour,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    /// Its bucket width in milliseconds (`None` for raw samples).
    pub fn step_ms(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(60_000),
            Tier::Hour => Some(3_600_000),
        }
    }

    /// Its index in [`Tier::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in file names and answers.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    /// How much time one segment file of the tier covers before it is
    /// closed: an hour of raw samples, a day of minutes, thirty days of
    /// hours (so a year of history is a few hundred files, and retention
    /// deletes whole files at about a twentieth of the retention's
    /// granularity).
    pub fn segment_span_ms(self) -> i64 {
        match self {
            Tier::Raw => 3_600_000,
            Tier::Minute => 86_400_000,
            Tier::Hour => 30 * 86_400_000,
        }
    }

    /// Rollup points per sealed chunk: kept small because the open
    /// points live in memory, 48 bytes each (a minute chunk is a quarter
    /// of an hour, an hour chunk six hours).
    pub fn points_per_chunk(self) -> usize {
        match self {
            Tier::Raw => super::head::CHUNK_SAMPLES,
            Tier::Minute => 15,
            Tier::Hour => 6,
        }
    }
}

/// One bucket of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RollupPoint {
    /// The bucket's start (Unix ms, aligned to its width).
    pub ts: i64,
    /// Samples in it.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// The newest.
    pub last: f64,
}

impl RollupPoint {
    /// A bucket of one sample.
    pub fn of(bucket: i64, value: f64) -> Self {
        Self {
            ts: bucket,
            count: 1,
            sum: value,
            min: value,
            max: value,
            last: value,
        }
    }

    /// Adds a later part of the same (or a wider) bucket.
    pub fn merge(&mut self, later: &RollupPoint) {
        self.count += later.count;
        self.sum += later.sum;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.last = later.last;
    }

    /// The mean of its samples.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }
}

/// The start of the bucket of width `step` that holds `ts`.
pub fn bucket_of(ts: i64, step: i64) -> i64 {
    ts - ts.rem_euclid(step)
}

/// The bucket being gathered for one tier of one series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Accumulator {
    /// The current bucket (`None` before the first sample).
    pub current: Option<RollupPoint>,
}

impl Accumulator {
    /// Adds a part (a sample as a one-sample point, or a finer tier's
    /// point) whose bucket at width `step` starts at `bucket_of(part.ts)`.
    /// Returns the previous bucket when `part` starts a later one.
    pub fn add(&mut self, part: &RollupPoint, step: i64) -> Option<RollupPoint> {
        let bucket = bucket_of(part.ts, step);
        match &mut self.current {
            Some(current) if current.ts == bucket => {
                current.merge(part);
                None
            }
            // Parts come in order; an older one (which the store does not
            // send) would start its own bucket rather than corrupt this.
            current => {
                let mut fresh = *part;
                fresh.ts = bucket;
                current.replace(fresh)
            }
        }
    }
}

/// Merges time-ordered points into buckets of width `step` (days from
/// hours, or fewer points for a chart).
pub fn merge_into(points: &[RollupPoint], step: i64) -> Vec<RollupPoint> {
    let mut out: Vec<RollupPoint> = Vec::new();
    let mut acc = Accumulator::default();
    for point in points {
        out.extend(acc.add(point, step));
    }
    out.extend(acc.current);
    out
}

/// Why a rollup chunk cannot be made or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RollupError {
    /// More points than a chunk holds.
    #[error("too many points for one rollup chunk")]
    TooLong,
    /// The chunk ends before its columns do, or they disagree.
    #[error("a rollup chunk is cut short or its columns disagree")]
    Truncated,
    /// A column does not decode.
    #[error(transparent)]
    Column(#[from] ChunkError),
}

/// Encodes rollup points (time-ordered) as one chunk.
pub fn encode(points: &[RollupPoint]) -> Result<Vec<u8>, RollupError> {
    let mut columns: [ChunkEncoder; 5] = Default::default();
    for p in points {
        let values = [p.count as f64, p.sum, p.min, p.max, p.last];
        for (column, value) in columns.iter_mut().zip(values) {
            column
                .push(Sample { ts: p.ts, value })
                .map_err(|_| RollupError::TooLong)?;
        }
    }
    let mut out = Vec::new();
    for column in &columns {
        let bytes = column.seal();
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Decodes a chunk made by [`encode`]; never trusts its input.
pub fn decode(bytes: &[u8]) -> Result<Vec<RollupPoint>, RollupError> {
    let mut rest = bytes;
    let mut columns: Vec<Vec<Sample>> = Vec::with_capacity(5);
    for _ in 0..5 {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(RollupError::Truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        let column = tail.get(..len).ok_or(RollupError::Truncated)?;
        columns.push(ChunkReader::new(column)?.collect::<Result<_, _>>()?);
        rest = &tail[len..];
    }
    let n = columns[0].len();
    if columns.iter().any(|c| c.len() != n) {
        return Err(RollupError::Truncated);
    }
    Ok((0..n)
        .map(|i| RollupPoint {
            ts: columns[0][i].ts,
            count: columns[0][i].value as u64,
            sum: columns[1][i].value,
            min: columns[2][i].value,
            max: columns[3][i].value,
            last: columns[4][i].value,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rollup of `samples` at `step`, computed the slow, obvious way.
    fn brute_force(samples: &[Sample], step: i64) -> Vec<RollupPoint> {
        let mut buckets: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
        for s in samples {
            buckets
                .entry(bucket_of(s.ts, step))
                .or_default()
                .push(s.value);
        }
        buckets
            .into_iter()
            .map(|(ts, values)| RollupPoint {
                ts,
                count: values.len() as u64,
                sum: values.iter().sum(),
                min: values.iter().copied().fold(f64::INFINITY, f64::min),
                max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                last: *values.last().expect("a bucket has a sample"),
            })
            .collect()
    }

    fn streamed(samples: &[Sample], step: i64) -> Vec<RollupPoint> {
        let parts: Vec<RollupPoint> = samples
            .iter()
            .map(|s| RollupPoint::of(s.ts, s.value))
            .collect();
        merge_into(&parts, step)
    }

    /// Samples at irregular times with irregular values (a deterministic
    /// xorshift, so a failure repeats).
    fn samples(seed: u64, n: usize) -> Vec<Sample> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut ts = -5_000_000 + (next() % 1_000_000) as i64;
        (0..n)
            .map(|_| {
                ts += (next() % 90_000) as i64;
                Sample {
                    ts,
                    value: (next() % 10_000) as f64 / 100.0 - 50.0,
                }
            })
            .collect()
    }

    #[test]
    fn streamed_rollups_equal_the_obvious_computation_at_every_width() {
        for seed in 1..40 {
            let samples = samples(seed, 500);
            for step in [60_000, 3_600_000] {
                assert_eq!(streamed(&samples, step), brute_force(&samples, step));
            }
            // Hours from minutes are hours from samples (up to the order
            // of float additions).
            let hours = merge_into(&streamed(&samples, 60_000), 3_600_000);
            let direct = brute_force(&samples, 3_600_000);
            assert_eq!(hours.len(), direct.len());
            for (a, b) in hours.iter().zip(&direct) {
                assert_eq!(
                    (a.ts, a.count, a.min, a.max, a.last),
                    (b.ts, b.count, b.min, b.max, b.last)
                );
                assert!((a.sum - b.sum).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn a_single_spike_survives_every_tier() {
        let mut samples: Vec<Sample> = (0..7_200)
            .map(|i| Sample {
                ts: i * 1_000,
                value: 1.0,
            })
            .collect();
        samples[4_321].value = 1e9;
        for step in [60_000, 3_600_000, 86_400_000] {
            let points = streamed(&samples, step);
            assert_eq!(points.iter().filter(|p| p.max == 1e9).count(), 1);
            assert!(points.iter().all(|p| p.min == 1.0));
        }
    }

    #[test]
    fn buckets_align_to_the_clock_before_and_after_the_epoch() {
        assert_eq!(bucket_of(0, 60_000), 0);
        assert_eq!(bucket_of(59_999, 60_000), 0);
        assert_eq!(bucket_of(60_000, 60_000), 60_000);
        assert_eq!(bucket_of(-1, 60_000), -60_000);
    }

    #[test]
    fn rollup_chunks_round_trip_and_damage_is_an_error() {
        let points = streamed(&samples(7, 2_000), 60_000);
        let bytes = encode(&points).unwrap();
        assert_eq!(decode(&bytes).unwrap(), points);
        for cut in [0, 3, 4, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), []);
    }
}
