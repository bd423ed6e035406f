//! A minimal HTTP/1.1 client over one `TcpStream`: enough for publishing
//! (keep-alive POSTs), long polls and an endless SSE stream, and light
//! enough that ten thousand idle connections cost little more than their
//! sockets.
//!
//! A [`Connection`] writes a request and reads the response head into its
//! own buffer; the body is then read whole ([`Connection::read_body`]) or
//! piece by piece as it arrives ([`Connection::read_stream`]), through a
//! [`BodyDecoder`] that knows where the body ends (`Content-Length`,
//! chunked, or the connection closing). Bytes past the end of a body stay in
//! the buffer for the next response on the connection.

use std::{io, net::SocketAddr, time::Duration};

use bytes::{Buf, BytesMut};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::chunked::{ChunkedDecoder, ChunkedError};

/// Largest response head read.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest whole body read (a poll answers at most 1,000 events).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How much room is made in the buffer before each read.
const READ_RESERVE: usize = 4 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not `http://host:port[/prefix]`.
    #[error("unsupported URL {0:?}: expected http://host[:port][/prefix]")]
    Url(String),
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection before the response was complete.
    #[error("the server closed the connection")]
    Closed,
    /// The response is not HTTP/1.x.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The chunked body is malformed.
    #[error("malformed chunked body: {0}")]
    Chunked(#[from] ChunkedError),
    /// The server answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The body, cut to 200 characters.
        body: String,
    },
}

/// Where requests go: the server's address, its `Host` header and the path
/// prefix the API sits under.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resolved address.
    pub addr: SocketAddr,
    /// `host:port` as written in the URL.
    pub host: String,
    /// Path prefix without a trailing slash (usually empty).
    pub prefix: String,
}

