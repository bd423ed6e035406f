//! The InfluxDB line protocol, read byte by byte with limits: what
//! Telegraf and InfluxDB clients send, taken by
//! `POST /api/ingest?format=influx` and the InfluxDB write paths
//! (`POST /write`, v1, and `POST /api/v2/write`).
//!
//! ```text
//! weather,location=us-midwest,season=summer temperature=82,humidity=71i 1465839830100400200
//! ```
//!
//! A line is a measurement, optional tags (`,key=value`), fields
//! (`key=value`, separated by commas) and an optional timestamp, in
//! nanoseconds unless `precision` says `us`, `ms` or `s`. Commas, spaces
//! and equals signs in names and tags are escaped with `\`; string field
//! values are double-quoted with `\"` and `\\`.
//!
//! Each numeric field becomes one point, named as Telegraf's Prometheus
//! output names them: `<measurement>_<field>` (the measurement alone for a
//! field called `value`), every character the Prometheus naming rules do
//! not allow replaced by `_`. Tags become labels, sanitised the same way.
//! Floats, integers (`12i`), unsigned integers (`12u`) and booleans (`t`,
//! `true`, `F`, … as 1 and 0) are taken; string fields are skipped (a line
//! with only string fields is refused, saying so). Every line that cannot
//! be read is reported with its number and why; the reader never panics.

use std::collections::BTreeMap;

use super::prometheus_text::{LineError, TextSample};

/// A timestamp's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds (the default).
    Nanos,
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Seconds,
}

impl Precision {
    /// Parses `ns`, `us`, `ms` or `s` (Influx v1 also says `n`, `u`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ns" | "n" => Some(Self::Nanos),
            "us" | "u" | "µs" => Some(Self::Micros),
            "ms" => Some(Self::Millis),
            "s" => Some(Self::Seconds),
            _ => None,
        }
    }

    fn to_ms(self, ts: i64) -> i64 {
        match self {
            Self::Nanos => ts.div_euclid(1_000_000),
            Self::Micros => ts.div_euclid(1_000),
            Self::Millis => ts,
            Self::Seconds => ts.saturating_mul(1_000),
        }
    }
}

/// Reads a whole body: every point, and every line that failed.
pub fn parse(text: &[u8], precision: Precision) -> (Vec<TextSample>, Vec<LineError>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for line in super::prometheus_text::lines(text) {
        let (number, line) = match line {
            Ok(line) => line,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let fail = |reason: String| LineError {
            line: number,
            reason,
        };
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match read_line(trimmed, number, precision) {
            Ok(points) => samples.extend(points),
            Err(reason) => errors.push(fail(reason)),
        }
    }
    (samples, errors)
}

/// Splits `text` at the first unescaped `stop` outside double quotes (when
/// `quotes`); returns the part before (escapes kept) and the rest after it.
fn split_at_unescaped<'a>(
    text: &'a str,
    stops: &[char],
    quotes: bool,
) -> (&'a str, Option<(char, &'a str)>) {
    let mut escaped = false;
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if quotes => quoted = !quoted,
            c if !quoted && stops.contains(&c) => {
                return (&text[..at], Some((c, &text[at + c.len_utf8()..])));
            }
            _ => {}
        }
    }
    (text, None)
}

