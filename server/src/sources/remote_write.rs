//! Prometheus remote write (protocol 1.0): what a Prometheus server, an
//! agent or Grafana Alloy sends when `remote_write` points at
//! `POST /api/v1/write` (or `/api/ingest?format=remote-write`).
//!
//! The body is a snappy-compressed (block format) protobuf
//! `WriteRequest`:
//!
//! ```text
//! message WriteRequest { repeated TimeSeries timeseries = 1; /* metadata = 3: skipped */ }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; /* exemplars, histograms: skipped */ }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; }
//! ```
//!
//! Read with a small decoder of our own: only these messages are needed,
//! and every length is checked against what is left, so hostile bytes get
//! an error, never a panic or a large allocation. The decompressed size
//! (which snappy states up front) is checked against the limit before
//! anything is decompressed. `__name__` is the metric name; Prometheus'
//! staleness markers (a NaN with the bit pattern `0x7ff0000000000002`) say
//! a series went away and are skipped.

use std::collections::BTreeMap;

/// The bit pattern of Prometheus' staleness marker.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// One sample of one series, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteSample {
    /// The metric name (`__name__`).
    pub name: String,
    /// The other labels.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
    /// Unix milliseconds.
    pub ts: i64,
}

/// Why a body cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteWriteError {
    /// Not snappy, or damaged.
    #[error("the body is not snappy-compressed (block format): {0}")]
    Snappy(String),
    /// Larger than allowed once decompressed.
    #[error("the body decompresses to {size} bytes; at most {limit}")]
    TooLarge {
        /// Its stated size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a valid `WriteRequest`.
    #[error("the body is not a remote-write WriteRequest: {0}")]
    Protobuf(&'static str),
}

/// What a body held: the samples, and how many staleness markers were
/// skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    /// Every sample, series by series, in the order sent.
    pub samples: Vec<RemoteSample>,
    /// Staleness markers skipped.
    pub stale: usize,
}

/// Decompresses and reads a remote-write body of at most `limit` bytes
/// decompressed.
pub fn decode(body: &[u8], limit: usize) -> Result<Decoded, RemoteWriteError> {
    let size =
        snap::raw::decompress_len(body).map_err(|e| RemoteWriteError::Snappy(e.to_string()))?;
    if size > limit {
        return Err(RemoteWriteError::TooLarge { size, limit });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteWriteError::Snappy(e.to_string()))?;
    parse(&raw)
}

/// Reads an uncompressed `WriteRequest`.
pub fn parse(bytes: &[u8]) -> Result<Decoded, RemoteWriteError> {
    let mut out = Decoded::default();
    let mut request = Fields(bytes);
    while let Some((field, value)) = request.next_field()? {
        if let (1, Value::Bytes(series)) = (field, value) {
            time_series(series, &mut out)?;
        }
    }
    Ok(out)
}

fn time_series(bytes: &[u8], out: &mut Decoded) -> Result<(), RemoteWriteError> {
    let mut name = None;
    let mut labels = BTreeMap::new();
    let mut samples = Vec::new();
    let mut fields = Fields(bytes);
    while let Some((field, value)) = fields.next_field()? {
        match (field, value) {
            (1, Value::Bytes(label)) => {
                let (key, value) = self::label(label)?;
                if key == "__name__" {
                    name = Some(value);
                } else {
                    labels.insert(key, value);
                }
            }
            (2, Value::Bytes(sample)) => samples.push(self::sample(sample)?),
            (1 | 2, _) => {
                return Err(RemoteWriteError::Protobuf(
                    "a label or sample that is not a message",
                ))
            }
            _ => {}
        }
    }
    let name = name.ok_or(RemoteWriteError::Protobuf("a series without __name__"))?;
    for (value, ts) in samples {
        if value.to_bits() == STALE_NAN {
            out.stale += 1;
            continue;
        }
        out.samples.push(RemoteSample {
            name: name.clone(),
            labels: labels.clone(),
            value,
            ts,
        });
    }
    Ok(())
}

