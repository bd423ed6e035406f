//! Test support: a real livedash server on an ephemeral loopback port, and a
//! minimal Server-Sent Events reader over a real HTTP connection.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use futures_util::StreamExt;
use server::config::Config;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A server running in this process on 127.0.0.1:<ephemeral>.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), server::ServerError>>,
    _data: tempdir::TempDir,
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "livedash-test-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestServer {
    /// Starts a server with the given extra command-line arguments.
    pub async fn start(args: &[&str]) -> Self {
        Self::start_bound("127.0.0.1:0", args).await
    }

    /// Starts a server bound to `bind` (e.g. `0.0.0.0:0`); `addr` is where
    /// to reach it (loopback when bound to every interface).
    pub async fn start_bound(bind: &str, args: &[&str]) -> Self {
        let data = tempdir::TempDir::new();
        let data_dir = data.0.display().to_string();
        let mut argv = vec!["livedash", "--data-dir", &data_dir];
        argv.extend_from_slice(args);
        let config = Config::try_parse_from(argv).expect("valid test arguments");
        let listener = TcpListener::bind(bind)
            .await
            .expect("bind an ephemeral port");
        let mut addr = listener.local_addr().unwrap();
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            _data: data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends the shutdown signal.
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One parsed SSE event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
    pub comment: bool,
}

/// Reads SSE events from a streaming HTTP response.
pub struct SseReader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub async fn open(url: &str, last_event_id: Option<&str>) -> (reqwest::Response, ()) {
        let client = reqwest::Client::new();
        let mut request = client.get(url);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        (request.send().await.expect("the server answers"), ())
    }

    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event (comments included), or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_block(&block));
            }
            match tokio::time::timeout(Duration::from_secs(10), self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("no SSE data within 10 s"),
            }
        }
    }

    /// The next event whose `event:` is `name`.
    pub async fn next_named(&mut self, name: &str) -> SseEvent {
        loop {
            let event = self.next().await.expect("the stream stays open");
            if event.event.as_deref() == Some(name) {
                return event;
            }
        }
    }
}

fn parse_block(block: &str) -> SseEvent {
    let mut event = SseEvent::default();
    let mut data = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') {
            event.comment = true;
            continue;
        }
        let (field, value) = line
            .split_once(':')
            .map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)))
            .unwrap_or((line, ""));
        match field {
            "id" => event.id = Some(value.to_string()),
            "event" => event.event = Some(value.to_string()),
            "data" => data.push(value.to_string()),
            "retry" => event.retry = value.parse().ok(),
            _ => {}
        }
    }
    event.data = data.join("\n");
    event
}

