//! Times and spans as people type them into a URL or the range picker, and
//! back: `now`, `now-6h`, `now+0s`, `5m`, a Unix time in milliseconds,
//! `2026-12-03T10:00:00Z`.
//!
//! A span is a whole number and one unit (`ms`, `s`, `m`, `h`, `d`, `w`);
//! months and years are left out because their length depends on the
//! calendar, and `M` for months next to `m` for minutes is a trap. A
//! written time is ISO 8601 with a zone, `Z` or an offset such as `+01:00`,
//! with or without seconds and fractional seconds (kept to the
//! millisecond): a time without a zone would mean a different instant in
//! every viewer's browser, so it is refused rather than guessed.
//!
//! The calendar is the proleptic Gregorian one, converted with Howard
//! Hinnant's `days_from_civil` and `civil_from_days`; times are kept to the
//! years 0000 to 9999 so that every one of them can be written back in four
//! digits. All arithmetic on what was read is checked: an overflow is a
//! [`RangeError`], never a panic or a time that wrapped around.

use std::fmt;

use super::RangeError;

pub(super) const SECOND: i64 = 1_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The units a span is written in, largest first, so that
/// [`format_duration`] picks the largest that divides it.
const UNITS: [(&str, i64); 6] = [
    ("w", WEEK),
    ("d", DAY),
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", 1),
];

/// 0000-01-01T00:00:00Z, the earliest time read or written.
pub const MIN_TIME_MS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999Z, the latest time read or written.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// How much of a hostile input an error message repeats.
const MAX_QUOTED_CHARS: usize = 40;

/// A time as a person writes it: relative to now, or absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePoint {
    /// Now plus `offset_ms`, negative for the past: `now-6h` is an offset
    /// of -21,600,000 and `now` an offset of 0.
    Relative {
        /// Milliseconds from now.
        offset_ms: i64,
    },
    /// An absolute time in Unix milliseconds.
    Absolute(i64),
}

impl TimePoint {
    /// Now itself.
    pub const NOW: TimePoint = TimePoint::Relative { offset_ms: 0 };

    /// The Unix milliseconds this time stands for when it is `now_ms`.
    ///
    /// # Errors
    ///
    /// [`RangeError::OutOfYears`] when that falls outside the years 0000 to
    /// 9999.
    pub fn resolve(self, now_ms: i64) -> Result<i64, RangeError> {
        let ms = match self {
            TimePoint::Relative { offset_ms } => now_ms.checked_add(offset_ms),
            TimePoint::Absolute(ms) => Some(ms),
        };
        ms.filter(|ms| (MIN_TIME_MS..=MAX_TIME_MS).contains(ms))
            .ok_or_else(|| RangeError::OutOfYears {
                text: quoted(&self.to_string()),
            })
    }
}

/// Written the way [`parse_time`] reads it: `now`, `now-6h`, or an ISO time
/// in UTC.
impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimePoint::Relative { offset_ms: 0 } => f.write_str("now"),
            TimePoint::Relative { offset_ms } => {
                let sign = if offset_ms < 0 { '-' } else { '+' };
                write!(f, "now{sign}{}", format_span(offset_ms.unsigned_abs()))
            }
            TimePoint::Absolute(ms) => f.write_str(&format_time(ms)),
        }
    }
}

