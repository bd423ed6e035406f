//! The configuration file (`--config livedash.toml`, or `LIVEDASH_CONFIG`):
//! every command-line option, by its long name, plus the `[[scrape]]`
//! targets, which only the file can give.
//!
//! ```toml
//! listen = "0.0.0.0:3000"
//! data-dir = "/var/lib/livedash"
//! retention-raw = "48h"
//! allowed-origins = ["https://dash.example.com"]
//!
//! [[scrape]]
//! url = "http://127.0.0.1:9100/metrics"
//! interval = "15s"
//!
//! [[alert]]
//! id = "disk-full"
//! selector = "livedash_host_disk_used_percent"
//! condition = { type = "above", warning = 85, critical = 95, clear = 80 }
//! for = "5m"
//! ```
//!
//! A key is the option's long name (`data-dir`; `data_dir` is taken too).
//! The file is read before the command line is parsed: each key becomes
//! the option it names, unless the command line gives that option or its
//! environment variable is set. So the order of precedence is command
//! line, environment, file, built-in default, and an option added to
//! [`Config`](super::Config) is settable in the file with no code here. A
//! key that names no option is an error naming the key and the file, and a
//! bad value is reported as the option's own error, with the file named.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{CommandFactory, Parser};

use super::Config;
use crate::{
    alerts::Rule,
    sources::scrape::{ScrapeError, ScrapeTarget},
};

/// The environment variable naming the file.
pub const CONFIG_ENV: &str = "LIVEDASH_CONFIG";

/// Why the configuration cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("the config file {path} is not valid TOML: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Where and why.
        message: String,
    },
    /// A key that names no option.
    #[error("the config file {path} has an unknown key {key:?} (keys are the long option names, such as data-dir)")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value of the wrong shape.
    #[error("in the config file {path}, {key} {message}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// An option the file (or the command line with it) sets badly.
    #[error("with the config file {path}: {message}")]
    Option {
        /// The file.
        path: PathBuf,
        /// clap's message, which names the option.
        message: String,
    },
    /// A bad `[[alert]]` table.
    #[error("in the config file {path}, [[alert]] number {index}: {message}")]
    Alert {
        /// The file.
        path: PathBuf,
        /// Its place among the `[[alert]]` tables, from 1.
        index: usize,
        /// Why.
        message: String,
    },
    /// A bad `[[scrape]]` table.
    #[error("in the config file {path}, [[scrape]] number {index}: {source}")]
    Scrape {
        /// The file.
        path: PathBuf,
        /// Which table, from 1.
        index: usize,
        /// Why.
        source: ScrapeError,
    },
    /// The options, as clap reports them (help and version included).
    #[error(transparent)]
    Options(#[from] clap::Error),
}

/// The configuration from `args` (the first being the program), the
/// environment and the file they name, if any.
pub fn load(args: Vec<OsString>) -> Result<Config, ConfigError> {
    let path = config_path(&args).or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
    let Some(path) = path else {
        return Ok(Config::try_parse_from(args)?);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let (from_file, scrape, alert_rules) = file_args(&text, &path, &args)?;
    let mut all = Vec::with_capacity(args.len() + from_file.len());
    let mut args = args.into_iter();
    all.extend(args.next());
    all.extend(from_file);
    all.extend(args);
    let mut config = Config::try_parse_from(all).map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            ConfigError::Options(e)
        }
        _ => ConfigError::Option {
            path: path.clone(),
            message: e.to_string().trim().to_string(),
        },
    })?;
    config.scrape = scrape;
    config.alert_rules = alert_rules;
    Ok(config)
}

