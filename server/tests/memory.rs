//! The server's resident memory stays within its configured history budget
//! plus a constant, whatever publishers do: measured on the real binary, run
//! as its own process, from `/proc/<pid>/status`.

use serde_json::{json, Value};

mod support;
use support::{process::Process, tempdir::TempDir};

/// What the server may hold beyond its history budget: the runtime, the
/// embedded site, allocator slack, connection buffers.
const CONSTANT: u64 = 48 << 20;
const BUDGET: u64 = 16 << 20;

/// The real binary and the data directory it writes to.
struct Server {
    process: Process,
    _data: TempDir,
}

impl Server {
    async fn start(args: &[&str]) -> Self {
        let data = TempDir::new();
        let process = Process::start(&data.0, args).await;
        Self {
            process,
            _data: data,
        }
    }

    fn rss(&self) -> u64 {
        self.process.rss()
    }

    /// Fails unless the RSS is at most `start` plus the budget and the constant.
    fn assert_within_budget(&self, start: u64) {
        let end = self.rss();
        assert!(
            end <= start + BUDGET + CONSTANT,
            "RSS went from {} MiB to {} MiB (budget {} MiB)",
            mib(start),
            mib(end),
            mib(BUDGET)
        );
    }

    async fn publish(&self, client: &reqwest::Client, body: Value) -> u16 {
        client
            .post(format!("{}/api/realtime/events", self.process.base))
            .json(&body)
            .send()
            .await
            .expect("the server answers")
            .status()
            .as_u16()
    }
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

#[tokio::test]
async fn a_hundred_thousand_channel_names_stay_within_the_budget() {
    let server = Server::start(&["--history-budget", "16MiB", "--max-channels", "1000000"]).await;
    let start = server.rss();
    let client = reqwest::Client::new();
    for batch in 0..100 {
        let events: Vec<Value> = (0..1000)
            .map(|i| json!({"channel": format!("user-{batch}-{i}"), "data": {"n": i, "pad": "x".repeat(200)}}))
            .collect();
        assert_eq!(server.publish(&client, Value::Array(events)).await, 200);
    }
    server.assert_within_budget(start);
}

#[tokio::test]
async fn large_payloads_on_one_channel_stay_within_the_budget() {
    let server = Server::start(&["--history-budget", "16MiB", "--history-bytes", "8MiB"]).await;
    let start = server.rss();
    let client = reqwest::Client::new();
    let pad = "y".repeat(900 * 1024);
    for n in 0..200 {
        assert_eq!(
            server
                .publish(
                    &client,
                    json!({"channel": "big", "data": {"n": n, "pad": pad}})
                )
                .await,
            200
        );
    }
    server.assert_within_budget(start);
}
