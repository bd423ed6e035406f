//! The demo's shape: every demo series' value as a function of its
//! timestamp alone ([`values_at`]). A daily curve ([`daily`]: lowest at
//! 03:00 UTC, highest at 15:00, weekends lighter), noise from a hash of the
//! timestamp (SplitMix64 with a salt per series: no generator state, so
//! the same time always gives the same value), incidents in about one hour
//! in twelve ([`incident`]: latency, errors and the queue up, users down
//! for a quarter of an hour), and counters as the closed-form integral of
//! their rate, so they never go down and need no memory of earlier
//! samples.

use std::f64::consts::TAU;

use app::protocol::SeriesKey;

/// The series every sample has, which the restart check reads.
pub const USERS: &str = "demo_active_users";
/// Series per sample: users, orders and revenue per region, errors, three
/// quantiles, queue.
pub const SERIES: usize = 1 + 2 * REGIONS.len() + 1 + QUANTILES.len() + 1;
const REGIONS: [(&str, f64); 3] = [("eu", 0.45), ("us", 0.4), ("apac", 0.15)];
const QUANTILES: [(&str, f64); 3] = [("0.5", 1.0), ("0.95", 2.6), ("0.99", 5.5)];
/// The counters count from here (2026-01-01T00:00:00Z), so they stay
/// readable.
const ORIGIN_MS: i64 = 1_767_225_600_000;
/// Orders per second at the day's average.
const ORDERS_PER_SECOND: f64 = 3.0;

