//! The `livedash-load` binary, run for real: against a real server on each
//! transport (every event must arrive once, and the run must say so), and
//! against a deliberately faulty stand-in server that drops, repeats or
//! resets, to show that the check catches what it should and blames only
//! what it should.

mod support;

use std::{
    net::SocketAddr,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::protocol::{
    Envelope, Position, PublishBody, PublishReply, Snapshot, HEARTBEAT_EVENT, RESET_EVENT,
    SNAPSHOT_EVENT,
};
use axum::{
    extract::State,
    response::sse::{Event, Sse},
    routing::{get, post},
    Json, Router,
};
use futures_util::{stream, Stream, StreamExt};
use serde_json::Value;
use support::quiet_server;
use tokio::{net::TcpListener, sync::broadcast};

/// What a run printed and how it ended.
struct Run {
    status: i32,
    report: Value,
    stderr: String,
}

/// Runs `livedash-load --json` with `args` against `addr`.
async fn load(addr: SocketAddr, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livedash-load"));
    command
        .arg("--url")
        .arg(format!("http://{addr}"))
        .arg("--json")
        // Bounds the run whatever happens: it stops publishing by then.
        .args(["--duration", "30s", "--drain-timeout", "5s"])
        .args(args);
    // The server runs on this test's runtime: wait for the process elsewhere.
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("livedash-load ends on its own")
    .expect("the waiting thread does not panic")
    .expect("livedash-load starts");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is one JSON report ({e}): {stdout}\n{stderr}"));
    Run {
        status: output.status.code().unwrap_or(-1),
        report,
        stderr,
    }
}

/// Runs 20 subscribers and 2 publishers (2,000 events, in batches of 10 and
/// one by one) on `transport` and checks every event arrived once.
async fn every_event_arrives_once_over(transport: &str) {
    // History large enough that no subscriber is ever reset.
    let server = quiet_server(&["--history-events", "100000"]).await;
    for batch in ["10", "1"] {
        let run = load(
            server.addr,
            &[
                "--transport",
                transport,
                "--subscribers",
                "20",
                "--publishers",
                "2",
                "--events",
                "2000",
                "--rate",
                "0",
                "--batch",
                batch,
            ],
        )
        .await;
        let report = &run.report;
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert_eq!(report["verdict"], "ok", "{}", run.stderr);
        assert_eq!(report["connections"]["established"], 20);
        assert_eq!(report["published"]["events"], 2000);
        assert_eq!(report["delivered"]["events"], 40_000);
        assert_eq!(report["delivered"]["expected"], 40_000);
        let check = &report["exactly_once"];
        for violation in ["lost", "duplicated", "out_of_order", "resets"] {
            assert_eq!(check[violation], 0, "{violation}: {}", run.stderr);
        }
        assert_eq!(report["latency_us"]["samples"], 40_000);
        assert!(
            report["latency_us"]["p99_us"].as_u64().unwrap()
                >= report["latency_us"]["p50_us"].as_u64().unwrap()
        );
    }
}

#[tokio::test]
async fn every_sse_subscriber_gets_every_event_once() {
    every_event_arrives_once_over("sse").await;
}

#[tokio::test]
async fn every_websocket_subscriber_gets_every_event_once() {
    every_event_arrives_once_over("ws").await;
}

#[tokio::test]
async fn every_polling_subscriber_gets_every_event_once() {
    every_event_arrives_once_over("poll").await;
}

#[tokio::test]
async fn an_idle_run_measures_the_servers_memory_per_connection() {
    let server = quiet_server(&[]).await;
    // The server runs in this test process: its memory is ours.
    let pid = std::process::id().to_string();
    let run = load(
        server.addr,
        &[
            "--idle",
            "--subscribers",
            "50",
            "--transport",
            "ws",
            "--server-pid",
            &pid,
        ],
    )
    .await;
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.report["connections"]["established"], 50);
    assert!(
        run.report["server_rss"]["established_kib"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(run.report["server_rss"]["per_connection_kib"].is_number());
    assert!(run.report["published"].is_null());
}

#[tokio::test]
async fn connect_failures_make_an_incomplete_run() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let run = load(addr, &["--subscribers", "3", "--events", "10"]).await;
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert_eq!(run.report["connections"]["failures"], 3);
    assert_eq!(run.report["verdict"], "incomplete");
}

/// What the stand-in server does wrong.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Never delivers the event at this position.
    Drop(u64),
    /// Delivers the event at this position twice.
    Repeat(u64),
    /// At this position, sends a reset to the position `skip` later and
    /// skips the events up to it: what a server does when a client fell
    /// too far behind.
    Reset { at: u64, skip: u64 },
    /// Ends every stream just before this position.
    End(u64),
}

#[derive(Clone)]
struct Faulty {
    fault: Fault,
    head: Arc<Mutex<u64>>,
    events: broadcast::Sender<(u64, String)>,
}

