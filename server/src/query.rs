//! Reading history: `GET /api/series?match=<selector>&from=&to=`.
//!
//! A selector is a metric name with optional label matchers, as in
//! Prometheus: `http_requests_total{service="api",code!="500"}`. `from` and
//! `to` are Unix milliseconds (default: the last hour up to now). The
//! answer holds every matching series with its points in the range, oldest
//! first ([`SeriesReply`]): all of them, or with `max_points=N` at most N
//! per series, chosen so that every extreme survives
//! (`store::downsample`).
//!
//! For pickers: `GET /api/series/names?prefix=` (metric names),
//! `GET /api/series/labels?name=` (label names) and
//! `GET /api/series/labels/<label>/values?name=&prefix=` (a label's
//! values), each sorted, at most [`MAX_NAMES`].
//!
//! Not taken yet, and refused with a clear error rather than ignored:
//! regular-expression matchers (`=~`, `!~`), `step`/`agg` and rates.

use app::protocol::{validate_label_name, validate_metric_name, SeriesPoints, SeriesReply};
use axum::{
    extract::{Query, State},
    Json,
};
use serde::Deserialize;

use crate::{
    error::ApiError,
    sources::ingest::now_ms,
    store::{downsample::downsample, Matcher, Store},
};

/// The widest range one query may cover (the raw retention's order).
pub const MAX_RANGE_MS: i64 = 31 * 24 * 3_600_000;
/// Most series one answer may hold.
pub const MAX_SERIES: usize = 1_000;
/// Most names or values one picker answer holds.
pub const MAX_NAMES: usize = 1_000;
/// The most `max_points` may ask for.
pub const MAX_POINTS: usize = 10_000;
/// Longest selector taken.
const MAX_SELECTOR_LEN: usize = 4_096;

/// The query string.
#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// The selector.
    #[serde(rename = "match")]
    pub selector: Option<String>,
    /// Start, Unix ms.
    pub from: Option<String>,
    /// End, Unix ms.
    pub to: Option<String>,
    /// At most this many points per series (4 to [`MAX_POINTS`]).
    pub max_points: Option<String>,
    /// Refused for now.
    pub step: Option<String>,
}

/// A parsed selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name.
    pub name: String,
    /// Conditions on labels.
    pub matchers: Vec<Matcher>,
}

/// `GET /api/series`.
pub async fn handler(
    State(store): State<Store>,
    Query(query): Query<SeriesQuery>,
) -> Result<Json<SeriesReply>, ApiError> {
    if query.step.is_some() {
        return Err(ApiError::invalid(
            "unsupported_parameter",
            "step is not supported yet: ask for raw points, or max_points",
        ));
    }
    // Numbers are parsed here, not by the extractor, so a bad one gets
    // this API's JSON error.
    let max_points = match query.max_points.as_deref() {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (4..=MAX_POINTS).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::invalid(
                    "invalid_max_points",
                    format!("max_points is a whole number from 4 to {MAX_POINTS}"),
                ))
            }
        },
    };
    let time = |name: &str, text: Option<&str>| -> Result<Option<i64>, ApiError> {
        text.map(|t| {
            t.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "invalid_range",
                    format!("{name} is Unix milliseconds, not {t:?}"),
                )
            })
        })
        .transpose()
    };
    let to = time("to", query.to.as_deref())?;
    let from = time("from", query.from.as_deref())?;
    let text = query.selector.ok_or_else(|| {
        ApiError::invalid(
            "missing_selector",
            "name the series: ?match=<metric>{label=\"value\"}",
        )
    })?;
    let selector =
        parse_selector(&text).map_err(|message| ApiError::invalid("invalid_selector", message))?;
    let to = to.unwrap_or_else(now_ms);
    let from = from.unwrap_or(to.saturating_sub(3_600_000));
    if from > to {
        return Err(ApiError::invalid(
            "invalid_range",
            format!("from ({from}) is after to ({to})"),
        ));
    }
    if to.saturating_sub(from) > MAX_RANGE_MS {
        return Err(ApiError::invalid(
            "range_too_large",
            format!("a query covers at most {} days", MAX_RANGE_MS / 86_400_000),
        ));
    }
    let selected = tokio::task::spawn_blocking(move || {
        store.select(&selector.name, &selector.matchers, from, to, MAX_SERIES)
    })
    .await
    .map_err(|e| ApiError::Storage(e.to_string()))?
    .map_err(|count| {
        ApiError::invalid(
            "too_many_series",
            format!(
                "{count} series match; a query answers at most {MAX_SERIES}: add label matchers"
            ),
        )
    })?;
    Ok(Json(SeriesReply {
        series: selected
            .into_iter()
            .map(|(key, samples)| {
                let samples = match max_points {
                    Some(max_points) => downsample(&samples, from, to, max_points),
                    None => samples,
                };
                SeriesPoints {
                    key,
                    points: samples.into_iter().map(|s| (s.ts, s.value)).collect(),
                }
            })
            .collect(),
    }))
}

