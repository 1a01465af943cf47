//! The broker's HTTP connections: an accept loop that caps open connections
//! (`server.max_connections`; past it a new connection is closed at once), hyper's HTTP/1
//! server on each, and a watchdog per connection that closes it when a request's headers
//! are not complete `server.header_read_timeout` after their first byte, or when it has
//! had no request in progress and no traffic for `server.idle_timeout`. (A stalled body is
//! refused by the router's body timeout, `server.body_read_timeout`.)
//!
//! With TLS ([`ServerTls`]), each connection's handshake runs in its own task and must end
//! within `server.header_read_timeout`, so a client that connects and sends nothing holds
//! a connection slot no longer than a slow header would.
//!
//! Shutdown stops accepting, asks every connection to finish the request in progress and
//! close, and returns once all are closed.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::tls::{ServerTls, TlsCounters};

/// How long the accept loop pauses after an accept error (such as too many open files)
/// before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The connection limits of `[server]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// `server.max_connections`.
    pub(crate) max_connections: u32,
    /// `server.header_read_timeout`.
    pub(crate) header_read_timeout: Duration,
    /// `server.idle_timeout`.
    pub(crate) idle_timeout: Duration,
}

/// What every connection of a listener shares: the routes, the limits, TLS (if on) and
/// the shutdown signal.
#[derive(Clone)]
pub(crate) struct Listener {
    /// The routes.
    pub(crate) app: Router,
    /// The connection limits.
    pub(crate) limits: ConnectionLimits,
    /// TLS, or plain HTTP when `None`.
    pub(crate) tls: Option<ServerTls>,
    /// Turns true on shutdown.
    pub(crate) stop: watch::Receiver<bool>,
}

/// Serves `listener`'s routes on `socket` until its stop signal turns true, then waits until
/// every connection has finished its request in progress and closed.
pub(crate) async fn serve(socket: TcpListener, listener: Listener) -> io::Result<()> {
    let limits = listener.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut stop = listener.stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        match accepted {
            Ok((stream, _)) => admit(stream, &slots, &listener),
            Err(error) => accept_failed(&error).await,
        }
    }
    drop(socket);
    let _all_closed = slots.acquire_many(limits.max_connections).await;
    Ok(())
}

/// Logs an accept error and pauses, so a persistent one does not spin the loop.
async fn accept_failed(error: &io::Error) {
    tracing::warn!(%error, "cannot accept a connection");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Serves a new connection if a connection slot is free; closes it at once otherwise.
fn admit(stream: TcpStream, slots: &Arc<Semaphore>, listener: &Listener) {
    let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
        tracing::debug!("connection closed: server.max_connections connections are open");
        return;
    };
    tokio::spawn(connection(stream, listener.clone(), slot));
}

/// One connection: the TLS handshake first when TLS is on, then HTTP.
async fn connection(stream: TcpStream, listener: Listener, slot: OwnedSemaphorePermit) {
    let Listener {
        app,
        limits,
        tls,
        stop,
    } = listener;
    let Some(tls) = tls else {
        return serve_connection(stream, app, limits, stop, slot).await;
    };
    if let Some(stream) = handshake(stream, &tls, limits.header_read_timeout).await {
        serve_connection(stream, app, limits, stop, slot).await;
    }
}

/// The TLS handshake on `stream`, within `timeout`; `None` (counted and logged at debug)
/// when it fails or takes longer.
async fn handshake(
    stream: TcpStream,
    tls: &ServerTls,
    timeout: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let accepted = tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await;
    let (outcome, stream) = match accepted {
        Ok(Ok(stream)) => ("ok", Some(stream)),
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            ("failed", None)
        }
        Err(_) => {
            tracing::debug!("TLS handshake not finished within server.header_read_timeout");
            ("timeout", None)
        }
    };
    TlsCounters::count(&tls.counters.handshakes, outcome);
    stream
}

/// Serves one connection until it closes, its watchdog expires, or shutdown (then it
/// finishes the request in progress); `_slot` frees its connection slot when it ends.
async fn serve_connection<S>(
    stream: S,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = routed(app, activity.clone());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.header_read_timeout(None).keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return finished(result),
        () = activity.expired(limits) => return,
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        result = connection.as_mut() => finished(result),
        () = activity.expired(limits) => {}
    }
}

/// The hyper service: `app`, with each request marked busy on `activity` until answered.
fn routed(
    app: Router,
    activity: Activity,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = activity.begin();
        let app = app.clone();
        async move {
            let _busy = busy;
            app.oneshot(request).await
        }
    })
}

/// Logs a connection that ended with an error (a client that went away, usually).
fn finished(result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// What a connection is doing, for its watchdog.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request in progress; nothing sent or received since the instant.
    Idle(Instant),
    /// A request's first bytes arrived at the instant; its headers are not complete.
    Head(Instant),
    /// This many requests are being answered.
    Busy(usize),
}

/// A connection's [`Phase`], shared by its IO, its service and its watchdog.
#[derive(Debug, Clone)]
struct Activity(Arc<Shared>);

/// What [`Activity`] shares.
#[derive(Debug)]
struct Shared {
    /// The phase.
    phase: Mutex<Phase>,
    /// Wakes the watchdog when its deadline moves earlier.
    earlier: Notify,
}

impl Activity {
    /// A new connection: idle from now.
    fn new() -> Self {
        Activity(Arc::new(Shared {
            phase: Mutex::new(Phase::Idle(Instant::now())),
            earlier: Notify::new(),
        }))
    }

    /// The phase, locked (a poisoned lock still holds a valid phase).
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.0.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: on an idle connection, a request's headers begin.
    fn received(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            self.0.earlier.notify_one();
        }
    }

    /// Bytes were sent: an idle connection's idle time starts again.
    fn sent(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Idle(Instant::now());
        }
    }

    /// A request's headers are complete: busy until the guard drops.
    fn begin(&self) -> BusyGuard {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle(_) | Phase::Head(_) => Phase::Busy(1),
        };
        BusyGuard(self.clone())
    }

    /// A request was answered (or abandoned).
    fn end(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        self.0.earlier.notify_one();
    }

    /// When the connection is to be closed if nothing changes; `None` while busy.
    fn deadline(&self, limits: ConnectionLimits) -> Option<Instant> {
        match *self.phase() {
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Head(since) => Some(since + limits.header_read_timeout),
            Phase::Busy(_) => None,
        }
    }

    /// Returns once the connection has been idle or reading headers past its limit.
    async fn expired(&self, limits: ConnectionLimits) {
        loop {
            let deadline = self.deadline(limits);
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return;
            }
            self.wait_for_change(deadline).await;
        }
    }

    /// Waits until `deadline` (forever if none) or until the deadline moves earlier.
    async fn wait_for_change(&self, deadline: Option<Instant>) {
        let earlier = self.0.earlier.notified();
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = earlier => {}
                }
            }
            None => earlier.await,
        }
    }
}

/// Marks its request answered when dropped.
struct BusyGuard(Activity);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A connection's stream (TCP, or TLS over TCP) that reports its traffic to the
/// connection's [`Activity`].
struct Tracked<S> {
    /// The stream.
    inner: S,
    /// Where traffic is reported.
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.note_sent(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        self.note_sent(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S> Tracked<S> {
    /// Reports a write that sent bytes.
    fn note_sent(&self, polled: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled
            && *n > 0
        {
            self.activity.sent();
        }
    }
}
