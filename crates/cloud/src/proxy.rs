//! A userspace delay proxy: netem is not available here (no CAP_NET_ADMIN on the lab's
//! machines), so each hop gets a TCP proxy that holds responses for a drawn delay.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::{CloudError, Delay};

/// Reads of up to this many bytes are forwarded as one chunk.
const CHUNK: usize = 16 * 1024;

/// A TCP proxy in front of one upstream address that adds a hop's latency.
///
/// Requests (client to upstream) pass at once. Each response (upstream to client) is held
/// for one draw of the hop's [`Delay`], measured from when its first byte reached the
/// proxy. A new response is the first bytes from upstream after a request's bytes went
/// up, or after everything held went out (a message the server pushes); other bytes go
/// out right after those held before them, in order. So a request/response round trip
/// through the proxy takes one draw longer, and concurrent requests each get their own
/// draw, as they would crossing a real network or service. Connection set-up is not
/// delayed.
///
/// The delay can be changed while the proxy runs ([`DelayProxy::set_delay`]): each
/// response is held for a draw of the delay current when its first byte arrives. The lab
/// uses this to measure one row through the same proxies with and without the cloud's
/// delays.
///
/// Dropping the proxy stops it and closes every connection it holds.
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    delay: SharedDelay,
    accept: JoinHandle<()>,
}

/// The delay a proxy's connections draw from, changeable while they run.
type SharedDelay = Arc<RwLock<Delay>>;

fn current(delay: &SharedDelay) -> Delay {
    *delay.read().unwrap_or_else(PoisonError::into_inner)
}

impl DelayProxy {
    /// Serves on `listener`, forwarding to `upstream` with `delay` added to every
    /// response. `seed` makes the sequence of draws reproducible.
    pub fn start(
        listener: TcpListener,
        upstream: SocketAddr,
        delay: Delay,
        seed: u64,
    ) -> Result<DelayProxy, CloudError> {
        let addr = listener.local_addr().map_err(|source| CloudError::Proxy {
            upstream: upstream.to_string(),
            source,
        })?;
        let delay = Arc::new(RwLock::new(delay));
        let accept = tokio::spawn(accept_loop(listener, upstream, delay.clone(), seed));
        Ok(DelayProxy {
            addr,
            upstream,
            delay,
            accept,
        })
    }

    /// Binds `127.0.0.1:0` and starts; see [`DelayProxy::start`].
    pub async fn bind(
        upstream: SocketAddr,
        delay: Delay,
        seed: u64,
    ) -> Result<DelayProxy, CloudError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| CloudError::Proxy {
                upstream: upstream.to_string(),
                source,
            })?;
        DelayProxy::start(listener, upstream, delay, seed)
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The delay it adds now.
    pub fn delay(&self) -> Delay {
        current(&self.delay)
    }

    /// Changes the delay for every response whose first byte arrives from now on,
    /// on open connections too.
    pub fn set_delay(&self, delay: Delay) {
        *self.delay.write().unwrap_or_else(PoisonError::into_inner) = delay;
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // The accept task owns every connection's tasks (a JoinSet): aborting it ends them.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, delay: SharedDelay, seed: u64) {
    let mut connections = JoinSet::new();
    let mut next_seed = seed;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    next_seed = next_seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let rng = fastrand::Rng::with_seed(next_seed);
                    connections.spawn(relay(client, upstream, delay.clone(), rng));
                }
                Err(err) => {
                    tracing::warn!(%upstream, "delay proxy: accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    delay: SharedDelay,
    mut rng: fastrand::Rng,
) {
    let server = match TcpStream::connect(upstream).await {
        Ok(server) => server,
        Err(err) => {
            tracing::debug!(%upstream, "delay proxy: upstream refused: {err}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();

    // Set before a request's bytes go upstream, so the response they cause is always seen
    // as a new one. Without it, a response that came back before the writer had counted
    // the previous one as sent (a thread preempted between the two on a loaded machine)
    // was taken for the previous response's tail and went out undelayed.
    let request_sent = Arc::new(AtomicBool::new(false));
    let requests_flag = request_sent.clone();
    let requests = async move {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            requests_flag.store(true, Ordering::Release);
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };

    // Responses: a reader stamps each chunk with its release time, a writer sends it then.
    let (chunks, mut held) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let pending = Arc::new(AtomicU64::new(0));
    let reader_pending = pending.clone();
    let reader = async move {
        let mut last_release = Instant::now();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            let after_request = request_sent.swap(false, Ordering::AcqRel);
            let release = if after_request || reader_pending.load(Ordering::Acquire) == 0 {
                // The first byte of a new response (after a request, or with nothing
                // held): it pays the hop's latency.
                (now + current(&delay).sample(&mut rng)).max(last_release)
            } else {
                // The rest of a response already held: right behind it.
                last_release.max(now)
            };
            last_release = release;
            reader_pending.fetch_add(1, Ordering::AcqRel);
            if chunks.send((release, buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((release, bytes)) = held.recv().await {
            hold_until(release).await;
            if client_write.write_all(&bytes).await.is_err() {
                break;
            }
            pending.fetch_sub(1, Ordering::AcqRel);
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, async {
        tokio::join!(reader, writer);
    });
}

/// How close to its deadline [`hold_until`] hands over from tokio's timer to a precise
/// sleep: two of the timer's 1 ms ticks, so that the coarse wait never overshoots.
const PRECISE_TAIL: std::time::Duration = std::time::Duration::from_millis(2);

/// Waits until `release`, to within the kernel's timer slack (tens of µs), not tokio's
/// 1 ms tick.
///
/// Tokio's timer rounds a deadline up to its next whole millisecond, so a response held
/// with `sleep_until` left on average about 1 ms late: the lab's EC2 row, whose only
/// delay is the client's round trip, came out 1.25 ms over a 12.9 ms RTT (2026-11-29).
/// So the wait sleeps on tokio's timer until [`PRECISE_TAIL`] before the deadline, and
/// the rest with `std::thread::sleep` (high-resolution timers) on tokio's blocking pool,
/// which keeps the runtime's threads free. An instant already passed returns at once:
/// a zero-delay proxy adds no wait at all.
async fn hold_until(release: Instant) {
    let now = Instant::now();
    if release <= now {
        return;
    }
    if release - now > PRECISE_TAIL {
        tokio::time::sleep_until(release - PRECISE_TAIL).await;
    }
    let left = release.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        // A failed join (the pool shutting down) only ends the wait early.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(left)).await;
    }
}
