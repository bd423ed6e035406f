//! Bit-level writing and reading for the chunk codec: bits go in most
//! significant first, byte by byte, as Gorilla and Prometheus lay them out.
//! The reader never panics on short or hostile input: running out of bits
//! is an error the caller reports.

/// Appends bits to a byte vector.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0: start a new byte).
    free: u8,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a byte. The vector grows by a quarter, not double: an open
    /// chunk lives in memory for every series, so slack is memory.
    fn new_byte(&mut self) {
        if self.bytes.len() == self.bytes.capacity() {
            self.bytes.reserve_exact(self.bytes.len() / 4 + 8);
        }
        self.bytes.push(0);
        self.free = 8;
    }

    /// Writes one bit.
    pub fn bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.new_byte();
        }
        self.free -= 1;
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << self.free;
            }
        }
    }

    /// Writes the low `count` bits of `value`, most significant first
    /// (`count` at most 64).
    pub fn bits(&mut self, value: u64, count: u8) {
        debug_assert!(count <= 64);
        let mut left = count;
        while left > 0 {
            if self.free == 0 {
                self.new_byte();
            }
            // As many bits as fit in the current byte.
            let take = left.min(self.free);
            let shift = left - take;
            let chunk = ((value >> shift) & ((1u64 << take) - 1)) as u8;
            self.free -= take;
            if let Some(last) = self.bytes.last_mut() {
                *last |= chunk << self.free;
            }
            left -= take;
        }
    }

    /// The bytes written so far (the last one padded with zero bits).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bits were written.
    pub fn len_bits(&self) -> usize {
        self.bytes.len() * 8 - usize::from(self.free)
    }

    /// The bytes, for storing.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The input ran out before the value it should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the chunk ends in the middle of a sample")]
pub struct Truncated;

/// Reads bits written by [`BitWriter`].
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// The next bit to read, counted from the start.
    at: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// Reads one bit.
    pub fn bit(&mut self) -> Result<bool, Truncated> {
        let byte = *self.bytes.get(self.at / 8).ok_or(Truncated)?;
        let bit = byte & (0x80 >> (self.at % 8)) != 0;
        self.at += 1;
        Ok(bit)
    }

    /// Reads `count` bits (at most 64) as the low bits of a number.
    pub fn bits(&mut self, count: u8) -> Result<u64, Truncated> {
        debug_assert!(count <= 64);
        if self.at + usize::from(count) > self.bytes.len() * 8 {
            return Err(Truncated);
        }
        let mut value = 0u64;
        let mut left = count;
        while left > 0 {
            let byte = self.bytes[self.at / 8];
            let offset = (self.at % 8) as u8;
            let available = 8 - offset;
            let take = left.min(available);
            let chunk = (byte >> (available - take)) & (((1u16 << take) - 1) as u8);
            value = (value << take) | u64::from(chunk);
            self.at += usize::from(take);
            left -= take;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_come_back_as_written_at_every_alignment() {
        let values: Vec<(u64, u8)> = (0..200u64)
            .map(|i| {
                let count = (i * 7 % 65) as u8;
                let value = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let mask = if count == 64 {
                    u64::MAX
                } else {
                    (1u64 << count) - 1
                };
                (value & mask, count)
            })
            .collect();
        let mut writer = BitWriter::new();
        for (i, &(value, count)) in values.iter().enumerate() {
            writer.bit(i % 3 == 0);
            writer.bits(value, count);
        }
        let total = writer.len_bits();
        let bytes = writer.into_bytes();
        assert_eq!(bytes.len(), total.div_ceil(8));
        let mut reader = BitReader::new(&bytes);
        for (i, &(value, count)) in values.iter().enumerate() {
            assert_eq!(reader.bit(), Ok(i % 3 == 0));
            assert_eq!(reader.bits(count), Ok(value), "value {i} of {count} bits");
        }
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let mut reader = BitReader::new(&[0xff]);
        assert_eq!(reader.bits(6), Ok(0b11_1111));
        assert_eq!(reader.bits(3), Err(Truncated));
        assert_eq!(reader.bits(2), Ok(0b11));
        assert_eq!(reader.bit(), Err(Truncated));
    }
}
