//! `--demo` on the real binary: a first start writes a day of history at
//! once and goes on live from where it ends; a restart neither repeats nor
//! leaves a hole.

use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{process::Process, tempdir::TempDir};

/// The points of the first series `selector` matches over the last 24 h.
async fn series_points(base: &str, selector: &str) -> Vec<(i64, f64)> {
    let body: Value = reqwest::Client::new()
        .get(format!("{base}/api/series"))
        .query(&[("match", selector), ("from", "now-24h")])
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON");
    body["series"][0]["points"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .map(|p| {
                    (
                        p[0].as_i64().unwrap_or(0),
                        p[1].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn users(base: &str) -> Vec<(i64, f64)> {
    series_points(base, "demo_active_users").await
}

/// Waits until the history reaches `past` (ms).
async fn wait_past(base: &str, past: i64) -> Vec<(i64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let points = users(base).await;
        if points.last().is_some_and(|p| p.0 > past) {
            return points;
        }
        assert!(Instant::now() < deadline, "no demo point after {past}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_one_series_with_no_repeat(points: &[(i64, f64)]) {
    assert!(
        points.windows(2).all(|w| w[0].0 < w[1].0),
        "times go forward, none twice"
    );
    assert!(points.iter().all(|p| p.1.is_finite() && p.1 >= 0.0));
}

#[tokio::test]
async fn the_demo_starts_with_a_day_of_history_and_goes_on_live_across_a_restart() {
    let data = TempDir::new();
    let log_dir = TempDir::new();
    let log = log_dir.0.join("livedash.log");
    let args = ["--demo", "--sample-interval", "1s"];
    let server = Process::start_logging_to(&data.0, &args, &log).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    // The history is there at once (10 s apart over the last day) ...
    let points = wait_past(&server.base, now - 20_000).await;
    assert!(points.len() >= 8_600, "{} points of history", points.len());
    assert!(points[0].0 <= now - 23 * 3_600_000, "reaches back a day");
    // The business overview is there, and every series it reads exists.
    let demo: Value = reqwest::get(format!("{}/api/dashboards/business", server.base))
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("the demo dashboard");
    let widgets = demo["widgets"].as_array().expect("widgets");
    for selector in widgets
        .iter()
        .flat_map(|w| w["series"].as_array().cloned().unwrap_or_default())
        .map(|s| s["selector"].as_str().unwrap_or_default().to_string())
    {
        assert!(
            !series_points(&server.base, &selector).await.is_empty(),
            "{selector} reads nothing"
        );
    }
    // ... and live points follow, a second apart.
    let points = wait_past(&server.base, now + 2_000).await;
    assert_one_series_with_no_repeat(&points);
    let before = points.len();
    server.kill();

    let server = Process::start_logging_to(&data.0, &args, &log).await;
    let later = wait_past(&server.base, points.last().expect("points").0 + 2_000).await;
    assert_one_series_with_no_repeat(&later);
    assert!(later.len() > before, "{} then {}", before, later.len());
    // The gap while it was down is filled, at most a step apart.
    let gaps: Vec<i64> = later.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        gaps.iter().all(|&g| g <= 10_000),
        "largest gap {:?}",
        gaps.iter().max()
    );
    // Counters went on from where they were, each time once.
    let orders = series_points(&server.base, "demo_orders_total{region=\"eu\"}").await;
    assert!(orders.len() >= later.len() - 2, "{} orders", orders.len());
    assert_one_series_with_no_repeat(&orders);
    assert!(
        orders.windows(2).all(|w| w[0].1 <= w[1].1),
        "a counter never goes down"
    );
    // Nothing was refused or failed to store, before or after the restart
    // (the store refuses a time already written, and the demo logs it).
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !logged.contains("refused") && !logged.contains("cannot store"),
        "{logged}"
    );
}