/// Posts a publish body as JSON; returns the status and the reply.
pub async fn post_status(server: &TestServer, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/realtime/events"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Posts a publish body that must be accepted; returns the reply.
pub async fn post_events(server: &TestServer, body: serde_json::Value) -> serde_json::Value {
    let (status, reply) = post_status(server, body.clone()).await;
    assert_eq!(status, 200, "publish {body}: {reply}");
    reply
}

/// Publishes one event through the HTTP API; returns its id.
pub async fn publish(server: &TestServer, channel: &str, data: serde_json::Value) -> String {
    let reply = post_events(
        server,
        serde_json::json!({"channel": channel, "data": data}),
    )
    .await;
    reply["id"].as_str().unwrap().to_string()
}

/// Publishes `values` as one batch to `channel`; returns their ids.
pub async fn publish_batch(
    server: &TestServer,
    channel: &str,
    values: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<String> {
    let body: Vec<_> = values
        .into_iter()
        .map(|data| serde_json::json!({"channel": channel, "data": data}))
        .collect();
    let reply = post_events(server, serde_json::Value::Array(body)).await;
    reply["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect()
}

/// One poll (`query` is the query string); the status and the JSON body.
pub async fn poll(server: &TestServer, query: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(server.url(&format!("/api/realtime/poll?{query}")))
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The server's `/metrics` exposition.
pub async fn metrics_text(server: &TestServer) -> String {
    reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A server whose host sampler publishes rarely, so channels stay quiet.
pub async fn quiet_server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--sample-interval", "1h"];
    args.extend_from_slice(extra);
    TestServer::start(&args).await
}

/// The payloads of a JSON array of envelopes (a poll's or a snapshot's events).
pub fn payloads(events: &serde_json::Value) -> Vec<serde_json::Value> {
    events
        .as_array()
        .expect("a list of envelopes")
        .iter()
        .map(|e| e["data"].clone())
        .collect()
}

/// An SSE `data:` line as JSON.
pub fn envelope(data: &str) -> serde_json::Value {
    serde_json::from_str(data).expect("the data line is JSON")
}

/// A WebSocket client speaking livedash's JSON protocol.
pub struct WsClient {
    pub stream: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
}

impl WsClient {
    pub async fn connect(server: &TestServer) -> Self {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let url = format!("ws://{}/api/realtime/ws", server.addr);
        let (stream, _) = tokio_tungstenite::client_async(url, tcp)
            .await
            .expect("websocket handshake");
        Self { stream }
    }

    /// Opens a WebSocket with extra request headers (`origin`, or `host` to
    /// replace the one of the URL); the handshake's error when it fails
    /// (`tungstenite::Error::Http` holds a refusal's response).
    pub async fn connect_with(
        server: &TestServer,
        headers: &[(&str, &str)],
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http};
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut request = format!("ws://{}/api/realtime/ws", server.addr)
            .into_client_request()
            .expect("a valid WebSocket URL");
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                http::HeaderValue::from_str(value).expect("a header value"),
            );
        }
        let (stream, _) = tokio_tungstenite::client_async(request, tcp).await?;
        Ok(Self { stream })
    }

    pub async fn send(&mut self, value: serde_json::Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
    }

    /// The next JSON message; `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<serde_json::Value> {
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a message within 10 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message of type `kind`, skipping others.
    pub async fn recv_type(&mut self, kind: &str) -> serde_json::Value {
        loop {
            let message = self.recv().await.expect("the connection stays open");
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// The close frame the server ends with.
    pub async fn close_code(&mut self) -> Option<u16> {
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("closed within 10 s")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// A response read off a raw HTTP/1.x connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The header block, as sent.
    pub head: String,
    /// The body when the response declares a `Content-Length`; empty
    /// otherwise (streams are not read).
    pub body: String,
}

/// Sends `head` (a request line and headers, without the closing blank
/// line) over a new connection, exactly as written: for requests an HTTP
/// client library would fix up, such as one without `Host`.
pub async fn raw_request(server: &TestServer, head: &str) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed before a response head");
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .map(|(_, value)| value.trim().parse::<usize>().unwrap())
            .unwrap_or(0);
        let mut body = buffer[head_end + 4..].to_vec();
        while body.len() < length {
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed before the whole body");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(length);
        (head, body)
    };
    let (head, body) = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a response within 10 s");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    RawResponse {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The real `livedash` binary run as its own process, for what only a
/// process shows: its memory, and surviving `kill -9`.
pub mod process {
    use std::{
        net::TcpListener,
        path::Path,
        process::{Child, Command, Stdio},
        time::{Duration, Instant},
    };

    /// A running `livedash` process; killed when dropped.
    pub struct Process {
        child: Child,
        /// `http://127.0.0.1:<port>`.
        pub base: String,
    }

    impl Drop for Process {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Process {
        /// Starts the binary on a free port with `data` as its data
        /// directory, quiet (`--sample-interval 1h` unless `args` sets one),
        /// and waits until it answers.
        pub async fn start(data: &Path, args: &[&str]) -> Self {
            Self::start_with_output(data, args, Stdio::null(), Stdio::inherit()).await
        }

        /// Like [`Process::start`], with its log (warnings and errors, on
        /// stdout) and stderr appended to the file `log`, for tests that
        /// check what it logged.
        pub async fn start_logging_to(data: &Path, args: &[&str], log: &Path) -> Self {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("a log file in the temp dir");
            let copy = file.try_clone().expect("a second handle on the log file");
            Self::start_with_output(data, args, Stdio::from(file), Stdio::from(copy)).await
        }

        async fn start_with_output(
            data: &Path,
            args: &[&str],
            stdout: Stdio,
            stderr: Stdio,
        ) -> Self {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let listen = format!("127.0.0.1:{port}");
            let child = Command::new(env!("CARGO_BIN_EXE_livedash"))
                .args(["--listen", &listen, "--log-level", "warn"])
                .args(["--data-dir", data.to_str().expect("a UTF-8 temp path")])
                .args(args)
                .args(if args.contains(&"--sample-interval") {
                    &[][..]
                } else {
                    &["--sample-interval", "1h"][..]
                })
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .expect("livedash starts");
            let process = Self {
                child,
                base: format!("http://{listen}"),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while reqwest::get(format!("{}/healthz", process.base))
                .await
                .is_err()
            {
                assert!(Instant::now() < deadline, "the server did not start");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            process
        }

        /// SIGKILL: no shutdown, no flush.
        pub fn kill(mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }

        /// Its resident memory (VmRSS), in bytes.
        pub fn rss(&self) -> u64 {
            let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
                .expect("the server's /proc status");
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
                .expect("VmRSS")
                * 1024
        }
    }
}

/// HTTPS on loopback for tests of livedash's own requests (webhooks,
/// scrapes). `fixtures/tls/` holds a test CA's certificate (`ca.pem`, its
/// key thrown away) and a receiver certificate it signed for 127.0.0.1
/// and localhost (`receiver.pem`, `receiver.key`), made once with openssl
/// and valid for a century.
#[allow(dead_code)]
pub mod tls {
    use std::{path::PathBuf, sync::Arc};

    use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    use tokio_rustls::{rustls, TlsAcceptor};

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    /// The test CA's certificate: what `--tls-ca-file` is given.
    pub fn ca_file() -> String {
        fixture("ca.pem").display().to_string()
    }

    /// Serves `app` over TLS (the receiver certificate) on a free loopback
    /// port until the test ends; its `https://127.0.0.1:<port>`.
    pub async fn serve(app: axum::Router) -> String {
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(fixture("receiver.pem"))
                .expect("the receiver certificate")
                .collect::<Result<_, _>>()
                .expect("PEM");
        let key = PrivateKeyDer::from_pem_file(fixture("receiver.key")).expect("the receiver key");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("a usable certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("https://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate hangs
                    // up here: nothing to serve.
                    let Ok(stream) = acceptor.accept(socket).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        url
    }
}
