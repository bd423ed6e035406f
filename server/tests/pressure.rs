//! Delivery under pressure, over real sockets: clients that talk while
//! events flow, the bounds on what publishers may make the server hold,
//! the connection cap, and readers that stop reading.

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::{metrics_text, poll, post_status, quiet_server, SseReader, WsClient};
use tokio_tungstenite::tungstenite::Message;

const STREAM_EVENTS: u64 = 2_000;

/// A WebSocket client sends a message every `every` (pings, visibility
/// changes, filters, snapshot requests) while presence values and stream
/// events are published together; it must receive every stream event once,
/// in order.
async fn talkative_client_receives_every_stream_event(every: Duration) {
    let server = quiet_server(&[]).await;
    let client = WsClient::connect(&server).await;
    let (mut sink, mut stream) = client.stream.split();
    let subscribe =
        json!({"type": "subscribe", "channels": ["presence", "room"], "request_id": "s"});
    sink.send(Message::text(subscribe.to_string()))
        .await
        .unwrap();

    let talking = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let message = match n % 5 {
                0 | 1 => json!({"type": "ping", "request_id": n}),
                2 => json!({"type": "set_visibility", "hidden": n % 10 == 2}),
                3 => json!({"type": "set_filter", "channel": "presence", "keys": null}),
                _ => json!({"type": "request_snapshot", "channel": "presence"}),
            };
            if sink.send(Message::text(message.to_string())).await.is_err() {
                return n;
            }
            n += 1;
            tokio::time::sleep(every).await;
        }
    });

    // Wait for the subscription before publishing.
    loop {
        let Some(Ok(Message::Text(text))) = stream.next().await else {
            panic!("the connection closed before subscribing");
        };
        let message: Value = serde_json::from_str(text.as_str()).unwrap();
        if message["type"] == "subscribed" {
            break;
        }
    }
    let publisher = {
        let url = server.url("/api/realtime/events");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for round in 0..STREAM_EVENTS / 10 {
                let mut batch = Vec::new();
                for i in 0..10 {
                    let user = format!("user-{}", i % 3);
                    batch.push(json!({"channel": "presence", "key": user, "data": round}));
                    batch.push(json!({"channel": "room", "data": round * 10 + i}));
                }
                let response = client.post(&url).json(&batch).send().await.unwrap();
                assert_eq!(response.status(), 200);
                if round % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };

    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (received.len() as u64) < STREAM_EVENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {STREAM_EVENTS} stream events within 60 s (talking every {every:?})",
                    received.len()
                )
            });
        let Some(Ok(Message::Text(text))) = message else {
            continue;
        };
        let message: Value = serde_json::from_str(text.as_str()).unwrap();
        if message["type"] == "event" && message["channel"] == "room" {
            received.push(message["data"].as_u64().unwrap());
        }
        assert_ne!(message["type"], "reset", "no reset is needed here");
    }
    publisher.await.unwrap();
    talking.abort();
    let expected: Vec<u64> = (0..STREAM_EVENTS).collect();
    assert_eq!(received, expected, "every stream event once, in order");
}

#[tokio::test]
async fn a_client_talking_every_millisecond_loses_no_stream_event() {
    talkative_client_receives_every_stream_event(Duration::from_millis(1)).await;
}

#[tokio::test]
async fn a_client_talking_every_few_milliseconds_loses_no_stream_event() {
    talkative_client_receives_every_stream_event(Duration::from_millis(7)).await;
}

#[tokio::test]
async fn a_client_talking_now_and_then_loses_no_stream_event() {
    talkative_client_receives_every_stream_event(Duration::from_millis(40)).await;
}

#[tokio::test]
async fn snapshot_requests_are_throttled_per_connection() {
    let server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"]}))
        .await;
    ws.recv_type("subscribed").await;
    for n in 0..20 {
        ws.send(json!({"type": "request_snapshot", "channel": "room", "request_id": n}))
            .await;
    }
    let (mut snapshots, mut limited) = (0, 0);
    while snapshots + limited < 20 {
        let message = ws.recv().await.expect("open");
        match message["type"].as_str() {
            Some("snapshot") => snapshots += 1,
            Some("error") => {
                assert_eq!(message["code"], "rate_limited");
                limited += 1;
            }
            _ => {}
        }
    }
    assert!((5..=6).contains(&snapshots), "{snapshots} snapshots");
    ws.send(json!({"type": "ping", "request_id": "still"}))
        .await;
    assert_eq!(ws.recv_type("pong").await["request_id"], "still");
}

#[tokio::test]
async fn a_publish_past_the_channel_cap_is_refused_whole_and_others_go_on() {
    let server = quiet_server(&["--max-channels", "10"]).await;
    // The host sampler's `metrics` channel counts too.
    let batch: Vec<Value> = (0..8)
        .map(|i| json!({"channel": format!("c{i}"), "data": i}))
        .collect();
    assert_eq!(post_status(&server, Value::Array(batch)).await.0, 200);
    let over: Vec<Value> = ["c0", "new-1", "new-2", "new-3"]
        .iter()
        .map(|c| json!({"channel": c, "data": "x"}))
        .collect();
    let (status, body) = post_status(&server, Value::Array(over)).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "channel_limit");
    let (_, c0) = poll(&server, "channels=c0&timeout=0").await;
    assert_eq!(
        c0["events"][0]["data"]["events"].as_array().unwrap().len(),
        1,
        "c0 unchanged"
    );
    assert_eq!(
        post_status(&server, json!({"channel": "c0", "data": 2}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn an_event_larger_than_a_channel_keeps_is_refused() {
    let server = quiet_server(&["--history-bytes", "64KiB"]).await;
    let big = "x".repeat(100_000);
    let (status, body) = post_status(&server, json!({"channel": "room", "data": big})).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "event_too_large");
    assert_eq!(
        post_status(&server, json!({"channel": "room", "data": 1}))
            .await
            .0,
        200
    );
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

#[tokio::test]
async fn idle_channels_expire_after_the_history_age() {
    let server = quiet_server(&["--history-age", "200ms"]).await;
    let batch: Vec<Value> = (0..50)
        .map(|i| json!({"channel": format!("once-{i}"), "data": i}))
        .collect();
    post_status(&server, Value::Array(batch)).await;
    let mut follower = SseReader::new(
        reqwest::get(server.url("/api/realtime/sse?channels=once-0"))
            .await
            .unwrap(),
    );
    follower.next_named("snapshot").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = metrics_text(&server).await;
        if gauge(&metrics, "livedash_channels_expired_total") >= 49.0 {
            // The followed channel stays, with its state.
            assert!(gauge(&metrics, "livedash_channels") >= 1.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "idle channels did not expire:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn streams_past_the_connection_cap_get_503_and_a_freed_slot_is_reused() {
    let server = quiet_server(&["--max-connections", "2"]).await;
    let first = reqwest::get(server.url("/api/realtime/sse?channels=a"))
        .await
        .unwrap();
    let _second = WsClient::connect(&server).await;
    let refused = reqwest::get(server.url("/api/realtime/sse?channels=a"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "over_capacity");
    let url = format!("ws://{}/api/realtime/ws", server.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // Pages, the API and metrics are not streams: they still answer.
    let metrics = metrics_text(&server).await;
    assert!(gauge(&metrics, "livedash_over_capacity_total") >= 2.0);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = reqwest::get(server.url("/api/realtime/sse?channels=a"))
            .await
            .unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
