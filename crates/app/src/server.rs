//! The HTTP/1.1 server loop: accept, per-connection limits, graceful shutdown.
//!
//! Why not `axum::serve`: it has no header-read timeout, no idle timeout and no cap on
//! connections, and it cannot give hyper's own 400/414/431 answers a JSON body. This loop
//! drives hyper's HTTP/1 connection directly and adds those, at a per-request cost of a
//! few counter updates (no timer is touched per request; docs/benchmarks.md):
//!
//! - **Connection cap.** A semaphore permit is taken before each `accept`; at the cap the
//!   listener is simply not polled, so new clients wait in the kernel's backlog instead of
//!   exhausting file descriptors.
//! - **Header-read and idle timeouts.** One watchdog task ticks a few times per timeout and
//!   reads each connection's counters (requests started and finished, reads since the last
//!   answer). A connection that stays in the same "reading a request head" phase longer
//!   than [`ServerConfig::header_read_timeout`], or idle after an answer longer than
//!   [`ServerConfig::idle_timeout`], is closed. A request in flight is never cut by the
//!   watchdog: the app's request timeout answers it. hyper's own header timer is not used
//!   because it allocates and registers a timer for every request head.
//! - **Graceful shutdown.** Idle connections and connections still reading a request head
//!   (a slowloris holding a partial header) are closed at once; a request in flight is
//!   answered, then its connection closes.
//! - **JSON parse errors.** See [`Io`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::Service;

use crate::ConfigError;
use crate::warn::RateLimitedWarning;

/// Limits on connections, as opposed to requests ([`AppConfig`](crate::AppConfig)).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A connection must deliver a complete request head within this time of sending its
    /// first byte (or of connecting), or it is closed without an answer.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request for this long after its last answer is
    /// closed.
    pub idle_timeout: Duration,
    /// At most this many connections are open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Give each request the peer's address as `axum::extract::ConnectInfo<SocketAddr>`,
    /// for routers that read it. Off by default: it costs an allocation per request.
    pub connect_info: bool,
    /// The answer that replaces hyper's own empty 400, 414 and 431 (see [`Io`]): the
    /// extra headers and the JSON body for a status and a message. Default
    /// [`app_parse_error`], the app's `{"error": …}`.
    pub parse_error: ParseErrorAnswer,
}

/// Builds the answer to a request hyper could not parse: `(status, message)` to extra
/// headers and a JSON body. A plain function, so that [`ServerConfig`] stays `Clone` and
/// `Debug`.
pub type ParseErrorAnswer = fn(u16, &str) -> (Vec<(&'static str, String)>, String);

/// The app's answer to a request hyper could not parse: `{"error": message}`.
pub fn app_parse_error(_status: u16, message: &str) -> (Vec<(&'static str, String)>, String) {
    (
        Vec::new(),
        serde_json::json!({ "error": message }).to_string(),
    )
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            // Longer than the 60 s idle timeout of common load balancers, so that a
            // balancer never reuses a connection this server has just closed.
            idle_timeout: Duration::from_secs(75),
            max_connections: 4096,
            connect_info: false,
            parse_error: app_parse_error,
        }
    }
}

impl ServerConfig {
    /// Fails on a value that cannot work: a zero timeout or a zero connection cap.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.header_read_timeout.is_zero() {
            return Err(ConfigError::Zero("header read timeout"));
        }
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::Zero("idle timeout"));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Zero("connection cap"));
        }
        if u32::try_from(self.max_connections).is_err() {
            return Err(ConfigError::TooLarge {
                what: "connection cap",
                max: u64::from(u32::MAX),
            });
        }
        Ok(())
    }
}

/// Serves `app` on `listener` under `config` until `shutdown` resolves, then stops
/// accepting, closes idle and half-read connections, lets requests in flight finish, and
/// returns once every connection has closed.
///
/// Fails at once with [`io::ErrorKind::InvalidInput`] if `config` does not
/// [validate](ServerConfig::validate). Errors on one connection only close that
/// connection; `accept` errors (e.g. out of file descriptors) are logged, rate-limited,
/// and retried after a pause.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    config
        .validate()
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    let permits = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let registry = Arc::new(Registry::default());
    let watchdog = tokio::spawn(watchdog(Arc::clone(&registry), config.clone()));
    let accept_warning = RateLimitedWarning::new(Duration::from_secs(10));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let builder = Arc::new(builder);

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break }; // the semaphore is never closed
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                accept_warning.warn(|suppressed| {
                    tracing::warn!(%err, suppressed, "cannot accept a connection; retrying");
                });
                // Out of descriptors, say: retrying at once would spin.
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        // Small responses must not wait for Nagle's algorithm.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let state = registry.add();
        let io = TokioIo::new(Io::new(tcp, Arc::clone(&state), config.parse_error));
        let service = ConnService {
            router: app.clone(),
            state: Arc::clone(&state),
            peer: config.connect_info.then_some(peer),
        };
        let connection = Box::pin(builder.serve_connection(io, service));
        tokio::spawn(async move {
            ConnTask {
                connection,
                state,
                graceful_started: false,
            }
            .await;
            drop(permit);
        });
    }

    drop(listener);
    registry.shut_down();
    // Every connection task holds one permit until it ends.
    let _all = slots.acquire_many(permits).await;
    watchdog.abort();
    Ok(())
}