fn label(bytes: &[u8]) -> Result<(String, String), RemoteWriteError> {
    let (mut name, mut value) = (String::new(), String::new());
    let mut fields = Fields(bytes);
    while let Some((field, v)) = fields.next_field()? {
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec())
                .map_err(|_| RemoteWriteError::Protobuf("a label that is not UTF-8"))
        };
        match (field, v) {
            (1, Value::Bytes(b)) => name = text(b)?,
            (2, Value::Bytes(b)) => value = text(b)?,
            (1 | 2, _) => return Err(RemoteWriteError::Protobuf("a label that is not a string")),
            _ => {}
        }
    }
    Ok((name, value))
}

fn sample(bytes: &[u8]) -> Result<(f64, i64), RemoteWriteError> {
    let (mut value, mut ts) = (0.0, 0);
    let mut fields = Fields(bytes);
    while let Some((field, v)) = fields.next_field()? {
        match (field, v) {
            (1, Value::Fixed64(bits)) => value = f64::from_bits(bits),
            (2, Value::Varint(n)) => ts = n as i64,
            (1 | 2, _) => {
                return Err(RemoteWriteError::Protobuf(
                    "a sample field of the wrong type",
                ))
            }
            _ => {}
        }
    }
    Ok((value, ts))
}

/// A field's value, by wire type.
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

