//! What a page asks of a stream or a poll beyond its channels: channels it
//! did not follow before start from a snapshot while the others resume, and
//! a filter keeps only the keys its widgets show.

mod support;

use serde_json::{json, Value};
use support::{
    envelope, metrics_text, payloads, poll, post_events, publish, quiet_server, SseReader,
};

#[tokio::test]
async fn a_fresh_channel_starts_with_its_snapshot_while_the_others_resume() {
    let server = quiet_server(&[]).await;
    publish(&server, "feed", json!("f0")).await;
    publish(&server, "board", json!("b0")).await;
    let position = publish(&server, "feed", json!("f1")).await;
    // Published while the page followed only `feed`.
    publish(&server, "feed", json!("f2")).await;
    let head = publish(&server, "board", json!("b1")).await;

    let (response, ()) = SseReader::open(
        &server.url("/api/realtime/sse?channels=feed,board&fresh=board"),
        Some(&position),
    )
    .await;
    let mut reader = SseReader::new(response);
    let missed = reader.next_named("message").await;
    assert_eq!(envelope(&missed.data)["data"], "f2", "feed resumes");
    let snapshot = reader.next_named("snapshot").await;
    let body = envelope(&snapshot.data);
    assert_eq!(body["channel"], "board");
    assert_eq!(
        payloads(&body["data"]["events"]),
        [json!("b0"), json!("b1")],
        "board starts with its whole state, including what came before the position"
    );
    assert_eq!(snapshot.id.as_deref(), Some(head.as_str()));
    publish(&server, "board", json!("b2")).await;
    let live = reader.next_named("message").await;
    assert_eq!(envelope(&live.data)["data"], "b2");

    // Polling: the same answer in one batch.
    let (status, body) = poll(
        &server,
        &format!("channels=feed,board&fresh=board&since={position}&timeout=0"),
    )
    .await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events[0]["data"], "f2");
    assert_eq!(events[1]["event"], "snapshot");
    assert_eq!(events[1]["data"]["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_filter_keeps_only_the_wanted_keys_in_snapshots_catch_up_and_live_events() {
    let server = quiet_server(&[]).await;
    let keyed = |key: &str, value: i64| json!({"channel": "hosts", "key": key, "data": value});
    post_events(&server, json!([keyed("web-1", 1), keyed("web-2", 2)])).await;
    let filter = "filter=%7B%22hosts%22%3A%5B%22web-1%22%5D%7D"; // {"hosts":["web-1"]}

    let (status, body) = poll(&server, &format!("channels=hosts&{filter}&timeout=0")).await;
    assert_eq!(status, 200);
    assert_eq!(body["events"][0]["event"], "snapshot");
    assert_eq!(payloads(&body["events"][0]["data"]["events"]), [json!(1)]);
    let since = body["next"].as_str().unwrap().to_string();

    post_events(&server, json!([keyed("web-2", 3), keyed("web-1", 4)])).await;
    let (_, body) = poll(
        &server,
        &format!("channels=hosts&{filter}&since={since}&timeout=0"),
    )
    .await;
    assert_eq!(
        payloads(&body["events"]),
        [json!(4)],
        "catch-up is filtered"
    );

    let (response, ()) = SseReader::open(
        &server.url(&format!("/api/realtime/sse?channels=hosts&{filter}")),
        Some(&since),
    )
    .await;
    let mut reader = SseReader::new(response);
    assert_eq!(
        envelope(&reader.next_named("message").await.data)["data"],
        4
    );
    post_events(&server, json!([keyed("web-2", 5), keyed("web-1", 6)])).await;
    assert_eq!(
        envelope(&reader.next_named("message").await.data)["data"],
        6,
        "live events are filtered"
    );
}

#[tokio::test]
async fn bad_fresh_or_filter_parameters_get_a_typed_error() {
    let server = quiet_server(&[]).await;
    for (query, code) in [
        ("channels=a&fresh=b", "invalid_channel"),
        ("channels=a&filter=%7B", "invalid_filter"),
        ("channels=a&filter=%7B%22b%22%3A%5B%5D%7D", "invalid_filter"),
    ] {
        for path in ["/api/realtime/poll", "/api/realtime/sse"] {
            let response = reqwest::get(server.url(&format!("{path}?{query}&timeout=0")))
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{path}?{query}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{path}?{query}");
        }
    }
    // Each refusal is counted, and the server keeps serving.
    assert!(
        metrics_text(&server)
            .await
            .contains("livedash_rejected_total 6\n"),
        "three bad queries on two transports"
    );
    let (status, _) = poll(&server, "channels=a&timeout=0").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_websocket_subscribe_with_a_filter_applies_it_to_the_snapshot_and_live_events() {
    let server = quiet_server(&[]).await;
    let keyed = |key: &str, value: i64| json!({"channel": "hosts", "key": key, "data": value});
    post_events(&server, json!([keyed("web-1", 1), keyed("web-2", 2)])).await;
    let mut ws = support::WsClient::connect(&server).await;
    ws.send(json!({"type": "subscribe", "channels": ["hosts"], "filter": {"hosts": ["web-2"]}}))
        .await;
    ws.recv_type("subscribed").await;
    let snapshot = ws.recv_type("snapshot").await;
    assert_eq!(payloads(&snapshot["data"]["events"]), [json!(2)]);
    post_events(&server, json!([keyed("web-1", 3), keyed("web-2", 4)])).await;
    assert_eq!(ws.recv_type("event").await["data"], 4);

    ws.send(json!({"type": "subscribe", "channels": ["more"], "filter": {"hosts": ["x"]}, "request_id": 5}))
        .await;
    let error = ws.recv_type("error").await;
    assert_eq!(
        (error["code"].as_str(), error["request_id"].as_i64()),
        (Some("invalid_filter"), Some(5)),
        "a filter must name the channels it subscribes"
    );
}