/// A stand-in for livedash's publish and SSE endpoints, faithful except for
/// its one fault.
async fn faulty_server(fault: Fault) -> SocketAddr {
    let (events, _) = broadcast::channel(4096);
    let state = Faulty {
        fault,
        head: Arc::new(Mutex::new(0)),
        events,
    };
    let app = Router::new()
        .route("/api/realtime/events", post(faulty_publish))
        .route("/api/realtime/sse", get(faulty_sse))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn faulty_publish(State(state): State<Faulty>, Json(body): Json<PublishBody>) -> Json<Value> {
    let requests = match body {
        PublishBody::One(one) => vec![one],
        PublishBody::Batch(batch) => batch,
    };
    let mut ids = Vec::new();
    let mut head = state.head.lock().unwrap();
    for request in requests {
        *head += 1;
        let envelope = Envelope {
            id: Position::new(1, *head),
            channel: request.channel,
            event: "message".to_string(),
            key: None,
            ts: 0,
            data: request.data,
        };
        let _ = state
            .events
            .send((*head, serde_json::to_string(&envelope).unwrap()));
        ids.push(envelope.id);
    }
    let reply = match ids.as_slice() {
        [id] => PublishReply::One { id: *id },
        _ => PublishReply::Batch { ids },
    };
    Json(serde_json::to_value(reply).unwrap())
}

fn snapshot_event(kind: &str, head: u64) -> Event {
    let envelope = Envelope {
        id: Position::new(1, head),
        channel: "load".to_string(),
        event: kind.to_string(),
        key: None,
        ts: 0,
        data: Snapshot {
            reason: None,
            events: Vec::new(),
        },
    };
    Event::default()
        .id(envelope.id.to_string())
        .event(kind)
        .data(serde_json::to_string(&envelope).unwrap())
}

async fn faulty_sse(
    State(state): State<Faulty>,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    // Subscribed before the first byte goes out, as livedash does.
    let receiver = state.events.subscribe();
    let head = *state.head.lock().unwrap();
    let opening = stream::iter([
        Event::default().event(HEARTBEAT_EVENT).data("{}"),
        snapshot_event(SNAPSHOT_EVENT, head),
    ]);
    let fault = state.fault;
    let live = stream::unfold(receiver, move |mut receiver| async move {
        let (position, json) = receiver.recv().await.ok()?;
        if matches!(fault, Fault::End(at) if position >= at) {
            return None;
        }
        let event = || {
            Event::default()
                .id(format!("1-{position}"))
                .event("message")
                .data(json.clone())
        };
        let events = match fault {
            Fault::Drop(at) if position == at => vec![],
            Fault::Repeat(at) if position == at => vec![event(), event()],
            Fault::Reset { at, .. } if position == at => {
                vec![snapshot_event(RESET_EVENT, position)]
            }
            Fault::Reset { at, skip } if position > at && position <= at + skip => vec![],
            _ => vec![event()],
        };
        Some((stream::iter(events), receiver))
    })
    .flatten();
    Sse::new(opening.chain(live).map(Ok))
}

async fn load_faulty(fault: Fault) -> Run {
    let addr = faulty_server(fault).await;
    load(
        addr,
        &[
            "--subscribers",
            "3",
            "--publishers",
            "1",
            "--events",
            "50",
            "--rate",
            "0",
        ],
    )
    .await
}

#[tokio::test]
async fn a_dropped_event_is_reported_as_lost_and_fails_the_run() {
    let run = load_faulty(Fault::Drop(7)).await;
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(run.report["verdict"], "violation");
    let check = &run.report["exactly_once"];
    assert_eq!(check["lost"], 3, "one per subscriber");
    assert_eq!(check["duplicated"], 0);
    assert_eq!(check["subscribers_violating"], 3);
    assert!(run.stderr.contains("VIOLATED"), "{}", run.stderr);
}

#[tokio::test]
async fn a_repeated_event_is_reported_as_duplicated_and_fails_the_run() {
    let run = load_faulty(Fault::Repeat(20)).await;
    assert_eq!(run.status, 1, "{}", run.stderr);
    let check = &run.report["exactly_once"];
    assert_eq!(check["duplicated"], 3);
    assert_eq!(
        check["out_of_order"], 3,
        "the repeat's position did not increase"
    );
    assert_eq!(check["lost"], 0);
}

#[tokio::test]
async fn a_reset_is_counted_but_not_blamed() {
    let run = load_faulty(Fault::Reset { at: 10, skip: 5 }).await;
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.report["verdict"], "ok");
    let check = &run.report["exactly_once"];
    assert_eq!(check["resets"], 3);
    assert_eq!(check["subscribers_reset"], 3);
    assert_eq!(check["lost"], 0);
    // Positions 10 to 15 were skipped by the reset.
    assert_eq!(run.report["delivered"]["events"], 3 * 44);
}

#[tokio::test]
async fn a_stream_that_ends_early_makes_an_incomplete_run_not_a_loss() {
    let run = load_faulty(Fault::End(30)).await;
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert_eq!(run.report["verdict"], "incomplete");
    assert_eq!(run.report["delivered"]["subscriber_errors"], 3);
    assert_eq!(run.report["exactly_once"]["lost"], 0);
    assert_eq!(run.report["delivered"]["events"], 3 * 29);
}
