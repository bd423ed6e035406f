//! Reading history: `GET /api/series?match=<selector>&from=&to=`.
//!
//! A selector is a metric name with optional label matchers, as in
//! Prometheus: `http_requests_total{service="api",code!="500",path=~"/api/.*"}`
//! (`=~`/`!~` take anchored regular expressions). `from` and `to` are Unix
//! milliseconds, `now` or `now-6h` (default: the last hour up to now). The
//! answer holds every matching series with its points in the range, oldest
//! first ([`SeriesReply`]):
//! - every raw sample;
//! - or with `max_points=N` at most N per series, from the coarsest tier
//!   that still gives that many (`resolution`), each rollup point with its
//!   bucket's min and max as a band;
//! - or with `step=1m|1h|1d` and `agg=avg|min|max|sum|count|last`, one
//!   point per bucket;
//! - and with `rate=true`, a counter's per-second rate.
//!
//! Every answer carries an `ETag` (a checksum of its body) and is answered
//! `304 Not Modified` when the client already has it.
//!
//! For pickers: `GET /api/series/names?prefix=` (metric names),
//! `GET /api/series/labels?name=` (label names) and
//! `GET /api/series/labels/<label>/values?name=&prefix=` (a label's
//! values), each sorted, at most [`MAX_NAMES`].

mod resolution;

use app::protocol::{validate_label_name, validate_metric_name, SeriesPoints, SeriesReply};
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

use crate::{
    error::ApiError,
    sources::ingest::now_ms,
    store::{
        downsample::downsample,
        rollup::{merge_into, Tier},
        Matcher, SelectError, Store,
    },
};

use self::resolution::{Agg, Step};

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
    /// Start: Unix ms, `now` or `now-<duration>`.
    pub from: Option<String>,
    /// End, the same way.
    pub to: Option<String>,
    /// At most this many points per series (4 to [`MAX_POINTS`]).
    pub max_points: Option<String>,
    /// Buckets of `1m`, `1h` or `1d`.
    pub step: Option<String>,
    /// How a bucket becomes a value (with `step`): avg, min, max, sum,
    /// count, last.
    pub agg: Option<String>,
    /// `true`: counters as per-second rates.
    pub rate: Option<String>,
}

/// A parsed selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name.
    pub name: String,
    /// Conditions on labels.
    pub matchers: Vec<Matcher>,
}

/// The most buckets a `step` query answers per series.
pub const MAX_BUCKETS: i64 = 50_000;

/// How the points are to be made.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Every raw sample (or at most `max_points`).
    Points(Option<usize>),
    /// Buckets of a step, aggregated.
    Step(Step, Agg),
}

/// Parses `from`/`to`: Unix ms, `now`, or `now-<duration>` (`now-6h`).
pub(crate) fn parse_time(name: &str, text: &str, now: i64) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(
            "invalid_range",
            format!("{name} is Unix milliseconds, now or now-<duration> (now-6h), not {text:?}"),
        )
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    match text.strip_prefix("now") {
        Some("") => Ok(now),
        Some(ago) => {
            let ago = ago.strip_prefix('-').ok_or_else(bad)?;
            let ago = humantime::parse_duration(ago).map_err(|_| bad())?;
            Ok(now.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)))
        }
        None => Err(bad()),
    }
}

/// `GET /api/series`.
pub async fn handler(
    State(store): State<Store>,
    Query(query): Query<SeriesQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
    let shape = match (query.step.as_deref(), max_points) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "invalid_parameter",
                "ask for step (with agg) or max_points, not both",
            ))
        }
        (Some(step), None) => {
            let step = Step::parse(step).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_step",
                    format!("step is 1m, 1h or 1d, not {step:?}"),
                )
            })?;
            let agg = query.agg.as_deref().unwrap_or("avg");
            let agg = Agg::parse(agg).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_agg",
                    format!("agg is avg, min, max, sum, count or last, not {agg:?}"),
                )
            })?;
            Shape::Step(step, agg)
        }
        (None, max_points) => {
            if query.agg.is_some() {
                return Err(ApiError::invalid("invalid_parameter", "agg goes with step"));
            }
            Shape::Points(max_points)
        }
    };
    let rate = match query.rate.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "invalid_parameter",
                format!("rate is true or false, not {other:?}"),
            ))
        }
    };
    let now = now_ms();
    let to = query
        .to
        .as_deref()
        .map(|t| parse_time("to", t, now))
        .transpose()?;
    let from = query
        .from
        .as_deref()
        .map(|t| parse_time("from", t, now))
        .transpose()?;
    let text = query.selector.ok_or_else(|| {
        ApiError::invalid(
            "missing_selector",
            "name the series: ?match=<metric>{label=\"value\"}",
        )
    })?;
    let selector =
        parse_selector(&text).map_err(|message| ApiError::invalid("invalid_selector", message))?;
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to.saturating_sub(3_600_000));
    if from > to {
        return Err(ApiError::invalid(
            "invalid_range",
            format!("from ({from}) is after to ({to})"),
        ));
    }
    let max_range = match shape {
        Shape::Step(step, _) => step.ms().saturating_mul(MAX_BUCKETS).max(MAX_RANGE_MS),
        Shape::Points(_) => MAX_RANGE_MS,
    };
    if to.saturating_sub(from) > max_range {
        return Err(ApiError::invalid(
            "range_too_large",
            format!("this query covers at most {} days", max_range / 86_400_000),
        ));
    }
    if let Shape::Step(step, _) = shape {
        if to.saturating_sub(from) / step.ms() > MAX_BUCKETS {
            return Err(ApiError::invalid(
                "range_too_large",
                format!(
                    "a query answers at most {MAX_BUCKETS} buckets per series: use a wider step"
                ),
            ));
        }
    }
    let reply =
        tokio::task::spawn_blocking(move || read(&store, &selector, from, to, now, shape, rate))
            .await
            .map_err(|e| ApiError::Storage(e.to_string()))??;
    let body = serde_json::to_vec(&reply).map_err(|e| ApiError::Storage(e.to_string()))?;
    // The answer's own checksum: the same history gives the same tag, so
    // a range that is sealed (in the past) is answered 304 to a client
    // that has it.
    let etag = format!(
        "\"{:08x}{:x}\"",
        crate::store::wal::crc32c(&body),
        body.len()
    );
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn too_many(error: SelectError) -> ApiError {
    match error {
        SelectError::TooMany(count) => ApiError::invalid(
            "too_many_series",
            format!(
                "{count} series match; a query answers at most {MAX_SERIES}: add label matchers"
            ),
        ),
        other => ApiError::Storage(other.to_string()),
    }
}

