//! Requests livedash makes itself: one request to a URL the operator
//! configured (a webhook receiver, a Prometheus scrape target), over a
//! fresh connection, `http://` or `https://`.
//!
//! Why a fresh connection each time: the receivers are few and the
//! requests seconds apart at the least (a scrape interval, a retry), so a
//! pool would hold sockets for nothing and make a dead peer's connection
//! the next request's problem.
//!
//! TLS is rustls (on ring). Servers are checked against the Mozilla roots
//! built into the binary (nothing beside it to install), plus the
//! authorities of `--tls-ca-file`, for receivers behind a private CA.
//! [`Client`] holds that configuration; it is built once in `serve` and
//! cloned into the tasks that send.

use std::{path::Path, sync::Arc, time::Duration};

use axum::body::Body;
use bytes::Bytes;
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    task::JoinHandle,
};
use tokio_rustls::{rustls, TlsConnector};

/// Where a request goes: parsed from `http(s)://host[:port][/path]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `https://`.
    pub tls: bool,
    /// The host name or address (an IPv6 address without brackets).
    pub host: String,
    /// The port (80 or 443 unless given).
    pub port: u16,
    /// The path and query (`default_path` when the URL has none).
    pub path: String,
}

impl Url {
    /// Parses `http(s)://host[:port][/path]`; `None` when it is not one.
    pub fn parse(url: &str, default_path: &str) -> Option<Self> {
        let (tls, rest) = match url.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, url.strip_prefix("http://")?),
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('?') => {
                (&rest[..at], format!("{default_path}{}", &rest[at..]))
            }
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, default_path.to_string()),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(port) => port.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().ok()?),
                None => (authority, default_port),
            }
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        valid.then(|| Self {
            tls,
            host: host.to_string(),
            port,
            path,
        })
    }

    /// `host:port` (brackets around an IPv6 address), for `Host`.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why the trusted authorities cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `--tls-ca-file` cannot be read or holds no certificate.
    #[error("--tls-ca-file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Sends requests; cheap to clone.
#[derive(Clone)]
pub struct Client {
    tls: TlsConnector,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client that trusts the built-in roots and those in the PEM file
    /// `ca_file`, if given.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            let bad = |message: String| TlsSetupError::CaFile {
                path: path.display().to_string(),
                message,
            };
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certificates.is_empty() {
                return Err(bad("it holds no PEM certificate".into()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|e| bad(format!("a certificate is not usable: {e}")))?;
            }
        }
        // ring, not aws-lc-rs (whose build needs cmake and a long C
        // compile): rustls marks it deprecated for lacking post-quantum
        // key exchange, which webhook and scrape traffic can do without.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::CaFile {
                path: String::new(),
                message: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Sends `request` to `url` (its `Host` header is set here) and reads
    /// the answer's body up to `max_body` bytes, all within `timeout`.
    ///
    /// Cancel safety: dropping it drops the connection.
    pub async fn send(
        &self,
        url: &Url,
        mut request: Request<Body>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<(StatusCode, Bytes), String> {
        let exchange = async {
            let stream = TcpStream::connect((url.host.as_str(), url.port))
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            let authority = url
                .authority()
                .parse()
                .map_err(|e| format!("bad host: {e}"))?;
            request.headers_mut().insert(header::HOST, authority);
            if !url.tls {
                return exchange(stream, request, max_body).await;
            }
            let name = ServerName::try_from(url.host.clone())
                .map_err(|e| format!("{} is not a TLS server name: {e}", url.host))?;
            let stream = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            exchange(stream, request, max_body).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("timed out after {timeout:?}"))?
    }
}

/// Aborts the connection's task when dropped (the request answered, timed
/// out or was dropped).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<Body>,
    max_body: usize,
) -> Result<(StatusCode, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let body = axum::body::to_bytes(Body::new(response.into_body()), max_body)
        .await
        .map_err(|_| format!("the answer is larger than {max_body} bytes or was cut short"))?;
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Option<(bool, String, u16, String)> {
        Url::parse(text, "/metrics").map(|u| (u.tls, u.host, u.port, u.path))
    }

    #[test]
    fn urls_name_their_scheme_host_port_and_path() {
        assert_eq!(
            url("http://node"),
            Some((false, "node".into(), 80, "/metrics".into()))
        );
        assert_eq!(
            url("https://hooks.example.com/x?y=1"),
            Some((true, "hooks.example.com".into(), 443, "/x?y=1".into()))
        );
        assert_eq!(
            url("https://[::1]:8443"),
            Some((true, "::1".into(), 8443, "/metrics".into()))
        );
        assert_eq!(
            url("http://a:9/?probe=x"),
            Some((false, "a".into(), 9, "/?probe=x".into()))
        );
        assert_eq!(
            Url::parse("https://[::1]:8443", "/").unwrap().authority(),
            "[::1]:8443"
        );
        for bad in [
            "ftp://a",
            "https://",
            "http://a:x/",
            "http://a b/",
            "http://[::1",
            "a:80",
        ] {
            assert_eq!(url(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_name() {
        let path = std::env::temp_dir().join(format!("livedash-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = Client::new(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("livedash-ca-"), "{error}");
        assert!(error.contains("no PEM certificate"), "{error}");
        let _ = std::fs::remove_file(&path);
        assert!(Client::new(Some(Path::new("/nonexistent/ca.pem"))).is_err());
        assert!(Client::new(None).is_ok());
    }
}
