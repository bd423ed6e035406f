//! The page's data: history rendered from the metrics store, then the same
//! series live from the position the page was rendered at, with no gap and
//! nothing twice where they meet.

mod support;

use std::time::Duration;

use app::protocol::{Bootstrap, Envelope, SeriesPoints, SeriesReply};
use support::{SseReader, TestServer};

/// The bootstrap the home page was rendered with.
async fn render(server: &TestServer) -> Bootstrap {
    let html = reqwest::get(server.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let json = html
        .split("id=\"livedash-bootstrap\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page carries its bootstrap");
    serde_json::from_str(json).expect("a bootstrap")
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The stored points of one series from `from` on.
async fn stored(server: &TestServer, key: &str, from: i64) -> Vec<(i64, f64)> {
    let url = server.url(&format!("/api/series?match={}&from={from}", urlencode(key)));
    let reply: SeriesReply = reqwest::get(url).await.unwrap().json().await.unwrap();
    reply
        .series
        .into_iter()
        .next()
        .map(|series| series.points)
        .unwrap_or_default()
}

#[tokio::test]
async fn history_and_live_points_join_with_no_gap_and_nothing_twice() {
    // A fresh server: no page has followed the series channel yet, so the
    // page's render is what must make the points stored meanwhile go live.
    // Samples every 250 ms: the CPU chart's minute is raw points (fewer
    // than the 300 it starts with).
    let server = TestServer::start(&["--sample-interval", "250ms"]).await;
    let bootstrap = render(&server).await;
    let position = bootstrap.position.expect("a position");
    let history = widget(&bootstrap, "cpu")
        .into_iter()
        .find(|s| s.key.labels.len() == 1)
        .expect("the chart's total")
        .clone();
    let key = history.key.to_string();
    let (oldest, newest) = (history.points[0].0, history.points.last().unwrap().0);

    // The page takes its time to load: several points are stored before
    // it subscribes.
    let stored_later = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let points = stored(&server, &key, newest + 1).await;
            if points.len() >= 3 {
                return points.last().unwrap().0;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("points are stored every 250 ms");

    let filter = urlencode(&serde_json::json!({ "series": [key] }).to_string());
    let (response, ()) = SseReader::open(
        &server.url(&format!(
            "/api/realtime/sse?channels=series&filter={filter}"
        )),
        Some(&position.to_string()),
    )
    .await;
    let mut stream = SseReader::new(response);
    let mut live = Vec::new();
    while live.last().is_none_or(|&(ts, _)| ts < stored_later) {
        let event = stream.next_named("points").await;
        let envelope: Envelope<SeriesPoints> = serde_json::from_str(&event.data).unwrap();
        assert_eq!(envelope.data.key, history.key, "only the page's series");
        live.extend(envelope.data.points);
    }
    assert!(
        live.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "live points come once, in order: {live:?}"
    );

    // What the page draws: history, then each live point not already held.
    let mut drawn = history.points.clone();
    drawn.extend(live.iter().filter(|&&(ts, _)| ts > newest));
    let truth: Vec<(i64, f64)> = stored(&server, &key, oldest)
        .await
        .into_iter()
        .filter(|&(ts, _)| ts <= drawn.last().unwrap().0)
        .collect();
    assert_eq!(drawn, truth, "every stored point, once, in order");
}

/// Widget `id`'s series in the bootstrap (of all its selectors).
fn widget(bootstrap: &Bootstrap, id: &str) -> Vec<SeriesPoints> {
    bootstrap
        .widget_series
        .iter()
        .find(|(widget, _)| widget == id)
        .map(|(_, queries)| queries.concat())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_home_page_is_the_host_overview_with_its_series_from_the_store() {
    let server = TestServer::start(&["--sample-interval", "100ms"]).await;
    let bootstrap = render(&server).await;
    assert!(!bootstrap.host.is_empty());
    assert!(
        bootstrap.dashboard_list.contains("Dashboards"),
        "the home page lists them"
    );
    let overview = bootstrap.dashboard.clone().expect("the overview");
    assert_eq!(overview.id, "main");
    assert_eq!(overview.title, bootstrap.host);
    for id in [
        "cpu-total",
        "memory-used",
        "load",
        "network-in",
        "cpu",
        "memory",
        "cores",
        "core-use",
    ] {
        let series = widget(&bootstrap, id);
        assert!(!series.is_empty(), "{id} has its series");
        for s in &series {
            assert_eq!(
                s.key.labels.get("host"),
                Some(&bootstrap.host),
                "{id}: the host's own"
            );
            assert!(!s.points.is_empty());
        }
    }
    assert_eq!(widget(&bootstrap, "cpu-total").len(), 1, "the total alone");
    assert!(
        widget(&bootstrap, "status").is_empty(),
        "a status board reads no series"
    );
}

#[tokio::test]
async fn a_dashboard_page_carries_its_model_and_an_unknown_one_is_a_404() {
    let server = TestServer::start(&["--demo", "--sample-interval", "100ms"]).await;
    let html = reqwest::get(server.url("/d/business")).await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("Business overview (demo)"));
    let missing = reqwest::get(server.url("/d/nope%3Cscript%3E"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body = missing.text().await.unwrap();
    assert!(
        body.contains("nope&lt;script&gt;") && !body.contains("<script>"),
        "{body}"
    );
    // The home page lists it, and finds it by a search.
    let home = reqwest::get(server.url("/?q=BUSINESS"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("href=\"/d/business\""), "listed");
    let none = reqwest::get(server.url("/?q=zzz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!none.contains("href=\"/d/business\""), "filtered out");
}

#[tokio::test]
async fn a_widget_of_several_selectors_is_rendered_with_each_selectors_series_in_order() {
    let server = TestServer::start(&["--sample-interval", "1h"]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ingest = reqwest::Client::new()
        .post(server.url("/api/ingest"))
        .json(&serde_json::json!([
            {"name": "orders_total", "labels": {"region": "eu"}, "value": 100, "ts": now - 10_000},
            {"name": "orders_total", "labels": {"region": "eu"}, "value": 200, "ts": now},
            {"name": "queue_depth", "value": 7, "ts": now},
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 200);
    let dashboard = serde_json::json!({
        "version": 1, "id": "flow", "title": "Flow", "time": {"range": "15m"},
        "widgets": [{
            "id": "chart", "type": "timeseries", "title": "Flow",
            "grid": {"x": 0, "y": 0, "w": 12, "h": 4},
            "series": [
                {"selector": "queue_depth"},
                // Unreadable: its list is empty, the others are read.
                {"selector": "orders_total{region=~\"(\"}"},
                {"selector": "orders_total", "label_by": "region", "rate": true},
            ],
        }],
    });
    let put = reqwest::Client::new()
        .put(server.url("/api/dashboards/flow"))
        .json(&dashboard)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());

    let html = reqwest::get(server.url("/d/flow"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let json = html
        .split("id=\"livedash-bootstrap\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page carries its bootstrap");
    let bootstrap: Bootstrap = serde_json::from_str(json).expect("a bootstrap");
    let (_, queries) = bootstrap
        .widget_series
        .iter()
        .find(|(id, _)| id == "chart")
        .expect("the chart's series");
    let shown: Vec<Vec<(String, Vec<f64>)>> = queries
        .iter()
        .map(|series| {
            series
                .iter()
                .map(|s| {
                    (
                        s.key.to_string(),
                        s.points.iter().map(|&(_, v)| v).collect(),
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            vec![("queue_depth".to_string(), vec![7.0])],
            vec![],
            // A rate: (200 - 100) / 10 s.
            vec![("orders_total{region=\"eu\"}".to_string(), vec![10.0])],
        ]
    );
}