/// A uniform number in -1..1 from `ts` and `salt` (SplitMix64).
fn noise(ts: i64, salt: u64) -> f64 {
    let mut z = (ts as u64) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// The day's curve at `ts`: 0.15 at 03:00 UTC up to 1 at 15:00, times 0.75
/// on weekends.
pub fn daily(ts: i64) -> f64 {
    let day_ms = 86_400_000.0;
    let phase = (ts.rem_euclid(86_400_000) as f64) / day_ms;
    let curve = 0.575 - 0.425 * (TAU * (phase - 0.125)).cos();
    // 1970-01-01 was a Thursday: day 2 and 3 of the week are Saturday and
    // Sunday.
    let weekday = ts.div_euclid(86_400_000).rem_euclid(7);
    if weekday == 2 || weekday == 3 {
        curve * 0.75
    } else {
        curve
    }
}

/// How bad an incident is at `ts`: 0 normally, up to 1 during the quarter
/// of an hour from minute 20 of about one hour in twelve.
pub fn incident(ts: i64) -> f64 {
    let hour = ts.div_euclid(3_600_000);
    if noise(hour, 7) > 1.0 - 2.0 / 12.0 {
        let minute = ts.rem_euclid(3_600_000) / 60_000;
        if (20..35).contains(&minute) {
            // Rises, holds, falls.
            let into = (minute - 20) as f64;
            return (into / 3.0).min(1.0).min((15.0 - into) / 3.0).max(0.2);
        }
    }
    0.0
}

/// Orders since [`ORIGIN_MS`]: the integral of a rate that follows a
/// smooth daily curve (a sine, so the integral is closed form).
fn orders_since_origin(ts: i64) -> f64 {
    let t = (ts - ORIGIN_MS) as f64 / 1_000.0;
    let day = 86_400.0;
    let w = TAU / day;
    // rate(t) = r (0.575 - 0.425 cos(w (t - day / 8))), never negative.
    let phase = day / 8.0;
    ORDERS_PER_SECOND * (0.575 * t - 0.425 / w * ((w * (t - phase)).sin() - (w * -phase).sin()))
}

/// Every demo series' value at `ts`.
pub fn values_at(ts: i64) -> Vec<(SeriesKey, f64)> {
    let key = |name: &str, label: Option<(&str, &str)>| {
        SeriesKey::new(name, label.map(|(l, v)| (l.to_string(), v.to_string())))
            .expect("the demo's names follow the rules")
    };
    let day = daily(ts);
    let trouble = incident(ts);
    let round = |v: f64, places: i32| {
        let scale = 10f64.powi(places);
        (v * scale).round() / scale
    };
    let mut out = Vec::with_capacity(SERIES);
    let users = 12_000.0 * day * (1.0 + 0.04 * noise(ts, 1)) * (1.0 - 0.3 * trouble);
    out.push((key(USERS, None), users.round()));
    let orders = orders_since_origin(ts);
    for (region, share) in REGIONS {
        out.push((
            key("demo_orders_total", Some(("region", region))),
            (orders * share).floor(),
        ));
        // An average basket of $42.50.
        out.push((
            key("demo_revenue_dollars_total", Some(("region", region))),
            round(orders * share * 42.5, 2),
        ));
    }
    let errors = (0.004 + 0.002 * noise(ts, 2).abs() + 0.08 * trouble) * (0.5 + day);
    out.push((key("demo_http_errors_ratio", None), round(errors, 4)));
    let base = 0.045 * (1.0 + 0.5 * day) * (1.0 + 0.1 * noise(ts, 3)) * (1.0 + 3.0 * trouble);
    for (i, (quantile, factor)) in QUANTILES.into_iter().enumerate() {
        let jitter = 1.0 + 0.08 * (i as f64 + 1.0) * noise(ts, 10 + i as u64).abs();
        out.push((
            key(
                "demo_http_request_duration_seconds",
                Some(("quantile", quantile)),
            ),
            round(base * factor * jitter, 4),
        ));
    }
    let queue = (40.0 * day + 25.0 * noise(ts, 4) + 400.0 * trouble).max(0.0);
    out.push((key("demo_queue_depth", None), queue.round()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    /// A Tuesday, 00:00 UTC.
    const TUESDAY: i64 = 1_795_478_400_000;

    fn value(ts: i64, name: &str, label: Option<&str>) -> f64 {
        values_at(ts)
            .into_iter()
            .find(|(k, _)| {
                k.name == name && label.is_none_or(|l| k.labels.values().any(|v| v == l))
            })
            .map(|(_, v)| v)
            .expect("a demo series")
    }

    #[test]
    fn values_are_a_function_of_time_alone() {
        for ts in [TUESDAY, TUESDAY + 12_345_678, TUESDAY + 5 * DAY + 1] {
            assert_eq!(values_at(ts), values_at(ts));
        }
        assert_eq!(values_at(TUESDAY).len(), SERIES);
        assert_eq!(SERIES, 12);
    }

    #[test]
    fn the_afternoon_is_busier_than_the_night_and_weekends_are_lighter() {
        let at = |hour: i64, day: i64| daily(TUESDAY + day * DAY + hour * 3_600_000);
        assert!(
            at(15, 0) > 0.99 && at(3, 0) < 0.16,
            "{} {}",
            at(15, 0),
            at(3, 0)
        );
        assert!(at(15, 4) < at(15, 0), "Saturday is lighter");
        let users = |hour: i64| value(TUESDAY + hour * 3_600_000, USERS, None);
        assert!(users(15) > 3.0 * users(3), "{} vs {}", users(15), users(3));
    }

    #[test]
    fn counters_never_go_down_and_every_value_is_finite_and_in_range() {
        let mut previous: Vec<f64> = Vec::new();
        for i in 0..(2 * 8_640) {
            let ts = TUESDAY + i * 10_000;
            let values = values_at(ts);
            for (j, (key, v)) in values.iter().enumerate() {
                assert!(v.is_finite() && *v >= 0.0, "{key}: {v}");
                if key.name.ends_with("_total") {
                    if let Some(p) = previous.get(j) {
                        assert!(v >= p, "{key} went from {p} to {v} at {ts}");
                    }
                }
                if key.name == "demo_http_errors_ratio" {
                    assert!(*v < 1.0);
                }
            }
            previous = values.into_iter().map(|(_, v)| v).collect();
        }
    }

    #[test]
    fn incidents_happen_now_and_then_and_raise_latency() {
        let hours_with_incidents = (0..24 * 30)
            .filter(|h| incident(TUESDAY + h * 3_600_000 + 25 * 60_000) > 0.0)
            .count();
        assert!(
            (10..=130).contains(&hours_with_incidents),
            "{hours_with_incidents}"
        );
        let hour = (0..24 * 30)
            .map(|h| TUESDAY + h * 3_600_000)
            .find(|&h| incident(h + 25 * 60_000) > 0.0)
            .expect("an incident");
        let p99 = |ts| value(ts, "demo_http_request_duration_seconds", Some("0.99"));
        assert!(p99(hour + 25 * 60_000) > 2.0 * p99(hour + 50 * 60_000));
    }
}
