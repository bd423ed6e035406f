//! The `livedash` binary: parses the configuration, sets up logging and runs
//! the server until SIGINT or SIGTERM.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Invalid options exit here with their message and status 2.
    let config = match server::config::load(std::env::args_os().collect()) {
        Ok(config) => config,
        Err(server::config::ConfigError::Options(error)) => error.exit(),
        Err(error) => {
            eprintln!("livedash: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::from(config.log_level))
        .with_target(false)
        .init();
    raise_open_file_limit();
    match server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit of open files to the hard limit: every connection
/// is a file, and the default soft limit (often 1024) is far below
/// `--max-connections`.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct
        // passed by pointer, which lives on this stack frame.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                let wanted = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                    tracing::warn!("cannot raise the open file limit");
                }
            }
        }
    }
}