/// Reads a message's fields off the front of its bytes.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, RemoteWriteError> {
        let mut out = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self
                .0
                .split_first()
                .ok_or(RemoteWriteError::Protobuf("a number cut short"))?;
            self.0 = rest;
            out |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(RemoteWriteError::Protobuf("a number longer than ten bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RemoteWriteError> {
        if n > self.0.len() {
            return Err(RemoteWriteError::Protobuf(
                "a field longer than its message",
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, RemoteWriteError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let bytes = self.take(8)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(bytes);
                Value::Fixed64(u64::from_le_bytes(le))
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| RemoteWriteError::Protobuf("a length too large"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed32
            }
            _ => return Err(RemoteWriteError::Protobuf("an unknown wire type")),
        };
        Ok(Some((key >> 3, value)))
    }
}

/// A series to send: its labels (`__name__` among them) and samples.
pub type Series<'a> = (&'a [(&'a str, &'a str)], &'a [(f64, i64)]);

/// An uncompressed `WriteRequest` holding `series`, as Prometheus encodes
/// it (for tests, benchmarks and load generators; compress it with
/// `snap::raw::Encoder` to send it).
pub fn encode(series: &[Series<'_>]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    fn message(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    let mut request = Vec::new();
    for (labels, samples) in series {
        let mut ts = Vec::new();
        for (name, value) in labels.iter() {
            let mut label = Vec::new();
            message(&mut label, 1, name.as_bytes());
            message(&mut label, 2, value.as_bytes());
            message(&mut ts, 1, &label);
        }
        for (value, t) in samples.iter() {
            let mut sample = vec![1 << 3 | 1];
            sample.extend_from_slice(&value.to_bits().to_le_bytes());
            sample.push(2 << 3);
            varint(&mut sample, *t as u64);
            message(&mut ts, 2, &sample);
        }
        message(&mut request, 1, &ts);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`encode`](super::encode), plus fields a reader must skip: an
    /// exemplar in the first series and metadata after the series.
    fn encode_with_extras(series: &[Series<'_>]) -> Vec<u8> {
        let mut request = super::encode(series);
        if !request.is_empty() {
            // The first series' length grows by the exemplar's 4 bytes
            // (lengths here are one byte: the series are small).
            assert!(request[1] < 0x7c);
            request[1] += 4;
            request.splice(
                2 + usize::from(request[1]) - 4..2 + usize::from(request[1]) - 4,
                [0x1a, 0x02, 0x0a, 0x00],
            );
        }
        request.extend_from_slice(&[0x1a, 0x02, 0x08, 0x01]);
        request
    }

    #[test]
    fn a_request_as_prometheus_sends_it_is_read_whole() {
        let body = encode_with_extras(&[
            (
                &[("__name__", "up"), ("job", "node"), ("instance", "a:9100")],
                &[
                    (1.0, 1_000),
                    (f64::from_bits(STALE_NAN), 2_000),
                    (0.0, 3_000),
                ],
            ),
            (&[("__name__", "temp_celsius")], &[(-12.5, -7)]),
        ]);
        let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        let decoded = decode(&compressed, 1 << 20).unwrap();
        assert_eq!(decoded.stale, 1);
        assert_eq!(decoded.samples.len(), 3);
        assert_eq!(decoded.samples[0].name, "up");
        assert_eq!(decoded.samples[0].labels["instance"], "a:9100");
        assert!(!decoded.samples[0].labels.contains_key("__name__"));
        assert_eq!(
            (decoded.samples[1].value, decoded.samples[1].ts),
            (0.0, 3_000)
        );
        assert_eq!(
            (decoded.samples[2].value, decoded.samples[2].ts),
            (-12.5, -7)
        );
    }

    #[test]
    fn a_body_larger_than_the_limit_is_refused_before_it_is_decompressed() {
        // 8 MiB of zeros compresses to a few hundred kilobytes.
        let bomb = snap::raw::Encoder::new()
            .compress_vec(&vec![0u8; 8 << 20])
            .unwrap();
        assert!(bomb.len() < 1 << 20);
        assert_eq!(
            decode(&bomb, 1 << 20),
            Err(RemoteWriteError::TooLarge {
                size: 8 << 20,
                limit: 1 << 20
            })
        );
    }

    #[test]
    fn hostile_bytes_are_errors_never_panics() {
        let good = encode_with_extras(&[(&[("__name__", "m"), ("a", "b")], &[(1.0, 5)])]);
        // Every truncation and every single-byte change.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = parse(&bad);
            }
        }
        // A length far past the end, an endless varint, unknown wire types.
        assert!(parse(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(parse(&[0x08; 11]).is_err());
        assert!(parse(&[0x0f]).is_err());
        assert!(
            parse(b"\x0a\x02\x0a\x00").is_err(),
            "a series without __name__"
        );
        assert!(decode(b"not snappy at all", 1 << 20).is_err());
        // Random bytes (a fixed xorshift, so a failure repeats).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = parse(&bytes);
            let _ = decode(&bytes, 1 << 20);
        }
    }

    #[test]
    fn generated_requests_round_trip() {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let n = (next() % 5) as usize + 1;
            let names: Vec<String> = (0..n).map(|i| format!("m{i}_{}", next() % 100)).collect();
            let values: Vec<String> = (0..n).map(|_| format!("v\"\\{}", next())).collect();
            let samples: Vec<Vec<(f64, i64)>> = (0..n)
                .map(|_| {
                    (0..(next() % 4))
                        .map(|_| (f64::from_bits(next() >> 2), next() as i64))
                        .collect()
                })
                .collect();
            let labels: Vec<[(&str, &str); 2]> = (0..n)
                .map(|i| [("__name__", names[i].as_str()), ("l", values[i].as_str())])
                .collect();
            let series: Vec<Series<'_>> =
                (0..n).map(|i| (&labels[i][..], &samples[i][..])).collect();
            let decoded = parse(&encode_with_extras(&series)).unwrap();
            let expected: Vec<(String, String, u64, i64)> = series
                .iter()
                .flat_map(|(labels, samples)| {
                    samples.iter().map(move |(v, t)| {
                        (
                            labels[0].1.to_string(),
                            labels[1].1.to_string(),
                            v.to_bits(),
                            *t,
                        )
                    })
                })
                .collect();
            let got: Vec<(String, String, u64, i64)> = decoded
                .samples
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.labels["l"].clone(),
                        s.value.to_bits(),
                        s.ts,
                    )
                })
                .collect();
            assert_eq!(got, expected);
        }
    }
}
