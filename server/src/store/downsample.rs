//! Fewer points for a chart without hiding anything that matters: M4
//! bucketing (Jugel et al., VLDB 2014). The range is cut into equal time
//! buckets and each keeps its first, smallest, largest and last sample, in
//! time order. A line drawn through them has the same extremes, and the same
//! pixels at one bucket per pixel column, as the line through every sample;
//! a spike of a single sample always survives.

use super::chunk::Sample;

/// At most `max_points` (at least 4) of `samples` (sorted by time, within
/// `from..=to`), chosen by M4. Fewer samples than that come back as they
/// are.
pub fn downsample(samples: &[Sample], from: i64, to: i64, max_points: usize) -> Vec<Sample> {
    let max_points = max_points.max(4);
    if samples.len() <= max_points {
        return samples.to_vec();
    }
    let buckets = (max_points / 4) as i128;
    let span = (i128::from(to) - i128::from(from) + 1).max(1);
    let bucket_of = |ts: i64| -> i128 {
        ((i128::from(ts) - i128::from(from)) * buckets / span).clamp(0, buckets - 1)
    };
    let mut out = Vec::with_capacity(max_points);
    let mut start = 0;
    while start < samples.len() {
        let bucket = bucket_of(samples[start].ts);
        let mut end = start + 1;
        while end < samples.len() && bucket_of(samples[end].ts) == bucket {
            end += 1;
        }
        let run = &samples[start..end];
        // Indexes of the first, smallest, largest and last: NaN is neither.
        let mut min = 0;
        let mut max = 0;
        for (i, sample) in run.iter().enumerate() {
            if sample.value < run[min].value || run[min].value.is_nan() {
                min = i;
            }
            if sample.value > run[max].value || run[max].value.is_nan() {
                max = i;
            }
        }
        let mut chosen = [0, min, max, run.len() - 1];
        chosen.sort_unstable();
        let mut last = None;
        for i in chosen {
            if last != Some(i) {
                out.push(run[i]);
                last = Some(i);
            }
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: impl IntoIterator<Item = f64>) -> Vec<Sample> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Sample {
                ts: i as i64 * 1_000,
                value,
            })
            .collect()
    }

    #[test]
    fn a_single_spike_survives_downsampling() {
        let mut values = vec![1.0; 86_400];
        values[50_000] = 99.0;
        values[70_001] = -5.0;
        let samples = series(values);
        let to = samples.last().unwrap().ts;
        let points = downsample(&samples, 0, to, 1_000);
        assert!(points.len() <= 1_000, "{} points", points.len());
        assert!(points.iter().any(|p| p.value == 99.0 && p.ts == 50_000_000));
        assert!(points.iter().any(|p| p.value == -5.0 && p.ts == 70_001_000));
        assert!(
            points.windows(2).all(|w| w[0].ts < w[1].ts),
            "in time order"
        );
        assert_eq!(points.first().unwrap().ts, 0);
        assert_eq!(points.last().unwrap().ts, to);
    }

    #[test]
    fn few_samples_come_back_untouched() {
        let samples = series([3.0, 1.0, 2.0]);
        assert_eq!(downsample(&samples, 0, 2_000, 1_000), samples);
        assert_eq!(downsample(&[], 0, 10, 100), []);
    }

    #[test]
    fn every_bucket_keeps_its_extremes_whatever_the_data() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let values: Vec<f64> = (0..10_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 1_000) as f64
            })
            .collect();
        let samples = series(values);
        let to = samples.last().unwrap().ts;
        for max_points in [4, 10, 100, 999] {
            let points = downsample(&samples, 0, to, max_points);
            assert!(points.len() <= max_points);
            let max = samples.iter().map(|s| s.value).fold(f64::MIN, f64::max);
            let min = samples.iter().map(|s| s.value).fold(f64::MAX, f64::min);
            assert!(points.iter().any(|p| p.value == max));
            assert!(points.iter().any(|p| p.value == min));
        }
    }
}
