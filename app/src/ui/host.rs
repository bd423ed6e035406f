//! The host overview: the built-in dashboard `/` shows when the dashboards
//! directory has none called `main`.
//!
//! The host source stores every sample as series, like any other source's
//! (`livedash_host_cpu_percent{host}`, one more per core with a `core`
//! label, memory, load, network). [`overview`] is an ordinary dashboard
//! over the server's own host's series: its stats, charts, bars per core,
//! and the status board and activity of `dashboard:main`. The page renders
//! it as it renders any other (`ui::board`), so everything a dashboard's
//! widgets do, the overview's do.

use serde_json::json;

use crate::{
    chart::Unit,
    dashboard::{Dashboard, DefaultRange, Grid, SeriesQuery, Widget, WidgetKind, MODEL_VERSION},
};

/// Total CPU use in percent; per core with a `core` label.
pub const CPU_PERCENT: &str = "livedash_host_cpu_percent";
/// Memory in use, in bytes.
pub const MEMORY_USED_BYTES: &str = "livedash_host_memory_used_bytes";
/// Installed memory, in bytes.
pub const MEMORY_TOTAL_BYTES: &str = "livedash_host_memory_total_bytes";
/// Load average over one minute.
pub const LOAD1: &str = "livedash_host_load1";
/// Load average over five minutes.
pub const LOAD5: &str = "livedash_host_load5";
/// Load average over fifteen minutes.
pub const LOAD15: &str = "livedash_host_load15";
/// Bytes received per second, all interfaces but loopback.
pub const NETWORK_RECEIVE: &str = "livedash_host_network_receive_bytes_per_second";
/// Bytes sent per second, all interfaces but loopback.
pub const NETWORK_TRANSMIT: &str = "livedash_host_network_transmit_bytes_per_second";

/// The overview's id (and its channel's: `dashboard:main`).
pub const OVERVIEW_ID: &str = "main";

/// The overview of `host`, whose installed memory is `memory_total`
/// bytes when known (the memory chart then reaches it, with a warning at
/// nine tenths of it).
pub fn overview(host: &str, memory_total: Option<f64>) -> Dashboard {
    let of = |name: &str, extra: &str| {
        format!(
            "{name}{{host=\"{}\"{extra}}}",
            host.replace(['\\', '"'], "_")
        )
    };
    let total_cpu = of(CPU_PERCENT, ",core=\"\"");
    let widget = |id: &str, kind, title: &str, (x, y, w, h), selector: &str, unit| Widget {
        id: id.into(),
        kind,
        title: title.into(),
        grid: Grid { x, y, w, h },
        series: if selector.is_empty() {
            Vec::new()
        } else {
            vec![SeriesQuery {
                selector: selector.to_string(),
                label_by: None,
                rate: false,
            }]
        },
        unit,
        options: Default::default(),
    };
    let with = |mut widget: Widget, options: serde_json::Value| {
        if let serde_json::Value::Object(options) = options {
            widget.options = options.into_iter().collect();
        }
        widget
    };
    let by_core = |mut widget: Widget| {
        if let Some(query) = widget.series.first_mut() {
            query.label_by = Some("core".into());
        }
        widget
    };
    let cpu_levels = json!([
        {"value": 80, "level": "warning"},
        {"value": 95, "level": "critical"}
    ]);
    let mut memory_options = json!({"soft_min": 0});
    if let Some(total) = memory_total.filter(|t| *t > 0.0) {
        memory_options = json!({
            "soft_min": 0,
            "soft_max": total,
            "thresholds": [{"value": total * 0.9, "level": "warning"}]
        });
    }
    Dashboard {
        version: MODEL_VERSION,
        id: OVERVIEW_ID.into(),
        title: host.into(),
        time: DefaultRange {
            range: Some("1m".into()),
            from: None,
            to: None,
        },
        widgets: vec![
            with(
                widget(
                    "cpu-total",
                    WidgetKind::Stat,
                    "CPU",
                    (0, 0, 3, 2),
                    &total_cpu,
                    Some(Unit::Percent),
                ),
                json!({"decimals": 1, "thresholds": cpu_levels}),
            ),
            with(
                widget(
                    "memory-used",
                    WidgetKind::Stat,
                    "Memory in use",
                    (3, 0, 3, 2),
                    &of(MEMORY_USED_BYTES, ""),
                    Some(Unit::Bytes),
                ),
                json!({"decimals": 1}),
            ),
            with(
                widget(
                    "load",
                    WidgetKind::Stat,
                    "Load (1 min)",
                    (6, 0, 3, 2),
                    &of(LOAD1, ""),
                    Some(Unit::Count),
                ),
                json!({"decimals": 2}),
            ),
            with(
                widget(
                    "network-in",
                    WidgetKind::Stat,
                    "Network in",
                    (9, 0, 3, 2),
                    &of(NETWORK_RECEIVE, ""),
                    Some(Unit::BytesPerSec),
                ),
                json!({"decimals": 1}),
            ),
            // The total and each core, as one line each.
            by_core(with(
                widget(
                    "cpu",
                    WidgetKind::Timeseries,
                    "CPU",
                    (0, 2, 12, 4),
                    &of(CPU_PERCENT, ""),
                    Some(Unit::Percent),
                ),
                json!({"soft_min": 0, "soft_max": 100, "thresholds": cpu_levels}),
            )),
            with(
                widget(
                    "memory",
                    WidgetKind::Timeseries,
                    "Memory in use",
                    (0, 6, 12, 4),
                    &of(MEMORY_USED_BYTES, ""),
                    Some(Unit::Bytes),
                ),
                memory_options,
            ),
            by_core(with(
                widget(
                    "cores",
                    WidgetKind::Timeseries,
                    "CPU by core",
                    (0, 10, 8, 4),
                    &of(CPU_PERCENT, ",core!=\"\""),
                    Some(Unit::Percent),
                ),
                json!({"soft_min": 0, "stacking": "normal"}),
            )),
            by_core(with(
                widget(
                    "core-use",
                    WidgetKind::Bar,
                    "Use per core",
                    (8, 10, 4, 4),
                    &of(CPU_PERCENT, ",core!=\"\""),
                    Some(Unit::Percent),
                ),
                json!({"decimals": 1, "limit": 64, "thresholds": cpu_levels}),
            )),
            with(
                widget(
                    "status",
                    WidgetKind::Status,
                    "Status board",
                    (0, 14, 6, 2),
                    "",
                    None,
                ),
                json!({"channel": "dashboard:main"}),
            ),
            with(
                widget(
                    "activity",
                    WidgetKind::Feed,
                    "Activity",
                    (6, 14, 6, 2),
                    "",
                    None,
                ),
                json!({"channel": "dashboard:main"}),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_is_a_valid_dashboard_of_the_hosts_series() {
        for total in [None, Some(8.0 * 1024.0 * 1024.0 * 1024.0)] {
            let overview = overview("web-1", total);
            assert_eq!(overview.check(), [], "{}", overview.to_canonical());
            assert!(overview
                .widgets
                .iter()
                .flat_map(|w| &w.series)
                .all(|q| q.selector.contains("{host=\"web-1\"")));
        }
    }

    #[test]
    fn a_host_name_cannot_break_out_of_its_selector() {
        let overview = overview("a\"}evil{", None);
        assert_eq!(overview.check(), []);
        assert!(overview.widgets[0].series[0]
            .selector
            .starts_with("livedash_host_cpu_percent{host=\"a_}evil{\""));
    }
}
