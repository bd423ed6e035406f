//! The bodies of a dashboard's value and text widgets, written as HTML
//! text: plain Rust, tested natively.
//!
//! Why text and not views: every distinct view tree instantiates Leptos'
//! building, hydrating and updating code for its own type, and five kinds
//! of card as views cost the bundle some 15 KB. As text they share one
//! view (a card whose body is `inner_html`) and cost a few string
//! functions. A body is small and changes at most once per animation
//! frame, so replacing it whole costs nothing a person could see, and a
//! replaced value element replays its highlight animation by itself.
//!
//! Everything that came from outside (titles, labels, Markdown) goes
//! through [`escape`]; no text from a dashboard or a series is ever read as
//! markup.

use std::fmt::Write;

use crate::{
    chart::{format_value, percent_change, sparkline_path, Level, Line, Threshold, Unit},
    dashboard::options,
    markdown::{parse, Block, Inline},
};

/// A sparkline's box (SVG units; drawn stretched to the card's width).
const SPARK_WIDTH: f64 = 100.0;
const SPARK_HEIGHT: f64 = 24.0;
/// What a value not known yet reads as.
pub const MISSING: &str = "—";

/// `text` with `& < > " '` escaped: safe in an element or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The class naming a value's level (`""`: none reached).
pub fn level_class(thresholds: &[Threshold], value: Option<f64>) -> &'static str {
    match value.and_then(|v| options::level_of(thresholds, v)) {
        Some(Level::Critical) => "level-critical",
        Some(Level::Warning) => "level-warning",
        None => "",
    }
}

/// How a card writes its values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Format {
    /// What they measure.
    pub unit: Unit,
    /// At most this many decimals.
    pub decimals: usize,
}

impl Format {
    fn value(&self, value: Option<f64>) -> String {
        value.map_or_else(
            || MISSING.to_string(),
            |v| format_value(self.unit, v, self.decimals),
        )
    }
}

/// A stat: the newest of `line`'s points, its change since the oldest,
/// and a sparkline (all empty without a line). `changed` marks the value as just changed (it
/// is highlighted).
pub fn stat(id: &str, line: Option<&Line>, format: Format, changed: bool) -> String {
    let mut points = line.into_iter().flat_map(Line::points);
    let value = points.next_back().map(|p| p.value);
    let trend = match (points.next(), value) {
        (Some(first), Some(last)) => percent_change(first.value, last),
        _ => None,
    };
    let (trend_text, trend_class) = match trend {
        Some(change) if change > 0.05 => (format!("▲ {change:.1}%"), " value-card__trend--up"),
        Some(change) if change < -0.05 => {
            (format!("▼ {:.1}%", -change), " value-card__trend--down")
        }
        Some(_) => ("→ 0.0%".to_string(), ""),
        None => (MISSING.to_string(), ""),
    };
    format!(
        "<p class=\"value-card__value{}\" data-testid=\"{}-value\">{}</p>\
         <p class=\"value-card__trend{trend_class}\" data-testid=\"{}-trend\" title=\"change since the start of the window\">{trend_text}</p>\
         <svg class=\"value-card__spark\" viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><path d=\"{}\"></path></svg>",
        if changed { " value-card__value--changed" } else { "" },
        escape(id),
        escape(&format.value(value)),
        escape(id),
        line.map(|line| sparkline_path(line, SPARK_WIDTH, SPARK_HEIGHT))
            .unwrap_or_default(),
    )
}

/// A gauge: `value` on a dial from `min` to `max`.
pub fn gauge(
    id: &str,
    title: &str,
    value: Option<f64>,
    (min, max): (f64, f64),
    format: Format,
) -> String {
    let fill = match value {
        Some(v) if max > min => ((v - min) / (max - min)).clamp(0.0, 1.0) * 100.0,
        _ => 0.0,
    };
    format!(
        "<div class=\"gauge\" role=\"meter\" aria-valuemin=\"{min}\" aria-valuemax=\"{max}\" aria-valuenow=\"{}\" aria-label=\"{}\" style=\"--fill: {fill:.1}\">\
         <span class=\"gauge__value\" data-testid=\"{}-value\">{}</span></div>",
        value.unwrap_or(min),
        escape(title),
        escape(id),
        escape(&format.value(value)),
    )
}

