//! Isolation between channels: the publish-to-receive latency of a quiet
//! channel's subscribers, without and then with a flood on another channel.
//!
//! `cargo bench --bench isolation -- [quiet subscribers] [flood events/s]`
//! (defaults 100 and 50000). A publisher sends 100 events/s to `quiet`, each
//! carrying its send time; every quiet subscriber (an SSE stream over real
//! TCP) records how long each took to arrive. Phase one runs alone for 5 s;
//! phase two adds a flood on `loud` (batches over HTTP, at the given rate)
//! with 10 subscribers of its own. Figures go to BENCHMARKS.md.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

mod support;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn subscribe(addr: std::net::SocketAddr, channel: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET /api/realtime/sse?channels={channel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    stream
}

/// Reads a stream, recording the latency of every `"t":<micros>` payload.
async fn measure(
    mut stream: TcpStream,
    samples: Arc<Mutex<Vec<u64>>>,
    recording: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut carry = String::new();
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        carry.push_str(&String::from_utf8_lossy(&buffer[..n]));
        let arrived = now_us();
        while let Some(at) = carry.find("\"t\":") {
            let rest = &carry[at + 4..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if end == rest.len() {
                break;
            }
            if let Ok(sent) = rest[..end].parse::<u64>() {
                if recording.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut samples) = samples.lock() {
                        samples.push(arrived.saturating_sub(sent));
                    }
                }
            }
            carry.drain(..at + 4 + end);
        }
        if carry.len() > 4096 {
            let cut = carry.len() - 64;
            carry.drain(..cut);
        }
    }
}

fn report(label: &str, samples: &Mutex<Vec<u64>>) {
    let mut samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{label}: {} deliveries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        at(0.5) as f64 / 1000.0,
        at(0.99) as f64 / 1000.0,
        samples.last().copied().unwrap_or(0) as f64 / 1000.0
    );
}

#[tokio::main]
async fn main() {
    let args = support::args();
    let quiet_subscribers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let flood_rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let (addr, _data) = support::start_server("isolation", &[]).await;

    let recording = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let alone = Arc::new(Mutex::new(Vec::new()));
    let flooded = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    let phase_samples = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..quiet_subscribers {
        let stream = subscribe(addr, "quiet").await;
        readers.push(tokio::spawn(measure(
            stream,
            phase_samples.clone(),
            recording.clone(),
        )));
    }
    for _ in 0..10 {
        let stream = subscribe(addr, "loud").await;
        readers.push(tokio::spawn(measure(
            stream,
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(false.into()),
        )));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/realtime/events");
    recording.store(true, std::sync::atomic::Ordering::Relaxed);
    quiet_publisher_phase(&client, &url).await;
    recording.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let (Ok(mut from), Ok(mut to)) = (phase_samples.lock(), alone.lock()) {
        to.append(&mut from);
    }

    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood = {
        let (client, url, flooding) = (client.clone(), url.clone(), flooding.clone());
        tokio::spawn(async move {
            let batch = 1000u64;
            let every = Duration::from_secs_f64(batch as f64 / flood_rate.max(1) as f64);
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let body: Vec<_> = (0..batch)
                .map(|i| json!({"channel": "loud", "data": {"n": i}}))
                .collect();
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let mut sent = 0u64;
            let started = Instant::now();
            while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                ticks.tick().await;
                let _ = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                sent += batch;
            }
            sent as f64 / started.elapsed().as_secs_f64()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    recording.store(true, std::sync::atomic::Ordering::Relaxed);
    quiet_publisher_phase(&client, &url).await;
    recording.store(false, std::sync::atomic::Ordering::Relaxed);
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let achieved = flood.await.unwrap_or(0.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let (Ok(mut from), Ok(mut to)) = (phase_samples.lock(), flooded.lock()) {
        to.append(&mut from);
    }
    println!("{quiet_subscribers} SSE subscribers of a quiet channel (100 events/s):");
    report("  alone", &alone);
    report(
        &format!("  with a flood of {achieved:.0} events/s on another channel"),
        &flooded,
    );
    for reader in readers {
        reader.abort();
    }
}

/// 100 events/s to `quiet` for 5 s, each carrying its send time.
async fn quiet_publisher_phase(client: &reqwest::Client, url: &str) {
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        ticks.tick().await;
        let body = json!({"channel": "quiet", "data": {"t": now_us()}});
        let _ = client.post(url).json(&body).send().await;
    }
}
