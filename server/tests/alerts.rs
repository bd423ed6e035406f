//! Alerts against a real server: ingested values crossing a rule's lines
//! move an alert through `pending`, `firing` and `resolved` on the
//! `alerts` channel and in the stored history, which survives a `kill -9`;
//! rules are checked on save; a rule of the config file stays in force
//! until one of the API replaces it; absence is noticed by the clock;
//! acknowledgements and silences reach every follower.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{process::Process, tempdir::TempDir, SseReader};

/// The time now, in Unix ms, and never the same twice: two ingests of one
/// series within a millisecond must not share a timestamp.
fn now_ms() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let previous = LAST
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |last| Some(now.max(last + 1)),
        )
        .unwrap_or(0);
    now.max(previous + 1)
}

async fn send(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn ingest(base: &str, points: Value) {
    let (status, body) = send(
        reqwest::Method::POST,
        format!("{base}/api/ingest"),
        Some(points),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The next `alert` event's data that has a transition.
async fn next_transition(events: &mut SseReader) -> Value {
    loop {
        let event = events.next_named("alert").await;
        let data: Value = serde_json::from_str(&event.data).expect("JSON");
        let data = data.get("data").cloned().unwrap_or(data);
        if data.get("transition").is_some() {
            return data;
        }
    }
}

fn moved(data: &Value) -> (String, String, String) {
    let t = &data["transition"];
    (
        t["series"].as_str().unwrap_or_default().to_string(),
        t["to"].as_str().unwrap_or_default().to_string(),
        t["severity"].as_str().unwrap_or_default().to_string(),
    )
}

fn history(body: &Value) -> Vec<(String, String, String)> {
    let mut all: Vec<(String, String, String)> = body["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|t| {
            (
                t["series"].as_str().unwrap_or_default().to_string(),
                t["to"].as_str().unwrap_or_default().to_string(),
                t["severity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    all.reverse();
    all
}

fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[tokio::test]
async fn crossings_move_an_alert_through_its_lifecycle_live_and_in_a_history_that_survives_kill_9()
{
    let data = TempDir::new();
    let server = Process::start(&data.0, &[]).await;
    let base = server.base.clone();
    let rule = json!({
        "id": "load-high",
        "selector": "load",
        "condition": {"type": "above", "warning": 80, "critical": 95, "clear": 70},
        "for": "1s",
        "labels": {"team": "ops"},
        "message": "load {{value}} on {{labels.host}} past {{threshold}} ({{severity}})",
    });
    let (status, body) = send(
        reqwest::Method::PUT,
        format!("{base}/api/alerts/rules/load-high"),
        Some(rule),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (response, ()) =
        SseReader::open(&format!("{base}/api/realtime/sse?channels=alerts"), None).await;
    let mut events = SseReader::new(response);
    let a = "load{host=\"a\"}";

    // 90: past warning; pending, then firing once `for` has passed.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "a"}, "value": 90, "ts": now_ms()}]),
    )
    .await;
    let pending = next_transition(&mut events).await;
    assert_eq!(moved(&pending), s(a, "pending", "warning"));
    assert_eq!(pending["alert"]["labels"]["team"], "ops");
    assert_eq!(
        pending["alert"]["message"],
        "load 90 on a past 80 (warning)"
    );
    let firing = next_transition(&mut events).await;
    assert_eq!(moved(&firing), s(a, "firing", "warning"));
    assert!(
        firing["transition"]["at"].as_i64().unwrap()
            - pending["transition"]["at"].as_i64().unwrap()
            >= 1_000,
        "not before `for`"
    );
    // 99: critical; 75: back under critical by more than the margin, still
    // past the clear line: warning; 60: resolved.
    for (value, to, severity) in [
        (99, "firing", "critical"),
        (75, "firing", "warning"),
        (60, "resolved", "warning"),
    ] {
        ingest(
            &base,
            json!([{"name": "load", "labels": {"host": "a"}, "value": value, "ts": now_ms()}]),
        )
        .await;
        let data = next_transition(&mut events).await;
        assert_eq!(moved(&data), s(a, to, severity), "after {value}");
    }
    // A value hovering just under the warning line after a warning does not
    // flap: 85 (warning) then 78 and 72 (still warning), one transition.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "b"}, "value": 85, "ts": now_ms()}]),
    )
    .await;
    let b = "load{host=\"b\"}";
    assert_eq!(
        moved(&next_transition(&mut events).await),
        s(b, "pending", "warning")
    );
    assert_eq!(
        moved(&next_transition(&mut events).await),
        s(b, "firing", "warning")
    );
    for value in [78, 72] {
        ingest(
            &base,
            json!([{"name": "load", "labels": {"host": "b"}, "value": value, "ts": now_ms()}]),
        )
        .await;
    }
    let expected = vec![
        s(a, "pending", "warning"),
        s(a, "firing", "warning"),
        s(a, "firing", "critical"),
        s(a, "firing", "warning"),
        s(a, "resolved", "warning"),
        s(b, "pending", "warning"),
        s(b, "firing", "warning"),
    ];
    // Settled: two evaluations later nothing more has moved.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/history"),
        None,
    )
    .await;
    assert_eq!(history(&body), expected);
    let (_, listed) = send(reqwest::Method::GET, format!("{base}/api/alerts"), None).await;
    let firing_b = listed["alerts"].as_array().expect("alerts").clone();
    assert_eq!(firing_b.len(), 1, "{listed}");
    assert_eq!(firing_b[0]["series"], b);
    assert_eq!(firing_b[0]["phase"], "firing");

    // kill -9, and again: the history and the firing alert are there, and
    // the alert is not raised a second time.
    server.kill();
    let server = Process::start(&data.0, &[]).await;
    let base = server.base.clone();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/history"),
        None,
    )
    .await;
    assert_eq!(
        history(&body),
        expected,
        "the same history after the restart"
    );
    let (_, again) = send(reqwest::Method::GET, format!("{base}/api/alerts"), None).await;
    assert_eq!(again["alerts"][0]["id"], firing_b[0]["id"]);
    assert_eq!(again["alerts"][0]["phase"], "firing");
    // It resolves after the restart like any other.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "b"}, "value": 10, "ts": now_ms()}]),
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listed) = send(reqwest::Method::GET, format!("{base}/api/alerts"), None).await;
        if listed["alerts"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not resolved: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn rules_are_checked_on_save_and_a_bad_one_changes_nothing() {
    let data = TempDir::new();
    let server = Process::start(&data.0, &[]).await;
    let base = &server.base;
    let good = json!({"id": "ok", "selector": "m", "condition": {"type": "above", "warning": 1}});
    assert_eq!(
        send(
            reqwest::Method::POST,
            format!("{base}/api/alerts/rules"),
            Some(good.clone())
        )
        .await
        .0,
        201
    );
    assert_eq!(
        send(
            reqwest::Method::POST,
            format!("{base}/api/alerts/rules"),
            Some(good)
        )
        .await
        .0,
        409,
        "taken"
    );
    let bad: &[(Value, &str)] = &[
        (
            json!({"id": "x", "selector": "m{", "condition": {"type": "above", "warning": 1}}),
            "selector",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "above", "warning": 90, "critical": 80}}),
            "condition.critical",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "below", "warning": 10, "critical": 20}}),
            "condition.critical",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "above", "warning": 80, "clear": 85}}),
            "condition.clear",
        ),
        (
            json!({"id": "x", "selector": "m", "for": "-5m", "condition": {"type": "above", "warning": 1}}),
            "for",
        ),
        (
            json!({"id": "x", "selector": "m", "window": "0s", "condition": {"type": "above", "warning": 1}}),
            "window",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "above"}}),
            "condition",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "outside", "warning": [10, 90], "critical": [20, 80]}}),
            "condition.critical",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "absent", "after": "0s"}}),
            "condition.after",
        ),
        (
            json!({"id": "X Y", "selector": "m", "condition": {"type": "above", "warning": 1}}),
            "id",
        ),
    ];
    for (rule, path) in bad {
        let (status, body) = send(
            reqwest::Method::POST,
            format!("{base}/api/alerts/rules"),
            Some(rule.clone()),
        )
        .await;
        assert_eq!(status, 400, "{rule}: {body}");
        assert_eq!(body["error"]["code"], "invalid_rule");
        assert!(
            body["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["path"] == *path)),
            "{rule}: {body}"
        );
    }
    for (rule, says) in [
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "above", "warning": 1}, "severity": "high"}),
            "unknown field",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "above", "warning": 1, "warn": 2}}),
            "unknown field",
        ),
        (
            json!({"id": "x", "selector": "m", "condition": {"type": "sideways"}}),
            "unknown variant",
        ),
    ] {
        let (status, body) = send(
            reqwest::Method::POST,
            format!("{base}/api/alerts/rules"),
            Some(rule),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{body}"
        );
    }
    let (status, _) = send(
        reqwest::Method::PUT,
        format!("{base}/api/alerts/rules/other"),
        Some(json!({"id": "ok", "selector": "m", "condition": {"type": "above", "warning": 1}})),
    )
    .await;
    assert_eq!(status, 400, "the body's id must be the address's");
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/rules"),
        None,
    )
    .await;
    let ids: Vec<&str> = body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["ok"], "nothing bad was kept");
    assert_eq!(
        send(
            reqwest::Method::DELETE,
            format!("{base}/api/alerts/rules/nope"),
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn a_config_file_rule_is_in_force_until_the_api_replaces_it_and_comes_back_when_that_goes() {
    let data = TempDir::new();
    let config = data.0.join("livedash.toml");
    std::fs::write(
        &config,
        "[[alert]]\nid = \"disk\"\nselector = \"disk_used\"\ncondition = { type = \"above\", warning = 85 }\n",
    )
    .unwrap();
    let server = Process::start(&data.0, &["--config", config.to_str().unwrap()]).await;
    let base = &server.base;
    let source = |body: &Value| {
        body["rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == "disk"))
            .map(|r| (r["source"].clone(), r["condition"]["warning"].clone()))
    };
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/rules"),
        None,
    )
    .await;
    assert_eq!(source(&body), Some((json!("config"), json!(85.0))));
    let (status, body) = send(
        reqwest::Method::DELETE,
        format!("{base}/api/alerts/rules/disk"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("rule_in_config"))
    );
    let replaced = json!({"id": "disk", "selector": "disk_used", "condition": {"type": "above", "warning": 90}});
    assert_eq!(
        send(
            reqwest::Method::PUT,
            format!("{base}/api/alerts/rules/disk"),
            Some(replaced)
        )
        .await
        .0,
        200
    );
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/rules"),
        None,
    )
    .await;
    assert_eq!(source(&body), Some((json!("api"), json!(90.0))));
    assert_eq!(
        send(
            reqwest::Method::DELETE,
            format!("{base}/api/alerts/rules/disk"),
            None
        )
        .await
        .0,
        204
    );
    let (_, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/alerts/rules"),
        None,
    )
    .await;
    assert_eq!(source(&body), Some((json!("config"), json!(85.0))));
}

#[tokio::test]
async fn absence_is_noticed_by_the_clock_and_acks_and_silences_reach_every_follower() {
    let data = TempDir::new();
    let server = Process::start(&data.0, &[]).await;
    let base = server.base.clone();
    let (response, ()) =
        SseReader::open(&format!("{base}/api/realtime/sse?channels=alerts"), None).await;
    let mut events = SseReader::new(response);
    ingest(
        &base,
        json!([{"name": "heartbeat", "labels": {"job": "backup"}, "value": 1, "ts": now_ms()}]),
    )
    .await;
    let rule = json!({"id": "backup-silent", "selector": "heartbeat", "condition": {"type": "absent", "after": "2s"}});
    assert_eq!(
        send(
            reqwest::Method::PUT,
            format!("{base}/api/alerts/rules/backup-silent"),
            Some(rule)
        )
        .await
        .0,
        201
    );
    // No ingest at all: the clock raises it.
    let fired = next_transition(&mut events).await;
    assert_eq!(
        moved(&fired),
        s("heartbeat{job=\"backup\"}", "firing", "critical")
    );
    assert_eq!(
        fired["alert"]["message"],
        "heartbeat{job=\"backup\"}: no sample for 2s"
    );
    let id = fired["alert"]["id"].as_u64().unwrap();

    // Acknowledged: followers see who and why.
    let (status, body) = send(
        reqwest::Method::POST,
        format!("{base}/api/alerts/{id}/ack"),
        Some(json!({"by": "Ana", "comment": "restarting the job"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let event = events.next_named("alert").await;
    let data: Value = serde_json::from_str(&event.data).unwrap();
    let data = data.get("data").cloned().unwrap_or(data);
    assert_eq!(data["alert"]["ack"]["by"], "Ana");
    assert_eq!(data["alert"]["ack"]["comment"], "restarting the job");
    for (body, code) in [
        (json!({"comment": "no name"}), 400),
        (json!({"by": ""}), 400),
    ] {
        assert_eq!(
            send(
                reqwest::Method::POST,
                format!("{base}/api/alerts/{id}/ack"),
                Some(body)
            )
            .await
            .0,
            code
        );
    }
    assert_eq!(
        send(
            reqwest::Method::POST,
            format!("{base}/api/alerts/999999/ack"),
            Some(json!({"by": "Ana"}))
        )
        .await
        .0,
        404
    );

    // Silenced by its rule: marked, and the silence is listed.
    let (status, body) = send(
        reqwest::Method::POST,
        format!("{base}/api/alerts/silences"),
        Some(json!({"rule": "backup-silent", "for": "1h", "by": "Ana", "comment": "maintenance"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let silence = body["silence"]["id"].as_str().unwrap().to_string();
    let (_, listed) = send(reqwest::Method::GET, format!("{base}/api/alerts"), None).await;
    assert_eq!(listed["alerts"][0]["silenced_by"], silence.as_str());
    assert_eq!(listed["silences"][0]["comment"], "maintenance");
    for bad in [
        json!({"for": "1h"}),
        json!({"rule": "backup-silent"}),
        json!({"rule": "backup-silent", "ends_at": 1}),
    ] {
        assert_eq!(
            send(
                reqwest::Method::POST,
                format!("{base}/api/alerts/silences"),
                Some(bad)
            )
            .await
            .0,
            400
        );
    }
    assert_eq!(
        send(
            reqwest::Method::DELETE,
            format!("{base}/api/alerts/silences/{silence}"),
            None
        )
        .await
        .0,
        204
    );
    let (_, listed) = send(reqwest::Method::GET, format!("{base}/api/alerts"), None).await;
    assert!(listed["alerts"][0].get("silenced_by").is_none(), "{listed}");

    // The heartbeat comes back: resolved.
    ingest(
        &base,
        json!([{"name": "heartbeat", "labels": {"job": "backup"}, "value": 1, "ts": now_ms()}]),
    )
    .await;
    let resolved = next_transition(&mut events).await;
    assert_eq!(
        moved(&resolved),
        s("heartbeat{job=\"backup\"}", "resolved", "critical")
    );
}

/// A webhook receiver on loopback: answers 500 while `failing` is above
/// zero (counting it down), 200 after; keeps every body it took.
struct Receiver {
    url: String,
    failing: std::sync::Arc<std::sync::atomic::AtomicI32>,
    attempts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    taken: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    async fn start(failing: i32) -> Self {
        Self::start_on(failing, false).await
    }

    /// [`Receiver::start`] over https (see `support::tls`).
    async fn start_tls(failing: i32) -> Self {
        Self::start_on(failing, true).await
    }

    async fn start_on(failing: i32, tls: bool) -> Self {
        use std::sync::{atomic::Ordering, Arc, Mutex};
        let failing = Arc::new(std::sync::atomic::AtomicI32::new(failing));
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let taken = Arc::new(Mutex::new(Vec::new()));
        let (f, a, t) = (failing.clone(), attempts.clone(), taken.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (f, a, t) = (f.clone(), a.clone(), t.clone());
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    if f.fetch_sub(1, Ordering::SeqCst) > 0 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    t.lock()
                        .unwrap()
                        .push((key, serde_json::from_str(&body).unwrap_or(Value::Null)));
                    axum::http::StatusCode::OK
                }
            }),
        );
        let url = if tls {
            format!("{}/hook", support::tls::serve(app).await)
        } else {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/hook", listener.local_addr().unwrap());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            url
        };
        Self {
            url,
            failing,
            attempts,
            taken,
        }
    }

    fn taken(&self) -> Vec<(String, Value)> {
        self.taken.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.taken().len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "{} deliveries, not {count}",
                self.taken().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_webhook_that_fails_twice_gets_the_notification_once_and_a_restart_neither_loses_nor_repeats_one(
) {
    use std::sync::atomic::Ordering;
    let receiver = Receiver::start(2).await;
    let data = TempDir::new();
    let args = ["--alert-webhooks", receiver.url.as_str()];
    let server = Process::start(&data.0, &args).await;
    let base = server.base.clone();
    let rule = json!({"id": "queue", "selector": "queue_depth", "condition": {"type": "above", "critical": 50}});
    assert_eq!(
        send(
            reqwest::Method::PUT,
            format!("{base}/api/alerts/rules/queue"),
            Some(rule)
        )
        .await
        .0,
        201
    );
    ingest(
        &base,
        json!([{"name": "queue_depth", "value": 60, "ts": now_ms()}]),
    )
    .await;
    receiver.wait_for(1).await;
    // Two refusals, then the delivery; nothing after it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.attempts.load(Ordering::SeqCst), 3);
    let taken = receiver.taken();
    assert_eq!(taken.len(), 1);
    let (key, body) = &taken[0];
    assert_eq!(body["event"], "firing");
    assert_eq!(body["alert"]["series"], "queue_depth");
    assert_eq!(body["alert"]["severity"], "critical");
    assert_eq!(body["links"]["history"], "/api/alerts/history?rule=queue");
    assert_eq!(*key, body["id"].to_string());

    // A restart after the success sends nothing again.
    server.kill();
    let server = Process::start(&data.0, &args).await;
    let base = server.base.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.taken().len(), 1, "nothing sent twice");

    // The receiver is down when the alert resolves; the server is killed
    // with the delivery queued; the next run sends it, once.
    receiver.failing.store(i32::MAX, Ordering::SeqCst);
    ingest(
        &base,
        json!([{"name": "queue_depth", "value": 5, "ts": now_ms()}]),
    )
    .await;
    let before = receiver.attempts.load(Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.attempts.load(Ordering::SeqCst) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt to send the resolution"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    receiver.failing.store(0, Ordering::SeqCst);
    let _server = Process::start(&data.0, &args).await;
    receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let taken = receiver.taken();
    assert_eq!(taken.len(), 2, "the resolution, once");
    assert_eq!(taken[1].1["event"], "resolved");
    assert_ne!(taken[0].0, taken[1].0, "each delivery has its own key");
}

/// The next `annotation` event's data on a dashboard's channel.
async fn next_annotation(events: &mut SseReader) -> Value {
    let event = events.next_named("annotation").await;
    support::envelope(&event.data)["data"].clone()
}

/// `(widget, open, resolved in the text)` of each annotation, sorted.
fn periods_shown(notes: &[Value]) -> Vec<(String, bool, bool)> {
    let mut shown: Vec<(String, bool, bool)> = notes
        .iter()
        .map(|n| {
            (
                n["widget"].as_str().unwrap_or_default().to_string(),
                n["end"].as_i64() == Some(app::protocol::OPEN_END),
                n["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("(resolved)"),
            )
        })
        .collect();
    shown.sort();
    shown
}

async fn listed_notes(base: &str, query: &str) -> Vec<Value> {
    let (status, body) = send(
        reqwest::Method::GET,
        format!("{base}/api/annotations?dashboard=ops{query}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["annotations"].as_array().expect("a list").clone()
}

#[tokio::test]
async fn firing_periods_reach_the_charts_of_their_series_live_and_in_the_annotations_after_kill_9()
{
    let data = TempDir::new();
    let server = Process::start(&data.0, &[]).await;
    let base = server.base.clone();
    let chart = |id: &str, y: u32, selector: &str| {
        json!({"id": id, "type": "timeseries", "title": id,
               "grid": {"x": 0, "y": y, "w": 6, "h": 4},
               "series": [{"selector": selector}]})
    };
    let mut stat = chart("load-stat", 12, "load");
    stat["type"] = json!("stat");
    let dashboard = json!({
        "version": 1, "id": "ops", "title": "Ops", "time": {"range": "1h"},
        "widgets": [chart("load-a", 0, "load{host=\"a\"}"), chart("all-load", 4, "load"),
                    chart("cpu", 8, "cpu"), stat],
    });
    let (status, body) = send(
        reqwest::Method::PUT,
        format!("{base}/api/dashboards/ops"),
        Some(dashboard),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let rule = json!({
        "id": "load-high",
        "selector": "load",
        "condition": {"type": "above", "warning": 80, "critical": 95},
        "message": "load {{value}}",
    });
    let (status, body) = send(
        reqwest::Method::PUT,
        format!("{base}/api/alerts/rules/load-high"),
        Some(rule),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (response, ()) = SseReader::open(
        &format!("{base}/api/realtime/sse?channels=dashboard:ops"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    // Host a fires: a period on the chart of host a and on the chart of
    // every host, open; not on the CPU chart nor on the stat.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "a"}, "value": 99, "ts": now_ms()}]),
    )
    .await;
    let fired = [
        next_annotation(&mut viewer).await,
        next_annotation(&mut viewer).await,
    ];
    assert_eq!(
        periods_shown(&fired),
        [
            ("all-load".into(), true, false),
            ("load-a".into(), true, false)
        ]
    );
    assert_eq!(fired[0]["text"], "Alert load-high critical: load 99");
    assert_eq!(fired[0]["level"], "critical");
    assert_eq!(fired[0]["time"], fired[1]["time"]);
    // Host b fires: only the chart of every host.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "b"}, "value": 90, "ts": now_ms()}]),
    )
    .await;
    let b = next_annotation(&mut viewer).await;
    assert_eq!(
        periods_shown(std::slice::from_ref(&b)),
        [("all-load".into(), true, false)]
    );
    assert_eq!(b["text"], "Alert load-high warning: load 90");
    assert_eq!(b["level"], "warning");

    // The list holds all three, open; by widget, that widget's.
    let notes = listed_notes(&base, "").await;
    assert_eq!(
        periods_shown(&notes),
        [
            ("all-load".into(), true, false),
            ("all-load".into(), true, false),
            ("load-a".into(), true, false)
        ]
    );
    assert_eq!(listed_notes(&base, "&widget=load-a").await.len(), 1);

    // Host a resolves: its periods close under the same ids.
    ingest(
        &base,
        json!([{"name": "load", "labels": {"host": "a"}, "value": 10, "ts": now_ms()}]),
    )
    .await;
    let closed = [
        next_annotation(&mut viewer).await,
        next_annotation(&mut viewer).await,
    ];
    assert_eq!(
        periods_shown(&closed),
        [
            ("all-load".into(), false, true),
            ("load-a".into(), false, true)
        ]
    );
    let mut ids: Vec<u64> = fired.iter().map(|n| n["id"].as_u64().unwrap()).collect();
    let mut closed_ids: Vec<u64> = closed.iter().map(|n| n["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    closed_ids.sort_unstable();
    assert_eq!(ids, closed_ids);
    assert!(closed[0]["end"].as_i64().unwrap() >= closed[0]["time"].as_i64().unwrap());
    // A window after a's end shows only b's period, which is still open.
    let hour_on = now_ms() + 3_600_000;
    let later = listed_notes(&base, &format!("&from={hour_on}&to={}", hour_on + 1)).await;
    assert_eq!(periods_shown(&later), [("all-load".into(), true, false)]);

    // A period is not a note: it cannot be removed.
    let (status, body) = send(
        reqwest::Method::DELETE,
        format!("{base}/api/annotations/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "alert_period");

    // kill -9: the periods come back from the alerts' history.
    server.kill();
    let server = Process::start(&data.0, &[]).await;
    let notes = listed_notes(&server.base, "").await;
    assert_eq!(
        periods_shown(&notes),
        [
            ("all-load".into(), false, true),
            ("all-load".into(), true, false),
            ("load-a".into(), false, true)
        ]
    );
}

#[tokio::test]
async fn an_https_webhook_is_delivered_when_its_certificate_is_trusted_and_refused_when_not() {
    let receiver = Receiver::start_tls(1).await;
    let rule = json!({"id": "queue", "selector": "queue_depth", "condition": {"type": "above", "critical": 50}});
    let fire = |base: String| {
        let rule = rule.clone();
        async move {
            let (status, body) = send(
                reqwest::Method::PUT,
                format!("{base}/api/alerts/rules/queue"),
                Some(rule),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            ingest(
                &base,
                json!([{"name": "queue_depth", "value": 60, "ts": now_ms()}]),
            )
            .await;
        }
    };

    // Not trusted: the public roots do not know the test CA. The attempt
    // fails at the handshake, says why in the log, and nothing arrives.
    let untrusted = TempDir::new();
    let log = untrusted.0.join("livedash.log");
    let args = ["--alert-webhooks", receiver.url.as_str()];
    let server = Process::start_logging_to(&untrusted.0, &args, &log).await;
    fire(server.base.clone()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("webhook failed") {
            assert!(logged.contains("TLS handshake failed"), "{logged}");
            assert!(logged.to_lowercase().contains("certificate"), "{logged}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt logged: {logged}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.taken().is_empty());
    drop(server);

    // Trusted through --tls-ca-file: one refusal (500), then delivered.
    let trusted = TempDir::new();
    let ca = support::tls::ca_file();
    let args = [
        "--alert-webhooks",
        receiver.url.as_str(),
        "--tls-ca-file",
        ca.as_str(),
    ];
    let server = Process::start(&trusted.0, &args).await;
    fire(server.base.clone()).await;
    receiver.wait_for(1).await;
    let (key, body) = &receiver.taken()[0];
    assert_eq!(body["event"], "firing");
    assert_eq!(body["alert"]["series"], "queue_depth");
    assert_eq!(*key, body["id"].to_string());
    assert_eq!(
        receiver.attempts.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}