/// Reads a time: `now`, `now-6h` or `now+90s` (see [`parse_duration`] for
/// the span), a Unix time in milliseconds such as `1796292000000`, or an
/// ISO 8601 time with a zone: `2026-12-03T10:00:00Z`, `2026-12-03T10:00Z`,
/// `2026-12-03T10:00:00.250Z`, `2026-12-03T11:00:00+01:00`. Surrounding
/// spaces are ignored, and so are spaces around the sign of `now - 6h`.
///
/// # Errors
///
/// A [`RangeError`] that says what is wrong and what to write instead.
pub fn parse_time(text: &str) -> Result<TimePoint, RangeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RangeError::Empty);
    }
    if let Some(rest) = text.strip_prefix("now") {
        let rest = rest.trim_start();
        let negative = match rest.chars().next() {
            None => return Ok(TimePoint::NOW),
            Some('-') => true,
            Some('+') => false,
            Some(_) => return Err(not_a_time(text)),
        };
        let span = parse_span(rest[1..].trim_start(), text)?;
        let offset_ms = if negative {
            span.checked_neg()
        } else {
            Some(span)
        };
        return offset_ms
            .map(|offset_ms| TimePoint::Relative { offset_ms })
            .ok_or_else(|| RangeError::TooFar { text: quoted(text) });
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let ms = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>()
            .map_err(|_| RangeError::OutOfYears { text: quoted(text) })?
    } else if text.len() >= 10 && text.as_bytes().get(4) == Some(&b'-') {
        parse_iso(text)?
    } else {
        return Err(not_a_time(text));
    };
    if !(MIN_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        return Err(RangeError::OutOfYears { text: quoted(text) });
    }
    Ok(TimePoint::Absolute(ms))
}

/// Reads a span in milliseconds: a whole number and a unit, `ms`, `s`, `m`,
/// `h`, `d` or `w` (`90s`, `5m`, `7d`).
///
/// # Errors
///
/// [`RangeError::MissingAmount`], [`RangeError::MissingUnit`] or
/// [`RangeError::UnknownUnit`] when it is not written so,
/// [`RangeError::TooFar`] when it does not fit in 64 bits of milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, RangeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RangeError::Empty);
    }
    parse_span(text, text)
}

/// `span` (after `now-` or on its own) in milliseconds; errors quote `whole`.
fn parse_span(span: &str, whole: &str) -> Result<i64, RangeError> {
    // Everything before the first non-digit is ASCII, so this is a char
    // boundary even in hostile unicode.
    let digits_end = span
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(span.len());
    let (amount, unit) = span.split_at(digits_end);
    if amount.is_empty() {
        return Err(RangeError::MissingAmount {
            text: quoted(whole),
        });
    }
    if unit.is_empty() {
        return Err(RangeError::MissingUnit {
            text: quoted(whole),
        });
    }
    let Some(&(_, unit_ms)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(RangeError::UnknownUnit {
            unit: quoted(unit),
            text: quoted(whole),
        });
    };
    amount
        .parse::<i64>()
        .ok()
        .and_then(|amount| amount.checked_mul(unit_ms))
        .ok_or_else(|| RangeError::TooFar {
            text: quoted(whole),
        })
}

/// `span_ms` in the largest unit that writes it exactly (`90s`, `2h`,
/// `2w`), the way [`parse_duration`] reads it; `-5m` when negative.
pub fn format_duration(span_ms: i64) -> String {
    let sign = if span_ms < 0 { "-" } else { "" };
    format!("{sign}{}", format_span(span_ms.unsigned_abs()))
}

fn format_span(span_ms: u64) -> String {
    if span_ms == 0 {
        return "0s".to_string();
    }
    // Every span is a whole number of milliseconds, so the search ends.
    let (name, size) = UNITS
        .iter()
        .map(|&(name, size)| (name, size.unsigned_abs()))
        .find(|&(_, size)| span_ms.is_multiple_of(size))
        .unwrap_or(("ms", 1));
    format!("{}{name}", span_ms / size)
}

