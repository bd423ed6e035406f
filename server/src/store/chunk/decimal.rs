//! The decimal encoding of a sealed chunk: most metrics are decimals with
//! a few digits (a percentage to two places, a count, a latency in whole
//! milliseconds), and XOR of their float bits wastes most of the 64 bits
//! on noise in the low mantissa. As ALP (SIGMOD 2024) and Pco do, such a
//! chunk is stored as integers: every value `v` is `k / 10^e` for one
//! exponent `e` (0 to [`MAX_EXPONENT`]) and whole numbers `k`, checked bit
//! for bit, so nothing is lost; a chunk where that fails for any value
//! (NaN, infinities, `-0.0`, 0.1 + 0.2, magnitudes past 2^53) stays XOR.
//!
//! ```text
//! [0x81][count: varint][e: u8]
//! [first ts: zigzag varint][ts mode: u8][ts payload]
//! [first k: zigzag varint][k mode: u8][k payload]
//! ```
//!
//! Timestamps: mode 0, every interval equal (one zigzag varint, then zero
//! bits per sample); mode 2, irregular: Gorilla's delta-of-delta bits (an
//! XOR chunk of the timestamps with zero values, length-prefixed). Values:
//! the deltas of `k` (modes 0 and 2) or their deltas (modes 1 and 3,
//! smaller for counters that grow steadily), zigzag, either bit-packed at
//! the width of the largest (0, 1: a width byte, then the bits) or as
//! varints (2, 3: an outlier such as a counter reset does not widen the
//! rest); the smallest of the four is kept. Decoding never trusts the
//! bytes: every count, length and width is bounded and a short chunk is an
//! error.

use super::{ChunkError, Sample, MAX_SAMPLES};
use crate::store::bits::{BitReader, BitWriter};

/// The first byte of a decimal chunk (an XOR chunk's first byte, the high
/// byte of its count, is below 0x80).
pub const TAG: u8 = 0x81;
/// The largest decimal exponent tried.
pub const MAX_EXPONENT: u8 = 6;
/// Integers must stay exact in an `f64`.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the front of a byte slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8, ChunkError> {
        let (&b, rest) = self
            .0
            .split_first()
            .ok_or(ChunkError::Malformed("cut short"))?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, ChunkError> {
        let mut out = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(ChunkError::Malformed("a number longer than ten bytes"))
    }

    /// `n` values of `width` bits, packed; the bytes are consumed.
    fn packed(&mut self, n: usize, width: u8) -> Result<Vec<u64>, ChunkError> {
        if width > 64 {
            return Err(ChunkError::Malformed("a width over 64 bits"));
        }
        let bytes = (n * usize::from(width)).div_ceil(8);
        if bytes > self.0.len() {
            return Err(ChunkError::Malformed("cut short"));
        }
        let (mine, rest) = self.0.split_at(bytes);
        self.0 = rest;
        let mut bits = BitReader::new(mine);
        (0..n)
            .map(|_| bits.bits(width).map_err(ChunkError::from))
            .collect()
    }
}

/// The bits needed for the largest of `values`.
fn width_of(values: &[u64]) -> u8 {
    values
        .iter()
        .map(|v| 64 - v.leading_zeros() as u8)
        .max()
        .unwrap_or(0)
}

fn pack(out: &mut Vec<u8>, values: &[u64]) {
    let width = width_of(values);
    out.push(width);
    let mut bits = BitWriter::new();
    for &v in values {
        bits.bits(v, width);
    }
    out.extend_from_slice(&bits.into_bytes());
}

