//! The time range a chart shows, as it lives in the page URL.
//!
//! A range is live or fixed:
//!
//! - [`TimeRange::Live`] is a window of `span_ms` that ends now and keeps
//!   scrolling: `?range=5m`. The [`PRESETS`] are the live windows the range
//!   picker offers, but any span up to the limit is one.
//! - [`TimeRange::Fixed`] is two absolute Unix times, a paused view: what a
//!   drag selection or a link to an incident shows,
//!   `?from=2026-12-03T10:00:00Z&to=2026-12-03T11:00:00Z`.
//!
//! The URL keeps what the person meant, not what it resolved to: a live
//! range is written as its span, so a bookmark opens on the last five
//! minutes of whenever it is opened, and a fixed one as readable UTC times.
//! [`TimeRange::from_query`] reads what people write there (see
//! [`parse_time`]): `from=now-6h&to=now` is the live six hours, while a
//! relative range that does not end now (`from=now-6h&to=now-1h`) cannot
//! keep scrolling in this model and is fixed when it is read.
//!
//! A URL is anyone's input, so what is read is checked: times lie in the
//! years 0000 to 9999, a range ends after it starts and spans at most
//! [`MAX_SPAN_MS`] (400 days; more is millions of points per series), and
//! hostile input is a [`RangeError`] whose message says what to write
//! instead, never a panic. The variants' fields are public for matching;
//! [`TimeRange::live`] and [`TimeRange::fixed`] are the checked way in.
//!
//! Zooming moves between ranges: a drag selection becomes a fixed range
//! ([`zoom_to`]), the range it replaced goes on a [`ZoomStack`] so that one
//! click goes back, and [`zoom_out`] doubles the span.

use thiserror::Error;

mod expr;
mod zoom;

pub use expr::{
    format_duration, format_time, parse_duration, parse_time, TimePoint, MAX_TIME_MS, MIN_TIME_MS,
};
pub use zoom::{gesture_window, zoom_out, zoom_to, ZoomStack, MIN_ZOOM_MS, ZOOM_HISTORY_LIMIT};

use expr::{quoted, DAY, HOUR, MINUTE};

/// The widest range a chart shows: 400 days.
pub const MAX_SPAN_MS: i64 = 400 * DAY;

/// The URL key of a live range (`range=5m`).
pub const RANGE_KEY: &str = "range";
/// The URL key of a range's start (`from=now-6h`).
pub const FROM_KEY: &str = "from";
/// The URL key of a range's end (`to=now`).
pub const TO_KEY: &str = "to";
/// Every key a range may use, for a caller that rewrites the URL: remove
/// them all, then append [`TimeRange::to_query`].
pub const QUERY_KEYS: [&str; 3] = [RANGE_KEY, FROM_KEY, TO_KEY];

/// A live window the range picker offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// What the URL says: `range=5m`.
    pub code: &'static str,
    /// What the picker says: `Last 5 minutes`.
    pub label: &'static str,
    /// The window's span.
    pub span_ms: i64,
}

impl Preset {
    /// The live range of this preset.
    pub fn range(&self) -> TimeRange {
        TimeRange::Live {
            span_ms: self.span_ms,
        }
    }
}

const fn preset(code: &'static str, label: &'static str, span_ms: i64) -> Preset {
    Preset {
        code,
        label,
        span_ms,
    }
}

/// The live windows the range picker offers, shortest first.
pub const PRESETS: [Preset; 7] = [
    preset("1m", "Last 1 minute", MINUTE),
    preset("5m", "Last 5 minutes", 5 * MINUTE),
    preset("15m", "Last 15 minutes", 15 * MINUTE),
    preset("1h", "Last 1 hour", HOUR),
    preset("6h", "Last 6 hours", 6 * HOUR),
    preset("24h", "Last 24 hours", 24 * HOUR),
    preset("7d", "Last 7 days", 7 * DAY),
];

/// The time range of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeRange {
    /// The last `span_ms` milliseconds, ending now and scrolling with it.
    Live {
        /// How far back from now the window reaches.
        span_ms: i64,
    },
    /// From `from` to `to`, Unix milliseconds: a paused view.
    Fixed {
        /// The start, Unix milliseconds.
        from: i64,
        /// The end, Unix milliseconds, after `from`.
        to: i64,
    },
}

