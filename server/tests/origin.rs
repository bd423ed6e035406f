//! Same-origin protection over real sockets: publishes must be declared
//! JSON, pages of other origins can neither publish nor open WebSockets,
//! and a loopback server answers only loopback names and its public hosts
//! (DNS rebinding). Non-browser clients, which send no `Origin`, are not
//! affected.

mod support;

use serde_json::{json, Value};
use support::{metrics_text, payloads, poll, quiet_server, raw_request, TestServer, WsClient};
use tokio_tungstenite::tungstenite;

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

const JSON: (&str, &str) = ("content-type", "application/json");
const EVENT: &str = r#"{"channel": "room", "data": 1}"#;

/// The status and body of a refused WebSocket handshake.
fn refused_handshake(result: Result<WsClient, tungstenite::Error>) -> (u16, Value) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(body).unwrap_or(Value::Null),
            )
        }
        Err(other) => panic!("the handshake failed otherwise: {other}"),
        Ok(_) => panic!("the handshake succeeded"),
    }
}

/// Subscribes and publishes over `client`: the connection is usable.
async fn round_trip(client: &mut WsClient) {
    client
        .send(json!({"type": "subscribe", "channels": ["room"]}))
        .await;
    client.recv_type("subscribed").await;
    client
        .send(json!({"type": "publish", "channel": "room", "data": "hi"}))
        .await;
    client.recv_type("published").await;
}

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

#[tokio::test]
async fn a_publish_from_a_foreign_origin_is_refused_with_403_and_publishes_nothing() {
    let server = quiet_server(&[]).await;
    let before = rejected(&server).await;
    let own_port_elsewhere = format!("http://localhost:{}", server.addr.port());
    for origin in ["https://evil.example", "null", own_port_elsewhere.as_str()] {
        let (status, body) = post(&server, &[JSON, ("origin", origin)], EVENT).await;
        assert_eq!(status, 403, "{origin}");
        assert_eq!(body["error"]["code"], "origin_not_allowed");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(origin),
            "the error names the origin: {body}"
        );
    }
    assert_eq!(stored(&server, "room").await, Vec::<Value>::new());
    assert_eq!(
        rejected(&server).await,
        before + 3,
        "each refusal is counted"
    );
}

#[tokio::test]
async fn a_publish_from_the_origin_it_is_served_under_is_accepted() {
    let server = quiet_server(&[]).await;
    let port = server.addr.port();
    let own = format!("http://{}", server.addr);
    let (status, body) = post(&server, &[JSON, ("origin", &own)], EVENT).await;
    assert_eq!(status, 200, "{body}");
    let host = format!("localhost:{port}");
    let origin = format!("http://localhost:{port}");
    let (status, body) = post(
        &server,
        &[JSON, ("host", &host), ("origin", &origin)],
        EVENT,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(&server, &[JSON], EVENT).await;
    assert_eq!(status, 200, "no Origin: not a browser page");
    assert_eq!(
        stored(&server, "room").await,
        [json!(1), json!(1), json!(1)]
    );
}

#[tokio::test]
async fn allow_listed_origins_may_publish_and_others_may_not() {
    let server = quiet_server(&[
        "--allowed-origins",
        "https://dash.example.com,http://tools.example:8080",
    ])
    .await;
    for origin in ["https://dash.example.com", "HTTP://TOOLS.example:8080"] {
        let (status, body) = post(&server, &[JSON, ("origin", origin)], EVENT).await;
        assert_eq!(status, 200, "{origin}: {body}");
    }
    for origin in [
        "http://dash.example.com",
        "http://tools.example",
        "https://evil.example",
    ] {
        let (status, _) = post(&server, &[JSON, ("origin", origin)], EVENT).await;
        assert_eq!(status, 403, "{origin}");
    }

    let open = quiet_server(&["--allowed-origins", "*"]).await;
    let (status, _) = post(&open, &[JSON, ("origin", "https://evil.example")], EVENT).await;
    assert_eq!(status, 200, "* allows any origin");
}

#[tokio::test]
async fn a_websocket_upgrade_from_a_foreign_origin_fails_with_403() {
    let server = quiet_server(&[]).await;
    let before = rejected(&server).await;
    let (status, body) = refused_handshake(
        WsClient::connect_with(&server, &[("origin", "https://evil.example")]).await,
    );
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert_eq!(rejected(&server).await, before + 1);

    // A client that is not a browser page sends no Origin and gets through.
    round_trip(&mut WsClient::connect(&server).await).await;
}

#[tokio::test]
async fn a_websocket_from_its_own_or_an_allowed_origin_works() {
    let server = quiet_server(&["--allowed-origins", "https://dash.example.com"]).await;
    let own = format!("http://{}", server.addr);
    for origin in [own.as_str(), "https://dash.example.com"] {
        let mut client = WsClient::connect_with(&server, &[("origin", origin)])
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        round_trip(&mut client).await;
    }
}

#[tokio::test]
async fn same_origin_follows_the_host_the_browser_used_as_through_a_proxy() {
    // A page loaded through a proxy or port forward on another port has that
    // port in its Origin, and the same address in Host.
    let server = quiet_server(&[]).await;
    let proxied = [
        ("host", "127.0.0.1:45678"),
        ("origin", "http://127.0.0.1:45678"),
    ];
    round_trip(&mut WsClient::connect_with(&server, &proxied).await.unwrap()).await;
    let (status, body) = post(&server, &[JSON, proxied[0], proxied[1]], EVENT).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_rebinding_host_is_refused_with_421_on_the_page_streams_and_polls() {
    let server = quiet_server(&[]).await;
    let before = rejected(&server).await;
    let paths = [
        "/",
        "/api/realtime/sse?channels=room",
        "/api/realtime/poll?channels=room&timeout=0",
        "/healthz",
        "/favicon.svg",
    ];
    for path in paths {
        let response = raw_request(
            &server,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close",
                server.addr.port()
            ),
        )
        .await;
        assert_eq!(response.status, 421, "{path}");
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(body["error"]["code"], "host_not_allowed", "{path}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evil.example"));
    }

    // The rebound page's WebSocket: its Origin matches its Host, the Host
    // gives it away.
    let host = format!("evil.example:{}", server.addr.port());
    let origin = format!("http://{host}");
    let (status, body) = refused_handshake(
        WsClient::connect_with(&server, &[("host", &host), ("origin", &origin)]).await,
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (421, &json!("host_not_allowed"))
    );
    assert_eq!(rejected(&server).await, before + paths.len() as u64 + 1);
}

