//! What a history query reads and how it shapes the answer: which tier
//! (raw samples, minute or hour rollups, days merged from hours), how many
//! points, which aggregation, and counters as rates.
//!
//! With `max_points=N` the coarsest tier that still gives N buckets over
//! the range is read (so a year is read from hours, not from samples), as
//! long as that tier's retention reaches back to the range's start; the
//! points are then merged into at most N buckets whose width is a whole
//! multiple of the tier's step, aligned to the clock (the same buckets
//! whatever the range's exact start, so a chart's shape does not shift as
//! time moves on). Each merged point carries its bucket's min and max: a
//! one-sample spike is never hidden. Raw samples are thinned by M4
//! (`store::downsample`).

use crate::store::{
    chunk::Sample,
    rollup::{bucket_of, merge_into, RollupPoint, Tier},
};

/// A bucket width asked for with `step=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `1m`
    Minute,
    /// `1h`
    Hour,
    /// `1d` (UTC days, merged from hours)
    Day,
}

impl Step {
    /// Parses `1m`, `1h` or `1d`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1m" => Some(Self::Minute),
            "1h" => Some(Self::Hour),
            "1d" => Some(Self::Day),
            _ => None,
        }
    }

    /// The tier it reads.
    pub fn tier(self) -> Tier {
        match self {
            Self::Minute => Tier::Minute,
            Self::Hour | Self::Day => Tier::Hour,
        }
    }

    /// Its width.
    pub fn ms(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    /// Its name in answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Minute => "1m",
            Self::Hour => "1h",
            Self::Day => "1d",
        }
    }
}

/// How a bucket becomes one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// The mean.
    Avg,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// The sum.
    Sum,
    /// How many samples.
    Count,
    /// The newest.
    Last,
}

impl Agg {
    /// Parses `avg`, `min`, `max`, `sum`, `count` or `last`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "count" => Self::Count,
            "last" => Self::Last,
            _ => return None,
        })
    }

    /// The bucket's value.
    pub fn of(self, p: &RollupPoint) -> f64 {
        match self {
            Self::Avg => p.avg(),
            Self::Min => p.min,
            Self::Max => p.max,
            Self::Sum => p.sum,
            Self::Count => p.count as f64,
            Self::Last => p.last,
        }
    }
}

/// The tier a `max_points` query reads: the coarsest with at least
/// `max_points` buckets over `from..=to` whose retention reaches `from`;
/// failing that, the finest whose retention does (or hours).
pub fn tier_for(
    from: i64,
    to: i64,
    max_points: usize,
    now: i64,
    retention: impl Fn(Tier) -> i64,
) -> Tier {
    let span = to.saturating_sub(from).max(0);
    let covers = |tier: Tier| from >= now.saturating_sub(retention(tier));
    for tier in [Tier::Hour, Tier::Minute] {
        let step = tier.step_ms().unwrap_or(1);
        if span / step >= max_points as i64 && covers(tier) {
            return tier;
        }
    }
    Tier::ALL
        .into_iter()
        .find(|&tier| covers(tier))
        .unwrap_or(Tier::Hour)
}

/// Rollup points merged into at most `max_points` clock-aligned buckets
/// (a whole multiple of `step` wide) over `from..=to`; returns them and
/// the width.
pub fn thin(
    points: &[RollupPoint],
    from: i64,
    to: i64,
    step: i64,
    max_points: usize,
) -> (Vec<RollupPoint>, i64) {
    let span = to.saturating_sub(from).max(1);
    let buckets = max_points.max(1) as i64;
    let width = ((span + buckets - 1) / buckets + step - 1) / step * step;
    let width = width.max(step);
    // Aligned buckets can straddle both ends: one more on each side.
    let width = if span / width + 2 > buckets {
        width + step
    } else {
        width
    };
    if width == step {
        return (points.to_vec(), step);
    }
    (merge_into(points, width), width)
}