/// The smallest exponent that makes every value an exact integer
/// multiple of `10^-e`, and those integers.
fn integers(samples: &[Sample]) -> Option<(u8, Vec<i64>)> {
    'exponent: for e in 0..=MAX_EXPONENT {
        let scale = 10f64.powi(i32::from(e));
        let mut ks = Vec::with_capacity(samples.len());
        for s in samples {
            let k = (s.value * scale).round();
            // Checked the way `decode` computes it, from the integer (so
            // -0.0, which comes back as 0.0, is refused).
            let exact = k.is_finite() && k.abs() < MAX_EXACT;
            if !exact || ((k as i64) as f64 / scale).to_bits() != s.value.to_bits() {
                continue 'exponent;
            }
            ks.push(k as i64);
        }
        return Some((e, ks));
    }
    None
}

/// The deltas (`order` 1) or deltas of deltas (`order` 2) of `ks`, zigzag.
fn differences(ks: &[i64], order: u8) -> Vec<u64> {
    let deltas: Vec<i64> = ks.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    if order == 1 {
        return deltas.into_iter().map(zigzag).collect();
    }
    let mut out = Vec::with_capacity(deltas.len());
    let mut previous = 0i64;
    for d in deltas {
        out.push(zigzag(d.wrapping_sub(previous)));
        previous = d;
    }
    out
}

/// The chunk in the decimal encoding, or `None` when a value is not a
/// short decimal (or there are no samples).
pub fn encode(samples: &[Sample]) -> Option<Vec<u8>> {
    if samples.is_empty() || samples.len() > MAX_SAMPLES {
        return None;
    }
    let (e, ks) = integers(samples)?;
    let mut out = vec![TAG];
    put_varint(&mut out, samples.len() as u64);
    out.push(e);
    put_varint(&mut out, zigzag(samples[0].ts));
    let intervals: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].ts.wrapping_sub(w[0].ts))
        .collect();
    match intervals.first() {
        Some(&first) if intervals.iter().all(|&i| i == first) => {
            out.push(0);
            put_varint(&mut out, zigzag(first));
        }
        _ => {
            // Irregular: Gorilla's delta-of-delta bits, as an XOR chunk of
            // the timestamps with zeros (one bit each) for values.
            out.push(2);
            let mut times = super::ChunkEncoder::new();
            for s in samples {
                times
                    .push(Sample {
                        ts: s.ts,
                        value: 0.0,
                    })
                    .ok()?;
            }
            let bytes = times.to_bytes();
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
        }
    }
    put_varint(&mut out, zigzag(ks[0]));
    // Bit-packed at one width, or as varints (which an outlier, such as a
    // counter reset, does not make wide): whichever is smallest.
    let mut best: Option<Vec<u8>> = None;
    for (mode, order) in [(0u8, 1u8), (1, 2), (2, 1), (3, 2)] {
        let diffs = differences(&ks, order);
        let mut payload = vec![mode];
        if mode < 2 {
            pack(&mut payload, &diffs);
        } else {
            for d in diffs {
                put_varint(&mut payload, d);
            }
        }
        if best.as_ref().is_none_or(|b| payload.len() < b.len()) {
            best = Some(payload);
        }
    }
    out.extend(best?);
    Some(out)
}

/// Undoes [`differences`] from a first value.
fn integrate(first: i64, diffs: &[u64], order: u8) -> Vec<i64> {
    let mut out = Vec::with_capacity(diffs.len() + 1);
    out.push(first);
    let (mut value, mut delta) = (first, 0i64);
    for &d in diffs {
        let d = unzigzag(d);
        delta = if order == 1 { d } else { delta.wrapping_add(d) };
        value = value.wrapping_add(delta);
        out.push(value);
    }
    out
}