/// `--config <path>` or `--config=<path>` on the command line.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// The options the file gives, as arguments (those the command line or
/// the environment give are left out), its scrape targets and its alert
/// rules.
#[allow(clippy::type_complexity)]
fn file_args(
    text: &str,
    path: &Path,
    args: &[OsString],
) -> Result<(Vec<OsString>, Vec<ScrapeTarget>, Vec<Rule>), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Toml {
            path: path.to_path_buf(),
            message: e.to_string().trim().to_string(),
        })?;
    let command = Config::command();
    let given = |long: &str| {
        args.iter().skip(1).any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        })
    };
    let mut out = Vec::new();
    let mut scrape = Vec::new();
    let mut alert_rules: Vec<Rule> = Vec::new();
    for (key, value) in table {
        let bad = |message: &str| ConfigError::BadValue {
            path: path.to_path_buf(),
            key: key.clone(),
            message: message.to_string(),
        };
        if key == "alert" {
            let tables = value
                .as_array()
                .ok_or_else(|| bad("is a list of tables: [[alert]]"))?;
            for (i, table) in tables.iter().enumerate() {
                let failed = |message: String| ConfigError::Alert {
                    path: path.to_path_buf(),
                    index: i + 1,
                    message,
                };
                let rule: Rule = table
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| failed(e.to_string().trim().to_string()))?;
                rule.compile().map_err(|e| failed(e.to_string()))?;
                if alert_rules.iter().any(|r| r.id == rule.id) {
                    return Err(failed(format!("a second rule of id {:?}", rule.id)));
                }
                alert_rules.push(rule);
            }
            continue;
        }
        if key == "scrape" {
            let tables = value
                .as_array()
                .ok_or_else(|| bad("is a list of tables: [[scrape]]"))?;
            for (i, table) in tables.iter().enumerate() {
                let target =
                    ScrapeTarget::from_toml(table).map_err(|source| ConfigError::Scrape {
                        path: path.to_path_buf(),
                        index: i + 1,
                        source,
                    })?;
                scrape.push(target);
            }
            continue;
        }
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .ok_or_else(|| ConfigError::UnknownKey {
                path: path.to_path_buf(),
                key: key.clone(),
            })?;
        let from_env = arg
            .get_env()
            .is_some_and(|name| std::env::var_os(name).is_some());
        if given(&long) || from_env {
            continue;
        }
        let scalar = |value: &toml::Value| -> Result<String, ConfigError> {
            match value {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                _ => Err(bad("must be a string, number or boolean")),
            }
        };
        let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values());
        match (&value, takes_value) {
            (toml::Value::Boolean(on), false) => {
                if *on {
                    out.push(OsString::from(format!("--{long}")));
                }
            }
            (_, false) => return Err(bad("is a switch: true or false")),
            (toml::Value::Array(items), true) => {
                let items: Vec<String> = items.iter().map(scalar).collect::<Result<_, _>>()?;
                out.push(OsString::from(format!("--{long}={}", items.join(","))));
            }
            (value, true) => out.push(OsString::from(format!("--{long}={}", scalar(value)?))),
        }
    }
    Ok((out, scrape, alert_rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "livedash-config-{name}-{}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn load_file(path: &Path) -> Result<Config, ConfigError> {
        load(args(&["livedash", "--config", path.to_str().unwrap()]))
    }

    #[test]
    fn the_file_sets_options_and_the_command_line_wins() {
        let path = write(
            "precedence",
            "listen = \"127.0.0.1:4000\"\ndata_dir = \"/tmp/x\"\nmax-series = 5\nallowed-origins = [\"https://a.example\", \"https://b.example\"]\nretention-raw = \"2h\"\n",
        );
        let config = load(args(&[
            "livedash",
            "--config",
            path.to_str().unwrap(),
            "--max-series",
            "7",
        ]))
        .unwrap();
        assert_eq!(config.listen.port(), 4000);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.max_series, 7, "the command line wins");
        assert_eq!(config.allowed_origins.len(), 2);
        assert_eq!(config.retention_raw, std::time::Duration::from_secs(7_200));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn unknown_keys_bad_values_and_missing_files_are_named() {
        let path = write(
            "unknown",
            "listen = \"127.0.0.1:4000\"\nlisten-adress = \"x\"\n",
        );
        let text = load_file(&path).unwrap_err().to_string();
        assert!(
            text.contains("listen-adress") && text.contains(path.to_str().unwrap()),
            "{text}"
        );
        let bad = write("bad", "max-series = \"lots\"\n");
        let text = load(args(&["livedash", &format!("--config={}", bad.display())]))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("max-series") && text.contains(bad.to_str().unwrap()),
            "{text}"
        );
        let nested = write("nested", "listen = { a = 1 }\n");
        assert!(load_file(&nested).is_err());
        let text = load_file(Path::new("/nonexistent/livedash.toml"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("/nonexistent/livedash.toml"), "{text}");
        let broken = write("broken", "listen = \n");
        assert!(matches!(load_file(&broken), Err(ConfigError::Toml { .. })));
        for p in [path, bad, nested, broken] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn the_readmes_complete_example_is_a_config_file_that_loads() {
        let readme = include_str!("../../../README.md");
        let example = readme
            .split("A complete example:\n\n```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the README has a complete example");
        let path = write("readme", example);
        let config = load_file(&path).unwrap();
        assert_eq!(config.scrape.len(), 2);
        assert_eq!(config.alert_rules.len(), 3);
        assert_eq!(config.alert_webhooks.len(), 1);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn alert_rules_are_read_and_checked() {
        let path = write(
            "alert",
            "[[alert]]\nid = \"disk\"\nselector = \"disk_used\"\nfor = \"5m\"\ncondition = { type = \"above\", warning = 85, critical = 95, clear = 80 }\nlabels = { team = \"ops\" }\n",
        );
        let config = load_file(&path).unwrap();
        assert_eq!(config.alert_rules.len(), 1);
        assert_eq!(config.alert_rules[0].for_, "5m");
        assert_eq!(config.alert_rules[0].labels["team"], "ops");
        for (bad, says) in [
            ("[[alert]]\nid = \"a\"\nselector = \"m\"\ncondition = { type = \"above\", warning = 90, critical = 80 }\n", "condition.critical"),
            ("[[alert]]\nid = \"a\"\nselector = \"m\"\ncondition = { type = \"above\", warning = nan }\n", "finite"),
            ("[[alert]]\nid = \"a\"\nselector = \"m\"\nfor = \"-1s\"\ncondition = { type = \"above\", warning = 1 }\n", "negative"),
            ("[[alert]]\nid = \"a\"\nselector = \"m\"\nseverity = 1\ncondition = { type = \"above\", warning = 1 }\n", "severity"),
            ("[[alert]]\nid = \"a\"\nselector = \"m\"\ncondition = { type = \"above\", warning = 1 }\n[[alert]]\nid = \"a\"\nselector = \"m\"\ncondition = { type = \"above\", warning = 1 }\n", "a second rule"),
        ] {
            let file = write("alert-bad", bad);
            let text = load_file(&file).unwrap_err().to_string();
            let _ = std::fs::remove_file(&file);
            assert!(text.contains(says) && text.contains("[[alert]] number"), "{bad}: {text}");
        }
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn scrape_targets_are_read_and_checked() {
        let path = write(
            "scrape",
            "[[scrape]]\nurl = \"http://127.0.0.1:9100/metrics\"\ninterval = \"5s\"\nlabels = { team = \"core\" }\n\n[[scrape]]\nurl = \"http://db:9187/metrics\"\njob = \"postgres\"\n",
        );
        let config = load_file(&path).unwrap();
        assert_eq!(config.scrape.len(), 2);
        assert_eq!(config.scrape[0].interval, std::time::Duration::from_secs(5));
        assert_eq!(config.scrape[0].labels["team"], "core");
        assert_eq!(config.scrape[1].job, "postgres");
        assert_eq!(config.scrape[1].instance, "db:9187");
        for (bad, says) in [
            ("[[scrape]]\nurl = \"ftp://a/metrics\"\n", "http"),
            (
                "[[scrape]]\nurl = \"http://a/m\"\ninterval = \"5s\"\ntimeout = \"10s\"\n",
                "timeout",
            ),
            ("[[scrape]]\ninterval = \"5s\"\n", "url"),
            (
                "[[scrape]]\nurl = \"http://a/m\"\nintervall = \"5s\"\n",
                "intervall",
            ),
            (
                "[[scrape]]\nurl = \"http://a/m\"\nlabels = { \"bad-name\" = \"x\" }\n",
                "bad-name",
            ),
        ] {
            let file = write("scrape-bad", bad);
            let text = load_file(&file).unwrap_err().to_string();
            assert!(
                text.contains(says) && text.contains("[[scrape]] number 1"),
                "{bad}: {text}"
            );
            let _ = std::fs::remove_file(file);
        }
        let _ = std::fs::remove_file(path);
    }
}