/// Reads `selector`'s series over `from..=to`, at most `max_points` each
/// (counters as rates with `rate`), as `GET /api/series` answers them: the
/// page's first paint of a dashboard's widgets. Blocking: decodes chunks.
pub fn read_points(
    store: &Store,
    selector: &str,
    (from, to): (i64, i64),
    max_points: usize,
    rate: bool,
) -> Result<Vec<SeriesPoints>, ApiError> {
    let selector = parse_selector(selector)
        .map_err(|message| ApiError::invalid("invalid_selector", message))?;
    let shape = Shape::Points(Some(max_points.clamp(4, MAX_POINTS)));
    read(store, &selector, from, to, now_ms(), shape, rate).map(|reply| reply.series)
}

/// Reads the answer (blocking: decodes chunks).
fn read(
    store: &Store,
    selector: &Selector,
    from: i64,
    to: i64,
    now: i64,
    shape: Shape,
    rate: bool,
) -> Result<SeriesReply, ApiError> {
    let (name, matchers) = (&selector.name, &selector.matchers[..]);
    let (tier, step, agg, max_points) = match shape {
        Shape::Step(step, agg) => (step.tier(), Some(step), agg, None),
        Shape::Points(max_points) => {
            let tier = match max_points {
                Some(n) => resolution::tier_for(from, to, n, now, |t| store.retention_ms(t)),
                None => Tier::Raw,
            };
            (tier, None, Agg::Avg, max_points)
        }
    };
    if tier == Tier::Raw {
        let selected = store
            .select(name, matchers, from, to, MAX_SERIES)
            .map_err(too_many)?;
        let series = selected
            .into_iter()
            .map(|(key, samples)| {
                let samples = if rate {
                    resolution::sample_rate(&samples)
                } else {
                    samples
                };
                let samples = match max_points {
                    Some(max_points) => downsample(&samples, from, to, max_points),
                    None => samples,
                };
                SeriesPoints {
                    key,
                    points: samples.into_iter().map(|s| (s.ts, s.value)).collect(),
                    band: None,
                }
            })
            .collect();
        return Ok(SeriesReply {
            series,
            tier: Some("raw".into()),
            step_ms: None,
        });
    }
    let tier_step = tier.step_ms().unwrap_or(60_000);
    let read_from = resolution::first_bucket(from, step.map_or(tier_step, Step::ms));
    let selected = store
        .select_rollups(tier, name, matchers, read_from, to, MAX_SERIES)
        .map_err(too_many)?;
    let mut width = step.map_or(tier_step, Step::ms);
    let series = selected
        .into_iter()
        .map(|(key, points)| {
            let points = match (step, max_points) {
                (Some(Step::Day), _) => merge_into(&points, Step::Day.ms()),
                (_, Some(n)) => {
                    let (thinned, w) = resolution::thin(&points, read_from, to, tier_step, n);
                    width = w;
                    thinned
                }
                _ => points,
            };
            if rate {
                return SeriesPoints {
                    key,
                    points: resolution::rollup_rate(&points),
                    band: None,
                };
            }
            SeriesPoints {
                key,
                points: points.iter().map(|p| (p.ts, agg.of(p))).collect(),
                band: step
                    .is_none()
                    .then(|| points.iter().map(|p| (p.min, p.max)).collect()),
            }
        })
        .collect();
    Ok(SeriesReply {
        series,
        tier: Some(step.map_or(tier.name(), Step::name).to_string()),
        step_ms: Some(width),
    })
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
            let op = match (chars.next(), chars.peek()) {
                (Some('='), Some('~')) => {
                    chars.next();
                    "=~"
                }
                (Some('!'), Some('~')) => {
                    chars.next();
                    "!~"
                }
                (Some('='), _) => "=",
                (Some('!'), Some('=')) => {
                    chars.next();
                    "!="
                }
                _ => {
                    return Err(format!(
                        "label {label} needs =, !=, =~ or !~ and a quoted value"
                    ))
                }
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
            matchers.push(Matcher::new(&label, op, &value)?);
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
        Matcher::new(label, if negated { "!=" } else { "=" }, value).unwrap()
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
            ("up{job=~\"a(\"}", "not a valid regular expression"),
            ("up{job}", "needs =, !=, =~ or !~"),
            ("up{__name__=\"x\"}", "reserved"),
            ("up{job=\"\\x\"}", "bad escape"),
        ] {
            let error = parse_selector(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        assert!(parse_selector(&"a".repeat(5_000)).is_err());
    }
}
