//! Counters read as per-second rates, live: the same arithmetic as the
//! query API's `rate=true` (`server/src/query/resolution.rs`), applied to
//! points as they arrive. Each series keeps its last raw sample; a sample
//! becomes the increase since that one over the seconds between them. A
//! counter that went down was reset: its value is the increase since the
//! reset (as Prometheus reads it). A series' first live sample only seeds
//! it: history already ends with the rate up to a sample before it.

/// The last raw sample of each series, by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rates {
    last: Vec<(String, i64, f64)>,
}

/// Series remembered at most: a chart shows tens, a table hundreds.
const MAX_SERIES: usize = 2_000;

impl Rates {
    /// `points` (oldest first) of series `key` as rates; a point not
    /// after the last one seen is dropped.
    pub fn of(&mut self, key: &str, points: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let slot = match self.last.iter().position(|(k, _, _)| k == key) {
            Some(slot) => slot,
            None => {
                let Some(&(ts, value)) = points.first() else {
                    return Vec::new();
                };
                if self.last.len() >= MAX_SERIES {
                    self.last.remove(0);
                }
                self.last.push((key.to_string(), ts, value));
                self.last.len() - 1
            }
        };
        let mut rates = Vec::new();
        let (_, last_ts, last_value) = &mut self.last[slot];
        for &(ts, value) in points {
            if ts <= *last_ts {
                continue;
            }
            let seconds = (ts - *last_ts) as f64 / 1_000.0;
            let increase = if value >= *last_value {
                value - *last_value
            } else {
                value
            };
            rates.push((ts, increase / seconds));
            (*last_ts, *last_value) = (ts, value);
        }
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sample_seeds_and_each_next_is_the_increase_per_second() {
        let mut rates = Rates::default();
        assert_eq!(rates.of("a", &[(1_000, 10.0)]), vec![]);
        assert_eq!(
            rates.of("a", &[(3_000, 30.0), (4_000, 35.0)]),
            vec![(3_000, 10.0), (4_000, 5.0)]
        );
    }

    #[test]
    fn a_reset_counts_from_zero_and_a_repeat_is_dropped() {
        let mut rates = Rates::default();
        rates.of("a", &[(1_000, 100.0)]);
        assert_eq!(
            rates.of("a", &[(1_000, 100.0), (2_000, 4.0)]),
            vec![(2_000, 4.0)]
        );
    }

    #[test]
    fn series_are_apart() {
        let mut rates = Rates::default();
        rates.of("a", &[(1_000, 0.0)]);
        rates.of("b", &[(1_000, 50.0)]);
        assert_eq!(rates.of("a", &[(2_000, 2.0)]), vec![(2_000, 2.0)]);
        assert_eq!(rates.of("b", &[(2_000, 51.0)]), vec![(2_000, 1.0)]);
    }
}