/// The query string of the picker endpoints.
#[derive(Debug, Deserialize)]
pub struct PickerQuery {
    /// Only series of this metric.
    pub name: Option<String>,
    /// Only names or values starting with this.
    pub prefix: Option<String>,
}

/// A picker's answer: names or values, sorted.
#[derive(Debug, serde::Serialize)]
pub struct Names {
    /// The names or values.
    pub data: Vec<String>,
}

/// `GET /api/series/names`.
pub async fn names(
    State(store): State<Store>,
    Query(query): Query<PickerQuery>,
) -> Result<Json<Names>, ApiError> {
    let prefix = query.prefix.unwrap_or_default();
    let data = tokio::task::spawn_blocking(move || store.names(&prefix, MAX_NAMES))
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    Ok(Json(Names { data }))
}

/// `GET /api/series/labels`.
pub async fn label_names(
    State(store): State<Store>,
    Query(query): Query<PickerQuery>,
) -> Result<Json<Names>, ApiError> {
    let name = checked_name(query.name)?;
    let data = tokio::task::spawn_blocking(move || store.label_names(name.as_deref()))
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    Ok(Json(Names { data }))
}

/// `GET /api/series/labels/{label}/values`.
pub async fn label_values(
    State(store): State<Store>,
    axum::extract::Path(label): axum::extract::Path<String>,
    Query(query): Query<PickerQuery>,
) -> Result<Json<Names>, ApiError> {
    validate_label_name(&label).map_err(|e| ApiError::invalid("invalid_label", e.to_string()))?;
    let name = checked_name(query.name)?;
    let prefix = query.prefix.unwrap_or_default();
    let data = tokio::task::spawn_blocking(move || {
        store.label_values(name.as_deref(), &label, &prefix, MAX_NAMES)
    })
    .await
    .map_err(|e| ApiError::Storage(e.to_string()))?;
    Ok(Json(Names { data }))
}

fn checked_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(name) = &name {
        validate_metric_name(name).map_err(|e| ApiError::invalid("invalid_name", e.to_string()))?;
    }
    Ok(name)
}

/// Parses `name` or `name{label="value",label!="value"}`; values are
/// double-quoted with `\\`, `\"` and `\n` escapes.
pub fn parse_selector(text: &str) -> Result<Selector, String> {
    if text.len() > MAX_SELECTOR_LEN {
        return Err(format!(
            "a selector is at most {MAX_SELECTOR_LEN} bytes long"
        ));
    }
    let text = text.trim();
    let (name, rest) = match text.find('{') {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let name = name.trim();
    validate_metric_name(name).map_err(|e| e.to_string())?;
    let mut matchers = Vec::new();
    if let Some(rest) = rest {
        let body = rest
            .strip_suffix('}')
            .ok_or("a selector's label matchers end with }")?;
        let mut chars = body.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let label: String =
                std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_'))
                    .collect();
            validate_label_name(&label).map_err(|e| e.to_string())?;
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let negated = match (chars.next(), chars.peek()) {
                (Some('='), Some('~')) | (Some('!'), Some('~')) => {
                    return Err(
                        "regular-expression matchers (=~, !~) are not supported yet".to_string()
                    )
                }
                (Some('='), _) => false,
                (Some('!'), Some('=')) => {
                    chars.next();
                    true
                }
                _ => return Err(format!("label {label} needs = or != and a quoted value")),
            };
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next() != Some('"') {
                return Err(format!("the value of {label} must be in double quotes"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("the value of {label} has no closing quote")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        _ => return Err(format!("the value of {label} has a bad escape")),
                    },
                    Some(c) => value.push(c),
                }
            }
            matchers.push(Matcher {
                label,
                value,
                negated,
            });
        }
    }
    Ok(Selector {
        name: name.to_string(),
        matchers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(label: &str, value: &str, negated: bool) -> Matcher {
        Matcher {
            label: label.into(),
            value: value.into(),
            negated,
        }
    }

    #[test]
    fn selectors_parse_as_prometheus_writes_them() {
        assert_eq!(
            parse_selector("up").unwrap(),
            Selector {
                name: "up".into(),
                matchers: vec![]
            }
        );
        assert_eq!(
            parse_selector(r#" http_requests_total{ service = "api", code!="5\"0\\0\n" , } "#)
                .unwrap(),
            Selector {
                name: "http_requests_total".into(),
                matchers: vec![
                    matcher("service", "api", false),
                    matcher("code", "5\"0\\0\n", true)
                ],
            }
        );
        assert_eq!(parse_selector("up{}").unwrap().matchers, []);
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (bad, says) in [
            ("", "invalid metric name"),
            ("1up", "invalid metric name"),
            ("up{job=\"a\"", "end with }"),
            ("up{job=a}", "double quotes"),
            ("up{job=\"a}", "closing quote"),
            ("up{job=~\"a.*\"}", "not supported yet"),
            ("up{job}", "needs = or !="),
            ("up{__name__=\"x\"}", "reserved"),
            ("up{job=\"\\x\"}", "bad escape"),
        ] {
            let error = parse_selector(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        assert!(parse_selector(&"a".repeat(5_000)).is_err());
    }
}
