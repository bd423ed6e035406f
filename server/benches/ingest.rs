//! Ingest over HTTP into the metrics store: points stored per second from
//! JSON batches and from the Prometheus text format.
//!
//! `cargo bench --bench ingest -- [series] [batches]` (defaults 10,000 and
//! 400): 4 clients send batches of 5,000 points (each series once per
//! 10,000-point round, one second of data time per round) to a server in
//! this process, over loopback. Figures go to BENCHMARKS.md.

use std::time::Instant;

use serde_json::json;

mod support;

const CLIENTS: usize = 4;
const BATCH: usize = 5_000;

/// Client `client`'s batches, as JSON and as Prometheus text: it owns
/// every `CLIENTS`th series, and its points go round by round (each series
/// once per round, one second of data time apart), so each series' points
/// arrive in time order whatever the other clients do.
fn batches_of(
    name: &str,
    client: usize,
    series: usize,
    batches: usize,
    start: i64,
) -> Vec<(String, String)> {
    let owned: Vec<usize> = (client..series).step_by(CLIENTS).collect();
    let mut out = Vec::with_capacity(batches);
    for n in 0..batches {
        let mut points = Vec::with_capacity(BATCH);
        let mut text = String::with_capacity(BATCH * 80);
        for i in n * BATCH..(n + 1) * BATCH {
            let s = owned[i % owned.len()];
            let ts = start + (i / owned.len()) as i64 * 1_000;
            // A noisy two-decimal gauge.
            let value = ((50.0 + (s % 50) as f64 + ((i * 7919) % 1000) as f64 / 100.0) * 100.0)
                .round()
                / 100.0;
            points.push(json!({"name": name, "labels": {"series": s.to_string(), "job": "bench"}, "value": value, "ts": ts}));
            text.push_str(&format!(
                "bench_text{{series=\"{s}\",job=\"bench\"}} {value} {ts}\n"
            ));
        }
        out.push((serde_json::to_string(&points).expect("JSON"), text));
    }
    out
}

/// Every client sends its bodies, one at a time; returns points stored per
/// second.
async fn run(base: &str, format: &str, bodies: Vec<Vec<String>>) -> f64 {
    let total: usize = bodies.iter().map(Vec::len).sum::<usize>() * BATCH;
    let started = Instant::now();
    let mut clients = Vec::new();
    for own in bodies {
        let url = format!("{base}/api/ingest?format={format}");
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for body in own {
                let response = client
                    .post(&url)
                    .body(body)
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                assert_eq!(
                    status,
                    200,
                    "{}",
                    text.chars().take(300).collect::<String>()
                );
            }
        }));
    }
    for client in clients {
        client.await.expect("a client");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args = support::numbers();
    let series = args.first().copied().unwrap_or(10_000);
    let batches = args.get(1).copied().unwrap_or(400);
    let (addr, _dir) = support::start_server("ingest", &["--max-series", "1000000"]).await;
    let base = format!("http://{addr}");
    let start = support::now_ms() - 3_600_000;
    let per_client = batches / CLIENTS;
    let bodies = |name: &str| -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        (0..CLIENTS)
            .map(|c| {
                batches_of(name, c, series, per_client, start)
                    .into_iter()
                    .unzip()
            })
            .unzip()
    };
    let (json, text) = bodies("bench_value");
    let (followed, _) = bodies("bench_followed");
    println!("{series} series, {batches} batches of {BATCH} points, {CLIENTS} clients");
    let json_rate = run(&base, "json", json).await;
    println!("JSON: {json_rate:.0} points/s stored");
    let text_rate = run(&base, "prometheus", text).await;
    println!("Prometheus text: {text_rate:.0} points/s stored");
    // The same JSON load while a page follows every series live: the live
    // path must not cap ingest.
    let mut page = reqwest::get(format!("{base}/api/realtime/sse?channels=series"))
        .await
        .expect("a subscription");
    let events = tokio::spawn(async move {
        let mut events = 0usize;
        while let Ok(Some(chunk)) = page.chunk().await {
            events += chunk.windows(13).filter(|w| w == b"event: points").count();
        }
        events
    });
    let followed_rate = run(&base, "json", followed).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    events.abort();
    println!("JSON, every series followed live over SSE: {followed_rate:.0} points/s stored");
}
