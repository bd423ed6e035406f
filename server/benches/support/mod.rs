//! What the benchmarks share: a quiet livedash server in this process on an
//! ephemeral loopback port, and their positional arguments.

// Each benchmark compiles this module and uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use clap::Parser;

/// The benchmark's positional arguments (flags such as `--bench` skipped).
pub fn args() -> Vec<String> {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect()
}

/// The benchmark's positional arguments that are numbers, in order.
pub fn numbers() -> Vec<usize> {
    args().iter().filter_map(|a| a.parse().ok()).collect()
}

/// The clock, Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Starts a server whose host sampler is quiet, with `extra` options, and
/// returns its address. Its data directory is removed when the returned
/// guard is dropped.
pub async fn start_server(name: &str, extra: &[&str]) -> (SocketAddr, DataDir) {
    let dir = std::env::temp_dir().join(format!("livedash-{name}-{}", std::process::id()));
    let mut argv = vec![
        "livedash",
        "--sample-interval",
        "1h",
        "--log-level",
        "warn",
        "--data-dir",
    ];
    let dir_text = dir.to_string_lossy().into_owned();
    argv.push(&dir_text);
    argv.extend_from_slice(extra);
    let config = server::config::Config::parse_from(argv);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, config, std::future::pending()));
    (addr, DataDir(dir))
}

/// A benchmark server's data directory, removed when dropped.
pub struct DataDir(std::path::PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
