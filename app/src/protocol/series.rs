//! Series: a metric name plus labels, named by Prometheus' rules, so what
//! Prometheus, its exporters and agents send means the same here.
//!
//! `http_requests_total{service="api",code="200"}` is the series
//! [`SeriesKey`] `{name: "http_requests_total", labels: {code: "200",
//! service: "api"}}`. Labels are kept sorted, so one series has one key
//! however its labels were ordered; a label with an empty value is the same
//! as no label (as in Prometheus).

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

/// Longest metric or label name, in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// One series' identity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub name: String,
    /// Label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`) to
    /// values (any UTF-8), sorted by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Why a name or label is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    /// Not a valid metric name.
    #[error("invalid metric name {0:?}: use 1 to {MAX_NAME_LEN} of a-z A-Z 0-9 _ : (not starting with a digit)")]
    MetricName(String),
    /// Not a valid label name.
    #[error("invalid label name {0:?}: use 1 to {MAX_NAME_LEN} of a-z A-Z 0-9 _ (not starting with a digit)")]
    LabelName(String),
    /// Label names starting with `__` are reserved.
    #[error("label name {0:?} is reserved: names starting with __ are for internal use")]
    ReservedLabel(String),
}

impl SeriesKey {
    /// A checked key: the name and every label name valid, labels with
    /// empty values dropped.
    pub fn new(
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SeriesError> {
        let name = name.into();
        validate_metric_name(&name)?;
        let mut checked = BTreeMap::new();
        for (label, value) in labels {
            validate_label_name(&label)?;
            if !value.is_empty() {
                checked.insert(label, value);
            }
        }
        Ok(Self {
            name,
            labels: checked,
        })
    }

    /// Checks a key that was built or decoded without [`SeriesKey::new`].
    pub fn validate(&self) -> Result<(), SeriesError> {
        validate_metric_name(&self.name)?;
        self.labels
            .keys()
            .try_for_each(|label| validate_label_name(label))
    }
}

impl fmt::Display for SeriesKey {
    /// The Prometheus form: `name{a="x",b="y \"quoted\""}` (just `name`
    /// without labels), with `\`, `"` and line breaks escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (label, value)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{label}=\"")?;
            for c in value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// One point of a JSON ingest batch (`POST /api/ingest`, a JSON array of
/// these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestPoint {
    /// The metric name.
    pub name: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The value (JSON has no NaN or infinities).
    pub value: f64,
    /// Unix milliseconds (default: when it arrives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
}

/// A refused point of an ingest batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusedPoint {
    /// Its index in a JSON batch; its line (from 1) in a text format.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// The answer to an ingest: how many points were stored, and the refused
/// ones. Without `?partial=true`, one refusal means nothing was stored: the
/// answer is then a 422 whose `error` says so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestReply {
    /// Set when nothing was stored because points were refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<super::ErrorDetail>,
    /// Points stored.
    pub stored: usize,
    /// Points refused, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedPoint>,
}

/// One series of a query answer: its key and its points, `[ts, value]`,
/// oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SeriesPointsWire")]
pub struct SeriesPoints {
    /// Which series.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// Its points in the range.
    pub points: Vec<(i64, f64)>,
    /// For answers from rollups: each point's bucket's smallest and
    /// largest value, in the same order (a band that never hides a spike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Vec<(f64, f64)>>,
}

/// [`SeriesPoints`] as read: the key's fields in place. Read through this
/// rather than with `flatten`, which buffers every series into an
/// intermediate form (kilobytes of the browser's bundle) to find its key.
#[derive(Deserialize)]
struct SeriesPointsWire {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    points: Vec<(i64, f64)>,
    #[serde(default)]
    band: Option<Vec<(f64, f64)>>,
}

impl From<SeriesPointsWire> for SeriesPoints {
    fn from(wire: SeriesPointsWire) -> Self {
        Self {
            key: SeriesKey {
                name: wire.name,
                labels: wire.labels,
            },
            points: wire.points,
            band: wire.band,
        }
    }
}

/// The answer to `GET /api/series`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesReply {
    /// The series the selector matched, by key.
    pub series: Vec<SeriesPoints>,
    /// Where the points came from: `raw`, `1m`, `1h` or `1d` (a rollup
    /// tier; days are merged from hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The width of each point's bucket in ms, for points from rollups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ms: Option<i64>,
}

/// Checks a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, 1 to [`MAX_NAME_LEN`]
/// bytes.
pub fn validate_metric_name(name: &str) -> Result<(), SeriesError> {
    if valid_name(name, true) {
        Ok(())
    } else {
        Err(SeriesError::MetricName(cut(name)))
    }
}

/// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, 1 to [`MAX_NAME_LEN`]
/// bytes, not starting with `__`.
pub fn validate_label_name(name: &str) -> Result<(), SeriesError> {
    if !valid_name(name, false) {
        Err(SeriesError::LabelName(cut(name)))
    } else if name.starts_with("__") {
        Err(SeriesError::ReservedLabel(cut(name)))
    } else {
        Ok(())
    }
}

fn valid_name(name: &str, colons: bool) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (colons && b == b':');
    (1..=MAX_NAME_LEN).contains(&bytes.len())
        && !bytes[0].is_ascii_digit()
        && bytes.iter().all(|&b| allowed(b))
}

/// A refused name as an error shows it: at most 100 characters.
fn cut(name: &str) -> String {
    name.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn one_series_has_one_key_whatever_the_label_order() {
        let a = SeriesKey::new(
            "http_requests_total",
            labels(&[("service", "api"), ("code", "200")]),
        );
        let b = SeriesKey::new(
            "http_requests_total",
            labels(&[("code", "200"), ("service", "api"), ("empty", "")]),
        );
        assert_eq!(a, b);
        assert_eq!(
            a.unwrap().to_string(),
            r#"http_requests_total{code="200",service="api"}"#
        );
    }

    #[test]
    fn names_follow_prometheus_rules() {
        for good in ["up", "_x", "job:rate5m:sum", "a1_b2", "Z"] {
            assert!(validate_metric_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "1up", "a-b", "a b", "é", "a.b", &long] {
            assert!(
                matches!(validate_metric_name(bad), Err(SeriesError::MetricName(_))),
                "{bad:?}"
            );
        }
        assert!(validate_label_name("code").is_ok());
        assert!(matches!(
            validate_label_name("a:b"),
            Err(SeriesError::LabelName(_))
        ));
        assert!(matches!(
            validate_label_name("__name__"),
            Err(SeriesError::ReservedLabel(_))
        ));
        assert!(matches!(
            SeriesKey::new("up", labels(&[("9lives", "x")])),
            Err(SeriesError::LabelName(_))
        ));
    }

    #[test]
    fn label_values_are_escaped_in_the_prometheus_form() {
        let key = SeriesKey::new("m", labels(&[("path", "C:\\dir \"x\"\nnext")])).unwrap();
        assert_eq!(key.to_string(), r#"m{path="C:\\dir \"x\"\nnext"}"#);
    }

    #[test]
    fn keys_round_trip_as_json_and_decoded_keys_can_be_checked() {
        let key = SeriesKey::new("up", labels(&[("job", "node")])).unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, r#"{"name":"up","labels":{"job":"node"}}"#);
        assert_eq!(serde_json::from_str::<SeriesKey>(&json).unwrap(), key);
        // A series' points carry its key's fields in place, and read back.
        for (labels, band) in [
            (key.labels.clone(), None),
            (BTreeMap::new(), Some(vec![(1.0, 2.0)])),
        ] {
            let points = SeriesPoints {
                key: SeriesKey {
                    name: key.name.clone(),
                    labels,
                },
                points: vec![(1, 0.5)],
                band,
            };
            let text = serde_json::to_string(&points).unwrap();
            assert_eq!(
                serde_json::from_str::<SeriesPoints>(&text).unwrap(),
                points,
                "{text}"
            );
            let value = serde_json::to_value(&points).unwrap();
            assert_eq!(
                serde_json::from_value::<SeriesPoints>(value).unwrap(),
                points
            );
        }
        let bad: SeriesKey = serde_json::from_str(r#"{"name":"1bad"}"#).unwrap();
        assert!(bad.validate().is_err());
    }
}

/// The channel where sources say how they are (a latest-value channel:
/// one current value per key).
pub const STATUS_CHANNEL: &str = "status";
/// The event type of a [`TargetStatus`].
pub const TARGET_EVENT: &str = "target";

/// A scrape target's state, published on [`STATUS_CHANNEL`] (keyed
/// `scrape:<job>/<instance>`) when it goes up or down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// Its `job` label.
    pub job: String,
    /// Its `instance` label.
    pub instance: String,
    /// Where it is read.
    pub url: String,
    /// Whether the last scrape worked.
    pub up: bool,
    /// Why it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When (Unix ms).
    pub ts: i64,
    /// Samples it held.
    pub samples: usize,
    /// Lines that could not be read.
    pub bad_lines: usize,
}