/// Reads a chunk made by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let mut c = Cursor(bytes);
    if c.byte()? != TAG {
        return Err(ChunkError::Malformed("not a decimal chunk"));
    }
    let count = c.varint()?;
    if count == 0 || count > MAX_SAMPLES as u64 {
        return Err(ChunkError::Malformed("a sample count out of range"));
    }
    let count = count as usize;
    let e = c.byte()?;
    if e > MAX_EXPONENT {
        return Err(ChunkError::Malformed("a decimal exponent out of range"));
    }
    let first_ts = unzigzag(c.varint()?);
    let ts: Vec<i64> = match c.byte()? {
        0 => {
            let interval = unzigzag(c.varint()?);
            (0..count as i64)
                .map(|i| first_ts.wrapping_add(interval.wrapping_mul(i)))
                .collect()
        }
        2 => {
            let len = usize::try_from(c.varint()?)
                .map_err(|_| ChunkError::Malformed("a length out of range"))?;
            if len > c.0.len() {
                return Err(ChunkError::Malformed("cut short"));
            }
            let (times, rest) = c.0.split_at(len);
            c.0 = rest;
            let reader = super::ChunkReader::new(times)?;
            if reader.len() != count || times.first().is_some_and(|&b| b & 0x80 != 0) {
                return Err(ChunkError::Malformed(
                    "timestamps that do not match the count",
                ));
            }
            reader.map(|s| s.map(|s| s.ts)).collect::<Result<_, _>>()?
        }
        _ => return Err(ChunkError::Malformed("an unknown timestamp mode")),
    };
    if ts.first() != Some(&first_ts) {
        return Err(ChunkError::Malformed("timestamps that do not match"));
    }
    let first_k = unzigzag(c.varint()?);
    let mode = c.byte()?;
    let order = if mode % 2 == 0 { 1 } else { 2 };
    let diffs = match mode {
        0 | 1 => {
            let width = c.byte()?;
            c.packed(count - 1, width)?
        }
        2 | 3 => (1..count).map(|_| c.varint()).collect::<Result<_, _>>()?,
        _ => return Err(ChunkError::Malformed("an unknown value mode")),
    };
    let ks = integrate(first_k, &diffs, order);
    let scale = 10f64.powi(i32::from(e));
    Ok(ts
        .into_iter()
        .zip(ks)
        .map(|(ts, k)| Sample {
            ts,
            value: k as f64 / scale,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                ts: 1_795_000_000_000 + i as i64 * 1_000,
                value,
            })
            .collect()
    }

    #[test]
    fn decimals_round_trip_and_other_values_are_left_to_xor() {
        for values in [
            &[12.34, 12.35, 99.99, -0.01, 0.0][..],
            &[1.0, 2.0, 40.0, 3.0][..],
            &[0.125, 1e-6, 123_456.5][..],
            &[9_007_199_254_740_991.0][..],
        ] {
            let s = samples(values);
            let bytes = encode(&s).expect("decimal");
            assert_eq!(decode(&bytes).unwrap(), s, "{values:?}");
        }
        for values in [
            &[0.1 + 0.2][..],
            &[1.0, f64::NAN][..],
            &[f64::INFINITY][..],
            &[-0.0][..],
            &[1e300][..],
            &[1.0, 1e-7][..],
        ] {
            assert!(encode(&samples(values)).is_none(), "{values:?}");
        }
    }

    #[test]
    fn irregular_timestamps_round_trip() {
        let mut s = samples(&[1.5; 50]);
        for (i, sample) in s.iter_mut().enumerate() {
            sample.ts += (i as i64 * 7_919) % 13 - 6;
        }
        s[20].ts = s[19].ts; // two at one time
        assert_eq!(decode(&encode(&s).unwrap()).unwrap(), s);
        let wrapping = vec![
            Sample {
                ts: i64::MAX,
                value: 1.0,
            },
            Sample {
                ts: i64::MIN,
                value: 2.0,
            },
            Sample { ts: 0, value: 3.0 },
        ];
        assert_eq!(decode(&encode(&wrapping).unwrap()).unwrap(), wrapping);
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let good = encode(&samples(&[1.25, 2.5, 3.75, 100.0, -7.0])).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for flip in [1u8, 0x40, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = decode(&bad);
            }
        }
        // A huge count with no bits to back it is refused before
        // allocating.
        assert!(decode(&[TAG, 0xff, 0xff, 0x03, 0, 0, 0, 0, 0, 0, 64]).is_err());
    }
}