/// What one connection's parts (its IO, its service, its task) and the watchdog share.
/// Each counter has one writer, the connection's own task; the watchdog only reads them.
#[derive(Default)]
struct ConnState {
    /// Requests handed to the app.
    started: AtomicU64,
    /// Requests whose response future has completed (or was dropped).
    finished: AtomicU64,
    /// Reads that returned bytes.
    reads: AtomicU64,
    /// `reads` when the last request finished: more reads since mean a new request head.
    reads_at_finish: AtomicU64,
    /// The socket refused bytes: the client is not reading its answer.
    write_blocked: AtomicBool,
    /// Close the connection now (a timeout, or shutdown of an idle connection).
    close: AtomicBool,
    /// Finish the request in flight, then close (shutdown).
    graceful: AtomicBool,
    /// Wakes the connection's task so that it sees `close` or `graceful`.
    waker: AtomicWaker,
}

/// Increments a counter that only the calling task writes (a plain load and store: no
/// locked instruction on the request path).
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

impl ConnState {
    fn in_flight(&self) -> bool {
        self.started.load(Relaxed) != self.finished.load(Relaxed)
    }

    fn request_close(&self) {
        self.close.store(true, Relaxed);
        self.waker.wake();
    }

    /// Where the connection is now, for the watchdog. Two observations with the same
    /// phase are the same stretch of time only if no request finished in between, hence
    /// the `finished` count in each phase.
    fn phase(&self) -> Phase {
        let finished = self.finished.load(Relaxed);
        if self.started.load(Relaxed) != finished {
            return Phase::InFlight;
        }
        if self.write_blocked.load(Relaxed) {
            return Phase::Idle(finished);
        }
        let reads = self.reads.load(Relaxed);
        if finished == 0 || reads != self.reads_at_finish.load(Relaxed) {
            Phase::ReadingHead(finished)
        } else {
            Phase::Idle(finished)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InFlight,
    ReadingHead(u64),
    Idle(u64),
}

/// The live connections, for the watchdog and for shutdown.
#[derive(Default)]
struct Registry {
    entries: Mutex<Vec<Entry>>,
}

struct Entry {
    state: Weak<ConnState>,
    /// The phase the watchdog last saw and when it first saw it.
    seen: Option<(Phase, Instant)>,
}

impl Registry {
    fn add(&self) -> Arc<ConnState> {
        let state = Arc::new(ConnState::default());
        self.lock().push(Entry {
            state: Arc::downgrade(&state),
            seen: None,
        });
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // The entries stay consistent even if a holder panicked: each is replaced whole.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes idle and half-read connections now and asks the others to close after
    /// answering the request in flight.
    fn shut_down(&self) {
        for entry in self.lock().iter() {
            let Some(state) = entry.state.upgrade() else {
                continue;
            };
            state.graceful.store(true, Relaxed);
            if state.in_flight() || state.write_blocked.load(Relaxed) {
                state.waker.wake();
            } else {
                state.request_close();
            }
        }
    }

    /// Closes every connection that has stayed in one reading-head or idle phase for
    /// longer than its timeout, and forgets connections that have ended.
    fn check(&self, now: Instant, config: &ServerConfig) {
        self.lock().retain_mut(|entry| {
            let Some(state) = entry.state.upgrade() else {
                return false;
            };
            let phase = state.phase();
            let since = match entry.seen {
                Some((seen, since)) if seen == phase => since,
                _ => {
                    entry.seen = Some((phase, now));
                    return true;
                }
            };
            let limit = match phase {
                Phase::InFlight => return true,
                Phase::ReadingHead(_) => config.header_read_timeout,
                Phase::Idle(_) => config.idle_timeout,
            };
            if now.duration_since(since) >= limit {
                tracing::debug!(?phase, "closing a connection past its timeout");
                state.request_close();
            }
            true
        });
    }
}

/// How often the watchdog looks: a phase is first seen up to one tick after it began, so
/// a connection is closed between its timeout and its timeout plus one tick.
fn tick_period(config: &ServerConfig) -> Duration {
    (config.header_read_timeout.min(config.idle_timeout) / 4).max(Duration::from_millis(10))
}

async fn watchdog(registry: Arc<Registry>, config: ServerConfig) {
    let mut ticks = tokio::time::interval(tick_period(&config));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = ticks.tick().await;
        registry.check(now, &config);
    }
}

/// One connection's task: hyper's connection plus the close and shutdown requests.
struct ConnTask<C> {
    connection: Pin<Box<C>>,
    state: Arc<ConnState>,
    graceful_started: bool,
}

type Connection = hyper::server::conn::http1::Connection<TokioIo<Io>, ConnService>;

impl Future for ConnTask<Connection> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // Registered before the flags are read, so a request set after the read wakes us.
        this.state.waker.register(cx.waker());
        if this.state.close.load(Relaxed) {
            return Poll::Ready(()); // dropping the connection closes the socket
        }
        if !this.graceful_started && this.state.graceful.load(Relaxed) {
            this.graceful_started = true;
            this.connection.as_mut().graceful_shutdown();
        }
        match this.connection.as_mut().poll(cx) {
            Poll::Ready(Err(err)) => {
                tracing::debug!(%err, "connection ended with an error");
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The app as a hyper service, counting requests for the watchdog.
#[derive(Clone)]
struct ConnService {
    router: Router,
    state: Arc<ConnState>,
    /// The peer, when [`ServerConfig::connect_info`] asks for it.
    peer: Option<std::net::SocketAddr>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Tracked;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        bump(&self.state.started);
        if let Some(peer) = self.peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        Tracked {
            // Router is always ready (its `poll_ready` returns `Ready`), and a clone is
            // one reference count.
            inner: self.router.clone().call(request),
            state: Arc::clone(&self.state),
        }
    }
}

/// A request's response future; counts the request finished when dropped (answered or
/// cancelled alike).
struct Tracked {
    inner: RouteFuture<Infallible>,
    state: Arc<ConnState>,
}

impl Future for Tracked {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let state = &self.state;
        state
            .reads_at_finish
            .store(state.reads.load(Relaxed), Relaxed);
        bump(&state.finished);
    }
}

/// The socket as hyper sees it: counts reads for the watchdog, notes a blocked writer,
/// and gives hyper's own error answers a JSON body.
///
/// hyper answers a request head it cannot parse itself, with 400, 414 or 431 and an empty
/// body, and offers no hook to change that answer. The app's contract is that every error
/// is JSON, so this writer recognises such an answer (a `4xx` head written with no
/// `content-type`, which every answer of the app carries) and writes a JSON answer in
/// its place. hyper closes the connection after it, so nothing follows on the wire.
struct Io {
    tcp: TcpStream,
    state: Arc<ConnState>,
    /// A replacement answer still to be written, from `written` on.
    replacement: Option<(Vec<u8>, usize)>,
    parse_error: ParseErrorAnswer,
}

impl Io {
    fn new(tcp: TcpStream, state: Arc<ConnState>, parse_error: ParseErrorAnswer) -> Self {
        Self {
            tcp,
            state,
            replacement: None,
            parse_error,
        }
    }

    fn note_write<T>(&self, result: &Poll<io::Result<T>>) {
        note_write(&self.state, result);
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let result = Pin::new(&mut self.tcp).poll_write(cx, &bytes[*written..]);
            note_write(&self.state, &result);
            match result {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Notes whether the socket refused bytes (the client is not reading).
fn note_write<T>(state: &ConnState, result: &Poll<io::Result<T>>) {
    let blocked = result.is_pending();
    if state.write_blocked.load(Relaxed) != blocked {
        state.write_blocked.store(blocked, Relaxed);
    }
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            bump(&self.state.reads);
        }
        result
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.poll_replacement(cx))?;
        if let Some(json) = crate::errors::json_parse_error_answer(buf, this.parse_error) {
            this.replacement = Some((json, 0));
            // hyper's bytes count as written: the replacement stands for them, and what
            // the socket does not take now is written by the flush that follows.
            return match this.poll_replacement(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        let result = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.note_write(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_some()
            || bufs
                .first()
                .is_some_and(|first| first.starts_with(b"HTTP/1.1 4"))
        {
            // Rare (an error answer): take the plain path, which checks for hyper's own.
            let first = bufs
                .iter()
                .find(|buf| !buf.is_empty())
                .map_or(&[][..], |b| &**b);
            return Pin::new(this).poll_write(cx, first);
        }
        let result = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.note_write(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
