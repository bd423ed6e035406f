//! The chunk codec: a run of one series' samples, compressed the way
//! Gorilla (Facebook, VLDB 2015) and Prometheus' XOR chunks do.
//!
//! A chunk is a two-byte big-endian sample count, then a bit stream:
//!
//! - the first sample: its timestamp (64 bits, two's complement) and its
//!   value (the 64 bits of the `f64`);
//! - each later timestamp as the *delta of deltas* from the previous two
//!   (the second sample: the delta from the first), in the smallest of five
//!   shapes: `0` (the same step as before), `10` + 14 bits, `110` + 17 bits,
//!   `1110` + 20 bits, `1111` + 64 bits (signed). Samples taken on a fixed
//!   interval cost one bit of timestamp each;
//! - each later value as the XOR of its bits with the previous value's:
//!   `0` when equal; otherwise `1`, then `0` + the meaningful bits when they
//!   fit the previous window of leading and trailing zeros, or `1` + 5 bits
//!   of leading zeros + 6 bits of length + the meaningful bits.
//!
//! Values are bits, not numbers: every `f64` comes back bit for bit, NaN
//! payloads and negative zero included, and a counter that resets is just a
//! value like any other. Timestamps (Unix milliseconds) are taken as they
//! come, in any order, with wrapping arithmetic: the store refuses samples
//! out of order before they reach a chunk, so the codec need not.
//!
//! Decoding never trusts its input (chunks are read back from disk): a
//! chunk that ends early is an error, not a panic.

use super::bits::{BitReader, BitWriter, Truncated};

pub mod decimal;

/// Samples in a chunk, at most (the count is two bytes, the top bit clear:
/// a first byte from 0x80 up names another encoding, see `decimal`).
pub const MAX_SAMPLES: usize = 0x7fff;

/// One sample: Unix milliseconds and a value.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When, in Unix milliseconds.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

impl PartialEq for Sample {
    /// Samples are equal when their timestamps and the bits of their values
    /// are (so a NaN equals itself, and `0.0` differs from `-0.0`).
    fn eq(&self, other: &Self) -> bool {
        self.ts == other.ts && self.value.to_bits() == other.value.to_bits()
    }
}

/// Why a chunk cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Shorter than its two-byte header.
    #[error("a chunk is shorter than its header")]
    NoHeader,
    /// The bit stream ends before the samples its header counts.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// A sealed chunk that does not hold together.
    #[error("a chunk is damaged: {0}")]
    Malformed(&'static str),
}

/// The chunk is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a chunk holds at most {MAX_SAMPLES} samples")]
pub struct ChunkFull;

/// The timestamp shapes after the first: how many bits of value follow a
/// control prefix of `i + 1` bits (`1…10`, the last one `1111`).
const DOD_BITS: [u8; 4] = [14, 17, 20, 64];

/// Compresses samples into a chunk, one at a time.
#[derive(Clone, Debug, Default)]
pub struct ChunkEncoder {
    bits: BitWriter,
    count: usize,
    last_ts: i64,
    last_delta: i64,
    last_value: u64,
    /// Leading and trailing zeros of the last XOR window written.
    window: Option<(u8, u8)>,
}

impl ChunkEncoder {
    /// An empty chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No sample yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the chunk takes so far, header included.
    pub fn size(&self) -> usize {
        2 + self.bits.as_bytes().len()
    }

    /// The bits of the last sample's value (`None` while empty).
    pub fn last_value_bits(&self) -> Option<u64> {
        (self.count > 0).then_some(self.last_value)
    }

