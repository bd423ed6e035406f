//! Dashboards over HTTP against a real server: saved as canonical files,
//! refused when they changed meanwhile, published live to viewers, picked
//! up when a file is edited on disk, versions listed and restored.

mod support;

use serde_json::{json, Value};
use support::{tempdir::TempDir, SseReader, TestServer};

fn shop(title: &str) -> Value {
    json!({
        "version": 1,
        "id": "shop",
        "title": title,
        "time": {"range": "1h"},
        "widgets": [{
            "id": "orders",
            "type": "timeseries",
            "title": "Orders",
            "grid": {"x": 0, "y": 0, "w": 12, "h": 4},
            "series": [{"selector": "shop_orders_total", "rate": true}]
        }]
    })
}

async fn put(server: &TestServer, body: &Value, revision: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .put(server.url("/api/dashboards/shop"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(revision) = revision {
        request = request.header("if-match", format!("\"{revision}\""));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_dashboard_is_saved_as_a_file_published_live_and_never_silently_overwritten() {
    let dir = TempDir::new();
    let dir_arg = dir.0.display().to_string();
    let server =
        TestServer::start(&["--sample-interval", "1h", "--dashboards-dir", &dir_arg]).await;
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:shop"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    let (status, created) = put(&server, &shop("Shop"), None).await;
    assert_eq!(status, 201, "{created}");
    let first = created["revision"].as_str().unwrap().to_string();
    let seen = support::envelope(&viewer.next_named("dashboard").await.data)["data"].clone();
    assert_eq!(seen["revision"], first);
    assert_eq!(seen["dashboard"]["title"], "Shop");

    // The file is the canonical text, and is what an export gives.
    let on_disk = std::fs::read_to_string(dir.0.join("shop.json")).unwrap();
    let export = reqwest::get(server.url("/api/dashboards/shop"))
        .await
        .unwrap();
    assert_eq!(export.headers()["etag"], format!("\"{first}\""));
    assert_eq!(export.text().await.unwrap(), on_disk);

    // A save from the first revision goes; a second one from it is refused
    // with what is there now.
    let (status, saved) = put(&server, &shop("Shop, renamed"), Some(&first)).await;
    assert_eq!(status, 200, "{saved}");
    let (status, refused) = put(&server, &shop("Mine"), Some(&first)).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "dashboard_changed");
    assert_eq!(refused["current"]["title"], "Shop, renamed");
    assert_eq!(refused["revision"], saved["revision"]);

    // Invalid documents name their fields; nothing is written.
    let mut bad = shop("Shop");
    bad["widgets"][0]["grid"]["w"] = json!(13);
    let (status, invalid) = put(&server, &bad, saved["revision"].as_str()).await;
    assert_eq!(status, 400, "{invalid}");
    assert_eq!(invalid["problems"][0]["path"], "widgets[0].grid.w");
    let (status, typo) = put(&server, &json!({"version": 1, "id": "shop"}), None).await;
    assert_eq!(
        (status, typo["error"]["code"].as_str()),
        (400, Some("invalid_dashboard"))
    );
    assert!(std::fs::read_to_string(dir.0.join("shop.json"))
        .unwrap()
        .contains("renamed"));

    // Versions: the first is kept and can be restored.
    let versions: Value = reqwest::get(server.url("/api/dashboards/shop/versions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["versions"][0]["revision"], first);
    let number = versions["versions"][0]["number"].as_u64().unwrap();
    let restored = reqwest::Client::new()
        .post(server.url(&format!("/api/dashboards/shop/versions/{number}/restore")))
        .header("if-match", saved["revision"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status().as_u16(), 200);
    let list: Value = reqwest::get(server.url("/api/dashboards?q=SHOP"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["dashboards"][0]["title"], "Shop");
    assert_eq!(list["dashboards"][0]["revision"], first);
}

#[tokio::test]
async fn a_file_edited_on_disk_reaches_viewers_and_a_broken_edit_changes_nothing() {
    let dir = TempDir::new();
    let dir_arg = dir.0.display().to_string();
    std::fs::write(dir.0.join("shop.json"), shop("From disk").to_string()).unwrap();
    let server =
        TestServer::start(&["--sample-interval", "1h", "--dashboards-dir", &dir_arg]).await;
    let first: Value = reqwest::get(server.url("/api/dashboards/shop"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["title"], "From disk");
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:shop"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    std::fs::write(dir.0.join("shop.json"), "{ half written").unwrap();
    std::fs::write(dir.0.join("shop.json"), shop("Edited by hand").to_string()).unwrap();
    let seen = support::envelope(&viewer.next_named("dashboard").await.data)["data"].clone();
    assert_eq!(seen["dashboard"]["title"], "Edited by hand");

    std::fs::write(dir.0.join("shop.json"), "{ broken").unwrap();
    // Another dashboard written after it: once it is listed, the watcher
    // has read the broken file too.
    let mut ops = shop("Ops");
    ops["id"] = json!("ops");
    std::fs::write(dir.0.join("ops.json"), ops.to_string()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list: Value = reqwest::get(server.url("/api/dashboards"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list["dashboards"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ops.json was never read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Still the last good one, and the server is fine.
    let now: Value = reqwest::get(server.url("/api/dashboards/shop"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["title"], "Edited by hand");
    let missing = reqwest::get(server.url("/api/dashboards/nope"))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // Only the server says a dashboard changed.
    let (status, reply) = support::post_status(
        &server,
        json!({"channel": "dashboard:shop", "event": "dashboard", "data": {"revision": "x"}}),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("invalid_event"))
    );
}

#[tokio::test]
async fn the_home_page_form_creates_an_empty_dashboard_and_opens_its_editor() {
    let dir = TempDir::new();
    let dir_arg = dir.0.display().to_string();
    let server =
        TestServer::start(&["--sample-interval", "1h", "--dashboards-dir", &dir_arg]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let create = |title: &str| {
        client
            .post(server.url("/dashboards"))
            .header("origin", server.url(""))
            .form(&[("title", title)])
            .send()
    };
    let response = create("Shop floor").await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/d/shop-floor?edit");
    let file = std::fs::read_to_string(dir.0.join("shop-floor.json")).unwrap();
    let saved: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(saved["title"], "Shop floor");
    assert_eq!(saved["widgets"], json!([]));
    // The same title again: another id, the first one untouched.
    let again = create("Shop floor").await.unwrap();
    assert_eq!(again.headers()["location"], "/d/shop-floor-2?edit");
    assert_eq!(
        std::fs::read_to_string(dir.0.join("shop-floor.json")).unwrap(),
        file
    );
    // No title, or one too long: refused, nothing written.
    for bad in ["   ", &"x".repeat(201)] {
        let refused = create(bad).await.unwrap();
        assert_eq!(refused.status().as_u16(), 400);
    }
    assert_eq!(
        std::fs::read_dir(&dir.0)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json"))
            .count(),
        2
    );
    // The page it leads to is the dashboard's.
    let page = reqwest::get(server.url("/d/shop-floor?edit"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Shop floor"));
}

async fn presence_event(viewer: &mut SseReader) -> Value {
    support::envelope(&viewer.next_named("presence").await.data)["data"].clone()
}

async fn beat(server: &TestServer, dashboard: &str, body: &str, content_type: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url(&format!("/api/dashboards/{dashboard}/presence")))
        .header("origin", server.url(""))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn viewers_are_published_as_they_come_and_go_and_a_silent_one_is_forgotten() {
    let dir = TempDir::new();
    let dir_arg = dir.0.display().to_string();
    let server =
        TestServer::start(&["--sample-interval", "1h", "--dashboards-dir", &dir_arg]).await;
    let (status, _) = put(&server, &shop("Shop"), None).await;
    assert_eq!(status, 201);
    let (response, _) = SseReader::open(
        &server.url("/api/realtime/sse?channels=dashboard:shop"),
        None,
    )
    .await;
    let mut viewer = SseReader::new(response);
    viewer.next_named("snapshot").await;

    // Each beat, and what every viewer is told (a beacon's body is
    // text/plain).
    for (body, content_type, told) in [
        (
            r#"{"viewer": "a1", "name": "Ana"}"#,
            "application/json",
            json!({"names": ["Ana"], "anonymous": 0}),
        ),
        (
            r#"{"viewer": "b1"}"#,
            "text/plain;charset=UTF-8",
            json!({"names": ["Ana"], "anonymous": 1}),
        ),
        (
            r#"{"viewer": "b1", "leave": true}"#,
            "text/plain",
            json!({"names": ["Ana"], "anonymous": 0}),
        ),
    ] {
        assert_eq!(
            beat(&server, "shop", body, content_type).await,
            204,
            "{body}"
        );
        assert_eq!(presence_event(&mut viewer).await, told, "{body}");
    }

    // Bad input: refused, nothing published, the count unchanged.
    assert_eq!(
        beat(&server, "nope", r#"{"viewer": "x"}"#, "application/json").await,
        404
    );
    for bad in [
        r#"{"viewer": "has space"}"#,
        r#"{"viewer": "x", "name": "a\u0007"}"#,
        "not json",
        r#"{"viewer": "x", "extra": 1}"#,
    ] {
        assert_eq!(
            beat(&server, "shop", bad, "application/json").await,
            400,
            "{bad}"
        );
    }

    // Ana says nothing more: forgotten within the forget time and a sweep.
    let started = std::time::Instant::now();
    // (The reader gives up after 10 s without data; the forget time is 12.)
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(
        presence_event(&mut viewer).await,
        json!({"names": [], "anonymous": 0})
    );
    let waited = started.elapsed();
    assert!(waited <= std::time::Duration::from_secs(14), "{waited:?}");
}
