//! What the page's editor does to a dashboard, as plain functions: place
//! widgets on the grid, add and reorder them, change a widget's type,
//! read thresholds written as text, and say what changed between two
//! versions. The editor (`crate::editor`, loaded only when someone edits)
//! calls these; they are tested here, natively.

use serde_json::{json, Value};

use super::{Dashboard, Grid, SeriesQuery, Widget, WidgetKind, GRID_COLUMNS, MAX_ROWS};

/// Every kind of widget, in the order the editor offers them.
pub const KINDS: [WidgetKind; 8] = [
    WidgetKind::Timeseries,
    WidgetKind::Stat,
    WidgetKind::Gauge,
    WidgetKind::Bar,
    WidgetKind::Table,
    WidgetKind::Text,
    WidgetKind::Status,
    WidgetKind::Feed,
];

/// The options a kind of widget takes (what [`Dashboard::check`] allows).
pub fn option_keys(kind: WidgetKind) -> &'static [&'static str] {
    match kind {
        WidgetKind::Status | WidgetKind::Feed => &["channel"],
        WidgetKind::Text => &["markdown"],
        WidgetKind::Timeseries => &["stacking", "thresholds", "soft_min", "soft_max"],
        WidgetKind::Stat | WidgetKind::Gauge => &["thresholds", "min", "max", "decimals"],
        WidgetKind::Bar | WidgetKind::Table => &["thresholds", "limit", "decimals"],
    }
}

/// A kind by its name in a document.
pub fn kind_named(name: &str) -> Option<WidgetKind> {
    KINDS.into_iter().find(|k| k.name() == name)
}

/// The size a new widget of `kind` gets: columns and rows.
fn default_size(kind: WidgetKind) -> (u32, u32) {
    match kind {
        WidgetKind::Stat | WidgetKind::Gauge => (3, 2),
        WidgetKind::Text => (4, 2),
        _ => (6, 4),
    }
}

/// Places the widgets in their order, each at the first place (top to
/// bottom, left to right) where it fits beside those before it. A layout
/// built this way is left as it is; after a move, a resize or an
/// addition, the widgets after the change close up behind it.
pub fn pack(widgets: &mut [Widget]) {
    let mut placed: Vec<Grid> = Vec::with_capacity(widgets.len());
    for widget in widgets.iter_mut() {
        let w = widget.grid.w.clamp(1, GRID_COLUMNS);
        let h = widget.grid.h.clamp(1, MAX_ROWS);
        let mut y = 0;
        let grid = 'search: loop {
            for x in 0..=GRID_COLUMNS - w {
                let candidate = Grid { x, y, w, h };
                if !placed.iter().any(|p| p.overlaps(&candidate)) {
                    break 'search candidate;
                }
            }
            y += 1;
        };
        widget.grid = grid;
        placed.push(grid);
    }
}

/// A new widget of `kind` for `dashboard`: an id no other widget has, a
/// title, the kind's size, and what it must be given before it is valid
/// (an empty selector, a channel, Markdown). It goes at the end.
pub fn add_widget(dashboard: &mut Dashboard, kind: WidgetKind) -> String {
    let id = (1..)
        .map(|n| format!("{}-{n}", kind.name()))
        .find(|id| dashboard.widgets.iter().all(|w| w.id != *id))
        .unwrap_or_default();
    let (w, h) = default_size(kind);
    let mut widget = Widget {
        id: id.clone(),
        kind,
        title: format!("New {}", kind.name()),
        grid: Grid { x: 0, y: 0, w, h },
        series: Vec::new(),
        unit: None,
        options: Default::default(),
    };
    set_kind(&mut widget, kind);
    dashboard.widgets.push(widget);
    pack(&mut dashboard.widgets);
    id
}

/// Makes `widget` a `kind`: options the kind does not take are dropped,
/// series too if it reads none, and it gets a blank selector, channel or
/// text to fill in if it needs one.
pub fn set_kind(widget: &mut Widget, kind: WidgetKind) {
    widget.kind = kind;
    let keys = option_keys(kind);
    widget.options.retain(|key, _| keys.contains(&key.as_str()));
    if kind.reads_series() {
        if widget.series.is_empty() {
            widget.series.push(SeriesQuery {
                selector: String::new(),
                label_by: None,
                rate: false,
            });
        }
    } else {
        widget.series.clear();
        let key = if kind == WidgetKind::Text {
            "markdown"
        } else {
            "channel"
        };
        widget
            .options
            .entry(key.to_string())
            .or_insert_with(|| Value::String(String::new()));
    }
}