    /// The last sample's timestamp (`None` while empty).
    pub fn last_ts(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_ts)
    }

    /// Appends a sample.
    pub fn push(&mut self, sample: Sample) -> Result<(), ChunkFull> {
        if self.count >= MAX_SAMPLES {
            return Err(ChunkFull);
        }
        let value = sample.value.to_bits();
        match self.count {
            0 => {
                self.bits.bits(sample.ts as u64, 64);
                self.bits.bits(value, 64);
            }
            1 => {
                let delta = sample.ts.wrapping_sub(self.last_ts);
                self.write_signed(delta);
                self.last_delta = delta;
                self.write_value(value);
            }
            _ => {
                let delta = sample.ts.wrapping_sub(self.last_ts);
                self.write_signed(delta.wrapping_sub(self.last_delta));
                self.last_delta = delta;
                self.write_value(value);
            }
        }
        self.last_ts = sample.ts;
        self.last_value = value;
        self.count += 1;
        Ok(())
    }

    /// The chunk as it is sealed: the smaller of its XOR bytes and its
    /// decimal encoding (`decimal`), which every value must allow.
    pub fn seal(&self) -> Vec<u8> {
        let xor = self.to_bytes();
        let Ok(reader) = ChunkReader::new(&xor) else {
            return xor;
        };
        let samples: Vec<Sample> = reader.filter_map(Result::ok).collect();
        match decimal::encode(&samples) {
            Some(smaller) if smaller.len() < xor.len() => smaller,
            _ => xor,
        }
    }

    /// The chunk in the XOR encoding: the count, then the bits.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        // `push` keeps the count within two bytes.
        out.extend_from_slice(&(self.count as u16).to_be_bytes());
        out.extend_from_slice(self.bits.as_bytes());
        out
    }

    fn write_signed(&mut self, n: i64) {
        if n == 0 {
            self.bits.bit(false);
            return;
        }
        for (i, &width) in DOD_BITS.iter().enumerate() {
            let last = i == DOD_BITS.len() - 1;
            if last || fits(n, width) {
                // `i + 1` one bits, then a zero unless it is the last shape.
                self.bits.bits((1 << (i + 1)) - 1, (i + 1) as u8);
                if !last {
                    self.bits.bit(false);
                }
                let mask = if width == 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                };
                self.bits.bits(n as u64 & mask, width);
                return;
            }
        }
    }

    fn write_value(&mut self, value: u64) {
        let xor = value ^ self.last_value;
        if xor == 0 {
            self.bits.bit(false);
            return;
        }
        self.bits.bit(true);
        // Five bits hold at most 31 leading zeros.
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        match self.window {
            Some((window_leading, window_trailing))
                if leading >= window_leading && trailing >= window_trailing =>
            {
                self.bits.bit(false);
                let length = 64 - window_leading - window_trailing;
                self.bits.bits(xor >> window_trailing, length);
            }
            _ => {
                self.bits.bit(true);
                let length = 64 - leading - trailing;
                self.bits.bits(u64::from(leading), 5);
                // 64 meaningful bits are written as 0 (six bits hold 0..=63).
                self.bits.bits(u64::from(length % 64), 6);
                self.bits.bits(xor >> trailing, length);
                self.window = Some((leading, trailing));
            }
        }
    }
}

/// A stored chunk in the smaller of its encodings (an XOR chunk becomes
/// decimal when that is smaller; anything else is kept as it is).
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    let Ok(reader) = ChunkReader::new(bytes) else {
        return bytes.to_vec();
    };
    if bytes.first() == Some(&decimal::TAG) {
        return bytes.to_vec();
    }
    let Ok(samples) = reader.collect::<Result<Vec<Sample>, _>>() else {
        return bytes.to_vec();
    };
    match decimal::encode(&samples) {
        Some(smaller) if smaller.len() < bytes.len() => smaller,
        _ => bytes.to_vec(),
    }
}

/// Whether `n` fits `width` bits of two's complement.
fn fits(n: i64, width: u8) -> bool {
    let half = 1i64 << (width - 1);
    (-half..half).contains(&n)
}

/// Reads a chunk's samples, in order.
#[derive(Clone, Debug)]
pub struct ChunkReader<'a> {
    bits: BitReader<'a>,
    left: usize,
    read: usize,
    last_ts: i64,
    last_delta: i64,
    last_value: u64,
    window: (u8, u8),
    failed: bool,
    /// A decimal chunk, decoded whole when the reader is made.
    decoded: Option<std::vec::IntoIter<Sample>>,
}

