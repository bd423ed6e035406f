//! HTTP/1.1 chunked transfer decoding, incrementally.
//!
//! axum streams SSE responses with `Transfer-Encoding: chunked`, and a TCP
//! read can end anywhere: inside a chunk's size line, inside its data,
//! between the data and its CRLF. The decoder is therefore a small state
//! machine that keeps its place between calls, takes whatever bytes arrived
//! and appends the body bytes it finds to the caller's buffer.
//!
//! It stops consuming at the end of the body (the last chunk and its
//! trailer), so on a keep-alive connection the bytes after it stay with the
//! caller for the next response.

/// Why a chunked body cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// A chunk size is not hexadecimal or is too large.
    #[error("invalid chunk size line")]
    InvalidSize,
    /// A chunk's data is not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    MissingCrlf,
}

/// Where the decoder is within the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk's hexadecimal size; `digits` so far.
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension (`;name=value`) up to the line end.
    Extension { size: u64 },
    /// Saw CR after the size line; expecting LF.
    SizeLf { size: u64 },
    /// Copying a chunk's data; bytes left.
    Data { remaining: u64 },
    /// Expecting the CR after a chunk's data.
    DataCr,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// After the last (empty) chunk: trailer lines until an empty one.
    Trailer { line_start: bool },
    /// Saw CR at the start of a trailer line; expecting LF.
    TrailerLf,
    /// The body is complete.
    Done,
}

/// Largest chunk size accepted: 15 hex digits (about 1 PB).
const MAX_SIZE_DIGITS: u8 = 15;

/// Decodes one chunked body across any number of reads.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self {
            state: State::Size { size: 0, digits: 0 },
        }
    }
}

impl ChunkedDecoder {
    /// True once the last chunk and its trailer were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending body bytes to `out`. Returns how many
    /// bytes of `input` were consumed: all of them, unless the body ended
    /// inside `input` (the rest belongs to whatever follows the body).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            self.state = match self.state {
                State::Size { size, digits } => match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits == MAX_SIZE_DIGITS {
                            return Err(ChunkedError::InvalidSize);
                        }
                        let value = (byte as char).to_digit(16).unwrap_or(0);
                        State::Size {
                            size: size * 16 + u64::from(value),
                            digits: digits + 1,
                        }
                    }
                    _ if digits == 0 => return Err(ChunkedError::InvalidSize),
                    b';' | b' ' | b'\t' => State::Extension { size },
                    b'\r' => State::SizeLf { size },
                    b'\n' => after_size_line(size),
                    _ => return Err(ChunkedError::InvalidSize),
                },
                State::Extension { size } => match byte {
                    b'\r' => State::SizeLf { size },
                    b'\n' => after_size_line(size),
                    _ => State::Extension { size },
                },
                State::SizeLf { size } => match byte {
                    b'\n' => after_size_line(size),
                    _ => return Err(ChunkedError::InvalidSize),
                },
                State::Data { remaining } => {
                    let available = (input.len() - at) as u64;
                    let take = remaining.min(available) as usize;
                    out.extend_from_slice(&input[at..at + take]);
                    at += take;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining }
                    };
                    continue;
                }
                State::DataCr => match byte {
                    b'\r' => State::DataLf,
                    b'\n' => State::Size { size: 0, digits: 0 },
                    _ => return Err(ChunkedError::MissingCrlf),
                },
                State::DataLf => match byte {
                    b'\n' => State::Size { size: 0, digits: 0 },
                    _ => return Err(ChunkedError::MissingCrlf),
                },
                State::Trailer { line_start: true } => match byte {
                    b'\r' => State::TrailerLf,
                    b'\n' => State::Done,
                    _ => State::Trailer { line_start: false },
                },
                State::Trailer { line_start: false } => State::Trailer {
                    line_start: byte == b'\n',
                },
                State::TrailerLf => match byte {
                    b'\n' => State::Done,
                    _ => State::Trailer { line_start: false },
                },
                State::Done => return Ok(at),
            };
            at += 1;
            if self.state == State::Done {
                return Ok(at);
            }
        }
        Ok(at)
    }
}

fn after_size_line(size: u64) -> State {
    if size == 0 {
        State::Trailer { line_start: true }
    } else {
        State::Data { remaining: size }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> Result<(Vec<u8>, bool), ChunkedError> {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        for piece in pieces {
            let used = decoder.decode(piece, &mut out)?;
            assert_eq!(used, piece.len(), "the body does not end early");
        }
        Ok((out, decoder.is_done()))
    }

    #[test]
    fn decodes_chunks_and_the_last_chunk() {
        let (out, done) = decode_all(&[b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"]).unwrap();
        assert_eq!(out, b"hello, world");
        assert!(done);
    }

    #[test]
    fn a_body_split_at_every_byte_decodes_the_same() {
        let body = b"a;ext=1\r\n0123456789\r\n1F\r\nabcdefghijklmnopqrstuvwxyz01234\r\n0\r\nX-Trailer: yes\r\n\r\n";
        let pieces: Vec<&[u8]> = body.chunks(1).collect();
        let (out, done) = decode_all(&pieces).unwrap();
        assert_eq!(out, b"0123456789abcdefghijklmnopqrstuvwxyz01234");
        assert!(done);
    }

    #[test]
    fn an_open_stream_yields_what_has_arrived() {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        decoder.decode(b"6\r\nabc", &mut out).unwrap();
        assert_eq!(out, b"abc");
        decoder.decode(b"def\r\n", &mut out).unwrap();
        assert_eq!(out, b"abcdef");
        assert!(!decoder.is_done());
    }

    #[test]
    fn bytes_after_the_body_are_left_for_the_next_response() {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        let input = b"2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
        let used = decoder.decode(input, &mut out).unwrap();
        assert_eq!(&input[used..], b"HTTP/1.1 200 OK\r\n");
        assert_eq!(out, b"ok");
        assert!(decoder.is_done());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert_eq!(decode_all(&[b"zz\r\n"]), Err(ChunkedError::InvalidSize));
        assert_eq!(decode_all(&[b"\r\n"]), Err(ChunkedError::InvalidSize));
        assert_eq!(
            decode_all(&[b"fffffffffffffffff\r\n"]),
            Err(ChunkedError::InvalidSize)
        );
        assert_eq!(decode_all(&[b"2\r\nokX"]), Err(ChunkedError::MissingCrlf));
    }
}
