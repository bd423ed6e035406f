//! A subscriber that never reads, measured alone in its own test process
//! (resident memory is per process: other tests running beside it would
//! blur the figure).

mod support;

use serde_json::json;
use support::{envelope, metrics_text, publish_batch, quiet_server, SseReader};

#[tokio::test]
async fn a_subscriber_that_never_reads_costs_bounded_memory_and_slows_no_one() {
    let server = quiet_server(&[]).await;
    // Opens a stream and never reads from the socket.
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stalled,
        b"GET /api/realtime/sse?channels=room HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
    )
    .await
    .unwrap();

    let mut reader = SseReader::new(
        reqwest::get(server.url("/api/realtime/sse?channels=room"))
            .await
            .unwrap(),
    );
    reader.next_named("snapshot").await;
    let rss_before = resident_bytes();
    let payload = "x".repeat(8 * 1024);
    let mut received = 0;
    for batch in 0..100 {
        let values = (0..100).map(|i| json!({"n": batch * 100 + i, "pad": payload}));
        publish_batch(&server, "room", values).await;
        while received < (batch + 1) * 100 {
            let event = reader
                .next()
                .await
                .expect("the healthy reader keeps its stream");
            if event.event.as_deref() == Some("message") {
                assert_eq!(
                    envelope(&event.data)["data"]["n"],
                    received,
                    "in order, nothing missed"
                );
                received += 1;
            }
        }
    }
    assert_eq!(received, 10_000);
    let grown = resident_bytes().saturating_sub(rss_before);
    // 10,000 events of 8 KiB are 80 MiB; what the server may hold is the
    // channel's history (1,000 events, each in two encodings) and the
    // stalled subscriber's one bounded batch.
    assert!(
        grown < 48 * 1024 * 1024,
        "resident memory grew by {} MiB",
        grown / (1024 * 1024)
    );

    let metrics = metrics_text(&server).await;
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(gauge("livedash_history_events ") <= 1_000.0 + 2.0);
    assert!(gauge("livedash_history_bytes ") <= gauge("livedash_history_budget_bytes "));
    drop(stalled);
}

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