#[tokio::test]
async fn loopback_hosts_are_answered_on_any_port() {
    let server = quiet_server(&[]).await;
    let port = server.addr.port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("app.localhost:{port}"),
        "127.0.0.2".to_string(),
    ] {
        for path in [
            "/",
            "/api/realtime/sse?channels=room",
            "/api/realtime/poll?channels=room&timeout=0",
        ] {
            let response = raw_request(
                &server,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close"),
            )
            .await;
            assert_eq!(response.status, 200, "{host} {path}: {}", response.body);
        }
    }
}

#[tokio::test]
async fn public_hosts_are_answered_by_a_loopback_server() {
    let server = quiet_server(&["--public-hosts", "dash.example.com"]).await;
    for host in ["dash.example.com", "DASH.example.com:443"] {
        for path in ["/", "/api/realtime/poll?channels=room&timeout=0"] {
            let response = raw_request(
                &server,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close"),
            )
            .await;
            assert_eq!(response.status, 200, "{host} {path}");
        }
    }
    let response = raw_request(
        &server,
        "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close",
    )
    .await;
    assert_eq!(response.status, 421);
}

#[tokio::test]
async fn a_server_bound_to_every_interface_checks_hosts_only_once_public_hosts_are_set() {
    let request = "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close";
    let open = TestServer::start_bound("0.0.0.0:0", &["--sample-interval", "1h"]).await;
    assert_eq!(raw_request(&open, request).await.status, 200);

    let named = TestServer::start_bound(
        "0.0.0.0:0",
        &[
            "--sample-interval",
            "1h",
            "--public-hosts",
            "dash.example.com",
        ],
    )
    .await;
    assert_eq!(raw_request(&named, request).await.status, 421);
    let response = raw_request(
        &named,
        "GET /healthz HTTP/1.1\r\nHost: dash.example.com\r\nConnection: close",
    )
    .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn a_request_without_host_is_refused_with_400_unless_it_is_http_1_0() {
    let server = quiet_server(&[]).await;
    let response = raw_request(&server, "GET /healthz HTTP/1.1\r\nConnection: close").await;
    assert_eq!(response.status, 400);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["error"]["code"], "missing_host");

    let response = raw_request(&server, "GET /healthz HTTP/1.0").await;
    assert_eq!(response.status, 200, "HTTP/1.0 has no Host to check");
}
