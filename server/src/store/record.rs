//! What the store writes to its write-ahead log, and reads back on replay.
//!
//! A record starts with a tag byte:
//!
//! - `1`, a series: its id (`u32` LE) and its key as JSON (series are few
//!   and rarely new, so readability wins over bytes);
//! - `2`, samples: a count (`u32` LE), then per sample the series id
//!   (`u32`), the timestamp (`i64`) and the value's bits (`u64`), all LE;
//! - `3`, a series' state (written by a checkpoint, which replaces the log
//!   before it): its id, newest sample, newest sealed timestamp per tier,
//!   open chunk's samples and, per rollup tier, the bucket being gathered
//!   and the unsealed points (each point: bucket, count, sum, min, max,
//!   last, 48 bytes).
//!
//! A record that does not decode is damage the checksum missed (or a newer
//! format): replay reports it and skips it.

use app::protocol::SeriesKey;

use super::{
    chunk::Sample,
    head::{SeriesId, SeriesState},
    rollup::{Accumulator, RollupPoint},
};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const STATE: u8 = 3;
/// Bytes per sample in a samples record.
const SAMPLE_BYTES: usize = 20;

/// One record of the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A new series and its id.
    Series(SeriesId, SeriesKey),
    /// Samples, each of a series named by id.
    Samples(Vec<(SeriesId, Sample)>),
    /// A series' state in the head.
    State(SeriesId, Box<SeriesState>),
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
            Record::State(id, state) => encode_state(*id, state),
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
            STATE => decode_state(rest),
            _ => Err(BadRecord("an unknown record type")),
        }
    }
}

const POINT_BYTES: usize = 48;

fn encode_state(id: SeriesId, state: &SeriesState) -> Vec<u8> {
    let mut out = vec![STATE];
    out.extend_from_slice(&id.0.to_le_bytes());
    let (ts, bits) = state.newest.unwrap_or((0, 0));
    out.push(u8::from(state.newest.is_some()));
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    for max in state.sealed_max {
        out.extend_from_slice(&max.to_le_bytes());
    }
    out.extend_from_slice(&(state.open.len() as u32).to_le_bytes());
    for s in &state.open {
        out.extend_from_slice(&s.ts.to_le_bytes());
        out.extend_from_slice(&s.value.to_bits().to_le_bytes());
    }
    let point = |out: &mut Vec<u8>, p: &RollupPoint| {
        out.extend_from_slice(&p.ts.to_le_bytes());
        out.extend_from_slice(&p.count.to_le_bytes());
        for v in [p.sum, p.min, p.max, p.last] {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    };
    for (acc, points) in &state.rollups {
        out.push(u8::from(acc.current.is_some()));
        point(&mut out, &acc.current.unwrap_or(RollupPoint::of(0, 0.0)));
        out.extend_from_slice(&(points.len() as u32).to_le_bytes());
        for p in points {
            point(&mut out, p);
        }
    }
    out
}

/// Reads fields off the front of a record, never past its end.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], BadRecord> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(BadRecord("a state record cut short"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn u64(&mut self) -> Result<u64, BadRecord> {
        self.take::<8>().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64, BadRecord> {
        self.take::<8>().map(i64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64, BadRecord> {
        self.u64().map(f64::from_bits)
    }

    /// A count of items of `size` bytes, checked against what is left.
    fn count(&mut self, size: usize) -> Result<usize, BadRecord> {
        let n = u32::from_le_bytes(self.take::<4>()?) as usize;
        if n.saturating_mul(size) > self.0.len() {
            return Err(BadRecord("a state record counts more than it holds"));
        }
        Ok(n)
    }

    fn point(&mut self) -> Result<RollupPoint, BadRecord> {
        Ok(RollupPoint {
            ts: self.i64()?,
            count: self.u64()?,
            sum: self.f64()?,
            min: self.f64()?,
            max: self.f64()?,
            last: self.f64()?,
        })
    }
}

fn decode_state(rest: &[u8]) -> Result<Record, BadRecord> {
    let mut f = Fields(rest);
    let id = SeriesId(u32::from_le_bytes(f.take::<4>()?));
    let has_newest = f.take::<1>()?[0] == 1;
    let newest = (f.i64()?, f.u64()?);
    let mut sealed_max = [0i64; 3];
    for max in &mut sealed_max {
        *max = f.i64()?;
    }
    let n = f.count(16)?;
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        open.push(Sample {
            ts: f.i64()?,
            value: f.f64()?,
        });
    }
    let mut rollups: [(Accumulator, Vec<RollupPoint>); 2] = Default::default();
    for (acc, points) in &mut rollups {
        let has_current = f.take::<1>()?[0] == 1;
        let current = f.point()?;
        acc.current = has_current.then_some(current);
        let n = f.count(POINT_BYTES)?;
        for _ in 0..n {
            points.push(f.point()?);
        }
    }
    if !f.0.is_empty() {
        return Err(BadRecord("a state record with bytes left over"));
    }
    Ok(Record::State(
        id,
        Box::new(SeriesState {
            newest: has_newest.then_some(newest),
            sealed_max,
            open,
            rollups,
        }),
    ))
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
            Record::State(
                SeriesId(3),
                Box::new(SeriesState {
                    newest: Some((9, f64::NAN.to_bits())),
                    sealed_max: [i64::MIN, 5, i64::MAX],
                    open: vec![Sample { ts: 1, value: -0.0 }],
                    rollups: [
                        (
                            Accumulator {
                                current: Some(RollupPoint::of(60_000, 2.5)),
                            },
                            vec![RollupPoint::of(0, 1.0)],
                        ),
                        (Accumulator::default(), Vec::new()),
                    ],
                }),
            ),
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
        let state = Record::State(
            SeriesId(1),
            Box::new(SeriesState {
                newest: None,
                sealed_max: [0; 3],
                open: vec![Sample { ts: 1, value: 1.0 }; 3],
                rollups: Default::default(),
            }),
        )
        .encode();
        for cut in 0..state.len() {
            assert!(Record::decode(&state[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = state.clone();
        longer.push(0);
        assert!(Record::decode(&longer).is_err());
        // A count far past the record's end is refused before allocating.
        let mut huge = state;
        huge[46..50].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Record::decode(&huge).is_err());
        assert!(Record::decode(&[1, 0, 0, 0, 0, b'{']).is_err());
        assert!(Record::decode(b"\x01\0\0\0\0{\"name\":\"1bad\"}").is_err());
    }
}
