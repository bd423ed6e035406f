//! Same-origin protection over real sockets: publishes must be declared
//! JSON, which a page of another site cannot send without a preflight.

mod support;

use serde_json::{json, Value};
use support::{metrics_text, payloads, poll, quiet_server, TestServer};

/// The events `channel` holds, from the snapshot a fresh poll starts with.
async fn stored(server: &TestServer, channel: &str) -> Vec<Value> {
    let (status, body) = poll(server, &format!("channels={channel}&timeout=0")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["event"], "snapshot");
    payloads(&body["events"][0]["data"]["events"])
}

/// `livedash_rejected_total` as the server reports it.
async fn rejected(server: &TestServer) -> u64 {
    metrics_text(server)
        .await
        .lines()
        .find_map(|line| line.strip_prefix("livedash_rejected_total "))
        .and_then(|value| value.parse().ok())
        .expect("the counter is exported")
}

/// Posts `body` with the given headers; the status and the JSON answer.
async fn post(server: &TestServer, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/realtime/events"))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

const EVENT: &str = r#"{"channel": "room", "data": 1}"#;

#[tokio::test]
async fn a_text_plain_publish_is_refused_with_415_and_publishes_nothing() {
    let server = quiet_server(&[]).await;
    let before = rejected(&server).await;
    for content_type in [Some("text/plain"), Some("text/plain; charset=utf-8"), None] {
        let headers: Vec<_> = content_type
            .map(|t| ("content-type", t))
            .into_iter()
            .collect();
        let (status, body) = post(&server, &headers, EVENT).await;
        assert_eq!(status, 415, "{content_type:?}");
        assert_eq!(body["error"]["code"], "unsupported_media_type");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }
    assert_eq!(stored(&server, "room").await, Vec::<Value>::new());
    assert_eq!(
        rejected(&server).await,
        before + 3,
        "each refusal is counted"
    );
}

#[tokio::test]
async fn a_form_encoded_or_multipart_publish_is_refused_with_415() {
    let server = quiet_server(&[]).await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "channel=room&data=1"),
        (
            "multipart/form-data; boundary=x",
            "--x\r\n\r\n{}\r\n--x--\r\n",
        ),
    ] {
        let (status, reply) = post(&server, &[("content-type", content_type)], body).await;
        assert_eq!(status, 415, "{content_type}");
        assert_eq!(reply["error"]["code"], "unsupported_media_type");
    }
    assert_eq!(stored(&server, "room").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_json_publish_with_a_charset_is_accepted() {
    let server = quiet_server(&[]).await;
    let (status, _) = post(
        &server,
        &[("content-type", "application/json; charset=utf-8")],
        EVENT,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stored(&server, "room").await, [json!(1)]);
}
