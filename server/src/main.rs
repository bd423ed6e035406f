//! The `livedash` binary: parses the configuration, sets up logging and runs
//! the server until SIGINT or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use server::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    // Invalid options exit here with clap's message and status 2.
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::from(config.log_level))
        .with_target(false)
        .init();
    match server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
