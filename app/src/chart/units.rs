//! What a series' numbers measure, and how they are written short enough
//! for a legend, a tooltip or an axis: `1.2 GiB`, `3.4 MiB/s`, `$12.3k`,
//! `1.5k`, `250 ms`, `3 min`, `42%`.
//!
//! Each [`Unit`] has a ladder of scales (B, KiB, MiB …; ns, µs, ms, s, min,
//! h, d; k, M, B, T). A single value takes the largest scale it reaches, and
//! rounding that would print `1024 KiB` or `60 s` moves it up a scale. An
//! axis is different: its ticks share one scale, chosen by the largest, so
//! they read `0, 0.5 GiB, 1 GiB` and not `0, 512 MiB, 1 GiB`; and for the
//! ticks to land on round numbers of that scale ([`value_axis`]) they are
//! chosen in it, so a byte axis steps by 0.5 GiB and not by 0.466 GiB.
//!
//! A value that is not a number (a gap, an infinity) is written `—`.
//!
//! [`crate::format`] keeps its own fixed-decimal forms (`3.0 GiB`) for the
//! stat cards; these drop trailing zeros, which suits axes and legends.

use serde::{Deserialize, Serialize};

use super::ticks::value_ticks;

/// What the values of a series measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain number (`1.5k`).
    #[default]
    Count,
    /// A percentage, 42 meaning 42% (`42%`).
    Percent,
    /// A size in bytes, in binary prefixes (`1.2 GiB`).
    Bytes,
    /// A rate in bytes per second (`3.4 MiB/s`).
    BytesPerSec,
    /// An amount of US dollars (`$12.3k`).
    Currency,
    /// A duration in seconds (`1.2 s`, `3 min`).
    Seconds,
    /// A duration in milliseconds (`250 ms`, `1.2 s`).
    #[serde(rename = "ms")]
    Milliseconds,
}

/// A tick on a value axis.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisTick {
    /// Where the tick is, in the series' own unit.
    pub value: f64,
    /// What to print beside it.
    pub label: String,
}

/// What a number is written with for a value that is not a number.
const NOT_A_NUMBER: &str = "—";
/// Below two significant digits at this many decimals, a value is written
/// in scientific notation.
const MAX_DECIMALS: usize = 6;
/// Above this on the largest scale, a value is written in scientific
/// notation rather than as a long row of digits.
const MAX_PLAIN: f64 = 1e6;

/// A step on a unit's ladder: `size` base units written with `suffix`.
struct Scale {
    suffix: &'static str,
    size: f64,
}

const fn scale(suffix: &'static str, size: f64) -> Scale {
    Scale { suffix, size }
}

const SHORT: &[Scale] = &[
    scale("", 1.0),
    scale("k", 1e3),
    scale("M", 1e6),
    scale("B", 1e9),
    scale("T", 1e12),
];
const PERCENT: &[Scale] = &[scale("%", 1.0)];
const BINARY: &[Scale] = &[
    scale("B", 1.0),
    scale("KiB", 1024.0),
    scale("MiB", 1_048_576.0),
    scale("GiB", 1_073_741_824.0),
    scale("TiB", 1_099_511_627_776.0),
    scale("PiB", 1_125_899_906_842_624.0),
    scale("EiB", 1_152_921_504_606_846_976.0),
];
const DURATION: &[Scale] = &[
    scale("ns", 1e-9),
    scale("µs", 1e-6),
    scale("ms", 1e-3),
    scale("s", 1.0),
    scale("min", 60.0),
    scale("h", 3_600.0),
    scale("d", 86_400.0),
];

/// How a unit is written: `$` before the number, a space or not before the
/// suffix, `/s` after it.
struct Notation {
    scales: &'static [Scale],
    prefix: &'static str,
    separator: &'static str,
    trailer: &'static str,
    /// The ladder's index of the scale of size 1, used for zero.
    unit_scale: usize,
    /// How many of the series' units make one of the ladder's base unit
    /// (1000 for milliseconds on the seconds ladder); kept as a whole
    /// number so that converting back and forth stays exact.
    units_per_base: f64,
}

impl Unit {
    fn notation(self) -> Notation {
        let plain = Notation {
            scales: SHORT,
            prefix: "",
            separator: "",
            trailer: "",
            unit_scale: 0,
            units_per_base: 1.0,
        };
        match self {
            Unit::Count => plain,
            Unit::Percent => Notation {
                scales: PERCENT,
                ..plain
            },
            Unit::Currency => Notation {
                prefix: "$",
                ..plain
            },
            Unit::Bytes => Notation {
                scales: BINARY,
                separator: " ",
                ..plain
            },
            Unit::BytesPerSec => Notation {
                scales: BINARY,
                separator: " ",
                trailer: "/s",
                ..plain
            },
            Unit::Seconds => Notation {
                scales: DURATION,
                separator: " ",
                unit_scale: 3,
                ..plain
            },
            Unit::Milliseconds => Notation {
                scales: DURATION,
                separator: " ",
                unit_scale: 3,
                units_per_base: 1e3,
                ..plain
            },
        }
    }
}

impl Notation {
    /// The largest scale `magnitude` (in base units) reaches; the smallest
    /// when it reaches none, the unit scale for zero.
    fn scale_for(&self, magnitude: f64) -> usize {
        if magnitude == 0.0 {
            return self.unit_scale;
        }
        self.scales
            .iter()
            .rposition(|scale| scale.size <= magnitude)
            .unwrap_or(0)
    }

