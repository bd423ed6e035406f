//! The delivery core over real sockets: each transport resumes without gap
//! or duplicate, too-old positions reset, transports can be switched
//! mid-stream, slow readers cost nothing, and bad input changes nothing.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{
    envelope, metrics_text, payloads, poll, publish, publish_batch, quiet_server, SseReader,
    WsClient,
};

async fn sse_events(reader: &mut SseReader, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let event = reader.next().await.expect("the stream stays open");
        if event.event.as_deref() == Some("message") {
            let body = envelope(&event.data);
            assert_eq!(
                event.id.as_deref(),
                body["id"].as_str(),
                "SSE id is the envelope id"
            );
            out.push(body);
        }
    }
    out
}

fn values(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["data"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn sse_resume_after_a_gap_delivers_each_missed_event_once_in_order() {
    let server = quiet_server(&[]).await;
    let mut reader = SseReader::new(
        reqwest::get(server.url("/api/realtime/sse?channels=room"))
            .await
            .unwrap(),
    );
    reader.next_named("snapshot").await;
    for i in 0..3 {
        publish(&server, "room", json!(i)).await;
    }
    let live = sse_events(&mut reader, 3).await;
    assert_eq!(values(&live), [0, 1, 2]);
    drop(reader);

    for i in 3..8 {
        publish(&server, "room", json!(i)).await;
        publish(&server, "other", json!(-1)).await;
    }
    let last = live[2]["id"].as_str().unwrap();
    let (response, ()) =
        SseReader::open(&server.url("/api/realtime/sse?channels=room"), Some(last)).await;
    let mut reader = SseReader::new(response);
    publish(&server, "room", json!(8)).await;
    let resumed = sse_events(&mut reader, 6).await;
    assert_eq!(values(&resumed), [3, 4, 5, 6, 7, 8]);

    // The query parameter works like the header.
    let url = server.url(&format!(
        "/api/realtime/sse?channels=room&lastEventId={}",
        resumed[4]["id"].as_str().unwrap()
    ));
    let mut reader = SseReader::new(reqwest::get(url).await.unwrap());
    assert_eq!(values(&sse_events(&mut reader, 1).await), [8]);
}

#[tokio::test]
async fn a_too_old_or_unknown_position_yields_a_reset_with_the_current_state() {
    let server = quiet_server(&["--history-events", "5"]).await;
    let ids = publish_batch(&server, "room", (0..20).map(|i| json!(i))).await;
    for since in [ids[0].as_str(), "1-1"] {
        let (response, ()) =
            SseReader::open(&server.url("/api/realtime/sse?channels=room"), Some(since)).await;
        let mut reader = SseReader::new(response);
        let reset = reader.next_named("reset").await;
        let body = envelope(&reset.data);
        assert_eq!(body["event"], "reset");
        assert!(body["data"]["reason"].as_str().unwrap().len() > 5);
        let held = body["data"]["events"].as_array().unwrap();
        assert!(held.len() <= 5, "at most the retained history");
        assert_eq!(
            held.last().unwrap()["data"],
            19,
            "the snapshot ends with the newest state"
        );
        assert_eq!(
            reset.id.as_deref(),
            Some(ids[19].as_str()),
            "resume from the head after a reset"
        );
    }
    let (status, body) = poll(
        &server,
        &format!("channels=room&since={}&timeout=0", ids[0]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["events"][0]["event"], "reset");
    assert_eq!(body["next"], ids[19].as_str());
}

#[tokio::test]
async fn poll_returns_missed_events_at_once_and_waits_for_new_ones() {
    let server = quiet_server(&[]).await;
    let ids = publish_batch(&server, "room", (0..4).map(|i| json!(i))).await;
    let (status, body) = poll(
        &server,
        &format!("channels=room&since={}&timeout=0", ids[0]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(values(body["events"].as_array().unwrap()), [1, 2, 3]);
    assert_eq!(body["next"], ids[3].as_str());

    // Nothing new: a plain poll answers at once with the same position.
    let (_, body) = poll(
        &server,
        &format!("channels=room&since={}&timeout=0", ids[3]),
    )
    .await;
    assert_eq!(body["events"], json!([]));
    assert_eq!(body["next"], ids[3].as_str());

    // A long poll waits for the next event.
    let url = server.url(&format!(
        "/api/realtime/poll?channels=room&since={}&timeout=20",
        ids[3]
    ));
    let waiting = tokio::spawn(async move {
        reqwest::get(url)
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the poll waits");
    let started = Instant::now();
    let id = publish(&server, "room", json!(4)).await;
    let body = waiting.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(values(body["events"].as_array().unwrap()), [4]);
    assert_eq!(body["next"], id.as_str());

    // A short long poll with nothing to say returns an empty batch.
    let started = Instant::now();
    let (_, body) = poll(&server, &format!("channels=room&since={id}&timeout=0.3")).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(body["events"], json!([]));
}

#[tokio::test]
async fn websocket_resume_after_reconnect_delivers_each_missed_event_once() {
    let server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"], "request_id": 1}))
        .await;
    let reply = ws.recv_type("subscribed").await;
    assert_eq!(reply["request_id"], 1);
    assert_eq!(reply["channels"], json!(["room"]));
    ws.recv_type("snapshot").await;
    for i in 0..3 {
        publish(&server, "room", json!(i)).await;
    }
    let mut last = String::new();
    for i in 0..3 {
        let event = ws.recv_type("event").await;
        assert_eq!(event["data"], i);
        assert_eq!(event["channel"], "room");
        last = event["id"].as_str().unwrap().to_string();
    }
    drop(ws);

    publish_batch(&server, "room", (3..6).map(|i| json!(i))).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"], "since": last}))
        .await;
    ws.recv_type("subscribed").await;
    for i in 3..6 {
        assert_eq!(ws.recv_type("event").await["data"], i);
    }
    publish(&server, "room", json!(6)).await;
    assert_eq!(ws.recv_type("event").await["data"], 6);
}

#[tokio::test]
async fn switching_transports_mid_stream_loses_and_duplicates_nothing() {
    let server = quiet_server(&[]).await;
    let mut seen = Vec::new();

    publish_batch(&server, "room", (0..3).map(|i| json!(i))).await;
    let url = server.url("/api/realtime/sse?channels=room&lastEventId=");
    let head: Value = reqwest::get(server.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let start = head["position"].as_str().unwrap().to_string();
    let start_seq: u64 = start.split('-').nth(1).unwrap().parse().unwrap();
    let first = format!("{}-{}", start.split('-').next().unwrap(), start_seq - 3);
    let mut reader = SseReader::new(reqwest::get(format!("{url}{first}")).await.unwrap());
    let events = sse_events(&mut reader, 3).await;
    seen.extend(values(&events));
    let position = events[2]["id"].as_str().unwrap().to_string();
    drop(reader);

    publish_batch(&server, "room", (3..6).map(|i| json!(i))).await;
    let (_, body) = poll(
        &server,
        &format!("channels=room&since={position}&timeout=0"),
    )
    .await;
    seen.extend(values(body["events"].as_array().unwrap()));
    let position = body["next"].as_str().unwrap().to_string();

    publish_batch(&server, "room", (6..9).map(|i| json!(i))).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"], "since": position}))
        .await;
    ws.recv_type("subscribed").await;
    for _ in 6..9 {
        seen.push(ws.recv_type("event").await["data"].as_i64().unwrap());
    }
    assert_eq!(seen, (0..9).collect::<Vec<i64>>());
}

#[tokio::test]
async fn bursts_on_latest_value_channels_are_coalesced_to_the_newest_value() {
    let server = quiet_server(&["--max-updates-per-second", "5"]).await;
    let mut reader = SseReader::new(
        reqwest::get(server.url("/api/realtime/sse?channels=presence"))
            .await
            .unwrap(),
    );
    reader.next_named("snapshot").await;
    let started = Instant::now();
    let mut received = Vec::new();
    for round in 0..5 {
        let body: Vec<Value> = (0..100)
            .map(|i| json!({"channel": "presence", "key": "ana", "data": round * 100 + i}))
            .collect();
        reqwest::Client::new()
            .post(server.url("/api/realtime/events"))
            .json(&body)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while received.last() != Some(&499) {
        let event = reader.next().await.unwrap();
        if event.event.as_deref() == Some("message") {
            received.push(envelope(&event.data)["data"].as_i64().unwrap());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        received.len() <= (seconds * 5.0).ceil() as usize + 1,
        "{} updates in {seconds:.2}s",
        received.len()
    );
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in order: {received:?}"
    );
    let metrics = metrics_text(&server).await;
    assert!(!metrics.contains("livedash_events_coalesced_total 0\n"));
}

#[tokio::test]
async fn malformed_websocket_messages_get_typed_errors_and_the_connection_stays_open() {
    let server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    let cases = [
        ("{not json".to_string(), "invalid_json"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (json!({"channels": ["a"]}).to_string(), "invalid_message"),
        (json!({"type": "subscribe"}).to_string(), "invalid_message"),
        (
            json!({"type": "subscribe", "channels": ["bad name"]}).to_string(),
            "invalid_channel",
        ),
        (
            json!({"type": "subscribe", "channels": ["a"], "since": "soon"}).to_string(),
            "invalid_position",
        ),
        (
            json!({"type": "publish", "channel": "metrics", "data": 1}).to_string(),
            "read_only_channel",
        ),
        (
            json!({"type": "request_snapshot", "channel": "nowhere"}).to_string(),
            "not_subscribed",
        ),
        (
            json!({"type": "ping", "pad": "x".repeat(70 * 1024)}).to_string(),
            "message_too_large",
        ),
    ];
    for (text, code) in cases {
        ws.send_text(text.clone()).await;
        let error = ws.recv_type("error").await;
        assert_eq!(error["code"], code, "{}", &text[..text.len().min(80)]);
        assert!(error["message"].as_str().unwrap().len() > 3);
    }
    let too_many: Vec<String> = (0..65).map(|i| format!("c{i}")).collect();
    ws.send(json!({"type": "subscribe", "channels": too_many, "request_id": "x"}))
        .await;
    let error = ws.recv_type("error").await;
    assert_eq!(
        (error["code"].as_str(), error["request_id"].as_str()),
        (Some("too_many_channels"), Some("x"))
    );

    ws.send(json!({"type": "ping", "request_id": 7})).await;
    assert_eq!(ws.recv_type("pong").await["request_id"], 7, "still serving");

    // A frame beyond the socket's limit closes that connection only.
    let mut other = WsClient::connect(&server).await;
    other.send_text("x".repeat(2 * 1024 * 1024)).await;
    assert_eq!(other.close_code().await, Some(1009));
    ws.send(json!({"type": "ping", "request_id": 8})).await;
    assert_eq!(ws.recv_type("pong").await["request_id"], 8);
}

#[tokio::test]
async fn websocket_publish_filter_and_snapshot_requests_work() {
    let server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["presence", "room"]}))
        .await;
    ws.recv_type("subscribed").await;
    ws.recv_type("snapshot").await;

    ws.send(json!({"type": "set_filter", "channel": "presence", "keys": ["ana"], "request_id": 1}))
        .await;
    assert_eq!(ws.recv_type("filter_set").await["channel"], "presence");
    ws.send(json!({"type": "publish", "channel": "presence", "key": "bob", "data": "bob-online", "request_id": 2})).await;
    let published = ws.recv_type("published").await;
    assert_eq!(published["request_id"], 2);
    assert!(published["id"].as_str().unwrap().contains('-'));
    ws.send(json!({"type": "publish", "channel": "presence", "key": "ana", "data": "ana-online"}))
        .await;
    let event = ws.recv_type("event").await;
    assert_eq!(event["data"], "ana-online", "bob is filtered out");

    ws.send(json!({"type": "request_snapshot", "channel": "presence", "request_id": "snap"}))
        .await;
    let snapshot = ws.recv_type("snapshot").await;
    assert_eq!(snapshot["request_id"], "snap");
    assert_eq!(
        payloads(&snapshot["data"]["events"]),
        [json!("ana-online")],
        "the latest value of each wanted key"
    );

    ws.send(json!({"type": "set_filter", "channel": "presence", "keys": null}))
        .await;
    ws.recv_type("filter_set").await;
    ws.send(json!({"type": "request_snapshot", "channel": "presence"}))
        .await;
    let snapshot = ws.recv_type("snapshot").await;
    assert_eq!(
        payloads(&snapshot["data"]["events"]),
        [json!("bob-online"), json!("ana-online")],
        "without a filter, the latest value of every key"
    );

    ws.send(json!({"type": "unsubscribe", "channels": ["room"]}))
        .await;
    assert_eq!(
        ws.recv_type("unsubscribed").await["channels"],
        json!(["room"])
    );
}

#[tokio::test]
async fn invalid_requests_get_typed_errors_and_change_nothing() {
    let server = quiet_server(&[]).await;
    let before: Value = reqwest::get(server.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(server.url("/api/realtime/events"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, status, code) in [
        (b"{".to_vec(), 400, "invalid_json"),
        (br#"{"channel": "room"}"#.to_vec(), 400, "invalid_body"),
        (
            br#"{"channel": "metrics", "data": 1}"#.to_vec(),
            403,
            "read_only_channel",
        ),
        (
            br#"[{"channel": "room", "data": 1}, {"channel": "bad name", "data": 2}]"#.to_vec(),
            400,
            "invalid_channel",
        ),
        (
            br#"{"channel": "room", "data": NaN}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (vec![b' '; 2 * 1024 * 1024], 413, "payload_too_large"),
    ] {
        let response = post(body).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code);
    }
    for (query, code) in [
        ("channels=bad%20name", "invalid_channel"),
        ("since=later", "invalid_position"),
        ("timeout=-1", "invalid_timeout"),
    ] {
        let (status, body) = poll(&server, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["code"], code);
    }
    let after: Value = reqwest::get(server.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        before["position"], after["position"],
        "nothing was published"
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_1001_and_finishes_polls() {
    let mut server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"]}))
        .await;
    ws.recv_type("subscribed").await;
    let url = server.url("/api/realtime/poll?channels=room&timeout=30");
    let waiting = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.signal_shutdown();
    assert_eq!(ws.close_code().await, Some(1001));
    assert_eq!(waiting.await.unwrap().unwrap(), 200);
    let _ = tokio::time::timeout(Duration::from_secs(3), &mut server.task)
        .await
        .expect("the server stops");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn metrics_endpoint_counts_connections_and_events() {
    let server = quiet_server(&[]).await;
    let mut ws = WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["room"]}))
        .await;
    ws.recv_type("subscribed").await;
    publish(&server, "room", json!(1)).await;
    ws.recv_type("event").await;
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("livedash_connections{transport=\"ws\"} 1"),
        "{text}"
    );
    // The subscription's opening snapshot, then the event.
    assert!(
        text.contains("livedash_events_delivered_total{transport=\"ws\"} 2"),
        "{text}"
    );
    assert!(text.contains("# TYPE livedash_events_published_total counter"));
}
