//! `livedash-load`: a load generator and exactly-once checker for a running
//! livedash server. See `livedash-load --help` and the README's "Load
//! testing".
//!
//! The picture: `run` opens N subscribers (one task and one connection
//! each: `sse`, `ws` or `poll`, sharing `subscriber`), then P publishers
//! (`publisher`) that post numbered, timestamped probes (`probe`) over the
//! minimal HTTP client (`http`, `chunked`). Every subscriber checks its own
//! stream as it arrives (`verify`) and records latencies in its own
//! histogram (`histogram`), so the hot path shares nothing; `report` sums
//! the tasks' reports at the end. `rss` and `limits` read `/proc`.
//!
//! It speaks the protocol only through `app::protocol`'s wire types, never
//! through the server's internals.

mod chunked;
mod config;
mod histogram;
mod http;
mod limits;
mod poll;
mod probe;
mod publisher;
mod report;
mod rss;
mod run;
mod sse;
mod subscriber;
mod verify;
mod ws;

use std::process::ExitCode;

use clap::Parser;

use crate::config::Config;

/// Exit status for options that make no sense (as clap's own errors).
const EXIT_USAGE: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(error) = config.validate() {
        eprintln!("livedash-load: {error}");
        return ExitCode::from(EXIT_USAGE);
    }
    let report = match run::run(&config).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("livedash-load: {error}");
            return ExitCode::from(report::EXIT_INCOMPLETE);
        }
    };
    if config.json {
        eprintln!("{report}");
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    ExitCode::from(report.exit_status())
}