/// Moves the widget at `from` to `to` (both indexes into the widgets, in
/// reading order) and closes the layout up behind it.
pub fn move_widget(dashboard: &mut Dashboard, from: usize, to: usize) {
    let len = dashboard.widgets.len();
    if from >= len || to >= len || from == to {
        return;
    }
    let widget = dashboard.widgets.remove(from);
    dashboard.widgets.insert(to, widget);
    pack(&mut dashboard.widgets);
}

/// Changes the size of the widget at `index` and closes the layout up.
pub fn resize_widget(dashboard: &mut Dashboard, index: usize, w: u32, h: u32) {
    if let Some(widget) = dashboard.widgets.get_mut(index) {
        widget.grid.w = w.clamp(1, GRID_COLUMNS);
        widget.grid.h = h.clamp(1, MAX_ROWS);
        pack(&mut dashboard.widgets);
    }
}

/// Thresholds as a person writes them: one per comma, each `value` or
/// `from..to` (a band), then `warning` (the default) or `critical`, then
/// an optional label: `80 warning, 95..100 critical Overload`.
pub fn thresholds_from_text(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, entry) in text.split(',').enumerate() {
        let mut words = entry.split_whitespace();
        let Some(first) = words.next() else {
            if text.trim().is_empty() {
                break;
            }
            return Err(format!("threshold {} is empty", i + 1));
        };
        let number = |s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{s:?} is not a number"))
        };
        let mut threshold = serde_json::Map::new();
        match first.split_once("..") {
            Some((from, to)) => {
                threshold.insert("value".into(), json!(number(from)?));
                threshold.insert("to".into(), json!(number(to)?));
            }
            None => {
                threshold.insert("value".into(), json!(number(first)?));
            }
        }
        let rest: Vec<&str> = words.collect();
        let (level, label) = match rest.first() {
            Some(&"warning") | Some(&"critical") => (rest[0], &rest[1..]),
            _ => ("warning", &rest[..]),
        };
        threshold.insert("level".into(), json!(level));
        if !label.is_empty() {
            threshold.insert("label".into(), json!(label.join(" ")));
        }
        out.push(Value::Object(threshold));
    }
    Ok(out)
}

