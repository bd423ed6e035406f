//! Where an axis puts its ticks, so they read well at every zoom level.
//!
//! Time: the step is the smallest on a ladder of steps a person counts in
//! (10 ms … 500 ms, 1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min … 30 min, 1 h,
//! 2 h, 3 h, 6 h, 12 h, 1 d, 2 d, 7 d, 14 d, then 30-day "months" and their
//! multiples) that keeps the count at or under the target. Ticks sit on multiples of
//! the step in the viewer's local time (weeks start on Monday), so an hourly
//! axis in UTC+05:30 still ticks at 06:00, 07:00. The label shows what the
//! step is about: seconds for second steps, hours and minutes for minute and
//! hour steps, the day for day steps, and a tick at local midnight on a
//! sub-day axis names the day instead, so a change of date can be seen.
//!
//! The local time is UTC plus one offset for the whole range, passed in by
//! the caller (the browser knows its time zone; this code does not), so a
//! range across a daylight-saving change is off by an hour on one side.
//!
//! Values: nice numbers (1, 2, 2.5 or 5 × 10^k) whose ticks cover the range,
//! so the first and last tick can be the axis' bounds; or powers of ten for a
//! logarithmic axis.

/// A tick on the time axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeTick {
    /// Unix milliseconds.
    pub ts: i64,
    /// What to print under it, in the viewer's local time.
    pub label: String,
}

/// Pixels between two time ticks that leave room for their labels.
pub const TICK_SPACING_PX: u32 = 100;

/// Most ticks ever produced on one axis, whatever target is asked for.
const MAX_TICKS: usize = 1_000;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
const FORTNIGHT: i64 = 14 * DAY;
/// Close enough to a month for an axis; calendar months would make the
/// steps uneven.
const MONTH: i64 = 30 * DAY;
/// 1970-01-01 was a Thursday; week and fortnight ticks are counted from
/// Monday the 5th.
const FIRST_MONDAY: i64 = 4 * DAY;

const TIME_STEPS: [i64; 28] = [
    10,
    20,
    50,
    100,
    200,
    500,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    WEEK,
    FORTNIGHT,
    MONTH,
];

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// How many time ticks fit in `width_px` pixels, one per
/// [`TICK_SPACING_PX`], at least one.
pub fn tick_target(width_px: u32) -> usize {
    (width_px / TICK_SPACING_PX).max(1) as usize
}

/// Where a label goes on an axis `width` CSS pixels wide.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LabelAnchor {
    /// Centred on its tick at this x.
    Centre(f64),
    /// Its left side at this x (it would cross the left edge).
    Start(f64),
    /// Its right side at this x (it would cross the right edge).
    End(f64),
}

/// The anchor of a `chars` long time label for the tick at `x`: centred,
/// unless that cuts it off at an edge, then against the edge (about 7 CSS
/// px a character, 2 px from the edge).
pub fn label_anchor(x: f64, chars: usize, width: f64) -> LabelAnchor {
    let half = chars as f64 * 3.5;
    if x + half > width {
        LabelAnchor::End(width - 2.0)
    } else if x - half < 0.0 {
        LabelAnchor::Start(2.0)
    } else {
        LabelAnchor::Centre(x)
    }
}

/// Ticks from `from` to `to` (both included, Unix milliseconds), at most
/// `target + 1` of them, labelled in local time `utc_offset_minutes` ahead of
/// UTC (east is positive: +60 in Paris in winter; note that JavaScript's
/// `Date.getTimezoneOffset()` is the negation of this). Empty when `to` is
/// before `from`.
pub fn time_ticks(from: i64, to: i64, target: usize, utc_offset_minutes: i32) -> Vec<TimeTick> {
    if to < from {
        return Vec::new();
    }
    // Wide enough that no range or offset overflows.
    let (from, to) = (i128::from(from), i128::from(to));
    let step = time_step(to - from, target);
    let offset = i128::from(utc_offset_minutes) * i128::from(MINUTE);
    let anchor = i128::from(
        if step == i128::from(WEEK) || step == i128::from(FORTNIGHT) {
            FIRST_MONDAY
        } else {
            0
        },
    );
    let (local_from, local_to) = (from + offset, to + offset);

    let mut ticks = Vec::new();
    let mut local = anchor + ceil_div(local_from - anchor, step) * step;
    while local <= local_to {
        if let (Ok(ts), Ok(local_ms)) = (i64::try_from(local - offset), i64::try_from(local)) {
            ticks.push(TimeTick {
                ts,
                label: time_label(local_ms, step),
            });
        }
        local += step;
    }
    ticks
}

