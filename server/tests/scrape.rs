//! Scraping, on the real binary with a config file: two small exporters
//! run by the test on loopback, one answering with values that change, one
//! that accepts connections and never answers until told to. The good one
//! is scraped on schedule whatever the other does; the dead one is `up 0`
//! and a `status` event, and `up 1` again once it answers.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

mod support;
use support::{process::Process, tempdir::TempDir};

/// An exporter on a free loopback port: answers `requests_total <n>` with
/// n counting its scrapes, or (while `answering` is false) holds each
/// connection open without a word.
async fn exporter(answering: Arc<AtomicBool>) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            if !answering.load(Ordering::SeqCst) {
                // A hung exporter: the connection stays open, silent.
                held.push(socket);
                continue;
            }
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buf[..read]),
                    }
                }
                let body = format!(
                    "# TYPE requests_total counter\nrequests_total{{path=\"/\"}} {n}\nnot a sample line\n"
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, served)
}

async fn series(base: &str, selector: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/api/series"))
        .query(&[("match", selector), ("from", "now-1h")])
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON")
}

/// The newest value of the first series `selector` matches.
async fn newest(base: &str, selector: &str) -> Option<f64> {
    let body = series(base, selector).await;
    body["series"][0]["points"]
        .as_array()?
        .last()?
        .get(1)?
        .as_f64()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the binary with a config file of `text` in a data directory of
/// its own (kept as long as the returned directory).
async fn start_with_config(text: &str) -> (TempDir, Process) {
    let data = TempDir::new();
    let config = data.0.join("livedash.toml");
    std::fs::create_dir_all(&data.0).expect("a data dir");
    std::fs::write(&config, text).expect("a config file");
    let server = Process::start(&data.0, &["--config", config.to_str().expect("UTF-8")]).await;
    (data, server)
}

/// Reads the `status` subscription into `seen` until `done(seen)`, for at
/// most 10 s (`what` names it if it never comes).
async fn read_status_until(
    status: &mut reqwest::Response,
    seen: &mut String,
    what: &str,
    done: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(seen) {
        assert!(Instant::now() < deadline, "no status event {what}: {seen}");
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(Duration::from_millis(500), status.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn a_dead_target_never_delays_a_live_one_and_comes_back_up() {
    let (good_port, served) = exporter(Arc::new(AtomicBool::new(true))).await;
    let dead_answering = Arc::new(AtomicBool::new(false));
    let (dead_port, _) = exporter(dead_answering.clone()).await;
    let (_data, server) = start_with_config(&format!(
            "retention-raw = \"2h\"\n\n\
             [[scrape]]\nurl = \"http://127.0.0.1:{good_port}/metrics\"\njob = \"good\"\ninterval = \"200ms\"\nlabels = {{ env = \"test\" }}\n\n\
             [[scrape]]\nurl = \"http://127.0.0.1:{dead_port}/metrics\"\njob = \"dead\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\n"
        )).await;
    let base = server.base.clone();

    // The status channel, from the start.
    let mut status = reqwest::get(format!("{base}/api/realtime/sse?channels=status"))
        .await
        .expect("a subscription");

    // The good target goes on being scraped every 200 ms while the dead
    // one hangs each of its scrapes for 250 ms.
    wait_for("ten scrapes of the good target", async || {
        served.load(Ordering::SeqCst) >= 10
    })
    .await;
    let good = "requests_total{job=\"good\",env=\"test\"}";
    let body = series(&base, good).await;
    let points = body["series"][0]["points"]
        .as_array()
        .expect("points")
        .len();
    assert!(points >= 9, "{points} points of the good target");
    assert_eq!(
        body["series"][0]["labels"]["instance"],
        format!("127.0.0.1:{good_port}")
    );
    assert_eq!(newest(&base, "up{job=\"good\"}").await, Some(1.0));
    assert_eq!(newest(&base, "up{job=\"dead\"}").await, Some(0.0));
    assert_eq!(
        newest(&base, "scrape_samples_scraped{job=\"good\"}").await,
        Some(1.0),
        "the bad line is left out"
    );

    // The dead target's status event says why.
    let mut seen = String::new();
    read_status_until(&mut status, &mut seen, "for the dead target", |seen| {
        seen.contains("scrape:dead/") && seen.contains("\"up\":false")
    })
    .await;
    assert!(seen.contains("timed out"), "{seen}");

    // It answers again: up 1, and a status event saying so.
    dead_answering.store(true, Ordering::SeqCst);
    wait_for("the dead target up again", async || {
        newest(&base, "up{job=\"dead\"}").await == Some(1.0)
    })
    .await;
    read_status_until(&mut status, &mut seen, "for the way back", |seen| {
        seen.matches("scrape:dead/").count() >= 2
    })
    .await;
    assert!(newest(&base, "requests_total{job=\"dead\"}")
        .await
        .is_some());
}

#[tokio::test]
async fn an_https_target_is_scraped_when_its_certificate_is_trusted_and_down_when_not() {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "# TYPE temperature gauge\ntemperature{room=\"a\"} 21.5\n" }),
    );
    let url = support::tls::serve(app).await;
    let (_data, server) = start_with_config(&format!(
        "tls-ca-file = \"{}\"\n\n\
             [[scrape]]\nurl = \"{url}/metrics\"\njob = \"trusted\"\ninterval = \"200ms\"\n",
        support::tls::ca_file()
    ))
    .await;
    let base = server.base.clone();
    wait_for("a scrape over https", async || {
        newest(&base, "temperature{job=\"trusted\"}").await == Some(21.5)
    })
    .await;
    assert_eq!(newest(&base, "up{job=\"trusted\"}").await, Some(1.0));
    drop(server);

    // Without the CA: the target is down, and its status says why.
    let (_untrusted, server) = start_with_config(&format!(
        "[[scrape]]\nurl = \"{url}/metrics\"\njob = \"untrusted\"\ninterval = \"200ms\"\n"
    ))
    .await;
    let base = server.base.clone();
    let mut status = reqwest::get(format!("{base}/api/realtime/sse?channels=status"))
        .await
        .expect("a subscription");
    let mut seen = String::new();
    read_status_until(&mut status, &mut seen, "for the untrusted target", |seen| {
        seen.contains("scrape:untrusted/") && seen.contains("TLS handshake failed")
    })
    .await;
    assert_eq!(newest(&base, "up{job=\"untrusted\"}").await, Some(0.0));
    assert_eq!(newest(&base, "temperature{job=\"untrusted\"}").await, None);
}