/// Removes `\` escapes of the characters a name or tag may escape.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                if matches!(next, ',' | ' ' | '=' | '\\' | '"') {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// A name made to follow the Prometheus rules: every other character
/// becomes `_`, and a leading digit gets a `_` before it.
fn sanitize(name: &str, colons: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn read_line(line: &str, number: usize, precision: Precision) -> Result<Vec<TextSample>, String> {
    // measurement[,tags] fields [timestamp]
    let (series, rest) = split_at_unescaped(line, &[' '], false);
    let rest = rest
        .map(|(_, r)| r)
        .ok_or("a line needs fields after its measurement")?;
    let (fields, ts) = split_at_unescaped(rest, &[' '], true);
    let ts = match ts.map(|(_, t)| t.trim()) {
        None | Some("") => None,
        Some(t) => Some(
            precision.to_ms(
                t.parse::<i64>()
                    .map_err(|_| format!("the timestamp {t:?} is not a whole number"))?,
            ),
        ),
    };
    let mut parts = Vec::new();
    let mut left = series;
    loop {
        let (part, next) = split_at_unescaped(left, &[','], false);
        parts.push(part);
        match next {
            Some((_, r)) => left = r,
            None => break,
        }
    }
    let measurement = unescape(parts[0]);
    if measurement.is_empty() {
        return Err("the measurement is empty".to_string());
    }
    let mut labels = BTreeMap::new();
    for tag in &parts[1..] {
        let (key, value) = split_at_unescaped(tag, &['='], false);
        let value = value
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the tag {tag:?} has no ="))?;
        if key.is_empty() {
            return Err("a tag key is empty".to_string());
        }
        labels.insert(sanitize(&unescape(key), false), unescape(value));
    }
    let mut points = Vec::new();
    let mut strings = 0;
    let mut left = fields;
    loop {
        let (field, next) = split_at_unescaped(left, &[','], true);
        let (key, value) = split_at_unescaped(field, &['='], false);
        let value = value
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the field {field:?} has no ="))?;
        if key.is_empty() {
            return Err("a field key is empty".to_string());
        }
        match field_value(value)? {
            Some(value) => {
                let field = unescape(key);
                let name = if field == "value" {
                    sanitize(&measurement, true)
                } else {
                    sanitize(&format!("{measurement}_{field}"), true)
                };
                points.push(TextSample {
                    line: number,
                    name,
                    labels: labels.clone(),
                    value,
                    ts,
                });
            }
            None => strings += 1,
        }
        match next {
            Some((_, r)) => left = r,
            None => break,
        }
    }
    if points.is_empty() && strings > 0 {
        return Err("the line has only string fields; only numbers and booleans are stored".into());
    }
    Ok(points)
}

/// A field's value: a number, or `None` for a string.
fn field_value(text: &str) -> Result<Option<f64>, String> {
    if let Some(quoted) = text.strip_prefix('"') {
        return if quoted.ends_with('"') && !quoted.ends_with("\\\"") || quoted == "\"" {
            Ok(None)
        } else {
            Err(format!("the string field {text:?} has no closing quote"))
        };
    }
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(Some(1.0)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(Some(0.0)),
        _ => {}
    }
    let bad = || format!("the field value {text:?} is not a number, boolean or string");
    if let Some(int) = text.strip_suffix('i') {
        return int
            .parse::<i64>()
            .map(|n| Some(n as f64))
            .map_err(|_| bad());
    }
    if let Some(uint) = text.strip_suffix('u') {
        return uint
            .parse::<u64>()
            .map(|n| Some(n as f64))
            .map_err(|_| bad());
    }
    // Rust also reads "inf" and "NaN", which Influx does not write; the
    // store refuses them with a reason anyway.
    let value: f64 = text.parse().map_err(|_| bad())?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::prometheus_text::MAX_LINE_BYTES;

    fn one(line: &str) -> Vec<TextSample> {
        let (samples, errors) = parse(line.as_bytes(), Precision::Nanos);
        assert_eq!(errors, [], "{line}");
        samples
    }

    #[test]
    fn lines_as_telegraf_writes_them_become_points() {
        let samples = one(
            "weather,location=us-midwest,season=summer temperature=82,humidity=71i,ok=t,note=\"hot, dry\" 1465839830100400200",
        );
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["weather_temperature", "weather_humidity", "weather_ok"]
        );
        assert_eq!(samples[1].value, 71.0);
        assert_eq!(samples[2].value, 1.0);
        assert_eq!(samples[0].labels["location"], "us-midwest");
        assert_eq!(samples[0].ts, Some(1_465_839_830_100));
        // A field called value is the measurement; no timestamp is now.
        let samples = one("cpu.load value=0.5");
        assert_eq!(
            (samples[0].name.as_str(), samples[0].ts),
            ("cpu_load", None)
        );
    }

    #[test]
    fn escapes_precision_and_sanitising() {
        let samples = one(r#"my\ meas\,ure,host\=name=a\ b\,c 2xx\ rate=1u,tx=-1.5e3 1700000000"#);
        assert_eq!(samples[0].name, "my_meas_ure_2xx_rate");
        assert_eq!(samples[0].labels["host_name"], "a b,c");
        assert_eq!(samples[1].value, -1500.0);
        let (samples, _) = parse(b"m v=1 1700000000", Precision::Seconds);
        assert_eq!(samples[0].ts, Some(1_700_000_000_000));
        let (samples, _) = parse(b"m v=1 1700000000123456", Precision::Micros);
        assert_eq!(samples[0].ts, Some(1_700_000_000_123));
        assert_eq!(one("1st,9=x value=2")[0].name, "_1st");
        assert_eq!(one("1st,9=x value=2")[0].labels["_9"], "x");
        // A quoted field may hold spaces, commas and escaped quotes.
        assert_eq!(one(r#"m s="a \"b\", c d",n=3 5000000"#)[0].ts, Some(5));
    }

    #[test]
    fn bad_lines_are_named_and_good_ones_kept() {
        let body = "ok v=1\nno_fields\nm v=abc\nm v=1 notatime\nm,tag v=1\nm s=\"only text\"\nm =1\n\n# comment\nm v=\"open\n";
        let (samples, errors) = parse(body.as_bytes(), Precision::Nanos);
        assert_eq!(samples.len(), 1);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 10]);
        assert!(errors[4].reason.contains("only string fields"));
        let long = format!("m v=1,{}=1", "x".repeat(MAX_LINE_BYTES));
        assert_eq!(parse(long.as_bytes(), Precision::Nanos).1.len(), 1);
        assert_eq!(parse(b"m v=1\xff", Precision::Nanos).1.len(), 1);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"m,= \\\"tiu0.9-e\nx";
        for _ in 0..5_000 {
            let bytes: Vec<u8> = (0..40)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&bytes, Precision::Nanos);
        }
        for text in [
            "\\",
            "m\\",
            "m \\",
            "m v=\\",
            "m,\\=\\ v=1",
            "m v=1 -9223372036854775808",
            "m v=1 9223372036854775807",
        ] {
            let _ = parse(text.as_bytes(), Precision::Seconds);
        }
    }
}
