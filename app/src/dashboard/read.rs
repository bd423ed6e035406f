//! The dashboard model read by hand from a JSON value, for the browser.
//!
//! The page takes dashboards the server already checked (rendered into the
//! page, or published on the dashboard's channel, where only the server
//! may publish them), so it needs no second check and none of serde's
//! derived readers: those cost the bundle some 10 KB for the same result.
//! The server and every tool read documents with [`Dashboard::from_json`]
//! (derived, strict). Each reader is checked against the other in the
//! tests.

use serde_json::Value;

use super::{Dashboard, DefaultRange, Grid, SeriesQuery, Widget, WidgetKind};
use crate::chart::Unit;

impl Dashboard {
    /// Reads a dashboard the server checked (`None`: not of the model's
    /// shape).
    pub fn from_value(value: &Value) -> Option<Self> {
        let time = value.get("time")?;
        Some(Self {
            version: u32::try_from(value.get("version")?.as_u64()?).ok()?,
            id: text(value, "id")?,
            title: text(value, "title")?,
            time: DefaultRange {
                range: optional_text(time, "range")?,
                from: optional_text(time, "from")?,
                to: optional_text(time, "to")?,
            },
            widgets: value
                .get("widgets")?
                .as_array()?
                .iter()
                .map(widget)
                .collect::<Option<_>>()?,
        })
    }
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name)?.as_str().map(str::to_string)
}

fn optional_text(value: &Value, name: &str) -> Option<Option<String>> {
    match value.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(v) => v.as_str().map(|s| Some(s.to_string())),
    }
}

fn widget(value: &Value) -> Option<Widget> {
    let grid = value.get("grid")?;
    let cell = |name: &str| u32::try_from(grid.get(name)?.as_u64()?).ok();
    Some(Widget {
        id: text(value, "id")?,
        kind: kind(value.get("type")?.as_str()?)?,
        title: text(value, "title")?,
        grid: Grid {
            x: cell("x")?,
            y: cell("y")?,
            w: cell("w")?,
            h: cell("h")?,
        },
        series: match value.get("series") {
            None => Vec::new(),
            Some(series) => series
                .as_array()?
                .iter()
                .map(|q| {
                    Some(SeriesQuery {
                        selector: text(q, "selector")?,
                        label_by: optional_text(q, "label_by")?,
                        rate: match q.get("rate") {
                            None => false,
                            Some(rate) => rate.as_bool()?,
                        },
                    })
                })
                .collect::<Option<_>>()?,
        },
        unit: match value.get("unit") {
            None | Some(Value::Null) => None,
            Some(unit) => Some(unit_named(unit.as_str()?)?),
        },
        options: match value.get("options") {
            None => Default::default(),
            Some(options) => options
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        },
    })
}

fn kind(name: &str) -> Option<WidgetKind> {
    [
        WidgetKind::Stat,
        WidgetKind::Timeseries,
        WidgetKind::Gauge,
        WidgetKind::Bar,
        WidgetKind::Table,
        WidgetKind::Status,
        WidgetKind::Feed,
        WidgetKind::Text,
    ]
    .into_iter()
    .find(|kind| kind.name() == name)
}

fn unit_named(name: &str) -> Option<Unit> {
    Some(match name {
        "count" => Unit::Count,
        "percent" => Unit::Percent,
        "bytes" => Unit::Bytes,
        "bytes_per_sec" => Unit::BytesPerSec,
        "currency" => Unit::Currency,
        "seconds" => Unit::Seconds,
        "ms" => Unit::Milliseconds,
        _ => return None,
    })
}

/// Reads an optional dashboard for serde (the page's bootstrap) through
/// [`Dashboard::from_value`]: one that does not read is left out.
pub fn optional<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Dashboard>, D::Error> {
    let value = <Option<Value> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(value.as_ref().and_then(Dashboard::from_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_KIND: &str = r#"{
      "version": 1, "id": "all", "title": "All", "time": {"from": "now-6h", "to": "now"},
      "widgets": [
        {"id": "a", "type": "stat", "title": "A", "grid": {"x": 0, "y": 0, "w": 3, "h": 2},
         "series": [{"selector": "m{a=\"b\"}", "label_by": "a", "rate": true}], "unit": "ms",
         "options": {"thresholds": [{"value": 1, "level": "critical"}], "decimals": 1}},
        {"id": "b", "type": "timeseries", "title": "B", "grid": {"x": 3, "y": 0, "w": 9, "h": 4},
         "series": [{"selector": "m"}], "unit": "bytes_per_sec", "options": {"stacking": "percent"}},
        {"id": "c", "type": "gauge", "title": "C", "grid": {"x": 0, "y": 4, "w": 2, "h": 2}, "series": [{"selector": "m"}], "unit": "percent"},
        {"id": "d", "type": "bar", "title": "D", "grid": {"x": 2, "y": 4, "w": 2, "h": 2}, "series": [{"selector": "m"}], "unit": "bytes"},
        {"id": "e", "type": "table", "title": "E", "grid": {"x": 4, "y": 4, "w": 2, "h": 2}, "series": [{"selector": "m"}], "unit": "currency"},
        {"id": "f", "type": "status", "title": "F", "grid": {"x": 6, "y": 4, "w": 2, "h": 2}, "options": {"channel": "dashboard:all"}},
        {"id": "g", "type": "feed", "title": "G", "grid": {"x": 8, "y": 4, "w": 2, "h": 2}, "options": {"channel": "dashboard:all"}},
        {"id": "h", "type": "text", "title": "H", "grid": {"x": 10, "y": 4, "w": 2, "h": 2}, "unit": "seconds", "options": {"markdown": "*hi*"}}
      ]}"#;

    #[test]
    fn reads_as_the_derived_reader_does() {
        for text in [
            EVERY_KIND,
            include_str!("../../../server/src/dashboards/demo.json"),
        ] {
            let derived = Dashboard::from_json(text).expect("a valid dashboard");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Dashboard::from_value(&value), Some(derived.clone()));
            // And its own canonical form reads back the same.
            let value: Value = serde_json::from_str(&derived.to_canonical()).unwrap();
            assert_eq!(Dashboard::from_value(&value), Some(derived));
        }
    }

    #[test]
    fn a_document_of_another_shape_is_none() {
        for text in [
            r#"{"version": 1, "id": "x", "title": "X", "time": {}, "widgets": [{"id": "a"}]}"#,
            r#"{"version": 1, "id": "x", "title": "X", "widgets": []}"#,
            r#"{"version": 1, "id": "x", "title": "X", "time": {}, "widgets": [{"id": "a", "type": "pie", "title": "A", "grid": {"x": 0, "y": 0, "w": 1, "h": 1}}]}"#,
            r#"[1, 2]"#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Dashboard::from_value(&value), None, "{text}");
        }
    }
}
