//! A latency histogram with fixed log-linear buckets, in the manner of HDR
//! histograms: exact below 64, then 32 buckets per power of two, so every
//! recorded value is known to within about 3% whatever its size, in a fixed
//! 7 KiB.
//!
//! Each subscriber records into its own histogram (no sharing on the hot
//! path) and the report merges them. The storage is allocated on the first
//! record, so the ten thousand subscribers of an idle run cost nothing.

/// Values up to this are exact.
const LINEAR: u64 = 64;
/// Buckets per power of two above [`LINEAR`].
const PER_OCTAVE: u64 = 32;
/// Largest value bucketed on its own: 2^32 - 1 (71 minutes in
/// microseconds); larger values land in the last bucket (the maximum is
/// still kept exactly).
const TOP: u64 = u32::MAX as u64;
/// Number of buckets: [`LINEAR`] plus 26 octaves of [`PER_OCTAVE`].
const BUCKETS: usize = (LINEAR + 26 * PER_OCTAVE) as usize;

/// Counts of values (microseconds here) in log-linear buckets.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

fn bucket_of(value: u64) -> usize {
    let value = value.min(TOP);
    if value < LINEAR {
        return value as usize;
    }
    // `value >> shift` keeps the top six bits: 32..=63.
    let shift = u64::from(63 - value.leading_zeros()) - 5;
    (LINEAR + (shift - 1) * PER_OCTAVE + ((value >> shift) - PER_OCTAVE)) as usize
}

/// The largest value that falls in bucket `index`.
fn highest_in(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let offset = index - LINEAR;
    let shift = offset / PER_OCTAVE + 1;
    let sub = offset % PER_OCTAVE + PER_OCTAVE;
    ((sub + 1) << shift) - 1
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, value: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[bucket_of(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded, exactly (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value below or at which a fraction `quantile` (0 to 1) of the
    /// recorded values fall, as the upper bound of its bucket (never above
    /// the maximum); 0 when empty.
    pub fn percentile(&self, quantile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return highest_in(index).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous = 0;
        for value in (0..5_000).chain([u64::from(u32::MAX) - 1, u64::MAX]) {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS, "{value}");
            assert!(bucket >= previous, "{value}");
            assert!(highest_in(bucket) >= value.min(TOP), "{value}");
            previous = bucket;
        }
        assert_eq!(bucket_of(63), 63);
        assert_eq!(bucket_of(64), 64);
        assert_eq!(highest_in(bucket_of(100)), 101);
    }

    #[test]
    fn bucket_error_is_within_about_three_percent() {
        for value in [100u64, 1_000, 12_345, 1_000_000, 987_654_321] {
            let high = highest_in(bucket_of(value));
            assert!(high >= value);
            assert!(
                (high - value) as f64 / value as f64 <= 1.0 / 32.0,
                "{value}"
            );
        }
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut histogram = Histogram::default();
        for value in 1..=1_000 {
            histogram.record(value);
        }
        assert_eq!(histogram.count(), 1_000);
        assert_eq!(histogram.max(), 1_000);
        let p50 = histogram.percentile(0.5);
        assert!((500..=515).contains(&p50), "{p50}");
        let p99 = histogram.percentile(0.99);
        assert!((990..=1_000).contains(&p99), "{p99}");
        assert_eq!(histogram.percentile(1.0), 1_000);
        assert_eq!(histogram.percentile(0.0), 1);
    }

    #[test]
    fn one_outlier_shows_in_the_max_not_the_p99() {
        let mut histogram = Histogram::default();
        for _ in 0..999 {
            histogram.record(10);
        }
        histogram.record(5_000_000);
        assert_eq!(histogram.percentile(0.99), 10);
        assert_eq!(histogram.max(), 5_000_000);
    }

    #[test]
    fn merged_histograms_count_both() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        a.record(1);
        b.record(3);
        b.record(70);
        let empty = Histogram::default();
        a.merge(&b);
        a.merge(&empty);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max(), 70);
        assert_eq!(a.percentile(0.5), 3);
        assert_eq!(Histogram::default().percentile(0.5), 0);
    }
}