/// A counter's per-second rate between consecutive rollup buckets (from
/// their last values; a drop is a reset, counted from zero). The first
/// bucket has no rate.
pub fn rollup_rate(points: &[RollupPoint]) -> Vec<(i64, f64)> {
    points
        .windows(2)
        .filter_map(|w| {
            let seconds = (w[1].ts - w[0].ts) as f64 / 1_000.0;
            (seconds > 0.0).then(|| (w[1].ts, increase(w[0].last, w[1].last) / seconds))
        })
        .collect()
}

/// A counter's per-second rate between consecutive samples.
pub fn sample_rate(samples: &[Sample]) -> Vec<Sample> {
    samples
        .windows(2)
        .filter_map(|w| {
            let seconds = (w[1].ts - w[0].ts) as f64 / 1_000.0;
            (seconds > 0.0).then(|| Sample {
                ts: w[1].ts,
                value: increase(w[0].value, w[1].value) / seconds,
            })
        })
        .collect()
}

fn increase(before: f64, after: f64) -> f64 {
    if after >= before {
        after - before
    } else {
        after
    }
}

/// The first bucket start a rollup query of `from` must read.
pub fn first_bucket(from: i64, step: i64) -> i64 {
    bucket_of(from, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn retention(tier: Tier) -> i64 {
        match tier {
            Tier::Raw => DAY,
            Tier::Minute => 30 * DAY,
            Tier::Hour => 365 * DAY,
        }
    }

    #[test]
    fn the_coarsest_tier_with_enough_points_is_read() {
        let now = 1_000 * DAY;
        // An hour at 1,000 points: raw; a day: minutes (1,440 >= 1,000); a
        // year: hours (8,760).
        assert_eq!(
            tier_for(now - 3_600_000, now, 1_000, now, retention),
            Tier::Raw
        );
        assert_eq!(
            tier_for(now - DAY, now, 1_000, now, retention),
            Tier::Minute
        );
        assert_eq!(
            tier_for(now - 365 * DAY, now, 1_000, now, retention),
            Tier::Hour
        );
        // Two days at 5,000 points want raw samples, which are gone before
        // yesterday: minutes.
        assert_eq!(
            tier_for(now - 2 * DAY, now, 5_000, now, retention),
            Tier::Minute
        );
        // Beyond every retention: hours.
        assert_eq!(
            tier_for(now - 900 * DAY, now, 100, now, retention),
            Tier::Hour
        );
    }

    #[test]
    fn thinning_keeps_every_spike_and_buckets_stay_aligned_as_time_moves() {
        let points: Vec<RollupPoint> = (0..1_440)
            .map(|m| RollupPoint::of(m * 60_000, if m == 777 { 1e6 } else { 1.0 }))
            .collect();
        let (thinned, width) = thin(&points, 0, 1_440 * 60_000, 60_000, 100);
        assert!(thinned.len() <= 100, "{}", thinned.len());
        assert_eq!(width % 60_000, 0);
        assert_eq!(thinned.iter().filter(|p| p.max == 1e6).count(), 1);
        assert_eq!(thinned.iter().map(|p| p.count).sum::<u64>(), 1_440);
        // A minute later the buckets are the same ones.
        let (later, _) = thin(&points[1..], 60_000, 1_441 * 60_000, 60_000, 100);
        assert!(later.iter().all(|p| p.ts % width == 0));
        assert_eq!(later[1..], thinned[1..]);
    }

    #[test]
    fn rates_count_a_reset_from_zero() {
        let counter = [0.0, 10.0, 30.0, 5.0, 15.0];
        let samples: Vec<Sample> = counter
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                ts: i as i64 * 10_000,
                value,
            })
            .collect();
        let rates: Vec<f64> = sample_rate(&samples).iter().map(|s| s.value).collect();
        assert_eq!(rates, [1.0, 2.0, 0.5, 1.0]);
        let points: Vec<RollupPoint> = samples
            .iter()
            .map(|s| RollupPoint::of(s.ts, s.value))
            .collect();
        let rates: Vec<f64> = rollup_rate(&points).iter().map(|r| r.1).collect();
        assert_eq!(rates, [1.0, 2.0, 0.5, 1.0]);
    }
}