/// Bars: one per row (label, value), in the order given, each as long as
/// its share of the largest.
pub fn bars(id: &str, rows: &[(String, f64)], thresholds: &[Threshold], format: Format) -> String {
    let top = rows.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max);
    let mut html = format!("<ul class=\"bars\" data-testid=\"{}-bars\">", escape(id));
    for (label, value) in rows {
        let share = if top > 0.0 {
            value.abs() / top * 100.0
        } else {
            0.0
        };
        let _ = write!(
            html,
            "<li class=\"bars__row {}\"><span class=\"bars__label\">{}</span>\
             <span class=\"bars__bar\" style=\"--fill: {share:.1}%\"></span>\
             <span class=\"bars__value\">{}</span></li>",
            level_class(thresholds, Some(*value)),
            escape(label),
            escape(&format.value(Some(*value))),
        );
    }
    html.push_str("</ul>");
    html
}

/// How a table is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableOrder {
    /// By the series' name (else by value).
    pub by_name: bool,
    /// Smallest first.
    pub ascending: bool,
}

impl TableOrder {
    /// The order after a click on a column's header (`name`: the series
    /// column): the same column flips, another starts from its natural
    /// direction (names A to Z, values largest first).
    pub fn clicked(self, name: bool) -> Self {
        if self.by_name == name {
            Self {
                ascending: !self.ascending,
                ..self
            }
        } else {
            Self {
                by_name: name,
                ascending: name,
            }
        }
    }

    /// `rows` in this order.
    pub fn sort(self, rows: &mut Vec<(String, f64)>) {
        crate::chart::sort_stable(rows, |a: &(String, f64), b: &(String, f64)| {
            let ord = if self.by_name {
                a.0.cmp(&b.0)
            } else {
                a.1.total_cmp(&b.1)
            };
            if self.ascending {
                ord
            } else {
                ord.reverse()
            }
        });
    }
}

