//! The SSE stream and the page, against a real server over real sockets.

mod support;

use std::time::{Duration, Instant};

use app::protocol::{Envelope, HostSample, Position};
use support::{SseReader, TestServer};

#[tokio::test]
async fn sse_streams_increasing_metrics_events_that_decode_into_the_shared_type() {
    let server = TestServer::start(&["--sample-interval", "100ms"]).await;
    let response = reqwest::get(server.url("/api/realtime/sse")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut reader = SseReader::new(response);

    let hint = reader.next().await.unwrap();
    assert_eq!(hint.retry, Some(1000), "the stream opens with a retry hint");

    let mut ids = Vec::new();
    while ids.len() < 2 {
        let event = reader.next_named("metrics").await;
        let id: Position = event.id.as_deref().unwrap().parse().unwrap();
        let envelope: Envelope<HostSample> = serde_json::from_str(&event.data).unwrap();
        assert_eq!(envelope.id, id);
        assert_eq!(envelope.channel, "metrics");
        assert!(!envelope.data.cores_percent.is_empty());
        assert!(envelope.data.memory_total_bytes > 0);
        ids.push(id);
    }
    assert!(ids[1].is_after(&ids[0]), "ids increase: {ids:?}");
}

#[tokio::test]
async fn a_stream_opened_without_position_starts_with_a_snapshot_of_the_latest_sample() {
    let server = TestServer::start(&[]).await;
    let response = reqwest::get(server.url("/api/realtime/sse?channels=metrics"))
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let snapshot = reader.next_named("snapshot").await;
    let envelope: Envelope<app::protocol::Snapshot> = serde_json::from_str(&snapshot.data).unwrap();
    assert_eq!(
        envelope.data.events.len(),
        1,
        "the first sample is taken before the server listens"
    );
    assert_eq!(envelope.data.events[0].channel, "metrics");
}

#[tokio::test]
async fn idle_streams_get_comment_heartbeats() {
    let server =
        TestServer::start(&["--heartbeat-interval", "200ms", "--sample-interval", "1h"]).await;
    let response = reqwest::get(server.url("/api/realtime/sse?channels=quiet"))
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let mut comments = 0;
    while comments < 2 {
        let event = reader.next().await.unwrap();
        if event.comment {
            comments += 1;
        }
    }
}

#[tokio::test]
async fn bad_stream_parameters_get_a_typed_error() {
    let server = TestServer::start(&[]).await;
    for (query, code) in [
        ("channels=bad%20name", "invalid_channel"),
        ("lastEventId=yesterday", "invalid_position"),
    ] {
        let response = reqwest::get(server.url(&format!("/api/realtime/sse?{query}")))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{query}");
    }
    // The server still serves.
    assert_eq!(
        reqwest::get(server.url("/healthz")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn the_page_is_rendered_with_the_current_sample() {
    let server = TestServer::start(&[]).await;
    let html = reqwest::get(server.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = html
        .split("data-testid=\"cpu-total-value\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .unwrap();
    assert!(
        value.trim_end_matches("</p").ends_with('%'),
        "CPU card has a value: {value}"
    );
    assert!(html.contains("id=\"livedash-bootstrap\""));
    assert!(html.contains("data-state=\"connecting\""));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start(&[]).await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_completes_within_two_seconds() {
    let mut server = TestServer::start(&[]).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let response = reqwest::get(server.url("/api/realtime/sse")).await.unwrap();
        let mut reader = SseReader::new(response);
        reader.next().await.unwrap();
        readers.push(reader);
    }
    let started = Instant::now();
    server.signal_shutdown();
    let result = tokio::time::timeout(Duration::from_secs(2), &mut server.task).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "server stopped cleanly: {result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    for reader in &mut readers {
        while reader.next().await.is_some() {}
    }
}