/// The smallest ladder step that puts at most `target` steps in `span_ms`.
fn time_step(span_ms: i128, target: usize) -> i128 {
    let target = target.clamp(1, MAX_TICKS) as i128;
    let wanted = ceil_div(span_ms.max(0), target);
    if let Some(&step) = TIME_STEPS.iter().find(|&&step| i128::from(step) >= wanted) {
        return i128::from(step);
    }
    let month = i128::from(MONTH);
    let months = ceil_div(wanted, month);
    if let Some(&step) = [2, 3, 6].iter().find(|&&n| n >= months) {
        return step * month;
    }
    let years = ceil_div(wanted, 12 * month);
    nice_count_at_least(years) * 12 * month
}

/// The smallest of 1, 2, 5, 10, 20, 50 … that is at least `n` (for the
/// spans an `i64` of milliseconds holds, far below `i128::MAX`).
fn nice_count_at_least(n: i128) -> i128 {
    let mut magnitude: i128 = 1;
    loop {
        for nice in [1, 2, 5] {
            if magnitude * nice >= n {
                return magnitude * nice;
            }
        }
        magnitude *= 10;
    }
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let quotient = a.div_euclid(b);
    if a.rem_euclid(b) == 0 {
        quotient
    } else {
        quotient + 1
    }
}