/// A table of rows (label, value), sorted by `order`; its headers are
/// buttons (`data-sort="name"` or `"value"`).
pub fn table(
    id: &str,
    rows: &[(String, f64)],
    order: TableOrder,
    thresholds: &[Threshold],
    format: Format,
) -> String {
    let aria = |name: bool| match (order.by_name == name, order.ascending) {
        (false, _) => "none",
        (true, true) => "ascending",
        (true, false) => "descending",
    };
    let mut html = format!(
        "<table class=\"value-table\" data-testid=\"{}-table\"><thead><tr>\
         <th scope=\"col\" aria-sort=\"{}\"><button type=\"button\" data-sort=\"name\">Series</button></th>\
         <th scope=\"col\" aria-sort=\"{}\"><button type=\"button\" data-sort=\"value\">Value</button></th>\
         </tr></thead><tbody>",
        escape(id),
        aria(true),
        aria(false),
    );
    for (label, value) in rows {
        let _ = write!(
            html,
            "<tr class=\"{}\"><th scope=\"row\">{}</th><td>{}</td></tr>",
            level_class(thresholds, Some(*value)),
            escape(label),
            escape(&format.value(Some(*value))),
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// Markdown as HTML: the blocks and runs of [`crate::markdown`], every
/// text escaped, links only to the addresses it keeps.
pub fn markdown(text: &str) -> String {
    let mut html = String::new();
    for block in parse(text) {
        match block {
            // Under the card's own heading (h2), every level is an h3 (a
            // skipped level confuses a screen reader's outline); the
            // lesser ones are drawn smaller.
            Block::Heading(1, runs) => {
                let _ = write!(html, "<h3>{}</h3>", inline(&runs));
            }
            Block::Heading(_, runs) => {
                let _ = write!(html, "<h3 class=\"markdown__minor\">{}</h3>", inline(&runs));
            }
            Block::Paragraph(runs) => {
                let _ = write!(html, "<p>{}</p>", inline(&runs));
            }
            Block::List(items) => {
                html.push_str("<ul>");
                for runs in items {
                    let _ = write!(html, "<li>{}</li>", inline(&runs));
                }
                html.push_str("</ul>");
            }
            Block::Code(code) => {
                let _ = write!(html, "<pre><code>{}</code></pre>", escape(&code));
            }
            Block::Rule => html.push_str("<hr>"),
        }
    }
    html
}

fn inline(runs: &[Inline]) -> String {
    let mut html = String::new();
    for run in runs {
        let _ = match run {
            Inline::Text(text) => write!(html, "{}", escape(text)),
            Inline::Strong(text) => write!(html, "<strong>{}</strong>", escape(text)),
            Inline::Emphasis(text) => write!(html, "<em>{}</em>", escape(text)),
            Inline::Code(text) => write!(html, "<code>{}</code>", escape(text)),
            Inline::Link { text, href } => {
                write!(html, "<a href=\"{}\">{}</a>", escape(href), escape(text))
            }
        };
    }
    html
}

/// Each text widget of `dashboard` with its Markdown as HTML, by widget
/// id: what the server sends a page beside the dashboard.
/// A status or feed widget of another channel than the dashboard's own
/// gets a note saying so in its place: a page follows its own channel
/// only.
pub fn text_html(dashboard: &crate::dashboard::Dashboard) -> Vec<(String, String)> {
    use crate::dashboard::WidgetKind;
    let own = format!(
        "{}{}",
        crate::protocol::DASHBOARD_CHANNEL_PREFIX,
        dashboard.id
    );
    dashboard
        .widgets
        .iter()
        .filter_map(|w| match w.kind {
            WidgetKind::Text => Some(markdown(options::text(w, "markdown").unwrap_or_default())),
            WidgetKind::Status | WidgetKind::Feed if !shows_own_channel(w, &own) => Some(format!(
                "<p class=\"value-card__status\">This page shows its own channel, <code>{}</code>, only.</p>",
                escape(&own)
            )),
            _ => None,
        }
        .map(|html| (w.id.clone(), html)))
        .collect()
}

/// Whether status or feed widget `widget` shows channel `own`.
pub fn shows_own_channel(widget: &crate::dashboard::Widget, own: &str) -> bool {
    options::text(widget, "channel") == Some(own)
}

/// The home page's list of dashboards (id, title) with its search form,
/// searched for `search`.
pub fn dashboard_list(dashboards: &[(String, String)], search: &str) -> String {
    let mut html = format!(
        "<nav class=\"dashboards\" aria-labelledby=\"dashboards-title\" data-testid=\"dashboards\">\
         <h2 class=\"dashboards__title\" id=\"dashboards-title\">Dashboards</h2>\
         <form class=\"dashboards__search\" method=\"get\" action=\"/\" role=\"search\">\
         <input class=\"dashboards__query\" type=\"search\" name=\"q\" value=\"{}\" aria-label=\"Search dashboards\" placeholder=\"Search by name\" maxlength=\"200\">\
         <button class=\"dashboards__go\" type=\"submit\">Search</button></form>\
         <form class=\"dashboards__search dashboards__new\" method=\"post\" action=\"/dashboards\">\
         <input class=\"dashboards__query\" type=\"text\" name=\"title\" required maxlength=\"200\" aria-label=\"New dashboard's title\" placeholder=\"New dashboard's title\" data-testid=\"new-dashboard-title\">\
         <button class=\"dashboards__go\" type=\"submit\" data-testid=\"new-dashboard\">Create and edit</button></form>\
         <ul class=\"dashboards__list\">",
        escape(search)
    );
    for (id, title) in dashboards {
        let _ = write!(
            html,
            "<li><a class=\"dashboards__link\" href=\"/d/{}\">{}</a> <code class=\"dashboards__id\">{}</code></li>",
            escape(id),
            escape(title),
            escape(id),
        );
    }
    html.push_str("</ul>");
    if dashboards.is_empty() {
        html.push_str(if search.is_empty() {
            "<p class=\"dashboards__empty\">No dashboards yet: create one above, add a file to the dashboards directory, or PUT /api/dashboards/&lt;id&gt;.</p>"
        } else {
            "<p class=\"dashboards__empty\">No dashboard matches.</p>"
        });
    }
    html.push_str("</nav>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNT: Format = Format {
        unit: Unit::Count,
        decimals: 2,
    };

    fn line(points: &[(i64, f64)]) -> Line {
        Line::from_history(points, None, None, i64::MAX, usize::MAX)
    }

    #[test]
    fn nothing_from_outside_is_markup() {
        let evil = "<img src=x onerror=alert(1)>\"'&";
        let escaped = "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;";
        assert!(markdown(evil).contains(escaped));
        assert!(dashboard_list(&[("a".into(), evil.into())], "").contains(escaped));
        assert!(dashboard_list(&[], evil).contains(escaped));
        assert!(bars("b", &[(evil.into(), 1.0)], &[], COUNT).contains(escaped));
        assert!(table(
            "t",
            &[(evil.into(), 1.0)],
            TableOrder::default(),
            &[],
            COUNT
        )
        .contains(escaped));
        assert!(gauge("g", evil, Some(1.0), (0.0, 2.0), COUNT).contains(escaped));
        assert!(stat(evil, None, COUNT, false).contains(escaped));
        for html in [markdown(evil), bars("b", &[(evil.into(), 1.0)], &[], COUNT)] {
            assert!(!html.contains("<img"), "{html}");
        }
    }

    #[test]
    fn markdown_keeps_its_structure_and_drops_unsafe_links() {
        assert_eq!(
            markdown("# Deploys\n\nSee [the runbook](https://example.org/r) or [this](javascript:alert(1)).\n\n- **one**\n- `two`"),
            "<h3>Deploys</h3><p>See <a href=\"https://example.org/r\">the runbook</a> or this).</p><ul><li><strong>one</strong></li><li><code>two</code></li></ul>"
        );
    }

    #[test]
    fn a_stat_shows_its_newest_value_and_the_change_since_the_first() {
        let html = stat(
            "users",
            Some(&line(&[(0, 200.0), (1, 150.0), (2, 250.0)])),
            COUNT,
            true,
        );
        assert!(
            html.contains("data-testid=\"users-value\">250</p>"),
            "{html}"
        );
        assert!(html.contains("value-card__trend--up\" data-testid=\"users-trend\" title=\"change since the start of the window\">▲ 25.0%"), "{html}");
        assert!(html.contains("value-card__value--changed"));
        let html = stat("users", None, COUNT, false);
        assert!(html.contains(">—</p>"), "{html}");
        let down = stat("u", Some(&line(&[(0, 100.0), (1, 50.0)])), COUNT, false);
        assert!(down.contains("▼ 50.0%"), "{down}");
    }

    #[test]
    fn a_gauge_fills_its_share_of_the_range() {
        let html = gauge("e", "Errors", Some(0.025), (0.0, 0.1), COUNT);
        assert!(html.contains("--fill: 25.0"), "{html}");
        assert!(gauge("e", "E", Some(5.0), (0.0, 1.0), COUNT).contains("--fill: 100.0"));
        assert!(gauge("e", "E", None, (0.0, 1.0), COUNT).contains("--fill: 0.0"));
    }

    #[test]
    fn bars_scale_to_the_largest_and_carry_their_level() {
        let thresholds = vec![Threshold {
            label: "Warning".into(),
            value: 80.0,
            to: None,
            level: Level::Warning,
        }];
        let html = bars(
            "cores",
            &[("0".into(), 90.0), ("1".into(), 45.0)],
            &thresholds,
            COUNT,
        );
        assert!(html.contains("bars__row level-warning\"><span class=\"bars__label\">0</span><span class=\"bars__bar\" style=\"--fill: 100.0%\">"), "{html}");
        assert!(html.contains("bars__row \"><span class=\"bars__label\">1</span><span class=\"bars__bar\" style=\"--fill: 50.0%\">"), "{html}");
    }

    #[test]
    fn a_table_sorts_by_the_clicked_column() {
        let mut rows = vec![
            ("b".to_string(), 1.0),
            ("a".to_string(), 3.0),
            ("c".to_string(), 2.0),
        ];
        let order = TableOrder::default();
        order.sort(&mut rows);
        assert_eq!(rows[0].0, "a", "values, largest first");
        let by_name = order.clicked(true);
        by_name.sort(&mut rows);
        assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<String>(), "abc");
        let reversed = by_name.clicked(true);
        reversed.sort(&mut rows);
        assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<String>(), "cba");
        let html = table("t", &rows, reversed, &[], COUNT);
        assert!(
            html.contains("aria-sort=\"descending\"><button type=\"button\" data-sort=\"name\">"),
            "{html}"
        );
        assert!(
            html.contains("aria-sort=\"none\"><button type=\"button\" data-sort=\"value\">"),
            "{html}"
        );
    }
}
