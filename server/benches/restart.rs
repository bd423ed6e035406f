//! Restart after SIGKILL: how long the real binary takes to serve again
//! with N points in its write-ahead log.
//!
//! `cargo bench --bench restart -- [points] [series]` (defaults 10,000,000
//! and 10,000): the `livedash` binary is filled over HTTP (batches of 5,000,
//! one sample a second per series), killed with SIGKILL, started again,
//! and timed until `GET /api/series` answers with every point. Figures go
//! to BENCHMARKS.md.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

mod support;

fn spawn(data: &std::path::Path, listen: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_livedash"))
        .args([
            "--listen",
            listen,
            "--log-level",
            "warn",
            "--sample-interval",
            "1h",
        ])
        .args(["--max-series", "1000000"])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .spawn()
        .expect("livedash starts")
}

async fn wait_until_up(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = support::numbers();
    let points = args.first().copied().unwrap_or(10_000_000);
    let series = args.get(1).copied().unwrap_or(10_000).max(1);
    let per_series = points.div_ceil(series);
    let data = std::env::temp_dir().join(format!("livedash-bench-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let mut child = spawn(&data, &listen);
    wait_until_up(&base).await;
    let client = reqwest::Client::new();
    let start = support::now_ms() - per_series as i64 * 1_000;
    let filled = Instant::now();
    let mut batch = Vec::with_capacity(5_000);
    let mut sent = 0usize;
    for i in 0..per_series {
        for s in 0..series {
            let value = ((i * 7_919 + s * 31) % 10_000) as f64 / 100.0;
            batch.push(json!({"name": "restart", "labels": {"s": s.to_string()}, "value": value, "ts": start + i as i64 * 1_000}));
            if batch.len() == 5_000 {
                let response = client
                    .post(format!("{base}/api/ingest"))
                    .json(&std::mem::take(&mut batch))
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(response.status(), 200);
                sent += 5_000;
            }
        }
    }
    println!(
        "{sent} points ({series} series) stored in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let wal: u64 = std::fs::read_dir(data.join("metrics/wal"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!("write-ahead log: {:.1} MB", wal as f64 / 1e6);
    let _ = child.kill();
    let _ = child.wait();
    let restarted = Instant::now();
    let mut child = spawn(&data, &listen);
    wait_until_up(&base).await;
    let up = restarted.elapsed();
    let url = format!("{base}/api/series?match=restart%7Bs%3D%220%22%7D&from={start}&to=now");
    let body: serde_json::Value = reqwest::get(&url)
        .await
        .expect("a query")
        .json()
        .await
        .expect("JSON");
    let served = restarted.elapsed();
    let kept = body["series"][0]["points"].as_array().map_or(0, Vec::len);
    println!(
        "restart after SIGKILL: serving after {:.2} s, first query answered after {:.2} s ({kept} of {} points of one series)",
        up.as_secs_f64(),
        served.as_secs_f64(),
        sent / series,
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}