/// Why a range or a time could not be read; each message says what to
/// write instead.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RangeError {
    /// Nothing was written.
    #[error("nothing is written: give a time such as now-6h or 2026-12-03T10:00:00Z, or a span such as 5m")]
    Empty,
    /// Not a time in any of the forms read.
    #[error("'{text}' is not a time: write now, now-6h, a Unix time in milliseconds or a time such as 2026-12-03T10:00:00Z")]
    NotATime {
        /// What was written.
        text: String,
    },
    /// A span with no number before its unit (`now-m`).
    #[error("'{text}' has no amount: write a whole number before the unit, as in now-5m")]
    MissingAmount {
        /// What was written.
        text: String,
    },
    /// A span with no unit after its number (`now-5`).
    #[error("'{text}' has no unit: add ms, s, m, h, d or w, as in now-5m")]
    MissingUnit {
        /// What was written.
        text: String,
    },
    /// A span in a unit not read (`now-5x`, `now-1.5h`).
    #[error("unknown unit '{unit}' in '{text}': use ms, s, m, h, d or w")]
    UnknownUnit {
        /// What stood where the unit goes.
        unit: String,
        /// What was written.
        text: String,
    },
    /// A span too long to count in milliseconds.
    #[error("'{text}' is too far from now to be a time")]
    TooFar {
        /// What was written.
        text: String,
    },
    /// An ISO time without `Z` or an offset.
    #[error("'{text}' has no time zone: add Z for UTC or an offset such as +01:00")]
    MissingZone {
        /// What was written.
        text: String,
    },
    /// An ISO time with a field out of its range (month 13, February 30th).
    #[error("'{text}' is not a real time: its {field} is out of range")]
    InvalidField {
        /// What was written.
        text: String,
        /// Which field: `month`, `day`, `hour`, `minute`, `second` or
        /// `time zone offset`.
        field: &'static str,
    },
    /// A time before the year 0000 or after 9999.
    #[error("'{text}' is outside the years 0000 to 9999")]
    OutOfYears {
        /// What was written, or the time it came to.
        text: String,
    },
    /// A live range that does not reach back from now (`now+5m`, `0s`).
    #[error("a live range reaches back from now, as in now-5m, and '{text}' does not")]
    NotBackwards {
        /// What was written.
        text: String,
    },
    /// A range whose end is not after its start.
    #[error("the range would end at {} but start at {}: the end must come later", format_time(*.to), format_time(*.from))]
    EndNotAfterStart {
        /// The start, Unix milliseconds.
        from: i64,
        /// The end, Unix milliseconds.
        to: i64,
    },
    /// A range wider than [`MAX_SPAN_MS`].
    #[error("the range spans {} days: a chart shows at most 400 days", .span_ms / DAY)]
    TooLong {
        /// The span asked for.
        span_ms: i64,
    },
    /// The URL names no range: none of `range`, `from` and `to`.
    #[error("the address names no time range: add range=5m or from and to")]
    Absent,
    /// The URL has both `range` and `from`/`to`.
    #[error("the address gives both range and from/to: keep range=5m for a live window or from and to for a fixed one")]
    Conflicting,
    /// The URL has `to` without `from`.
    #[error("the address gives to without from: add a start, as in from=now-6h")]
    MissingFrom,
}

impl TimeRange {
    /// The live range of the last `span_ms`.
    ///
    /// # Errors
    ///
    /// [`RangeError::NotBackwards`] unless `span_ms` is positive,
    /// [`RangeError::TooLong`] past [`MAX_SPAN_MS`].
    pub fn live(span_ms: i64) -> Result<Self, RangeError> {
        if span_ms <= 0 {
            return Err(RangeError::NotBackwards {
                text: format_duration(span_ms),
            });
        }
        if span_ms > MAX_SPAN_MS {
            return Err(RangeError::TooLong { span_ms });
        }
        Ok(TimeRange::Live { span_ms })
    }

    /// The fixed range `from..to`, Unix milliseconds.
    ///
    /// # Errors
    ///
    /// [`RangeError::EndNotAfterStart`] unless `from < to`,
    /// [`RangeError::TooLong`] past [`MAX_SPAN_MS`],
    /// [`RangeError::OutOfYears`] outside the years 0000 to 9999.
    pub fn fixed(from: i64, to: i64) -> Result<Self, RangeError> {
        for ms in [from, to] {
            TimePoint::Absolute(ms).resolve(0)?;
        }
        if from >= to {
            return Err(RangeError::EndNotAfterStart { from, to });
        }
        let span_ms = to - from;
        if span_ms > MAX_SPAN_MS {
            return Err(RangeError::TooLong { span_ms });
        }
        Ok(TimeRange::Fixed { from, to })
    }

    /// The range between two written times at `now_ms`: live when `to` is
    /// now and `from` before it, else fixed at the times they resolve to.
    ///
    /// # Errors
    ///
    /// As [`TimePoint::resolve`], [`TimeRange::live`] and
    /// [`TimeRange::fixed`].
    pub fn between(from: TimePoint, to: TimePoint, now_ms: i64) -> Result<Self, RangeError> {
        if let (TimePoint::Relative { offset_ms }, TimePoint::NOW) = (from, to) {
            if offset_ms < 0 {
                // An offset of i64::MIN has no positive span; it is far
                // too long anyway.
                let span_ms = offset_ms.checked_neg().unwrap_or(i64::MAX);
                return TimeRange::live(span_ms);
            }
        }
        TimeRange::fixed(from.resolve(now_ms)?, to.resolve(now_ms)?)
    }

