//! Fan-out throughput: how many events per second one publisher can push
//! through the hub to N SSE subscribers, each a real TCP connection.
//!
//! `cargo bench --bench fanout -- [subscribers] [events]` (defaults 1000 and
//! 20000). Every subscriber must receive every event; the figure is events
//! published per second until the last subscriber has the last event.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

mod support;

const MARKER: &[u8] = b"event: message\n";

#[tokio::main]
async fn main() {
    let args = support::args();
    let subscribers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let events: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let (addr, _data) = support::start_server("bench", &["--history-events", "100000"]).await;

    let received = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..subscribers {
        let mut stream = TcpStream::connect(addr)
            .await
            .expect("connect (raise ulimit -n?)");
        stream
            .write_all(b"GET /api/realtime/sse?channels=bench HTTP/1.1\r\nHost: bench\r\n\r\n")
            .await
            .expect("request");
        let (received, done) = (received.clone(), done.clone());
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 64 * 1024];
            let mut carry: Vec<u8> = Vec::new();
            let mut count = 0;
            while count < events {
                let n = match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                carry.extend_from_slice(&buffer[..n]);
                let found = carry.windows(MARKER.len()).filter(|w| *w == MARKER).count();
                count += found;
                received.fetch_add(found, Ordering::Relaxed);
                let keep = carry.len().min(MARKER.len() - 1);
                carry.drain(..carry.len() - keep);
            }
            done.fetch_add(1, Ordering::Relaxed);
        });
    }
    // Let every subscription open.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/realtime/events");
    let started = Instant::now();
    let batch = 100;
    for start in (0..events).step_by(batch) {
        let body: Vec<_> = (start..(start + batch).min(events))
            .map(|i| json!({"channel": "bench", "data": {"n": i}}))
            .collect();
        client.post(&url).json(&body).send().await.expect("publish");
    }
    let published = started.elapsed();
    while done.load(Ordering::Relaxed) < subscribers {
        if started.elapsed() > Duration::from_secs(300) {
            eprintln!(
                "timed out: {} of {} deliveries",
                received.load(Ordering::Relaxed),
                subscribers * events
            );
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{subscribers} SSE subscribers, {events} events: published in {:.2} s, all delivered in {:.2} s \
         => {rate:.0} events/s to every subscriber ({:.0} deliveries/s)",
        published.as_secs_f64(),
        elapsed.as_secs_f64(),
        rate * subscribers as f64
    );
}
