//! Serving HTTP: the accept loop, each connection's task, and the bounds
//! every connection lives within.
//!
//! axum's own `serve` leaves hyper's defaults, under which one connection
//! may buffer about 400 KiB of response before hyper stops asking the body
//! for more: a stream whose reader stopped reading held that much (and a
//! kernel socket buffer) until it closed. Here each connection is driven
//! by hyper's HTTP/1.1 server directly, so that
//!
//! - hyper buffers at most [`MAX_BUFFER_BYTES`] per connection (requests
//!   with larger headers are refused by hyper with 431);
//! - every write has a deadline ([`WRITE_TIMEOUT`], [`WriteTimeout`]): a
//!   reader that stops reading is disconnected and counted in
//!   `livedash_slow_disconnects_total`, on every transport alike, and the
//!   subscriber it fed is dropped with it;
//! - the number of TCP connections is bounded by a semaphore (the accept
//!   loop waits for a free slot, leaving new ones in the kernel's backlog);
//! - the server owns every connection's task: on shutdown each connection
//!   is asked to finish (streams end, idle keep-alive connections close),
//!   and whatever is still running after the grace period is aborted.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{atomic::Ordering::Relaxed, Arc},
    task::{Context, Poll},
    time::Duration,
};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
    time::Sleep,
};

use crate::{counters::Counters, shutdown::Shutdown};

/// The most a connection buffers, reading or writing, in user space.
pub const MAX_BUFFER_BYTES: usize = 16 * 1024;
/// How long one write may wait for the client to read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How the accept loop runs.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Most TCP connections open at once.
    pub max_connections: usize,
    /// How long shutdown waits for connections before aborting them.
    pub grace: Duration,
    /// How long a write may wait for the client.
    pub write_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` fires, then lets the
/// connections finish for `options.grace` and aborts the rest.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: HttpOptions,
    shutdown: Shutdown,
    counters: Arc<Counters>,
) {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let stop = shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => tokio::select! {
                    () = &mut stop => break,
                    accepted = listener.accept() => accepted.map(|(stream, _)| (stream, slot)),
                },
                Err(_) => break,
            },
        };
        match accepted {
            Ok((stream, slot)) => {
                let router = router.clone();
                let shutdown = shutdown.clone();
                let counters = counters.clone();
                let write_timeout = options.write_timeout;
                connections.spawn(async move {
                    let _slot = slot;
                    serve_connection(stream, router, shutdown, counters, write_timeout).await;
                });
            }
            Err(error) => {
                // Out of file descriptors, most likely: let some close.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(options.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace = ?options.grace,
            "connections still open after the grace period; closing them"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    shutdown: Shutdown,
    counters: Arc<Counters>,
    write_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteTimeout::new(stream, write_timeout, counters));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUFFER_BYTES)
        .serve_connection(io, TowerToHyperService::new(router))
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.wait() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] when the
/// peer has not made room for them within the timeout.
#[derive(Debug)]
pub struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write waits for the peer.
    deadline: Option<Pin<Box<Sleep>>>,
    counters: Arc<Counters>,
}

impl<S> WriteTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration, counters: Arc<Counters>) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
            counters,
        }
    }

    fn wait<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.deadline = None;
            return poll;
        }
        let timeout = self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.deadline = None;
                self.counters.slow_disconnects.fetch_add(1, Relaxed);
                tracing::info!("closing a connection whose client stopped reading");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client did not read in time",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wait(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wait(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.wait(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.wait(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_write_the_peer_never_reads_fails_after_the_timeout_and_is_counted() {
        let (near, _far) = tokio::io::duplex(1024);
        let counters = Arc::new(Counters::default());
        let mut stream = WriteTimeout::new(near, Duration::from_millis(50), counters.clone());
        let chunk = [0u8; 512];
        let error = loop {
            if let Err(error) = stream.write_all(&chunk).await {
                break error;
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(counters.slow_disconnects.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn a_peer_that_reads_slowly_but_steadily_is_kept() {
        let (near, mut far) = tokio::io::duplex(64);
        let counters = Arc::new(Counters::default());
        let mut stream = WriteTimeout::new(near, Duration::from_millis(200), counters.clone());
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let mut total = 0;
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                total += tokio::io::AsyncReadExt::read(&mut far, &mut buf)
                    .await
                    .unwrap();
            }
        });
        stream.write_all(&[1u8; 4096]).await.unwrap();
        reader.await.unwrap();
        assert_eq!(counters.slow_disconnects.load(Relaxed), 0);
    }
}
