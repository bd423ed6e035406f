//! The metrics store over HTTP, on the real binary run as its own process:
//! what an ingest acknowledged survives `kill -9` in the middle of writes
//! and is served again, point for point, after a restart; bad batches are
//! refused whole with every reason, and change nothing.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use app::protocol::{IngestReply, SeriesReply};
use serde_json::{json, Value};

mod support;
use support::{process::Process, tempdir::TempDir};

/// The real binary, with the requests these tests make.
struct Server(Process);

impl std::ops::Deref for Server {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.0
    }
}

impl Server {
    async fn start(data: &Path, args: &[&str]) -> Self {
        Self(Process::start(data, args).await)
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(self) {
        self.0.kill();
    }

    async fn ingest(&self, query: &str, body: &Value) -> (u16, IngestReply) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/ingest{query}", self.base))
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("an ingest reply"))
    }

    async fn series(&self, query: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}/api/series?{query}", self.base))
            .await
            .expect("the server answers");
        (
            response.status().as_u16(),
            response.json().await.expect("JSON"),
        )
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

fn selector(query: &str) -> String {
    format!("match={}", urlencode(query))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn acknowledged_points_survive_kill_9_during_writes() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    let base = now_ms() - 600_000;
    // Four writers send batches as fast as the server answers; each keeps
    // the last batch the server acknowledged.
    let acked: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![-1; 4]));
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{}/api/ingest", server.base);
    let mut writers = Vec::new();
    for writer in 0..4usize {
        let (acked, stop, url) = (acked.clone(), stop.clone(), url.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut batch = 0i64;
            while !stop.load(Ordering::Relaxed) && batch < 100_000 {
                let points: Vec<Value> = (0..50)
                    .map(|host| {
                        json!({
                            "name": "load_test_value",
                            "labels": {"writer": writer.to_string(), "host": format!("h{host}")},
                            "value": batch as f64 + host as f64 / 100.0,
                            "ts": base + batch,
                        })
                    })
                    .collect();
                match client.post(&url).json(&points).send().await {
                    Ok(response) if response.status() == 200 => {
                        acked.lock().expect("not poisoned")[writer] = batch;
                    }
                    // The server is gone: what it did not answer may or may
                    // not be stored.
                    _ => break,
                }
                batch += 1;
            }
        }));
    }
    // Let a few hundred batches through, then kill the server mid-write.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().expect("not poisoned").iter().any(|&b| b < 100) {
        assert!(Instant::now() < deadline, "the writers made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer task");
    }
    let acked = acked.lock().expect("not poisoned").clone();

    let started = Instant::now();
    let server = Server::start(&data.0, &[]).await;
    let restart = started.elapsed();
    for (writer, &last) in acked.iter().enumerate() {
        let (status, body) = server
            .series(&format!(
                "{}&from={}&to={}",
                selector(&format!(
                    "load_test_value{{writer=\"{writer}\",host=\"h7\"}}"
                )),
                base,
                base + 200_000
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        let reply: SeriesReply = serde_json::from_value(body).expect("a series reply");
        assert_eq!(reply.series.len(), 1);
        let points = &reply.series[0].points;
        // Every acknowledged batch is there, in order, each once (a batch
        // the server took but never answered may be there too).
        assert!(
            points.len() as i64 > last,
            "writer {writer}: {} points, acked {last}",
            points.len()
        );
        for (i, &(ts, value)) in points.iter().enumerate() {
            assert_eq!(ts, base + i as i64, "writer {writer}");
            assert_eq!(value, i as f64 + 0.07, "writer {writer}");
        }
    }
    println!(
        "restart with {} acknowledged batches: {restart:?}",
        acked.iter().sum::<i64>()
    );
}

#[tokio::test]
async fn a_batch_with_bad_points_is_refused_whole_with_every_reason() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    let now = now_ms();
    let batch = json!([
        {"name": "cpu", "labels": {"host": "a"}, "value": 1.5, "ts": now},
        {"name": "1cpu", "value": 1},
        {"name": "cpu", "labels": {"__bad": "x"}, "value": 1},
        {"name": "cpu", "labels": {"host": "a"}, "value": 2, "ts": now - 1000},
        {"name": "cpu", "labels": {"host": "b"}, "value": 3, "ts": now + 3_600_000},
        {"name": "cpu", "labels": {"host": "c"}, "value": 3, "ts": now - 30 * 86_400_000i64},
    ]);
    let (status, reply) = server.ingest("", &batch).await;
    assert_eq!(status, 422);
    assert_eq!(reply.stored, 0);
    assert_eq!(reply.error.expect("an error").code, "points_refused");
    let indexes: Vec<usize> = reply.refused.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5]);
    assert!(reply.refused[0].reason.contains("invalid metric name"));
    assert!(reply.refused[1].reason.contains("reserved"));
    assert!(reply.refused[2]
        .reason
        .contains("does not follow the newest"));
    assert!(reply.refused[3].reason.contains("future"));
    assert!(reply.refused[4].reason.contains("retention"));
    let (_, body) = server.series(&selector("cpu")).await;
    assert_eq!(body["series"], json!([]), "nothing was stored");

    // Asked for partial acceptance, the good point is stored.
    let (status, reply) = server.ingest("?partial=true", &batch).await;
    assert_eq!((status, reply.stored, reply.refused.len()), (200, 1, 5));
    let (_, body) = server.series(&selector("cpu{host=\"a\"}")).await;
    assert_eq!(body["series"][0]["points"], json!([[now, 1.5]]));
    assert_eq!(body["series"][0]["labels"], json!({"host": "a"}));

    // A day of points at max_points=100: at most 100, the spike kept.
    let start = now - 86_000_000;
    let day: Vec<Value> = (0..8_600)
        .map(|i| json!({"name": "lat", "value": if i == 4_321 { 900.0 } else { 10.0 }, "ts": start + i * 10_000}))
        .collect();
    assert_eq!(server.ingest("", &Value::from(day)).await.0, 200);
    let (status, body) = server
        .series(&format!(
            "{}&from={start}&to={now}&max_points=100",
            selector("lat")
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    // A day at 100 points is read from minute rollups, merged into
    // buckets whose band keeps the spike.
    assert_eq!(body["tier"], "1m", "{body}");
    let points = body["series"][0]["points"].as_array().expect("points");
    assert!(points.len() <= 100, "{} points", points.len());
    let band = body["series"][0]["band"].as_array().expect("a band");
    assert_eq!(band.len(), points.len());
    let spikes: Vec<usize> = (0..band.len())
        .filter(|&i| band[i][1] == json!(900.0))
        .collect();
    assert_eq!(spikes.len(), 1, "the spike survives, once");
    let step = body["step_ms"].as_i64().expect("a step");
    let bucket = points[spikes[0]][0].as_i64().expect("a time");
    assert!((bucket..bucket + step).contains(&(start + 43_210_000)));
    // The same answer again is not sent again.
    let url = format!(
        "{}/api/series?{}&from={start}&to={now}&max_points=100",
        server.base,
        selector("lat")
    );
    let first = reqwest::get(&url).await.expect("a query");
    let etag = first.headers()["etag"].clone();
    let again = reqwest::Client::new()
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("a query");
    assert_eq!(again.status(), 304);
    // Hourly sums of the same day.
    let (status, body) = server
        .series(&format!(
            "{}&from={start}&to={now}&step=1h&agg=count",
            selector("lat")
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let counts: i64 = body["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p[1].as_f64().unwrap_or(0.0) as i64)
        .sum();
    assert_eq!(counts, 8_600, "every point counted once");
}

#[tokio::test]
async fn hostile_requests_get_typed_errors_and_change_nothing() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &["--max-series", "40"]).await;
    let client = reqwest::Client::new();
    let post = |body: &'static str, content_type: &'static str| {
        client
            .post(format!("{}/api/ingest", server.base))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases = [
        (
            post("{not json", "application/json").await.unwrap(),
            400,
            "invalid_body",
        ),
        (
            post(r#"{"name": "a"}"#, "application/json").await.unwrap(),
            400,
            "invalid_body",
        ),
        (
            post(r#"[{"name": "a", "value": "NaN"}]"#, "application/json")
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            post("a 1", "text/xml").await.unwrap(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // The series limit refuses new series and keeps old ones. The host's
    // own series count too: of 50 new series some are stored, the rest
    // refused.
    let batch: Vec<Value> = (0..50)
        .map(|i| json!({"name": "m", "labels": {"i": i.to_string()}, "value": 1}))
        .collect();
    let batch = Value::from(batch);
    let (status, reply) = server.ingest("?partial=true", &batch).await;
    assert_eq!(status, 200);
    let stored = reply.stored;
    assert!(stored > 0 && stored < 50, "{stored} stored");
    assert!(reply
        .refused
        .iter()
        .all(|r| r.reason.contains("at most 40 series")));
    assert_eq!(
        reply.refused[0].index, stored,
        "the first new series fill the room"
    );
    let (status, _) = server
        .ingest(
            "",
            &Value::from(batch.as_array().unwrap()[..stored].to_vec()),
        )
        .await;
    assert_eq!(status, 200, "existing series go on");
    let (status, _) = server
        .ingest(
            "",
            &json!([{"name": "m", "labels": {"i": "new"}, "value": 1}]),
        )
        .await;
    assert_eq!(status, 422);

    for (query, status, code) in [
        ("match=m%7Bi%3D%221%22", 400, "invalid_selector"),
        ("match=m%7Bi%3D~%22(%22%7D", 400, "invalid_selector"),
        ("", 400, "missing_selector"),
        ("match=m&from=10&to=5", 400, "invalid_range"),
        ("match=m&from=0&to=99999999999999", 400, "range_too_large"),
        ("match=m&step=5m", 400, "invalid_step"),
        ("match=m&step=1m&max_points=10", 400, "invalid_parameter"),
        ("match=m&agg=avg", 400, "invalid_parameter"),
        ("match=m&step=1m&agg=median", 400, "invalid_agg"),
        ("match=m&rate=maybe", 400, "invalid_parameter"),
        ("match=m&max_points=2", 400, "invalid_max_points"),
        ("match=m&max_points=lots", 400, "invalid_max_points"),
        ("match=m&from=yesterday", 400, "invalid_range"),
    ] {
        let (got, body) = server.series(query).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    let (status, body) = server.series("match=m").await;
    assert_eq!(status, 200);
    assert_eq!(body["series"].as_array().map(Vec::len), Some(stored));

    // Pickers: names, label names, label values, with prefixes.
    let get = |path: String| async move {
        let response = reqwest::get(path).await.expect("the server answers");
        (
            response.status().as_u16(),
            response.json::<Value>().await.expect("JSON"),
        )
    };
    let (_, names) = get(format!(
        "{}/api/series/names?prefix=livedash_host_cpu",
        server.base
    ))
    .await;
    assert_eq!(names["data"], json!(["livedash_host_cpu_percent"]));
    let (_, names) = get(format!("{}/api/series/names?prefix=m", server.base)).await;
    assert_eq!(names["data"], json!(["m"]));
    let (_, labels) = get(format!("{}/api/series/labels?name=m", server.base)).await;
    assert_eq!(labels["data"], json!(["i"]));
    let (_, values) = get(format!(
        "{}/api/series/labels/i/values?name=m&prefix=1",
        server.base
    ))
    .await;
    let values = values["data"].as_array().expect("values").clone();
    assert!(
        !values.is_empty()
            && values
                .iter()
                .all(|v| v.as_str().is_some_and(|v| v.starts_with('1')))
    );
    let (status, body) = get(format!("{}/api/series/labels/__x/values", server.base)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_label"))
    );
    let (status, body) = get(format!("{}/api/series/labels?name=1x", server.base)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_name"))
    );
}

#[tokio::test]
async fn host_samples_are_series_in_the_store_and_outlive_a_restart() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &["--sample-interval", "100ms"]).await;
    let query = selector("livedash_host_cpu_percent{core=\"\"}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = loop {
        let (status, body) = server.series(&query).await;
        assert_eq!(status, 200, "{body}");
        let reply: SeriesReply = serde_json::from_value(body).expect("a series reply");
        if reply.series.first().is_some_and(|s| s.points.len() >= 5) {
            break reply;
        }
        assert!(Instant::now() < deadline, "no host samples in the store");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(before.series.len(), 1, "the total, one host");
    assert!(before.series[0].key.labels.contains_key("host"));
    let (_, cores) = server
        .series(&selector("livedash_host_cpu_percent{core=\"0\"}"))
        .await;
    assert_eq!(cores["series"].as_array().map(Vec::len), Some(1));
    server.kill();

    let server = Server::start(&data.0, &["--sample-interval", "1h"]).await;
    let (_, body) = server.series(&query).await;
    let after: SeriesReply = serde_json::from_value(body).expect("a series reply");
    let kept = &after.series[0].points;
    for point in &before.series[0].points {
        assert!(kept.contains(point), "{point:?} was lost");
    }
    // The page is rendered with the chart's last minute from the store.
    let html = reqwest::get(format!("{}/", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let oldest = before.series[0].points[0].0;
    assert!(
        html.contains(&format!("data-oldest=\"{oldest}\"")),
        "the chart starts from history"
    );
}

#[tokio::test]
async fn the_prometheus_text_format_is_taken_and_bad_lines_are_named() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    let now = now_ms();
    let client = reqwest::Client::new();
    let post = |body: String, query: &'static str, origin: Option<&'static str>| {
        let mut request = client
            .post(format!("{}/api/ingest{query}", server.base))
            .header("content-type", "text/plain; version=0.0.4")
            .body(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let text = format!(
        "# TYPE http_requests_total counter\n\
         http_requests_total{{code=\"200\",path=\"/a \\\"b\\\"\"}} 1027 {now}\n\
         queue_depth 12.5\n"
    );
    let response = post(text, "", None).await.unwrap();
    assert_eq!(response.status(), 200);
    let reply: IngestReply = response.json().await.unwrap();
    assert_eq!(reply.stored, 2);
    let (_, body) = server
        .series(&selector("http_requests_total{path=\"/a \\\"b\\\"\"}"))
        .await;
    assert_eq!(body["series"][0]["points"], json!([[now, 1027.0]]));

    // Bad lines are refused by line number, with the non-finite value the
    // store does not take, and nothing is stored.
    let response = post("ok 1\nbad{ 2\nnan_value NaN\n".to_string(), "", None)
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let reply: IngestReply = response.json().await.unwrap();
    let lines: Vec<usize> = reply.refused.iter().map(|r| r.index).collect();
    assert_eq!(lines, [2, 3]);
    assert!(reply.refused[1].reason.contains("not a finite number"));
    let (_, body) = server.series(&selector("ok")).await;
    assert_eq!(body["series"], json!([]));

    // A page of another origin cannot push (text/plain needs no preflight).
    let response = post("ok 1\n".to_string(), "", Some("http://evil.example"))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn stored_points_go_live_to_the_pages_that_follow_their_series() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    let wanted = "cpu{host=\"a\"}";
    let filter = urlencode(&json!({ "series": [wanted] }).to_string());
    let (response, ()) = support::SseReader::open(
        &format!(
            "{}/api/realtime/sse?channels=series&filter={filter}",
            server.base
        ),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut stream = support::SseReader::new(response);
    // The stream is open once its first snapshot or heartbeat arrives.
    stream.next().await.expect("the stream opens");
    let now = now_ms();
    let batch = json!([
        {"name": "cpu", "labels": {"host": "b"}, "value": 9, "ts": now - 2_000},
        {"name": "cpu", "labels": {"host": "a"}, "value": 1.5, "ts": now - 2_000},
        {"name": "cpu", "labels": {"host": "a"}, "value": 2.5, "ts": now - 1_000},
    ]);
    assert_eq!(server.ingest("", &batch).await.0, 200);
    let event = stream.next_named("points").await;
    let envelope: Value = serde_json::from_str(&event.data).expect("an envelope");
    assert_eq!(envelope["channel"], "series");
    assert_eq!(envelope["key"], wanted);
    assert_eq!(envelope["data"]["labels"], json!({"host": "a"}));
    // Live and history agree point for point.
    let (_, history) = server.series(&selector(wanted)).await;
    assert_eq!(envelope["data"]["points"], history["series"][0]["points"]);
    assert_eq!(
        envelope["data"]["points"],
        json!([[now - 2_000, 1.5], [now - 1_000, 2.5]])
    );
    // Host b's points were not sent to this page: the next event is a's.
    let batch = json!([
        {"name": "cpu", "labels": {"host": "b"}, "value": 8, "ts": now},
        {"name": "cpu", "labels": {"host": "a"}, "value": 3.5, "ts": now},
    ]);
    assert_eq!(server.ingest("", &batch).await.0, 200);
    let event = stream.next_named("points").await;
    let envelope: Value = serde_json::from_str(&event.data).expect("an envelope");
    assert_eq!(envelope["data"]["points"], json!([[now, 3.5]]));
}

#[tokio::test]
async fn every_resolution_answers_the_same_after_kill_9() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    // Three hours of one sample every 5 s for 20 series, sent in time order
    // in batches of 5,000: enough for sealed raw chunks, sealed minute
    // chunks and finished hours.
    let now = now_ms();
    let start = now - 3 * 3_600_000;
    let steps = 3 * 720;
    let mut batch = Vec::new();
    for i in 0..steps {
        for s in 0..20 {
            batch.push(json!({
                "name": "resolution_test",
                "labels": {"s": s.to_string()},
                "value": ((i * 7_919 + s * 31) % 10_000) as f64 / 100.0,
                "ts": start + i * 5_000,
            }));
            if batch.len() == 5_000 {
                let (status, reply) = server
                    .ingest("", &Value::from(std::mem::take(&mut batch)))
                    .await;
                assert_eq!((status, reply.refused.len()), (200, 0));
            }
        }
    }
    let (status, _) = server.ingest("", &Value::from(batch)).await;
    assert_eq!(status, 200);
    let to = now;
    let queries = [
        format!("match=resolution_test&from={start}&to={to}"),
        format!("match=resolution_test&from={start}&to={to}&max_points=100"),
        format!("match=resolution_test%7Bs%3D~%221.*%22%7D&from={start}&to={to}&step=1m&agg=max"),
        format!("match=resolution_test&from={start}&to={to}&step=1h&agg=count"),
        format!("match=resolution_test&from={start}&to={to}&step=1d&agg=avg"),
    ];
    let answers = |server: &Server| {
        let base = server.base.clone();
        let queries = queries.clone();
        async move {
            let mut out = Vec::new();
            for query in &queries {
                let response = reqwest::get(format!("{base}/api/series?{query}"))
                    .await
                    .expect("the server answers");
                assert_eq!(response.status(), 200, "{query}");
                let etag = response.headers()["etag"]
                    .to_str()
                    .expect("ASCII")
                    .to_string();
                let body: Value = response.json().await.expect("JSON");
                out.push((etag, body));
            }
            out
        }
    };
    let before = answers(&server).await;
    // Every sample is counted once by the hour rollups.
    let counted: f64 = before[3].1["series"]
        .as_array()
        .expect("series")
        .iter()
        .flat_map(|s| s["points"].as_array().expect("points").iter())
        .map(|p| p[1].as_f64().expect("a count"))
        .sum();
    assert_eq!(counted, (20 * steps) as f64);
    assert_eq!(
        before[2].1["series"].as_array().map(Vec::len),
        Some(11),
        "s=1 and s=10..19"
    );
    assert_eq!(before[1].1["tier"], "1m");
    server.kill();
    let server = Server::start(&data.0, &[]).await;
    let after = answers(&server).await;
    for ((query, (tag_before, body_before)), (tag_after, body_after)) in
        queries.iter().zip(&before).zip(&after)
    {
        assert_eq!(body_after, body_before, "{query}");
        assert_eq!(tag_after, tag_before, "{query}");
    }
}

/// A `WriteRequest` as Prometheus sends it, snappy-compressed.
fn remote_write_body(series: &[server::sources::remote_write::Series<'_>]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&server::sources::remote_write::encode(series))
        .expect("snappy compresses")
}

#[tokio::test]
async fn influx_lines_and_prometheus_remote_write_are_stored_and_read_back() {
    let data = TempDir::new();
    let server = Server::start(&data.0, &[]).await;
    let client = reqwest::Client::new();
    let now = now_ms();
    let seconds = now / 1_000;

    // The InfluxDB v2 write path, seconds precision, as Telegraf sends.
    let lines = format!(
        "disk,host=db\\ 1,path=/var used_percent=71.5,inodes=12i,ok=true {s0}\n\
         disk,host=db\\ 1,path=/var used_percent=72.25,inodes=13i,ok=false {s1}\n\
         bad line\n",
        s0 = seconds - 1,
        s1 = seconds
    );
    let response = client
        .post(format!(
            "{}/api/v2/write?precision=s&partial=true",
            server.base
        ))
        .header("content-type", "text/plain; charset=utf-8")
        .body(lines)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let reply: IngestReply = response.json().await.expect("a reply");
    assert_eq!((reply.stored, reply.refused.len()), (6, 1));
    assert_eq!(reply.refused[0].index, 3, "the bad line is named");
    let (_, body) = server
        .series(&selector("disk_used_percent{host=\"db 1\",path=\"/var\"}"))
        .await;
    assert_eq!(
        body["series"][0]["points"],
        json!([[(seconds - 1) * 1_000, 71.5], [seconds * 1_000, 72.25]])
    );
    let (_, body) = server.series(&selector("disk_ok")).await;
    assert_eq!(body["series"][0]["points"][1][1], json!(0.0));

    // Prometheus remote write: a staleness marker is skipped, a NaN is
    // refused alone (the rest is stored), the answer is 400 then.
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let write = |body: Vec<u8>| {
        client
            .post(format!("{}/api/v1/write", server.base))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body)
            .send()
    };
    let body = remote_write_body(&[
        (
            &[
                ("__name__", "node_load1"),
                ("instance", "a:9100"),
                ("job", "node"),
            ],
            &[(0.5, now - 2_000), (0.75, now - 1_000), (stale, now)],
        ),
        (&[("__name__", "up"), ("job", "node")], &[(1.0, now)]),
    ]);
    let response = write(body).await.expect("the server answers");
    assert_eq!(response.status(), 204);
    let (_, body) = server.series(&selector("node_load1{job=\"node\"}")).await;
    assert_eq!(
        body["series"][0]["points"],
        json!([[now - 2_000, 0.5], [now - 1_000, 0.75]])
    );
    assert_eq!(body["series"][0]["labels"]["instance"], "a:9100");
    let body = remote_write_body(&[
        (
            &[("__name__", "up"), ("job", "node")],
            &[(f64::NAN, now + 1)],
        ),
        (&[("__name__", "up"), ("job", "other")], &[(1.0, now)]),
    ]);
    let response = write(body).await.expect("the server answers");
    assert_eq!(response.status(), 400);
    let reply: IngestReply = response.json().await.expect("a reply");
    assert_eq!((reply.stored, reply.refused.len()), (1, 1));
    assert_eq!(reply.refused[0].index, 0);
    let (_, body) = server.series(&selector("up")).await;
    assert_eq!(body["series"].as_array().map(Vec::len), Some(2));

    // Hostile bodies: not snappy, a decompression bomb, gzip'd text.
    let bomb = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 64 << 20])
        .expect("compresses");
    for (body, encoding, status) in [
        (b"not snappy".to_vec(), "snappy", 400),
        (bomb, "snappy", 400),
        (b"up 1".to_vec(), "gzip", 415),
    ] {
        let response = client
            .post(format!("{}/api/v1/write", server.base))
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), status, "{encoding}");
        let error: Value = response.json().await.expect("a JSON error");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
    let (_, body) = server.series(&selector("up")).await;
    assert_eq!(
        body["series"].as_array().map(Vec::len),
        Some(2),
        "nothing else stored"
    );
}
