//! Alert evaluation against ingest: points stored per second over HTTP
//! with no rules and with `rules` rules over `series` series (each rule
//! reads ten of them, an average over a minute, never firing), runs
//! alternated (and which goes first in a round, too), on the same series
//! each time (their time goes on from run
//! to run), after one run of each that is not counted (series are new
//! then: each is matched against every rule of its name, once). Then the
//! time from the ingest of a crossing to its `alert` event on an SSE
//! subscription.
//!
//! `cargo bench --bench alerts -- [series] [rules] [batches]` (defaults
//! 10,000, 1,000 and 200 per run). Figures go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use serde_json::json;

mod support;

const CLIENTS: usize = 4;
const BATCH: usize = 5_000;
/// Data time between two points of a series: the last minute of a run
/// is in every rule's window.
const STEP_MS: i64 = 250;

/// Client `client`'s JSON bodies of metric `name`: every `CLIENTS`th
/// series, round by round, from `start`.
fn bodies(name: &str, client: usize, series: usize, batches: usize, start: i64) -> Vec<String> {
    let owned: Vec<usize> = (client..series).step_by(CLIENTS).collect();
    (0..batches)
        .map(|n| {
            let points: Vec<_> = (n * BATCH..(n + 1) * BATCH)
                .map(|i| {
                    let s = owned[i % owned.len()];
                    let ts = start + (i / owned.len()) as i64 * STEP_MS;
                    let value = 50.0 + (s % 50) as f64 + ((i * 7919) % 1000) as f64 / 100.0;
                    json!({"name": name, "labels": {"series": s.to_string(), "group": (s / 10).to_string()}, "value": value, "ts": ts})
                })
                .collect();
            serde_json::to_string(&points).expect("JSON")
        })
        .collect()
}

/// Sends every client's bodies (run `run` of metric `name`: its data time
/// goes on from the run before); points stored per second.
async fn run(base: &str, name: &str, series: usize, batches: usize, run: i64, start: i64) -> f64 {
    let per_client = batches / CLIENTS;
    let span = (per_client * BATCH).div_ceil(series / CLIENTS) as i64 * STEP_MS;
    let all: Vec<Vec<String>> = (0..CLIENTS)
        .map(|c| bodies(name, c, series, per_client, start + run * span))
        .collect();
    let total: usize = all.iter().map(Vec::len).sum::<usize>() * BATCH;
    let started = Instant::now();
    let mut clients = Vec::new();
    for own in all {
        let url = format!("{base}/api/ingest");
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for body in own {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for client in clients {
        client.await.expect("a client");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = support::numbers();
    let series = args.first().copied().unwrap_or(10_000);
    let rules = args.get(1).copied().unwrap_or(1_000);
    let batches = args.get(2).copied().unwrap_or(200);
    let (addr, _dir) = support::start_server("alerts", &["--max-series", "1000000"]).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    // Rule i reads series 10i to 10i+9 of the ruled metric (the group
    // label): never past its line.
    for i in 0..rules {
        let rule = json!({
            "id": format!("r{i}"),
            "selector": format!("bench_ruled{{group=\"{i}\"}}"),
            "aggregate": "avg",
            "window": "1m",
            "condition": {"type": "above", "warning": 1e9},
        });
        let response = client
            .put(format!("{base}/api/alerts/rules/r{i}"))
            .json(&rule)
            .send()
            .await
            .expect("the server answers");
        assert!(response.status().is_success());
    }
    // The evaluator has read the rules before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    const ROUNDS: i64 = 5;
    let span = (batches / CLIENTS * BATCH).div_ceil(series / CLIENTS) as i64 * STEP_MS;
    let start = support::now_ms() - (ROUNDS + 1) * span;
    println!("{series} series, {rules} rules, {batches} batches of {BATCH} points per run, {CLIENTS} clients");
    let (mut plain, mut ruled) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        // Which goes first alternates (plain, ruled; ruled, plain; ...), so
        // a machine that slows down or speeds up over a round weighs on
        // both alike.
        let (a, b) = if round % 2 == 0 {
            let a = run(&base, "bench_plain", series, batches, round, start).await;
            (
                a,
                run(&base, "bench_ruled", series, batches, round, start).await,
            )
        } else {
            let b = run(&base, "bench_ruled", series, batches, round, start).await;
            (
                run(&base, "bench_plain", series, batches, round, start).await,
                b,
            )
        };
        if round == 0 {
            println!("first runs, new series (not counted): {a:.0} and {b:.0} points/s");
            continue;
        }
        println!("no rule reads them: {a:.0} points/s; {rules} rules read them: {b:.0} points/s");
        plain.push(a);
        ruled.push(b);
    }
    let (plain, ruled) = (median(&mut plain), median(&mut ruled));
    println!(
        "median: {plain:.0} vs {ruled:.0} points/s ({:+.1}%)",
        (ruled / plain - 1.0) * 100.0
    );

    // Crossings: a rule on its own series, one ingest past the line, then
    // one back; the time to its `alert` event on an SSE subscription.
    let rule = json!({"id": "crossing", "selector": "bench_crossing", "condition": {"type": "above", "critical": 100}});
    client
        .put(format!("{base}/api/alerts/rules/crossing"))
        .json(&rule)
        .send()
        .await
        .expect("the server answers");
    let mut events = reqwest::get(format!("{base}/api/realtime/sse?channels=alerts"))
        .await
        .expect("a subscription");
    let mut buffer = String::new();
    let mut latencies = Vec::new();
    for i in 0..20 {
        let value = if i % 2 == 0 { 150.0 } else { 50.0 };
        let sent = Instant::now();
        let response = client
            .post(format!("{base}/api/ingest"))
            .json(&json!([{"name": "bench_crossing", "value": value}]))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200);
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if block.contains("event: alert") && block.contains("\"rule\":\"crossing\"") {
                    break;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
                .await
                .expect("an alert within 10 s")
                .expect("the stream")
                .expect("more of it");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1_000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "ingest to alert event: median {:.0} ms, p95 {:.0} ms, max {:.0} ms (20 crossings)",
        latencies[10], latencies[18], latencies[19]
    );
}
