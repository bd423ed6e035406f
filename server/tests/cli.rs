//! The `livedash` command line, run as a real process.

use std::process::Command;

fn livedash(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livedash"))
        .args(args)
        .output()
        .expect("livedash runs")
}

#[test]
fn help_describes_every_option_and_its_variable() {
    let output = livedash(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "--data-dir",
        "--sample-interval",
        "--heartbeat-interval",
        "--allowed-origins",
        "--public-hosts",
        "--log-level",
    ] {
        assert!(help.contains(option), "--help mentions {option}");
    }
    for variable in [
        "LIVEDASH_LISTEN",
        "LIVEDASH_DATA_DIR",
        "LIVEDASH_SAMPLE_INTERVAL",
        "LIVEDASH_ALLOWED_ORIGINS",
        "LIVEDASH_PUBLIC_HOSTS",
        "LIVEDASH_LOG_LEVEL",
    ] {
        assert!(help.contains(variable), "--help mentions {variable}");
    }
}

#[test]
fn unknown_options_and_invalid_values_exit_with_status_2_and_a_message() {
    for args in [
        &["--no-such-option"][..],
        &["--listen", "not-an-address"],
        &["--sample-interval", "0s"],
        &["--allowed-origins", "foo"],
    ] {
        let output = livedash(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("error"),
            "{args:?}"
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_livedash"))
        .env("LIVEDASH_LOG_LEVEL", "chatty")
        .output()
        .expect("livedash runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "invalid environment values are usage errors too"
    );
}