impl<'a> ChunkReader<'a> {
    /// A reader of the chunk `bytes`, in either encoding (as
    /// [`ChunkEncoder::to_bytes`] or [`ChunkEncoder::seal`] wrote it).
    pub fn new(bytes: &'a [u8]) -> Result<Self, ChunkError> {
        if bytes.first() == Some(&decimal::TAG) {
            let samples = decimal::decode(bytes)?;
            return Ok(Self::start(
                BitReader::new(&[]),
                samples.len(),
                Some(samples.into_iter()),
            ));
        }
        let (header, rest) = bytes.split_first_chunk::<2>().ok_or(ChunkError::NoHeader)?;
        if header[0] & 0x80 != 0 {
            return Err(ChunkError::Malformed("an unknown chunk encoding"));
        }
        let count = usize::from(u16::from_be_bytes(*header));
        Ok(Self::start(BitReader::new(rest), count, None))
    }

    fn start(
        bits: BitReader<'a>,
        left: usize,
        decoded: Option<std::vec::IntoIter<Sample>>,
    ) -> Self {
        Self {
            bits,
            left,
            read: 0,
            last_ts: 0,
            last_delta: 0,
            last_value: 0,
            window: (0, 0),
            failed: false,
            decoded,
        }
    }

    /// Samples the header counts.
    pub fn len(&self) -> usize {
        self.left + self.read
    }

    /// The header counts no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read_sample(&mut self) -> Result<Sample, Truncated> {
        let (ts, value) = if self.read == 0 {
            (self.bits.bits(64)? as i64, self.bits.bits(64)?)
        } else {
            let step = self.read_signed()?;
            let delta = if self.read == 1 {
                step
            } else {
                self.last_delta.wrapping_add(step)
            };
            self.last_delta = delta;
            (self.last_ts.wrapping_add(delta), self.read_value()?)
        };
        self.last_ts = ts;
        self.last_value = value;
        Ok(Sample {
            ts,
            value: f64::from_bits(value),
        })
    }

    fn read_signed(&mut self) -> Result<i64, Truncated> {
        if !self.bits.bit()? {
            return Ok(0);
        }
        for (i, &width) in DOD_BITS.iter().enumerate() {
            let last = i == DOD_BITS.len() - 1;
            if last || !self.bits.bit()? {
                let raw = self.bits.bits(width)?;
                // Sign-extend from `width` bits.
                let shift = 64 - u32::from(width);
                return Ok(((raw << shift) as i64) >> shift);
            }
        }
        unreachable!("the last shape always returns")
    }

    fn read_value(&mut self) -> Result<u64, Truncated> {
        if !self.bits.bit()? {
            return Ok(self.last_value);
        }
        if self.bits.bit()? {
            let leading = self.bits.bits(5)? as u8;
            let length = match self.bits.bits(6)? as u8 {
                0 => 64,
                n => n,
            };
            // A hostile chunk may claim more bits than a value has.
            let trailing = 64u8.saturating_sub(leading).saturating_sub(length);
            self.window = (leading, trailing);
        }
        let (leading, trailing) = self.window;
        let length = 64u8.saturating_sub(leading).saturating_sub(trailing);
        let xor = self
            .bits
            .bits(length)?
            .checked_shl(u32::from(trailing))
            .unwrap_or(0);
        Ok(self.last_value ^ xor)
    }
}

impl Iterator for ChunkReader<'_> {
    type Item = Result<Sample, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.failed {
            return None;
        }
        if let Some(decoded) = &mut self.decoded {
            let sample = decoded.next()?;
            self.left -= 1;
            self.read += 1;
            return Some(Ok(sample));
        }
        match self.read_sample() {
            Ok(sample) => {
                self.left -= 1;
                self.read += 1;
                Some(Ok(sample))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests;