/// The label of a tick at local time `local_ms` on an axis of `step`.
fn time_label(local_ms: i64, step: i128) -> String {
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let days = local_ms.div_euclid(DAY);
    let ms_of_day = local_ms.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let month_name = MONTHS[(month - 1) as usize];
    let weekday = WEEKDAYS[(days + 3).rem_euclid(7) as usize];
    let (hours, minutes) = (ms_of_day / HOUR, ms_of_day % HOUR / MINUTE);
    let (seconds, millis) = (ms_of_day % MINUTE / SECOND, ms_of_day % SECOND);

    if step < DAY && ms_of_day == 0 {
        format!("{weekday} {day:02}")
    } else if step < SECOND {
        format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
    } else if step < MINUTE {
        format!("{hours:02}:{minutes:02}:{seconds:02}")
    } else if step < DAY {
        format!("{hours:02}:{minutes:02}")
    } else if step < WEEK {
        format!("{weekday} {day:02}")
    } else if step < 12 * MONTH {
        format!("{month_name} {day:02}")
    } else {
        format!("{month_name} {year}")
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`): year, month 1..=12, day 1..=31.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Ticks on nice numbers (1, 2, 2.5 or 5 × 10^k apart) that cover
/// `min..=max`: the first is at or below `min`, the last at or above `max`,
/// about `target` intervals between them. A flat range is widened to reach
/// zero (`0..=1` when it is zero). Empty when a bound is not finite; every
/// tick returned is finite.
pub fn value_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if !min.is_finite() || !max.is_finite() {
        return Vec::new();
    }
    let (mut low, mut high) = if min <= max { (min, max) } else { (max, min) };
    if low == high {
        if low > 0.0 {
            low = 0.0;
        } else if low < 0.0 {
            high = 0.0;
        } else {
            high = 1.0;
        }
    }
    let target = target.clamp(1, MAX_TICKS) as f64;
    // Halved so that the span of -f64::MAX..f64::MAX stays finite.
    let half_step = (high / 2.0 - low / 2.0) / target;
    if !half_step.is_normal() {
        return vec![low, high];
    }
    let exponent = (half_step.log10() + 2f64.log10()).floor() as i32;
    let normalized = half_step / pow10(exponent) * 2.0;
    // The tolerance keeps 0.1 / 0.1 = 1.0000000000000002 from choosing 2.
    let (nice, exponent) = match [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|&n| n >= normalized * (1.0 - 1e-9))
    {
        Some(nice) => (nice, exponent),
        None => (1.0, exponent + 1),
    };
    let scale = pow10(exponent.abs());
    if !scale.is_finite() || scale == 0.0 {
        return vec![low, high];
    }
    // Ticks are `k * nice * 10^exponent` read as a decimal, so 0.3 is the
    // float nearest 0.3 and not 3 * 0.1 = 0.30000000000000004.
    let value_of = |k: f64| -> f64 {
        decimal(&format!("{}e{exponent}", k * nice)) + 0.0 // turns -0 into 0
    };
    let steps_in = |x: f64| {
        let k = if exponent < 0 {
            x * scale / nice
        } else {
            x / scale / nice
        };
        if (k - k.round()).abs() < 1e-9 {
            k.round()
        } else {
            k
        }
    };
    let (first, last) = (steps_in(low).floor(), steps_in(high).ceil());
    if !(last - first).is_finite() || last - first > 2.0 * MAX_TICKS as f64 {
        return vec![low, high];
    }
    let mut ticks: Vec<f64> = Vec::with_capacity((last - first) as usize + 1);
    let mut k = first;
    while k <= last {
        let value = value_of(k);
        if value.is_finite() && ticks.last() != Some(&value) {
            ticks.push(value);
        }
        k += 1.0;
    }
    ticks
}

/// Powers of ten that cover `min..=max` for a logarithmic axis, every
/// decade when they are at most `target` intervals, else every second,
/// third … decade. A bound at or below zero cannot be shown on a log axis:
/// `min` is then taken one decade below `max`, and an axis with `max` at or
/// below zero (or not a number) has no ticks.
pub fn log_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if min.is_nan() || max.is_nan() {
        return Vec::new();
    }
    let (low, high) = if min <= max { (min, max) } else { (max, min) };
    if !(high.is_finite() && high > 0.0) {
        return Vec::new();
    }
    let low = if low.is_finite() && low > 0.0 {
        low
    } else {
        high / 10.0
    };
    // A tenth of the smallest float is zero, whose logarithm is -inf.
    let low = if low > 0.0 { low } else { high };
    let mut first = low.log10().floor() as i32;
    while pow10(first + 1) <= low {
        first += 1;
    }
    while pow10(first) > low {
        first -= 1;
    }
    let mut last = high.log10().ceil() as i32;
    while pow10(last) < high {
        last += 1;
    }
    while pow10(last - 1) >= high {
        last -= 1;
    }
    if last == first {
        last += 1;
    }
    let target = target.clamp(1, MAX_TICKS) as i32;
    let stride = ((last - first) + target - 1) / target;
    let last = first + (last - first + stride - 1) / stride * stride;
    (first..=last)
        .step_by(stride as usize)
        .map(pow10)
        .filter(|value| value.is_finite() && *value > 0.0)
        .collect()
}

/// 10^exponent, correctly rounded (0 below the smallest subnormal, infinite
/// above the largest float).
fn pow10(exponent: i32) -> f64 {
    decimal(&format!("1e{exponent}"))
}

/// The float nearest a decimal (NaN when `text` is not one). In the browser
/// this is JavaScript's `parseFloat`, which rounds correctly too and is
/// already there: Rust's parser would add 17 KB (its code and a table of
/// powers of five) to the WASM bundle for these few calls.
fn decimal(text: &str) -> f64 {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    return js_sys::parse_float(text);
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    return text.parse().unwrap_or(f64::NAN);
}

#[cfg(test)]
mod tests;