impl Target {
    /// Parses `http://host[:port][/prefix]` and resolves the host once.
    pub async fn resolve(url: &str) -> Result<Self, HttpError> {
        let bad = || HttpError::Url(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (host, prefix) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host.is_empty() || prefix.contains(['?', '#']) {
            return Err(bad());
        }
        let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await?
            .next()
            .ok_or_else(bad)?;
        Ok(Self {
            addr,
            host: host.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// A request's bytes: `method` on the prefix plus `path`, with the
    /// `Host` header, `extra` header lines (each ending in CRLF) and `body`
    /// (with its `Content-Length` when not empty).
    pub fn request(&self, method: &str, path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\n{extra}",
            self.prefix, self.host
        );
        if !body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

/// How a response's body is framed.
#[derive(Debug, Clone)]
pub enum BodyDecoder {
    /// `Content-Length`: bytes left.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
    /// Neither: the body ends when the connection closes.
    UntilClose,
}

impl BodyDecoder {
    /// True when the whole body was read.
    pub fn is_done(&self) -> bool {
        match self {
            BodyDecoder::Length(left) => *left == 0,
            BodyDecoder::Chunked(chunked) => chunked.is_done(),
            BodyDecoder::UntilClose => false,
        }
    }

    /// Moves the body bytes at the front of `input` to `out`, leaving what
    /// follows the body.
    fn take(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        let used = match self {
            BodyDecoder::Length(left) => {
                let take = (*left).min(input.len() as u64) as usize;
                out.extend_from_slice(&input[..take]);
                *left -= take as u64;
                take
            }
            BodyDecoder::Chunked(chunked) => chunked.decode(input, out)?,
            BodyDecoder::UntilClose => {
                out.extend_from_slice(input);
                input.len()
            }
        };
        input.advance(used);
        Ok(())
    }
}

/// A response's status line and the headers that matter here.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// How the body is framed.
    pub body: BodyDecoder,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// Parses a response head (everything before the blank line).
pub fn parse_head(head: &str) -> Result<ResponseHead, HttpError> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("not an HTTP/1.x status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::Malformed("no status code"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<u64>()
                    .map_err(|_| HttpError::Malformed("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body = if chunked {
        BodyDecoder::Chunked(ChunkedDecoder::default())
    } else if let Some(length) = length {
        BodyDecoder::Length(length)
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        BodyDecoder::Length(0)
    } else {
        BodyDecoder::UntilClose
    };
    Ok(ResponseHead {
        status,
        body,
        close,
    })
}

/// One HTTP/1.1 connection.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Connection {
    /// Connects to the target, failing after `timeout`.
    pub async fn connect(target: &Target, timeout: Duration) -> Result<Self, HttpError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(target.addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        // Requests are written whole; waiting for more to fill a segment
        // would only add latency.
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: BytesMut::new(),
        })
    }

    /// Writes a whole request.
    pub async fn send(&mut self, request: &[u8]) -> Result<(), HttpError> {
        self.stream.write_all(request).await?;
        Ok(())
    }

    /// Reads more bytes into the buffer; `Closed` at end of stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the only await is `read_buf`, which reads nothing if it
    /// is cancelled.
    async fn fill(&mut self) -> Result<(), HttpError> {
        self.buffer.reserve(READ_RESERVE);
        match self.stream.read_buf(&mut self.buffer).await? {
            0 => Err(HttpError::Closed),
            _ => Ok(()),
        }
    }

    /// Reads a response head.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes read stay in the connection's buffer, and a later
    /// call goes on from them.
    pub async fn read_head(&mut self) -> Result<ResponseHead, HttpError> {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end])
                    .map_err(|_| HttpError::Malformed("head is not UTF-8"))?;
                let head = parse_head(head)?;
                self.buffer.advance(end + 4);
                return Ok(head);
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(HttpError::Malformed("response head too large"));
            }
            self.fill().await?;
        }
    }

    /// Reads the whole body of a response whose head was read.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the body read so far is lost. Callers race it only
    /// when they give up on the connection.
    pub async fn read_body(&mut self, head: &mut ResponseHead) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            head.body.take(&mut self.buffer, &mut body)?;
            if head.body.is_done() {
                return Ok(body);
            }
            if body.len() > MAX_BODY_BYTES {
                return Err(HttpError::Malformed("response body too large"));
            }
            match self.fill().await {
                Err(HttpError::Closed) if matches!(head.body, BodyDecoder::UntilClose) => {
                    return Ok(body)
                }
                other => other?,
            }
        }
    }

    /// Appends the next piece of a streamed body to `out`; `Ok(false)` when
    /// the body ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: bytes are only moved to `out` after the read completed.
    pub async fn read_stream(
        &mut self,
        body: &mut BodyDecoder,
        out: &mut Vec<u8>,
    ) -> Result<bool, HttpError> {
        if body.is_done() {
            return Ok(false);
        }
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        body.take(&mut self.buffer, out)?;
        Ok(!body.is_done())
    }

    /// Sends a request and reads its whole response; an error status
    /// becomes [`HttpError::Status`]. The connection can be reused unless
    /// the second value is true.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<(Vec<u8>, bool), HttpError> {
        self.send(request).await?;
        let mut head = self.read_head().await?;
        let body = self.read_body(&mut head).await?;
        if head.status != 200 {
            return Err(HttpError::Status {
                status: head.status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        Ok((
            body,
            head.close || matches!(head.body, BodyDecoder::UntilClose),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_tell_how_the_body_is_framed() {
        let head = parse_head(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked",
        )
        .unwrap();
        assert_eq!(head.status, 200);
        assert!(matches!(head.body, BodyDecoder::Chunked(_)));
        assert!(!head.close);

        let head =
            parse_head("HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nConnection: close")
                .unwrap();
        assert_eq!(head.status, 400);
        assert!(matches!(head.body, BodyDecoder::Length(12)));
        assert!(head.close);

        assert!(matches!(
            parse_head("HTTP/1.0 200 OK").unwrap().body,
            BodyDecoder::UntilClose
        ));
        assert!(parse_head("SSH-2.0-OpenSSH").is_err());
        assert!(parse_head("HTTP/1.1 200 OK\r\nContent-Length: x").is_err());
    }

    #[test]
    fn a_length_body_leaves_the_next_response_in_the_buffer() {
        let mut decoder = BodyDecoder::Length(2);
        let mut input = BytesMut::from(&b"okHTTP/1.1"[..]);
        let mut out = Vec::new();
        decoder.take(&mut input, &mut out).unwrap();
        assert_eq!(out, b"ok");
        assert_eq!(&input[..], b"HTTP/1.1");
        assert!(decoder.is_done());
    }

    #[tokio::test]
    async fn urls_name_host_port_and_prefix() {
        let target = Target::resolve("http://127.0.0.1:3000/dash/")
            .await
            .unwrap();
        assert_eq!(target.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(target.prefix, "/dash");
        let request = target.request("POST", "/api/x", "Accept: */*\r\n", b"{}");
        assert_eq!(
            request,
            b"POST /dash/api/x HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n{}"
        );
        for bad in [
            "https://127.0.0.1",
            "127.0.0.1:3000",
            "http://",
            "http://a:1/x?y",
        ] {
            assert!(Target::resolve(bad).await.is_err(), "{bad}");
        }
    }
}
