//! A widget's own options, read: what `options` may hold for each type and
//! what the page makes of it. The same readers check a document
//! ([`Dashboard::check`](super::Dashboard::check)) and draw it, so a saved
//! option always means what the check accepted.
//!
//! - `thresholds`: `[{"value": 80, "level": "warning"}, {"value": 95,
//!   "to": 100, "level": "critical", "label": "Overload"}]`: lines (or
//!   bands, with `to`) on a chart; on a stat, gauge, bar or table the
//!   colour of a value at or past one.
//! - `min`, `max` (gauge's range; a stat's are unused), `soft_min`,
//!   `soft_max` (a chart's value axis always reaches them): numbers.
//! - `stacking` (chart): `off`, `normal` or `percent`.
//! - `limit` (bar, table: most series shown, default 10), `decimals`.
//! - `channel` (status, feed), `markdown` (text).

use serde_json::Value;

use super::Widget;
use crate::chart::{Level, Stacking, Threshold};

/// A widget's thresholds, in the order given (an unreadable entry is
/// left out; a checked widget has none).
pub fn thresholds(widget: &Widget) -> Vec<Threshold> {
    widget
        .options
        .get("thresholds")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(read_threshold).collect())
        .unwrap_or_default()
}

/// Thresholds from a JSON list as `options.thresholds` holds them (the
/// alert rules' lines the server adds to a chart); none when it does not
/// read.
pub fn thresholds_from_json(text: &str) -> Vec<Threshold> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.as_array()
                .map(|e| e.iter().filter_map(read_threshold).collect())
        })
        .unwrap_or_default()
}

/// Reads one threshold the check accepted (`None`: it does not read).
/// Apart from [`threshold`], which says what is wrong: the page, which
/// only ever gets checked dashboards, carries no messages.
fn read_threshold(entry: &Value) -> Option<Threshold> {
    let number = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
    };
    let level = match entry.get("level").and_then(Value::as_str) {
        Some("critical") => Level::Critical,
        _ => Level::Warning,
    };
    Some(Threshold {
        label: entry
            .get("label")
            .and_then(Value::as_str)
            .map_or_else(|| level.name().to_string(), str::to_string),
        value: number("value")?,
        to: number("to"),
        level,
    })
}

/// Reads one threshold, or says what is wrong with it.
pub fn threshold(entry: &Value) -> Result<Threshold, String> {
    let number = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
    };
    let value = number("value").ok_or("a threshold needs a value (a number)")?;
    let to = match entry.get("to") {
        None => None,
        Some(_) => Some(number("to").ok_or("to is a number")?),
    };
    let level = match entry.get("level").and_then(Value::as_str) {
        Some("warning") | None => Level::Warning,
        Some("critical") => Level::Critical,
        Some(_) => return Err("level is warning or critical".into()),
    };
    let label = match entry.get("label") {
        None => level.name().to_string(),
        Some(Value::String(label)) if label.chars().count() <= 60 => label.clone(),
        Some(_) => return Err("label is a text of at most 60 characters".into()),
    };
    if let Some(key) = entry.as_object().and_then(|o| {
        o.keys()
            .find(|k| !["value", "to", "level", "label"].contains(&k.as_str()))
    }) {
        return Err(format!(
            "a threshold takes value, to, level and label, not {key}"
        ));
    }
    Ok(Threshold {
        label,
        value,
        to,
        level,
    })
}

/// A numeric option (`None`: not given, or not a finite number).
pub fn number(widget: &Widget, key: &str) -> Option<f64> {
    widget
        .options
        .get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
}

/// A whole-number option.
pub fn whole(widget: &Widget, key: &str) -> Option<usize> {
    widget
        .options
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
}

/// A chart's stacking, read from its name.
pub fn stacking(name: &str) -> Option<Stacking> {
    match name {
        "off" => Some(Stacking::Off),
        "normal" => Some(Stacking::Normal),
        "percent" => Some(Stacking::Percent),
        _ => None,
    }
}

/// A text option.
pub fn text<'a>(widget: &'a Widget, key: &str) -> Option<&'a str> {
    widget.options.get(key).and_then(Value::as_str)
}

/// The most serious threshold `value` is at or past (thresholds are
/// crossed upwards; a band holds the values between its edges).
pub fn level_of(thresholds: &[Threshold], value: f64) -> Option<Level> {
    thresholds
        .iter()
        .filter(|t| match t.to {
            Some(to) => value >= t.value.min(to) && value <= t.value.max(to),
            None => value >= t.value,
        })
        .map(|t| t.level)
        .max_by_key(|level| *level == Level::Critical)
}
