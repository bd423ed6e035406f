//! The page's data: history rendered from the metrics store, then the same
//! series live from the position the page was rendered at, with no gap and
//! nothing twice where they meet.

mod support;

use std::time::Duration;

use app::{
    protocol::{Bootstrap, Envelope, SeriesPoints, SeriesReply},
    ui::host::Reading,
};
use support::{SseReader, TestServer};

/// The bootstrap a page was rendered with.
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
    let server = TestServer::start(&["--sample-interval", "100ms"]).await;
    let bootstrap = render(&server).await;
    let position = bootstrap.position.expect("a position");
    let history = bootstrap
        .series
        .iter()
        .find(|s| Reading::of(&s.key, &bootstrap.host) == Some(Reading::Cpu))
        .expect("the chart's series")
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
    .expect("points are stored every 100 ms");

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

#[tokio::test]
async fn the_page_is_rendered_with_the_hosts_series_from_the_store() {
    let server = TestServer::start(&["--sample-interval", "100ms"]).await;
    let bootstrap = render(&server).await;
    assert!(!bootstrap.host.is_empty());
    let readings: Vec<Reading> = bootstrap
        .series
        .iter()
        .filter_map(|s| Reading::of(&s.key, &bootstrap.host))
        .collect();
    for reading in [
        Reading::Cpu,
        Reading::Core(0),
        Reading::MemoryUsed,
        Reading::MemoryTotal,
        Reading::Load1,
        Reading::Load5,
        Reading::Load15,
        Reading::NetworkReceive,
        Reading::NetworkTransmit,
    ] {
        assert!(readings.contains(&reading), "{reading:?} in {readings:?}");
    }
    assert_eq!(readings.len(), bootstrap.series.len(), "nothing else");
    for series in &bootstrap.series {
        let reading = Reading::of(&series.key, &bootstrap.host);
        if reading != Some(Reading::Cpu) {
            assert_eq!(series.points.len(), 1, "a card's newest point: {series:?}");
        }
    }
}