    fn write(&self, negative: bool, number: &str, scale: usize) -> String {
        let sign = if negative { "-" } else { "" };
        let Scale { suffix, .. } = self.scales[scale];
        let separator = if suffix.is_empty() {
            ""
        } else {
            self.separator
        };
        format!(
            "{sign}{}{number}{separator}{suffix}{}",
            self.prefix, self.trailer
        )
    }
}

/// `value` written short in `unit`, with at most `max_decimals` decimals
/// (trailing zeros dropped, never more than six) on its scale; a value
/// below 1 on the smallest scale keeps two significant digits. `—` when it
/// is not finite.
pub fn format_value(unit: Unit, value: f64, max_decimals: usize) -> String {
    let notation = unit.notation();
    let value = value / notation.units_per_base;
    if !value.is_finite() {
        return NOT_A_NUMBER.to_string();
    }
    let magnitude = value.abs();
    let mut scale = notation.scale_for(magnitude);
    loop {
        let scaled = magnitude / notation.scales[scale].size;
        let number = if scaled > 0.0 && scaled < 1.0 {
            match decimals_for_two_digits(scaled) {
                Some(decimals) => rounded(scaled, decimals.max(max_decimals).min(MAX_DECIMALS)),
                None => Number::Scientific(scaled),
            }
        } else if scaled >= MAX_PLAIN && scale + 1 == notation.scales.len() {
            Number::Scientific(scaled)
        } else {
            rounded(scaled, max_decimals.min(MAX_DECIMALS))
        };
        // Rounding 1023.97 KiB gives 1024 KiB: that is 1 MiB.
        if let (Number::Plain(shown, _), Some(next)) = (&number, notation.scales.get(scale + 1)) {
            if shown * notation.scales[scale].size >= next.size {
                scale += 1;
                continue;
            }
        }
        let text = number.text();
        let negative = value < 0.0 && text != "0";
        return notation.write(negative, &text, scale);
    }
}

/// Labels for `ticks` (in `unit`) on one shared scale, chosen by the
/// largest tick, with as many decimals as it takes to write each tick
/// exactly (trailing zeros dropped); zero is written `0`. For linear ticks;
/// log ticks span scales and read better through [`format_value`].
pub fn format_ticks(unit: Unit, ticks: &[f64]) -> Vec<String> {
    let notation = unit.notation();
    let largest = ticks
        .iter()
        .map(|tick| (tick / notation.units_per_base).abs())
        .filter(|tick| tick.is_finite())
        .fold(0.0, f64::max);
    let scale = notation.scale_for(largest);
    let size = notation.scales[scale].size;
    let scaled: Vec<f64> = ticks
        .iter()
        .map(|tick| tick / notation.units_per_base / size)
        .collect();
    labels_on_scale(&notation, &scaled, scale)
}

/// Ticks for a value axis in `unit` covering `min..=max`, on round numbers
/// of the one scale the axis is labelled in (`0, 0.5 GiB, 1 GiB, 1.5 GiB`),
/// about `target` intervals apart; see [`value_ticks`]. Empty when a bound
/// is not finite.
pub fn value_axis(unit: Unit, min: f64, max: f64, target: usize) -> Vec<AxisTick> {
    let notation = unit.notation();
    let (low, high) = (min / notation.units_per_base, max / notation.units_per_base);
    let scale = notation.scale_for(low.abs().max(high.abs()));
    let size = notation.scales[scale].size;
    let scaled = value_ticks(low / size, high / size, target);
    let labels = labels_on_scale(&notation, &scaled, scale);
    scaled
        .iter()
        .zip(labels)
        .map(|(tick, label)| AxisTick {
            value: tick * size * notation.units_per_base,
            label,
        })
        .collect()
}

fn labels_on_scale(notation: &Notation, scaled: &[f64], scale: usize) -> Vec<String> {
    let exact_at = |decimals: usize| {
        let factor = 10f64.powi(decimals as i32);
        scaled
            .iter()
            .filter(|tick| tick.is_finite())
            .all(|tick| ((tick * factor).round() - tick * factor).abs() < 1e-6)
    };
    let decimals = (0..MAX_DECIMALS)
        .find(|&decimals| exact_at(decimals))
        .unwrap_or(MAX_DECIMALS);
    scaled
        .iter()
        .map(|&tick| {
            if !tick.is_finite() {
                return NOT_A_NUMBER.to_string();
            }
            let on_last_scale = scale + 1 == notation.scales.len();
            let text = if tick.abs() >= MAX_PLAIN && on_last_scale {
                Number::Scientific(tick.abs()).text()
            } else {
                rounded(tick.abs(), decimals).text()
            };
            if text == "0" {
                text
            } else {
                notation.write(tick < 0.0, &text, scale)
            }
        })
        .collect()
}

/// A non-negative number ready to be written.
enum Number {
    /// Rounded to this many decimals.
    Plain(f64, usize),
    /// Too small or too large to write plainly.
    Scientific(f64),
}

impl Number {
    fn text(&self) -> String {
        match *self {
            Number::Plain(value, decimals) => {
                let text = format!("{value:.decimals$}");
                if text.contains('.') {
                    text.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    text
                }
            }
            Number::Scientific(value) => format!("{value:.1e}"),
        }
    }
}

fn rounded(value: f64, decimals: usize) -> Number {
    let factor = 10f64.powi(decimals as i32);
    Number::Plain((value * factor).round() / factor, decimals)
}

/// The decimals that show two significant digits of `value` in `0..1`,
/// `None` when that is more than [`MAX_DECIMALS`].
fn decimals_for_two_digits(value: f64) -> Option<usize> {
    let leading_zeros = (-value.log10().floor()) as usize - 1;
    let decimals = leading_zeros + 2;
    (decimals <= MAX_DECIMALS).then_some(decimals)
}

#[cfg(test)]
mod tests;