    /// The times the range covers at `now_ms`, `(from, to)` in Unix
    /// milliseconds.
    pub fn resolve(&self, now_ms: i64) -> (i64, i64) {
        match *self {
            TimeRange::Live { span_ms } => (now_ms.saturating_sub(span_ms), now_ms),
            TimeRange::Fixed { from, to } => (from, to),
        }
    }

    /// Whether the range ends now and scrolls.
    pub fn is_live(&self) -> bool {
        matches!(self, TimeRange::Live { .. })
    }

    /// How long the range is, in milliseconds. It does not depend on the
    /// time: a live range always spans the same, a fixed one its two ends.
    pub fn span_ms(&self) -> i64 {
        match *self {
            TimeRange::Live { span_ms } => span_ms,
            TimeRange::Fixed { from, to } => to.saturating_sub(from),
        }
    }

    /// The preset this range is, for the picker to highlight.
    pub fn preset(&self) -> Option<&'static Preset> {
        PRESETS.iter().find(|preset| preset.range() == *self)
    }

    /// The range as URL query pairs: `range=5m` when live (a preset's code,
    /// or the span in its largest exact unit, `range=90s`), else `from` and
    /// `to` as UTC times. [`TimeRange::from_query`] reads them back.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        match *self {
            TimeRange::Live { span_ms } => {
                let code = match self.preset() {
                    Some(preset) => preset.code.to_string(),
                    None => format_duration(span_ms),
                };
                vec![(RANGE_KEY, code)]
            }
            TimeRange::Fixed { from, to } => {
                vec![(FROM_KEY, format_time(from)), (TO_KEY, format_time(to))]
            }
        }
    }

    /// The range the URL's query `pairs` describe at `now_ms`. `range` is a
    /// live window, written `5m` or `now-5m`; `from` and `to` are two times
    /// as [`parse_time`] reads them, `to` being now when left out (see
    /// [`TimeRange::between`]). Other keys are ignored, and of a key given
    /// twice the first counts, as with `URLSearchParams.get`.
    ///
    /// # Errors
    ///
    /// [`RangeError::Absent`] when the pairs hold none of the keys (see
    /// [`TimeRange::from_query_or`]); otherwise a [`RangeError`] when a
    /// value cannot be read or the range it makes is empty or too long,
    /// [`RangeError::Conflicting`] when both forms are given,
    /// [`RangeError::MissingFrom`] for a `to` alone.
    pub fn from_query<I, K, V>(pairs: I, now_ms: i64) -> Result<Self, RangeError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (mut range, mut from, mut to) = (None, None, None);
        for (key, value) in pairs {
            let slot = match key.as_ref() {
                RANGE_KEY => &mut range,
                FROM_KEY => &mut from,
                TO_KEY => &mut to,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.as_ref().to_owned());
            }
        }
        TimeRange::from_parts(range, from, to, now_ms)
    }

    /// [`TimeRange::from_query`] once the pairs are sorted out: one copy
    /// in the WASM bundle whatever the pairs' types.
    fn from_parts(
        range: Option<String>,
        from: Option<String>,
        to: Option<String>,
        now_ms: i64,
    ) -> Result<Self, RangeError> {
        match (range, from, to) {
            (None, None, None) => Err(RangeError::Absent),
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(RangeError::Conflicting),
            (Some(range), None, None) => parse_live(&range),
            (None, None, Some(_)) => Err(RangeError::MissingFrom),
            (None, Some(from), to) => {
                let to = match to {
                    Some(to) => parse_time(&to)?,
                    None => TimePoint::NOW,
                };
                TimeRange::between(parse_time(&from)?, to, now_ms)
            }
        }
    }

    /// As [`TimeRange::from_query`], but `default` when the pairs name no
    /// range at all: a page opened without one in its URL.
    ///
    /// # Errors
    ///
    /// As [`TimeRange::from_query`], except for [`RangeError::Absent`].
    pub fn from_query_or<I, K, V>(
        pairs: I,
        now_ms: i64,
        default: TimeRange,
    ) -> Result<Self, RangeError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        match TimeRange::from_query(pairs, now_ms) {
            Err(RangeError::Absent) => Ok(default),
            other => other,
        }
    }
}

/// A live window written `5m` or `now-5m`.
fn parse_live(text: &str) -> Result<TimeRange, RangeError> {
    let text = text.trim();
    let span_ms = if text.starts_with("now") {
        match parse_time(text)? {
            TimePoint::Relative { offset_ms } if offset_ms < 0 => {
                offset_ms.checked_neg().unwrap_or(i64::MAX)
            }
            _ => 0,
        }
    } else {
        parse_duration(text)?
    };
    if span_ms <= 0 {
        return Err(RangeError::NotBackwards { text: quoted(text) });
    }
    TimeRange::live(span_ms)
}

#[cfg(test)]
mod tests;