/// `ms` as an ISO 8601 time in UTC, `2026-12-03T10:00:00Z`, with
/// milliseconds when there are any (`2026-12-03T10:00:00.250Z`). Defined
/// for every `i64`; outside the years 0000 to 9999 the year has another
/// number of digits and [`parse_time`] will not read it back.
pub fn format_time(ms: i64) -> String {
    let days = ms.div_euclid(DAY);
    let in_day = ms.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / HOUR, in_day % HOUR / MINUTE);
    let (second, milli) = (in_day % MINUTE / SECOND, in_day % SECOND);
    let fraction = if milli == 0 {
        String::new()
    } else {
        format!(".{milli:03}")
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM|±HHMM)`, also with a space or a
/// lowercase `t` between date and time and a lowercase `z` (RFC 3339).
fn parse_iso(text: &str) -> Result<i64, RangeError> {
    let invalid = |field| RangeError::InvalidField {
        text: quoted(text),
        field,
    };
    let mut cursor = Cursor {
        rest: text.as_bytes(),
    };
    let year = cursor.number(4).ok_or_else(|| not_a_time(text))?;
    let month = cursor.after(b"-").and_then(|c| c.number(2));
    let day = cursor.after(b"-").and_then(|c| c.number(2));
    let (Some(month), Some(day)) = (month, day) else {
        return Err(not_a_time(text));
    };
    let hour = cursor.after(b"Tt ").and_then(|c| c.number(2));
    let minute = cursor.after(b":").and_then(|c| c.number(2));
    let (Some(hour), Some(minute)) = (hour, minute) else {
        return Err(not_a_time(text));
    };
    let mut second = 0;
    let mut milli = 0;
    if cursor.after(b":").is_some() {
        second = cursor.number(2).ok_or_else(|| not_a_time(text))?;
        if cursor.after(b".").is_some() {
            let digits = cursor.digits();
            if digits.is_empty() {
                return Err(not_a_time(text));
            }
            // Kept to the millisecond: `.2` is 200 ms, `.123456` is 123 ms.
            milli = digits
                .iter()
                .chain(b"00")
                .take(3)
                .fold(0, |ms, digit| ms * 10 + i64::from(digit - b'0'));
        }
    }
    let offset_minutes = match cursor.rest {
        [] => return Err(RangeError::MissingZone { text: quoted(text) }),
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let mut zone = Cursor { rest: zone };
            let hours = zone.number(2);
            zone.after(b":");
            let minutes = zone.number(2);
            let (Some(hours), Some(minutes), true) = (hours, minutes, zone.rest.is_empty()) else {
                return Err(invalid("time zone offset"));
            };
            if hours > 23 || minutes > 59 {
                return Err(invalid("time zone offset"));
            }
            let minutes = hours * 60 + minutes;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return Err(not_a_time(text)),
    };
    if !(1..=12).contains(&month) {
        return Err(invalid("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(invalid("day"));
    }
    if hour > 23 {
        return Err(invalid("hour"));
    }
    if minute > 59 {
        return Err(invalid("minute"));
    }
    if second > 59 {
        return Err(invalid("second"));
    }
    let days = days_from_civil(year, month, day);
    Ok(days * DAY + hour * HOUR + (minute - offset_minutes) * MINUTE + second * SECOND + milli)
}

/// What is left of an ISO time to read.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    /// Exactly `width` ASCII digits as a number.
    fn number(&mut self, width: usize) -> Option<i64> {
        let digits = self.rest.get(..width)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = &self.rest[width..];
        Some(
            digits
                .iter()
                .fold(0, |n, digit| n * 10 + i64::from(digit - b'0')),
        )
    }

    /// One of `separators`, consumed; `None` (and nothing consumed) when
    /// the next byte is none of them.
    fn after(&mut self, separators: &[u8]) -> Option<&mut Self> {
        let (first, rest) = self.rest.split_first()?;
        if !separators.contains(first) {
            return None;
        }
        self.rest = rest;
        Some(self)
    }

    /// All the ASCII digits that come next, consumed.
    fn digits(&mut self) -> &[u8] {
        let end = self
            .rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(self.rest.len());
        let (digits, rest) = self.rest.split_at(end);
        self.rest = rest;
        digits
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn not_a_time(text: &str) -> RangeError {
    RangeError::NotATime { text: quoted(text) }
}

/// `text` as an error message repeats it: cut short after
/// [`MAX_QUOTED_CHARS`] characters, so a hostile URL cannot fill the page.
pub(super) fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