/// The text [`thresholds_from_text`] reads back to the same thresholds.
pub fn thresholds_to_text(thresholds: &Value) -> String {
    let number = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_default();
    thresholds
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|t| {
                    let mut text = number(t.get("value"));
                    if let Some(to) = t.get("to") {
                        text = format!("{text}..{}", number(Some(to)));
                    }
                    let level = t.get("level").and_then(Value::as_str).unwrap_or("warning");
                    text = format!("{text} {level}");
                    if let Some(label) = t.get("label").and_then(Value::as_str) {
                        text = format!("{text} {label}");
                    }
                    text
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// What changed from `old` to `new`, a line per change, for a person
/// choosing a version to restore.
pub fn changes(old: &Dashboard, new: &Dashboard) -> Vec<String> {
    let mut lines = Vec::new();
    if old.title != new.title {
        lines.push(format!("title: {:?} → {:?}", old.title, new.title));
    }
    if old.time != new.time {
        lines.push("default time range changed".to_string());
    }
    for widget in &old.widgets {
        match new.widgets.iter().find(|w| w.id == widget.id) {
            None => lines.push(format!("removed {} {:?}", widget.kind.name(), widget.title)),
            Some(now) if now != widget => {
                let mut fields = Vec::new();
                if now.kind != widget.kind {
                    fields.push(format!("type {} → {}", widget.kind.name(), now.kind.name()));
                }
                if now.title != widget.title {
                    fields.push(format!("title → {:?}", now.title));
                }
                if now.grid != widget.grid {
                    fields.push("place or size".to_string());
                }
                if now.series != widget.series {
                    fields.push("series".to_string());
                }
                if now.unit != widget.unit {
                    fields.push("unit".to_string());
                }
                if now.options != widget.options {
                    fields.push("options".to_string());
                }
                lines.push(format!("changed {:?}: {}", widget.title, fields.join(", ")));
            }
            Some(_) => {}
        }
    }
    for widget in &new.widgets {
        if !old.widgets.iter().any(|w| w.id == widget.id) {
            lines.push(format!("added {} {:?}", widget.kind.name(), widget.title));
        }
    }
    lines
}

/// `selector` with the matcher `label="value"` added.
pub fn with_matcher(selector: &str, label: &str, value: &str) -> String {
    let value = value.replace('\\', "\\\\").replace('"', "\\\"");
    let matcher = format!("{label}=\"{value}\"");
    let selector = selector.trim();
    match selector.strip_suffix('}') {
        Some(open) if open.trim_end().ends_with('{') => format!("{open}{matcher}}}"),
        Some(open) => format!("{open}, {matcher}}}"),
        None => format!("{selector}{{{matcher}}}"),
    }
}

/// A new dashboard's id made from its title: lowercase letters, digits
/// and dashes, with a number added when `taken` says the id is in use.
pub fn id_from_title(title: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut base = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if c.is_alphanumeric() {
            // Left out: an id is ASCII.
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
    }
    let mut base: String = base.trim_end_matches('-').chars().take(40).collect();
    if base.is_empty() {
        base.push_str("dashboard");
    }
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken(id))
        .unwrap_or(base)
}

/// An empty dashboard `id` titled `title`, opening on the last hour.
pub fn empty(id: &str, title: &str) -> Dashboard {
    Dashboard {
        version: super::MODEL_VERSION,
        id: id.to_string(),
        title: title.to_string(),
        time: super::DefaultRange {
            range: Some("1h".to_string()),
            from: None,
            to: None,
        },
        widgets: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(sizes: &[(u32, u32)]) -> Dashboard {
        let mut d = empty("t", "T");
        for (i, (w, h)) in sizes.iter().enumerate() {
            d.widgets.push(Widget {
                id: format!("w{i}"),
                kind: WidgetKind::Stat,
                title: format!("W{i}"),
                grid: Grid {
                    x: 0,
                    y: 0,
                    w: *w,
                    h: *h,
                },
                series: vec![SeriesQuery {
                    selector: "up".into(),
                    label_by: None,
                    rate: false,
                }],
                unit: None,
                options: Default::default(),
            });
        }
        pack(&mut d.widgets);
        d
    }

    fn places(d: &Dashboard) -> Vec<(u32, u32)> {
        d.widgets.iter().map(|w| (w.grid.x, w.grid.y)).collect()
    }

    #[test]
    fn pack_fills_rows_left_to_right_and_fills_holes() {
        let d = board(&[(6, 4), (3, 2), (3, 2), (3, 2), (12, 1)]);
        assert_eq!(places(&d), [(0, 0), (6, 0), (9, 0), (6, 2), (0, 4)]);
        assert!(d.check().is_empty(), "{:?}", d.check());
    }

    #[test]
    fn pack_leaves_a_packed_layout_alone() {
        let d = board(&[(3, 2), (9, 4), (3, 2), (12, 3)]);
        let mut again = d.clone();
        pack(&mut again.widgets);
        assert_eq!(again, d);
        let demo = Dashboard::from_json(include_str!("../../../server/src/dashboards/demo.json"))
            .expect("the demo reads");
        let mut packed = demo.clone();
        pack(&mut packed.widgets);
        assert_eq!(packed, demo, "the demo's layout is the packed one");
    }

    #[test]
    fn moving_and_resizing_close_the_layout_up_and_stay_valid() {
        let mut d = board(&[(6, 2), (6, 2), (6, 2)]);
        move_widget(&mut d, 2, 0);
        let ids: Vec<_> = d.widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["w2", "w0", "w1"]);
        assert_eq!(places(&d), [(0, 0), (6, 0), (0, 2)]);
        resize_widget(&mut d, 0, 12, 3);
        assert_eq!(places(&d), [(0, 0), (0, 3), (6, 3)]);
        resize_widget(&mut d, 0, 40, 99);
        assert_eq!((d.widgets[0].grid.w, d.widgets[0].grid.h), (12, MAX_ROWS));
        move_widget(&mut d, 0, 7);
        assert_eq!(d.widgets[0].id, "w2", "an index past the end moves nothing");
        assert!(d.check().is_empty());
    }

    #[test]
    fn a_new_widget_has_a_free_id_and_says_what_it_still_needs() {
        let mut d = board(&[(12, 2)]);
        let first = add_widget(&mut d, WidgetKind::Timeseries);
        let second = add_widget(&mut d, WidgetKind::Timeseries);
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("timeseries-1", "timeseries-2")
        );
        assert_eq!(places(&d), [(0, 0), (0, 2), (6, 2)]);
        let problems: Vec<_> = d.check().into_iter().map(|p| p.path).collect();
        assert_eq!(
            problems,
            [
                "widgets[1].series[0].selector",
                "widgets[2].series[0].selector"
            ]
        );
        add_widget(&mut d, WidgetKind::Feed);
        let last = d.check().pop().expect("the feed needs its channel");
        assert_eq!(last.path, "widgets[3].options.channel");
    }

    #[test]
    fn changing_the_type_keeps_only_what_the_new_type_takes() {
        let mut d = board(&[(3, 2)]);
        d.widgets[0].options.insert("decimals".into(), json!(2));
        d.widgets[0].options.insert(
            "thresholds".into(),
            json!([{"value": 1, "level": "warning"}]),
        );
        set_kind(&mut d.widgets[0], WidgetKind::Timeseries);
        assert_eq!(
            d.widgets[0].options.keys().collect::<Vec<_>>(),
            ["thresholds"]
        );
        assert_eq!(d.widgets[0].series.len(), 1);
        set_kind(&mut d.widgets[0], WidgetKind::Feed);
        assert!(d.widgets[0].series.is_empty());
        assert_eq!(d.widgets[0].options.keys().collect::<Vec<_>>(), ["channel"]);
        d.widgets[0]
            .options
            .insert("channel".into(), json!("deploys"));
        assert!(d.check().is_empty(), "{:?}", d.check());
    }

    #[test]
    fn thresholds_read_from_text_and_back() {
        let parsed =
            thresholds_from_text("80, 95..100 critical Overload, 5 warning low disk").unwrap();
        assert_eq!(
            Value::Array(parsed.clone()),
            json!([
                {"value": 80.0, "level": "warning"},
                {"value": 95.0, "to": 100.0, "level": "critical", "label": "Overload"},
                {"value": 5.0, "level": "warning", "label": "low disk"}
            ])
        );
        for entry in &parsed {
            assert!(super::super::options::threshold(entry).is_ok());
        }
        let text = thresholds_to_text(&Value::Array(parsed.clone()));
        assert_eq!(
            text,
            "80.0 warning, 95.0..100.0 critical Overload, 5.0 warning low disk"
        );
        assert_eq!(thresholds_from_text(&text).unwrap(), parsed);
        assert_eq!(thresholds_from_text("  ").unwrap(), Vec::<Value>::new());
        assert!(thresholds_from_text("eighty")
            .unwrap_err()
            .contains("not a number"));
        assert!(thresholds_from_text("80,,90").is_err());
        assert!(thresholds_from_text("NaN").is_err());
    }

    #[test]
    fn changes_name_what_moved_between_versions() {
        let old = board(&[(3, 2), (3, 2)]);
        let mut new = old.clone();
        new.title = "Shop".into();
        new.widgets[0].title = "Revenue".into();
        new.widgets.remove(1);
        add_widget(&mut new, WidgetKind::Gauge);
        assert_eq!(
            changes(&old, &new),
            [
                "title: \"T\" → \"Shop\"",
                "changed \"W0\": title → \"Revenue\"",
                "removed stat \"W1\"",
                "added gauge \"New gauge\"",
            ]
        );
        assert!(changes(&old, &old).is_empty());
    }

    #[test]
    fn a_label_filter_joins_the_selector() {
        assert_eq!(with_matcher("cpu", "core", "0"), "cpu{core=\"0\"}");
        assert_eq!(with_matcher("cpu{} ", "core", "0"), "cpu{core=\"0\"}");
        assert_eq!(
            with_matcher("cpu{host=\"a\"}", "core", "say \"hi\""),
            "cpu{host=\"a\", core=\"say \\\"hi\\\"\"}"
        );
    }

    #[test]
    fn ids_from_titles_are_valid_and_free() {
        let taken = |id: &str| id == "shop" || id == "shop-2";
        assert_eq!(id_from_title("Shop", taken), "shop-3");
        assert_eq!(
            id_from_title("  Ünïcode & Co. 2026!", |_| false),
            "ncode-co-2026"
        );
        assert_eq!(id_from_title("!!!", |_| false), "dashboard");
        let long = id_from_title(&"a".repeat(300), |_| false);
        assert!(super::super::valid_id(&long));
        assert!(super::super::valid_id(&id_from_title("Shop", taken)));
        assert!(empty("x", "X").check().is_empty());
    }
}
