//! What the store writes to its write-ahead log, and reads back on replay.
//!
//! A record starts with a tag byte:
//!
//! - `1`, a series: its id (`u32` LE) and its key as JSON (series are few
//!   and rarely new, so readability wins over bytes);
//! - `2`, samples: a count (`u32` LE), then per sample the series id
//!   (`u32`), the timestamp (`i64`) and the value's bits (`u64`), all LE.
//!
//! A record that does not decode is damage the checksum missed (or a newer
//! format): replay reports it and skips it.

use app::protocol::SeriesKey;

use super::{chunk::Sample, head::SeriesId};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
/// Bytes per sample in a samples record.
const SAMPLE_BYTES: usize = 20;

/// One record of the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A new series and its id.
    Series(SeriesId, SeriesKey),
    /// Samples, each of a series named by id.
    Samples(Vec<(SeriesId, Sample)>),
}

/// A record that does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a write-ahead log record does not decode: {0}")]
pub struct BadRecord(pub &'static str);

impl Record {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Record::Series(id, key) => {
                let mut out = vec![SERIES];
                out.extend_from_slice(&id.0.to_le_bytes());
                // A key is strings only: encoding cannot fail.
                out.extend_from_slice(&serde_json::to_vec(key).unwrap_or_default());
                out
            }
            Record::Samples(samples) => {
                let mut out = Vec::with_capacity(5 + samples.len() * SAMPLE_BYTES);
                out.push(SAMPLES);
                out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
                for (id, sample) in samples {
                    out.extend_from_slice(&id.0.to_le_bytes());
                    out.extend_from_slice(&sample.ts.to_le_bytes());
                    out.extend_from_slice(&sample.value.to_bits().to_le_bytes());
                }
                out
            }
        }
    }

    /// Reads a record's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Record, BadRecord> {
        let (&tag, rest) = bytes.split_first().ok_or(BadRecord("empty"))?;
        match tag {
            SERIES => {
                let (id, json) = rest
                    .split_first_chunk::<4>()
                    .ok_or(BadRecord("a series record without an id"))?;
                let key: SeriesKey = serde_json::from_slice(json)
                    .map_err(|_| BadRecord("a series key that is not JSON"))?;
                key.validate()
                    .map_err(|_| BadRecord("a series key that breaks the naming rules"))?;
                Ok(Record::Series(SeriesId(u32::from_le_bytes(*id)), key))
            }
            SAMPLES => {
                let (count, body) = rest
                    .split_first_chunk::<4>()
                    .ok_or(BadRecord("a samples record without a count"))?;
                let count = u32::from_le_bytes(*count) as usize;
                if body.len() != count.saturating_mul(SAMPLE_BYTES) {
                    return Err(BadRecord("a samples record of the wrong length"));
                }
                let samples = body
                    .chunks_exact(SAMPLE_BYTES)
                    .map(|s| {
                        let field = |from: usize, to: usize| -> [u8; 8] {
                            let mut out = [0u8; 8];
                            out[..to - from].copy_from_slice(&s[from..to]);
                            out
                        };
                        let id = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                        (
                            SeriesId(id),
                            Sample {
                                ts: i64::from_le_bytes(field(4, 12)),
                                value: f64::from_bits(u64::from_le_bytes(field(12, 20))),
                            },
                        )
                    })
                    .collect();
                Ok(Record::Samples(samples))
            }
            _ => Err(BadRecord("an unknown record type")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let key = SeriesKey::new("up", [("job".to_string(), "a \"b\"".to_string())]).unwrap();
        let records = [
            Record::Series(SeriesId(7), key),
            Record::Samples(vec![
                (
                    SeriesId(7),
                    Sample {
                        ts: -5,
                        value: f64::NAN,
                    },
                ),
                (
                    SeriesId(0),
                    Sample {
                        ts: i64::MAX,
                        value: -0.0,
                    },
                ),
            ]),
            Record::Samples(Vec::new()),
        ];
        for record in records {
            assert_eq!(Record::decode(&record.encode()).unwrap(), record);
        }
    }

    #[test]
    fn damaged_records_are_errors() {
        let good = Record::Samples(vec![(SeriesId(1), Sample { ts: 1, value: 1.0 })]).encode();
        for cut in 0..good.len() {
            assert!(Record::decode(&good[..cut]).is_err(), "cut {cut}");
        }
        assert!(Record::decode(&[9, 0, 0]).is_err());
        assert!(Record::decode(&[1, 0, 0, 0, 0, b'{']).is_err());
        assert!(Record::decode(b"\x01\0\0\0\0{\"name\":\"1bad\"}").is_err());
    }
}
