//! The Prometheus text exposition format (version 0.0.4), read byte by
//! byte with limits: what exporters serve on `/metrics` and what
//! `POST /api/ingest?format=prometheus` takes.
//!
//! ```text
//! # HELP http_requests_total Requests served.
//! # TYPE http_requests_total counter
//! http_requests_total{method="post",code="200"} 1027 1395066363000
//! queue_depth 12.5
//! ```
//!
//! A sample line is a metric name, optional labels in braces (values in
//! double quotes, with `\\`, `\"` and `\n` escapes), a value (a float, or
//! `NaN`, `+Inf`, `-Inf`) and an optional timestamp in milliseconds.
//! Comments other than `# HELP` and `# TYPE` and blank lines are skipped.
//! Every line that cannot be read is reported with its number and why;
//! a reader never panics, whatever the bytes.

use std::collections::BTreeMap;

/// Longest line read.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSample {
    /// Its line, counted from 1.
    pub line: usize,
    /// The metric name (checked against the naming rules later, with the
    /// rest of the point).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
    /// Unix milliseconds, when the line gives one.
    pub ts: Option<i64>,
}

/// A line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// Its number, counted from 1.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// The lines of a text body, numbered from 1, each as text or (too long,
/// not UTF-8) as the error it is; shared by the text formats.
pub fn lines(text: &[u8]) -> impl Iterator<Item = Result<(usize, &str), LineError>> {
    text.split(|&b| b == b'\n')
        .enumerate()
        .map(|(index, line)| {
            let number = index + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let fail = |reason: String| LineError {
                line: number,
                reason,
            };
            if line.len() > MAX_LINE_BYTES {
                return Err(fail(format!(
                    "the line is longer than {MAX_LINE_BYTES} bytes"
                )));
            }
            std::str::from_utf8(line)
                .map(|line| (number, line))
                .map_err(|_| fail("the line is not UTF-8".to_string()))
        })
}

/// Reads a whole exposition: every sample, and every line that failed.
pub fn parse(text: &[u8]) -> (Vec<TextSample>, Vec<LineError>) {
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for line in lines(text) {
        let (number, line) = match line {
            Ok(line) => line,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match sample(trimmed, number) {
            Ok(sample) => samples.push(sample),
            Err(reason) => errors.push(LineError {
                line: number,
                reason,
            }),
        }
    }
    (samples, errors)
}

/// A cursor over one line.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.at]
    }
}

fn sample(line: &str, number: usize) -> Result<TextSample, String> {
    let mut cursor = Cursor { text: line, at: 0 };
    let name = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if name.is_empty() {
        return Err("a sample line starts with a metric name".to_string());
    }
    let mut labels = BTreeMap::new();
    cursor.skip_blanks();
    if cursor.peek() == Some('{') {
        cursor.bump();
        loop {
            cursor.skip_blanks();
            if cursor.peek() == Some('}') {
                cursor.bump();
                break;
            }
            let label = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            if label.is_empty() {
                return Err("a label name was expected".to_string());
            }
            cursor.skip_blanks();
            if cursor.bump() != Some('=') {
                return Err(format!("label {label} needs = and a quoted value"));
            }
            cursor.skip_blanks();
            if cursor.bump() != Some('"') {
                return Err(format!(
                    "the value of label {label} must be in double quotes"
                ));
            }
            let mut value = String::new();
            loop {
                match cursor.bump() {
                    None => return Err(format!("the value of label {label} has no closing quote")),
                    Some('"') => break,
                    Some('\\') => match cursor.bump() {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        _ => return Err(format!("the value of label {label} has a bad escape")),
                    },
                    Some(c) => value.push(c),
                }
            }
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label {label} appears twice"));
            }
            cursor.skip_blanks();
            match cursor.bump() {
                Some(',') => {}
                Some('}') => break,
                _ => return Err("labels are separated by , and closed by }".to_string()),
            }
        }
    }
    cursor.skip_blanks();
    let value_text = cursor.take_while(|c| c != ' ' && c != '\t');
    let value = parse_value(value_text)
        .ok_or_else(|| format!("{value_text:?} is not a number (a float, NaN, +Inf or -Inf)"))?;
    cursor.skip_blanks();
    let ts_text = cursor.take_while(|c| c != ' ' && c != '\t');
    let ts = if ts_text.is_empty() {
        None
    } else {
        Some(
            ts_text
                .parse::<i64>()
                .map_err(|_| format!("{ts_text:?} is not a timestamp in milliseconds"))?,
        )
    };
    cursor.skip_blanks();
    if cursor.peek().is_some() {
        return Err("unexpected text after the timestamp".to_string());
    }
    Ok(TextSample {
        line: number,
        name: name.to_string(),
        labels,
        value,
        ts,
    })
}

/// A value as Prometheus writes them (Go's `ParseFloat`: also `Inf`,
/// `+Inf`, `-Inf`, `NaN` in any case).
fn parse_value(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        // Rust's float parser takes "infinity" too; nothing else odd.
        _ => text.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposition_reads_as_prometheus_writes_it() {
        let text = b"# HELP http_requests_total The total.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{ method = \"post\" , code=\"400\" , } 3\n\
\n\
  # a comment\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find \\\"file\\\"\\n\"} 1.458255915e9\r\n\
metric_without_labels 12.47\n\
rpc_duration_seconds_bucket{le=\"+Inf\"} +Inf\n\
odd NaN\n\
job:latency:p99\t-0.5\t17\n";
        let (samples, errors) = parse(text);
        assert_eq!(errors, []);
        assert_eq!(samples.len(), 7);
        assert_eq!(samples[0].labels["code"], "200");
        assert_eq!(samples[0].ts, Some(1_395_066_363_000));
        assert_eq!(samples[1].labels.len(), 2);
        assert_eq!(samples[2].labels["path"], "C:\\DIR\\FILE.TXT");
        assert_eq!(samples[2].labels["error"], "Cannot find \"file\"\n");
        assert_eq!(samples[2].value, 1.458255915e9);
        assert_eq!(
            (samples[3].name.as_str(), samples[3].value),
            ("metric_without_labels", 12.47)
        );
        assert_eq!(samples[4].value, f64::INFINITY);
        assert!(samples[5].value.is_nan());
        assert_eq!(
            (samples[6].name.as_str(), samples[6].ts),
            ("job:latency:p99", Some(17))
        );
        assert_eq!(samples[6].line, 11);
    }

    #[test]
    fn every_bad_line_is_named_with_why() {
        let text = "ok 1\n{a=\"b\"} 1\nm{a=b} 1\nm{a=\"b} 1\nm{a=\"\\x\"} 1\nm{a=\"1\",a=\"2\"} 1\nm one\nm 1 soon\nm 1 2 3\nm{a=\"1\" b=\"2\"} 1\nm\n";
        let (samples, errors) = parse(text.as_bytes());
        assert_eq!(samples.len(), 1);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        for (error, says) in errors.iter().zip([
            "metric name",
            "double quotes",
            "closing quote",
            "bad escape",
            "twice",
            "not a number",
            "timestamp",
            "unexpected text",
            "separated by",
            "not a number",
        ]) {
            assert!(
                error.reason.contains(says),
                "line {}: {}",
                error.line,
                error.reason
            );
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"ab_:{}=\",\\ \t\n#.+-eINnf0123456789\xff\xc3";
        for _ in 0..2_000 {
            let len = (state % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let (samples, errors) = parse(&bytes);
            let lines = bytes.split(|&b| b == b'\n').count();
            assert!(samples.len() + errors.len() <= lines);
        }
        let long = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(parse(&long).1[0].line, 1);
    }
}
