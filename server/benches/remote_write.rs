//! Prometheus remote write, side by side: the same load against livedash
//! and (when `/usr/bin/prometheus` is installed, Debian's 2.42) against
//! Prometheus' own receiver, in one run on one machine.
//!
//! `cargo bench --bench remote_write -- [series] [seconds] [connections]
//! [--only livedash|prometheus]` (defaults 10,000, 3,600 and 4; both
//! targets): four fifths of the series are noisy
//! two-decimal gauges and one fifth integer counters, one sample per series
//! per second of data time, ending now. Series are sharded over the
//! connections (as Prometheus' own remote-write shards do), so each
//! series' samples arrive in order; each request carries one second of
//! its shard, protobuf + snappy, encoded before the clock starts. Reported
//! per target: samples/s, resident memory at the end, and bytes per sample
//! of sealed chunks on disk once each has been stopped with SIGTERM
//! (livedash's raw segments, Prometheus' `chunks_head`). Figures go to
//! BENCHMARKS.md.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

mod support;

use server::rng::Rng;

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn label(name: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    field_bytes(&mut out, 1, name.as_bytes());
    field_bytes(&mut out, 2, value.as_bytes());
    out
}

/// One request: `WriteRequest { timeseries }`, one sample per series.
fn request(labels: &[Vec<Vec<u8>>], samples: &[(usize, f64)], ts: i64) -> Vec<u8> {
    let mut body = Vec::new();
    for &(series, value) in samples {
        let mut ts_msg = Vec::new();
        for l in &labels[series] {
            field_bytes(&mut ts_msg, 1, l);
        }
        let mut sample = Vec::new();
        varint(&mut sample, 1 << 3 | 1);
        sample.extend_from_slice(&value.to_bits().to_le_bytes());
        varint(&mut sample, 2 << 3);
        varint(&mut sample, ts as u64);
        field_bytes(&mut ts_msg, 2, &sample);
        field_bytes(&mut body, 1, &ts_msg);
    }
    snap::raw::Encoder::new()
        .compress_vec(&body)
        .expect("snappy compresses")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Target {
    name: &'static str,
    child: Child,
    url: String,
    /// Where its sealed chunks are.
    chunks: PathBuf,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(url).await.is_err() {
        assert!(Instant::now() < deadline, "{url} did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn livedash(dir: &Path) -> Target {
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_livedash"))
        .args([
            "--listen",
            &listen,
            "--log-level",
            "warn",
            "--sample-interval",
            "1h",
        ])
        .args(["--max-series", "1000000", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("livedash starts");
    wait_for(&format!("http://{listen}/healthz")).await;
    Target {
        name: "livedash",
        child,
        url: format!("http://{listen}/api/v1/write"),
        chunks: dir.join("metrics/raw"),
    }
}

async fn prometheus(dir: &Path) -> Option<Target> {
    let binary = Path::new("/usr/bin/prometheus");
    if !binary.exists() {
        return None;
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let config = dir.join("prometheus.yml");
    std::fs::create_dir_all(dir).ok()?;
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").ok()?;
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    wait_for(&format!("http://{listen}/-/ready")).await;
    Some(Target {
        name: "prometheus 2.42",
        child,
        url: format!("http://{listen}/api/v1/write"),
        chunks: dir.join("data/chunks_head"),
    })
}

async fn run(target: &Target, shards: &Arc<Vec<Vec<Vec<u8>>>>, samples: u64) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let tasks: Vec<_> = (0..shards.len())
        .map(|c| {
            let (client, shards, url) = (client.clone(), shards.clone(), target.url.clone());
            tokio::spawn(async move {
                for body in &shards[c] {
                    // A 5xx is retried after a pause, as Prometheus' own
                    // sender does; anything else but success is a failure.
                    let mut attempts = 0;
                    loop {
                        let response = client
                            .post(&url)
                            .header("content-encoding", "snappy")
                            .header("content-type", "application/x-protobuf")
                            .header("x-prometheus-remote-write-version", "0.1.0")
                            .body(body.clone())
                            .send()
                            .await
                            .expect("the target answers");
                        let status = response.status();
                        if status.is_success() {
                            break;
                        }
                        attempts += 1;
                        assert!(
                            status.is_server_error() && attempts < 20,
                            "{url}: {status}: {:?}",
                            response.text().await
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a connection's task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let resident = rss_kib(target.child.id());
    // Both seal what they hold when stopped (livedash closes its open
    // segments into their compact form; Prometheus cuts its head chunks).
    // SAFETY: kill only sends a signal to the child's pid.
    unsafe {
        libc::kill(target.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(format!("/proc/{}", target.child.id())).is_ok_and(|_| {
        std::fs::read_to_string(format!("/proc/{}/stat", target.child.id()))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }) {
        assert!(Instant::now() < deadline, "{} did not stop", target.name);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let chunks = dir_bytes(&target.chunks);
    println!(
        "{:>16}: {:>9.0} samples/s ({samples} in {elapsed:.1} s), {:.0} MiB resident, {:.2} bytes/sample in sealed chunks ({} bytes)",
        target.name,
        samples as f64 / elapsed,
        resident as f64 / 1024.0,
        chunks as f64 / samples as f64,
        chunks,
    );
}

#[tokio::main]
async fn main() {
    let args = support::numbers();
    let series = args.first().copied().unwrap_or(10_000);
    let seconds = args.get(1).copied().unwrap_or(3_600);
    let connections = args.get(2).copied().unwrap_or(4).max(1);
    let labels: Vec<Vec<Vec<u8>>> = (0..series)
        .map(|i| {
            let name = if i % 5 == 4 {
                "bench_requests_total"
            } else {
                "bench_latency_ms"
            };
            vec![
                label("__name__", name),
                label("instance", &format!("host-{}", i % 100)),
                label("job", "bench"),
                label("series", &i.to_string()),
            ]
        })
        .collect();
    let encoding = Instant::now();
    let mut rngs: Vec<Rng> = (0..series)
        .map(|i| Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1)))
        .collect();
    let mut levels: Vec<f64> = rngs.iter_mut().map(|r| 50.0 + r.unit() * 100.0).collect();
    let start = support::now_ms() - seconds as i64 * 1_000;
    let mut shards: Vec<Vec<Vec<u8>>> = vec![Vec::with_capacity(seconds); connections];
    for second in 0..seconds {
        let ts = start + second as i64 * 1_000;
        for (c, shard) in shards.iter_mut().enumerate() {
            let samples: Vec<(usize, f64)> = (c..series)
                .step_by(connections)
                .map(|i| {
                    let rng = &mut rngs[i];
                    let value = if i % 5 == 4 {
                        levels[i] += (rng.unit() * 40.0).floor();
                        levels[i].floor()
                    } else {
                        levels[i] += (rng.unit() - 0.5) * 2.0;
                        ((levels[i] + (rng.unit() - 0.5) * 5.0) * 100.0).round() / 100.0
                    };
                    (i, value)
                })
                .collect();
            shard.push(request(&labels, &samples, ts));
        }
    }
    let wire: usize = shards.iter().flatten().map(Vec::len).sum();
    let samples = (series * seconds) as u64;
    println!(
        "{series} series x {seconds} s over {connections} connections: {samples} samples, {:.1} bytes/sample on the wire, encoded in {:.1} s",
        wire as f64 / samples as f64,
        encoding.elapsed().as_secs_f64()
    );
    let shards = Arc::new(shards);
    let root = std::env::temp_dir().join(format!("livedash-bench-rw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // `--only livedash` or `--only prometheus` runs one of them.
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    if only.is_empty() || only == "livedash" {
        let target = livedash(&root.join("livedash")).await;
        run(&target, &shards, samples).await;
    }
    if only.is_empty() || only == "prometheus" {
        match prometheus(&root.join("prometheus")).await {
            Some(target) => run(&target, &shards, samples).await,
            None => println!("prometheus: /usr/bin/prometheus is not installed"),
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
