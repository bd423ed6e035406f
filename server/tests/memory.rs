//! The server's resident memory stays within its configured history budget
//! plus a constant, whatever publishers do: measured on the real binary, run
//! as its own process, from `/proc/<pid>/status`.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

mod support;
use support::tempdir::TempDir;

/// What the server may hold beyond its history budget: the runtime, the
/// embedded site, allocator slack, connection buffers.
const CONSTANT: u64 = 48 << 20;
const BUDGET: u64 = 16 << 20;

struct Server {
    child: Child,
    base: String,
    _data: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let data = TempDir::new();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_livedash"))
            .args([
                "--listen",
                &listen,
                "--sample-interval",
                "1h",
                "--log-level",
                "warn",
            ])
            .args(["--data-dir", data.0.to_str().expect("a UTF-8 temp path")])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("livedash starts");
        let server = Self {
            child,
            base: format!("http://{listen}"),
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
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
            .post(format!("{}/api/realtime/events", self.base))
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
