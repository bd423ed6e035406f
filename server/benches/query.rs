//! Reading history: the latency of `GET /api/series` over a day of data at
//! `max_points=1000`, for one series and for 100.
//!
//! `cargo bench --bench query -- [series] [hours]` (defaults 100 and 24):
//! a server in this process is filled over HTTP with one sample a second
//! per series, then each query runs 20 times. Figures go to BENCHMARKS.md.

use std::time::Instant;

use serde_json::json;

mod support;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = support::numbers();
    let series = args.first().copied().unwrap_or(100);
    let hours = args.get(1).copied().unwrap_or(24);
    let (addr, _dir) = support::start_server("query", &["--max-series", "1000000"]).await;
    let base = format!("http://{addr}");
    let seconds = (hours * 3_600) as i64 - 120;
    let now = support::now_ms();
    let start = now - seconds * 1_000;
    let client = reqwest::Client::new();
    let filled = Instant::now();
    // Batches of 5,000 points, series by series, in time order.
    for s in 0..series {
        let mut t = 0;
        while t < seconds {
            let end = (t + 5_000).min(seconds);
            let points: Vec<_> = (t..end)
                .map(|i| {
                    let value = ((50.0 + ((i * 7919 + s as i64) % 1000) as f64 / 100.0) * 100.0).round() / 100.0;
                    json!({"name": "day", "labels": {"series": s.to_string()}, "value": value, "ts": start + i * 1_000})
                })
                .collect();
            let response = client
                .post(format!("{base}/api/ingest"))
                .json(&points)
                .send()
                .await
                .expect("the server answers");
            assert_eq!(response.status(), 200);
            t = end;
        }
    }
    println!(
        "{series} series x {seconds} samples stored in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    for (name, selector) in [
        ("one series", "day%7Bseries%3D%220%22%7D"),
        ("all series", "day"),
    ] {
        let url =
            format!("{base}/api/series?match={selector}&from={start}&to={now}&max_points=1000");
        let mut times = Vec::new();
        let mut points = 0;
        for _ in 0..20 {
            let started = Instant::now();
            let body: serde_json::Value = client
                .get(&url)
                .send()
                .await
                .expect("the server answers")
                .json()
                .await
                .expect("JSON");
            times.push(started.elapsed().as_secs_f64() * 1_000.0);
            points = body["series"].as_array().map_or(0, |s| {
                s.iter()
                    .map(|s| s["points"].as_array().map_or(0, Vec::len))
                    .sum()
            });
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name}, {hours} h at max_points=1000: {points} points; p50 {:.2} ms, max {:.2} ms (request to parsed answer)",
            percentile(&times, 0.5),
            times[times.len() - 1]
        );
    }
}
