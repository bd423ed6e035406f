//! Annotations against a real server: published by a script or a page,
//! checked, stored before anyone sees them, streamed with their id to
//! every viewer, listed for a window, kept through `kill -9`, removed.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{process::Process, tempdir::TempDir, SseReader, TestServer, WsClient};

async fn create(base: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/annotations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn list(base: &str, query: &str) -> Vec<Value> {
    let reply: Value = reqwest::get(format!("{base}/api/annotations?{query}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["annotations"].as_array().unwrap().clone()
}

fn texts(notes: &[Value]) -> Vec<&str> {
    notes.iter().map(|n| n["text"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_annotation_reaches_every_viewer_stored_with_its_id_whichever_way_it_was_sent() {
    let server = TestServer::start(&["--sample-interval", "1h"]).await;
    let base = server.url("");
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:main"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    // A deploy script, through the annotations API: a span for one widget.
    let (status, made) = create(
        &base,
        json!({"text": "deploy v1.4", "time": 1_000, "end": 61_000, "widget": "cpu"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["dashboard"], "main");
    let seen = viewer.next_named("annotation").await;
    let data = support::envelope(&seen.data)["data"].clone();
    assert_eq!(data, made, "viewers get what was stored");

    // Through the realtime API, as a plain text: a note at now.
    support::post_events(
        &server,
        json!({"channel": "dashboard:main", "event": "annotation", "data": "rollback"}),
    )
    .await;
    let seen = support::envelope(&viewer.next_named("annotation").await.data)["data"].clone();
    assert_eq!(seen["text"], "rollback");
    assert!(seen["id"].as_u64().unwrap() > made["id"].as_u64().unwrap());

    // From a page over the WebSocket.
    let mut page = WsClient::connect(&server).await;
    page.send(
        json!({"type": "publish", "channel": "dashboard:main", "event": "annotation",
                     "data": {"text": "from the page", "time": "now-1m"}, "request_id": "a"}),
    )
    .await;
    page.recv_type("published").await;
    let seen = support::envelope(&viewer.next_named("annotation").await.data)["data"].clone();
    assert_eq!(seen["text"], "from the page");

    // Listed for a window, for a widget, and for another dashboard.
    assert_eq!(
        texts(&list(&base, "").await),
        ["deploy v1.4", "from the page", "rollback"]
    );
    assert_eq!(
        texts(&list(&base, "from=30000&to=40000").await),
        ["deploy v1.4"]
    );
    assert_eq!(
        texts(&list(&base, "widget=memory&to=100000").await),
        Vec::<&str>::new()
    );
    assert_eq!(
        texts(&list(&base, "widget=cpu&to=100000").await),
        ["deploy v1.4"]
    );
    assert!(list(&base, "dashboard=shop").await.is_empty());
}

#[tokio::test]
async fn a_bad_annotation_is_refused_with_a_reason_and_changes_nothing() {
    let server = TestServer::start(&["--sample-interval", "1h"]).await;
    let base = server.url("");
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:main"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    for body in [
        json!({"text": ""}),
        json!({"text": "x".repeat(501)}),
        json!({"text": "a", "time": "tomorrowish"}),
        json!({"text": "a", "time": 5_000, "end": 1_000}),
        json!({"text": "a", "time": f64::MAX}),
        json!({"text": "a", "owner": "me"}),
        json!({"text": "a", "widget": "<script>"}),
        json!(["a"]),
    ] {
        let (status, reply) = create(&base, body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(
            reply["error"]["code"] == "invalid_annotation"
                || reply["error"]["code"] == "invalid_dashboard",
            "{body}: {reply}"
        );
    }
    let (status, reply) = create(&base, json!({"dashboard": "a b", "text": "a"})).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("invalid_dashboard"))
    );
    // A batch with one bad annotation publishes nothing.
    let (status, _) = support::post_status(
        &server,
        json!([
            {"channel": "dashboard:main", "event": "annotation", "data": "fine"},
            {"channel": "dashboard:main", "event": "annotation", "data": ""}
        ]),
    )
    .await;
    assert_eq!(status, 400);
    // Nobody may fake a removal.
    let (status, reply) = support::post_status(
        &server,
        json!({"channel": "dashboard:main", "event": "annotation_removed", "data": {"id": 1}}),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("invalid_event"))
    );

    assert!(list(&base, "").await.is_empty());
    // The viewer got nothing, and still gets what comes next.
    support::publish(&server, "dashboard:main", json!("after")).await;
    let next = loop {
        let event = viewer.next().await.expect("the stream stays open");
        if event.id.is_some() {
            break event;
        }
    };
    assert_eq!(support::envelope(&next.data)["data"], "after", "{next:?}");

    let (status, reply) = create(&base, json!({"text": "ok"})).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["id"], 1, "refused ones took no id");
}

#[tokio::test]
async fn removing_an_annotation_tells_every_viewer_and_an_unknown_one_is_404() {
    let server = TestServer::start(&["--sample-interval", "1h"]).await;
    let base = server.url("");
    let (_, made) = create(&base, json!({"text": "oops"})).await;
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:main"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;
    let client = reqwest::Client::new();
    let id = made["id"].as_u64().unwrap();
    let response = client
        .delete(format!("{base}/api/annotations/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let seen = viewer.next_named("annotation_removed").await;
    assert_eq!(support::envelope(&seen.data)["data"], json!({"id": id}));
    assert!(list(&base, "").await.is_empty());
    for path in [format!("{id}"), "nope".to_string(), "99".to_string()] {
        let response = client
            .delete(format!("{base}/api/annotations/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_annotation");
    }
}

#[tokio::test]
async fn annotations_survive_kill_9_even_while_they_are_being_written() {
    let data = TempDir::new();
    let server = Process::start(&data.0, &[]).await;
    for n in 0..20 {
        let (status, _) = create(
            &server.base,
            json!({"text": format!("note {n}"), "time": n}),
        )
        .await;
        assert_eq!(status, 201);
    }
    // Writers still sending when the process dies: whatever was answered
    // 201 must come back; nothing half-written may.
    let base = server.base.clone();
    let writer = tokio::spawn(async move {
        let mut answered = Vec::new();
        for n in 20..2_000 {
            match reqwest::Client::new()
                .post(format!("{base}/api/annotations"))
                .json(&json!({"text": format!("note {n}"), "time": n}))
                .send()
                .await
            {
                Ok(r) if r.status().as_u16() == 201 => answered.push(n),
                _ => break,
            }
        }
        answered
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    let answered = writer.await.unwrap();

    let server = Process::start(&data.0, &[]).await;
    let notes = list(&server.base, "").await;
    let times: Vec<i64> = notes.iter().map(|n| n["time"].as_i64().unwrap()).collect();
    for n in (0..20).chain(answered.iter().copied()) {
        assert!(times.contains(&n), "note {n} was acknowledged but lost");
    }
    for note in &notes {
        let time = note["time"].as_i64().unwrap();
        assert_eq!(
            note["text"],
            format!("note {time}"),
            "a damaged note: {note}"
        );
    }
    // Ids go on from where they were.
    let top = notes
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .max()
        .unwrap();
    let (_, next) = create(&server.base, json!({"text": "after"})).await;
    assert!(next["id"].as_u64().unwrap() > top);
}
