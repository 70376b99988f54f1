//! The load engine: one task per connection, each speaking HTTP/1.1 on its own socket.
//!
//! The client side of HTTP/1.1 that a closed-loop `GET` needs is small: write a request
//! built once, parse the answer's head (`httparse`, the parser hyper uses), and frame its
//! body (`Content-Length`, chunked, or until the server closes). Doing that in the
//! worker's own task, in a buffer reused for every request, costs a fraction of hyper's
//! client (request and response objects, header maps, a dispatch channel and a
//! connection task per socket: ~15.7k instructions a request against wrk's 2.4k,
//! docs/benchmarks.md), and the load generator's own cost is what a benchmark against
//! wrk measures.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWriteExt as _, ReadBuf};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};

use crate::counter::{CounterCheck, Ledger, parse_value};
use crate::dial::{Dialer, Opened};
use crate::report::{ColdStart, EndedBy, Environment, Plan, Report, Results, Target};
use crate::stats::Recorder;
use crate::{BenchConfig, BenchError, CounterCheckMode, Stop, Warmup, redact_url};

/// Progress of a run, as passed to the callback of [`run_with_progress`].
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Warm-up requests finished so far.
    pub warmup_completed: u64,
    /// Measured requests finished so far (answered or failed).
    pub completed: u64,
    /// Measured requests planned, when the run is bounded by count.
    pub total: Option<u64>,
    /// Failed measured requests so far.
    pub errors: u64,
    /// Time since the measured phase began (zero during warm-up).
    pub elapsed: Duration,
    /// Length of the measured phase, when the run is bounded by time.
    pub planned: Option<Duration>,
    /// Time since the run began, warm-up included.
    pub since_start: Duration,
    /// Length of the warm-up, when it is bounded by time.
    pub warmup_planned: Option<Duration>,
    /// The p99 latency of the measured requests answered so far, to 2 significant
    /// digits, for a live display (the Report's figures come from the exact per-worker
    /// histograms). Lags by at most 64 requests per connection. `None` before the first
    /// published answer.
    pub p99: Option<Duration>,
}

/// Runs the plan and returns its Report. Equivalent to [`run_with_progress`] with a
/// callback that does nothing.
///
/// # Errors
/// See [`run_with_progress`].
pub async fn run(config: BenchConfig) -> Result<Report, BenchError> {
    run_with_progress(config, |_| {}).await
}

/// Runs the plan, calling `progress` about ten times a second (from the calling task,
/// never from the workers, so it may be slow without disturbing the measurement), and
/// returns the Report.
///
/// The first request is sent alone: it opens the first connection and is reported as
/// the cold start. The other connections are then opened, and all workers start
/// together. Workers are spawned on the current tokio runtime; on a multi-threaded
/// runtime they run in parallel.
///
/// Every loop is bounded: by the number of requests or by the duration (then by the
/// timeout of the requests in flight).
///
/// # Errors
/// - [`BenchError::InvalidUrl`] / [`BenchError::InvalidPlan`]: the config does not
///   validate.
/// - [`BenchError::Resolve`]: the host does not resolve.
/// - [`BenchError::Unreachable`]: the first connection cannot be opened within the
///   timeout. (Failures after that are counted in the Report, not returned.)
/// - [`BenchError::Worker`]: a worker task panicked.
pub async fn run_with_progress<F>(
    config: BenchConfig,
    mut progress: F,
) -> Result<Report, BenchError>
where
    F: FnMut(&Progress) + Send,
{
    config.validate()?;
    let started_wall = SystemTime::now();
    let addr = resolve(&config).await?;
    let dialer = Arc::new(Dialer::new(&config, addr)?);
    let request = RequestTemplate::new(&config);
    let run_start = Instant::now();
    let dispenser = Dispenser::new(&config, run_start);
    let check = config.counter_check == CounterCheckMode::Auto;

    // The cold start: connect and send the first request alone.
    let first = dispenser
        .next(run_start)
        .expect("a validated plan always has a first request");
    let unreachable = |source: io::Error| BenchError::Unreachable {
        url: redact_url(&config.url),
        source,
    };
    let mut conn0 = match timeout(config.timeout, Conn::open(&dialer)).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(e)) => return Err(unreachable(e)),
        Err(_) => {
            return Err(unreachable(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {:?}", config.timeout),
            )));
        }
    };
    let remaining = config.timeout.saturating_sub(run_start.elapsed());
    let outcome = match timeout(remaining, request.exchange(&mut conn0, &dialer)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Fail("timeout"),
    };
    let cold_done = Instant::now();
    if !config.keepalive || matches!(outcome, Outcome::Fail(_)) {
        conn0 = None;
    }
    let mut tally0 = Tally::default();
    let cold_latency = cold_done - run_start;
    tally0.account(&first, &outcome, check, run_start, cold_done);
    let cold = ColdStart {
        latency_ms: matches!(outcome, Outcome::Answer { .. })
            .then(|| cold_latency.as_nanos() as f64 / 1e6),
        status: match &outcome {
            Outcome::Answer { status, .. } => Some(*status),
            Outcome::Fail(_) => None,
        },
        error: match &outcome {
            Outcome::Fail(kind) => Some((*kind).to_owned()),
            Outcome::Answer { status, .. } => status_error(*status).map(str::to_owned),
        },
        measured: first.measured,
    };
    let cold_answered_ns = match (&outcome, first.measured) {
        (Outcome::Answer { .. }, true) => Some(cold_latency.as_nanos()),
        _ => None,
    };

    // Open the other connections before the clock of the open loop starts, so that
    // connects do not count as latency (except with --no-keepalive, where they must).
    let mut conns = vec![conn0];
    let mut opening = JoinSet::new();
    if config.keepalive {
        for _ in 1..config.connections {
            let t = config.timeout;
            let dialer = Arc::clone(&dialer);
            opening.spawn(async move {
                timeout(t, Conn::open(&dialer))
                    .await
                    .ok()
                    .and_then(Result::ok)
            });
        }
    }
    while let Some(conn) = opening.join_next().await {
        conns.push(conn.map_err(|e| BenchError::Worker(e.to_string()))?);
    }
    conns.resize_with(config.connections, || None);

    let shared = Arc::new(Shared {
        dialer,
        request,
        dispenser,
        check,
        rate: config.rate,
        t0: Instant::now(),
        next_slot: AtomicU64::new(0),
        completed: AtomicU64::new(u64::from(first.measured)),
        live: std::sync::Mutex::new(live_histogram()),
        warm_completed: AtomicU64::new(u64::from(!first.measured)),
        errors: AtomicU64::new(u64::from(first.measured && outcome.is_error())),
        keepalive: config.keepalive,
        timeout: config.timeout,
    });
    let mut workers = JoinSet::new();
    let mut tallies = vec![tally0];
    for (i, conn) in conns.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let tally = if i == 0 {
            tallies.pop().unwrap_or_default()
        } else {
            Tally::default()
        };
        workers.spawn(worker(shared, conn, tally));
    }
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(Ok(tally)) => tallies.push(tally),
                Some(Err(e)) => return Err(BenchError::Worker(e.to_string())),
                None => break,
            },
            _ = ticker.tick() => progress(&shared.progress(&config)),
        }
    }
    progress(&shared.progress(&config));

    let mut all = Tally::default();
    for t in tallies {
        all.merge(t);
    }
    let finished_wall = SystemTime::now();
    Ok(build_report(
        &config,
        all,
        cold,
        cold_answered_ns,
        started_wall,
        finished_wall,
    ))
}

fn build_report(
    config: &BenchConfig,
    all: Tally,
    cold: ColdStart,
    cold_answered_ns: Option<u128>,
    started: SystemTime,
    finished: SystemTime,
) -> Report {
    let elapsed = match (all.first_send, all.last_done) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let answered = all.latency.count() + u64::from(cold_answered_ns.is_some());
    let mean_all_ms = (answered > 0).then(|| {
        (all.latency.sum_ns() + cold_answered_ns.unwrap_or(0)) as f64 / answered as f64 / 1e6
    });
    let errors: BTreeMap<String, u64> = all
        .errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    let error_count: u64 = errors.values().sum();
    let counter = if config.counter_check == CounterCheckMode::Off {
        CounterCheck::off()
    } else {
        all.ledger.check()
    };
    Report {
        schema_version: crate::SCHEMA_VERSION,
        target: Target {
            label: config.label.clone(),
            url: redact_url(&config.url),
            method: "GET".to_owned(),
        },
        plan: Plan {
            ended_by: Some(match config.stop {
                Stop::Requests(n) if all.measured < n && config.time_limit.is_some() => {
                    EndedBy::TimeLimit
                }
                Stop::Requests(_) => EndedBy::Requests,
                Stop::Duration(_) => EndedBy::Duration,
            }),
            ..Plan::of(config)
        },
        results: Results {
            requests: all.measured,
            warmup_requests: all.warmup,
            elapsed_s: elapsed,
            throughput_rps: if elapsed > 0.0 {
                all.measured as f64 / elapsed
            } else {
                0.0
            },
            mean_all_ms,
            latency: all.latency.summary(),
            latency_uncorrected: if config.rate.is_some() {
                all.uncorrected.summary()
            } else {
                None
            },
            cold_start: Some(cold),
            status_codes: all
                .statuses
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (code.to_string(), *n))
                .collect(),
            errors,
            error_rate: if all.measured > 0 {
                error_count as f64 / all.measured as f64
            } else {
                0.0
            },
            counter,
            distribution: all.latency.distribution(),
            latency_histogram: all.latency.encode(),
            latency_uncorrected_histogram: if config.rate.is_some() {
                all.uncorrected.encode()
            } else {
                None
            },
        },
        environment: Environment::here(started, finished),
        function: None,
        cost: None,
        notes: Vec::new(),
    }
}

async fn resolve(config: &BenchConfig) -> Result<std::net::SocketAddr, BenchError> {
    let host = config.url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = config.url.port_or_known_default().unwrap_or(80);
    let resolve_err = |source| BenchError::Resolve {
        url: redact_url(&config.url),
        source,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(resolve_err)?;
    addrs
        .next()
        .ok_or_else(|| resolve_err(io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// Which phase a request belongs to.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    measured: bool,
}

/// Hands out tickets until the plan is done. Shared by the workers; lock-free except
/// for the one-time start of the measured phase.
struct Dispenser {
    run_start: Instant,
    warmup: Warmup,
    stop: Stop,
    time_limit: Option<Duration>,
    warm_issued: AtomicU64,
    measured_issued: AtomicU64,
    measure_start: OnceLock<Instant>,
}

impl Dispenser {
    fn new(config: &BenchConfig, run_start: Instant) -> Self {
        Self {
            run_start,
            warmup: config.warmup,
            stop: config.stop,
            time_limit: config.time_limit,
            warm_issued: AtomicU64::new(0),
            measured_issued: AtomicU64::new(0),
            measure_start: OnceLock::new(),
        }
    }

    /// The ticket for a request due at `at`, or `None` when the plan is done.
    fn next(&self, at: Instant) -> Option<Ticket> {
        if self.measure_start.get().is_none() {
            let warm = match self.warmup {
                Warmup::None => false,
                Warmup::Requests(n) => self.warm_issued.fetch_add(1, Ordering::Relaxed) < n,
                Warmup::Duration(d) => at < self.run_start + d,
            };
            if warm {
                return Some(Ticket { measured: false });
            }
        }
        let start = *self.measure_start.get_or_init(|| at);
        let more = match self.stop {
            Stop::Requests(n) => {
                self.time_limit.is_none_or(|limit| at < start + limit)
                    && self.measured_issued.fetch_add(1, Ordering::Relaxed) < n
            }
            Stop::Duration(d) => at < start + d,
        };
        more.then_some(Ticket { measured: true })
    }
}

struct Shared {
    dialer: Arc<Dialer>,
    request: RequestTemplate,
    dispenser: Dispenser,
    check: bool,
    rate: Option<f64>,
    t0: Instant,
    next_slot: AtomicU64,
    completed: AtomicU64,
    /// Measured latencies (ns) published so far, for [`Progress::p99`].
    live: std::sync::Mutex<hdrhistogram::Histogram<u64>>,
    warm_completed: AtomicU64,
    errors: AtomicU64,
    keepalive: bool,
    timeout: Duration,
}

impl Shared {
    fn progress(&self, config: &BenchConfig) -> Progress {
        let elapsed = self
            .dispenser
            .measure_start
            .get()
            .map_or(Duration::ZERO, |s| {
                Instant::now().saturating_duration_since(*s)
            });
        Progress {
            warmup_completed: self.warm_completed.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            total: match config.stop {
                Stop::Requests(n) => Some(n),
                Stop::Duration(_) => None,
            },
            errors: self.errors.load(Ordering::Relaxed),
            elapsed,
            planned: match config.stop {
                Stop::Duration(d) => Some(d),
                Stop::Requests(_) => None,
            },
            since_start: Instant::now().saturating_duration_since(self.dispenser.run_start),
            warmup_planned: match config.warmup {
                Warmup::Duration(d) => Some(d),
                Warmup::None | Warmup::Requests(_) => None,
            },
            p99: {
                let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                (!live.is_empty()).then(|| Duration::from_nanos(live.value_at_quantile(0.99)))
            },
        }
    }
}

/// The histogram behind [`Progress::p99`]: 1 µs to 60 s (growing beyond), 2 significant
/// digits, which is plenty for a progress line and keeps it small.
fn live_histogram() -> hdrhistogram::Histogram<u64> {
    let mut h = hdrhistogram::Histogram::new_with_bounds(1_000, 60_000_000_000, 2)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Progress counts are published to [`Shared`] every this many requests (and at the
/// end): an atomic add on a cache line shared by every thread, per request, costs more
/// than the progress bar needs.
const PUBLISH_EVERY: u64 = 64;

/// Counts not yet published to [`Shared`].
#[derive(Default)]
struct Unpublished {
    completed: u64,
    errors: u64,
    warm: u64,
    /// Measured latencies in ns (at most [`PUBLISH_EVERY`]); the buffer is reused.
    latencies: Vec<u64>,
}

impl Unpublished {
    fn publish(&mut self, shared: &Shared) {
        if !self.latencies.is_empty() {
            let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
            for ns in self.latencies.drain(..) {
                live.saturating_record(ns);
            }
        }
        let buffer = std::mem::take(&mut self.latencies);
        let Unpublished {
            completed,
            errors,
            warm,
            latencies: _,
        } = std::mem::take(self);
        self.latencies = buffer;
        if completed > 0 {
            shared.completed.fetch_add(completed, Ordering::Relaxed);
        }
        if errors > 0 {
            shared.errors.fetch_add(errors, Ordering::Relaxed);
        }
        if warm > 0 {
            shared.warm_completed.fetch_add(warm, Ordering::Relaxed);
        }
    }
}

async fn worker(shared: Arc<Shared>, mut conn: Option<Conn>, mut tally: Tally) -> Tally {
    // When this worker became free to send its next request.
    let mut ready = Instant::now();
    // One timer for every request of this worker, moved forward before each: extending
    // a registered tokio timer is an atomic store, while a fresh `timeout()` per request
    // inserts into and removes from the runtime's timer wheel.
    let deadline = tokio::time::sleep(shared.timeout);
    tokio::pin!(deadline);
    let mut unpublished = Unpublished {
        latencies: Vec::with_capacity(PUBLISH_EVERY as usize),
        ..Unpublished::default()
    };
    let mut since_publish = 0u64;
    loop {
        let (ticket, scheduled) = match shared.rate {
            Some(rate) => {
                let slot = shared.next_slot.fetch_add(1, Ordering::Relaxed);
                let at = shared.t0 + Duration::from_secs_f64(slot as f64 / rate);
                let Some(ticket) = shared.dispenser.next(at) else {
                    break;
                };
                if at > Instant::now() {
                    sleep_until(at).await;
                }
                (ticket, Some(at))
            }
            None => match shared.dispenser.next(ready) {
                Some(ticket) => (ticket, None),
                None => break,
            },
        };
        // In the closed loop the worker sends at once, so `ready` is the send time.
        let sent = match scheduled {
            Some(_) => Instant::now(),
            None => ready,
        };
        deadline.as_mut().reset(sent + shared.timeout);
        let outcome = tokio::select! {
            biased;
            outcome = shared.request.exchange(&mut conn, &shared.dialer) => outcome,
            () = &mut deadline => Outcome::Fail("timeout"),
        };
        let done = Instant::now();
        if !shared.keepalive || matches!(outcome, Outcome::Fail(_)) {
            conn = None;
        }
        // Coordinated omission: when this request went out late because the worker was
        // still busy with an earlier one, the wait is the server's doing and counts. When
        // the worker was free in time and only the timer woke it a little late, it is
        // the tool's doing and does not.
        let start = match scheduled {
            Some(at) if ready > at => at,
            _ => sent,
        };
        if ticket.measured {
            if let Outcome::Answer { .. } = outcome {
                let latency = done - start;
                tally.latency.record(latency);
                unpublished
                    .latencies
                    .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
                if scheduled.is_some() {
                    tally.uncorrected.record(done - sent);
                }
            }
            unpublished.completed += 1;
            unpublished.errors += u64::from(outcome.is_error());
        } else {
            unpublished.warm += 1;
        }
        since_publish += 1;
        if since_publish == PUBLISH_EVERY {
            since_publish = 0;
            unpublished.publish(&shared);
        }
        tally.account(&ticket, &outcome, shared.check, start, done);
        ready = done;
    }
    unpublished.publish(&shared);
    tally
}

/// What one worker saw.
struct Tally {
    latency: Recorder,
    uncorrected: Recorder,
    /// Answers by status code, indexed by the code (0 to 999): an array index per
    /// request instead of a map lookup.
    statuses: Box<[u64; 1000]>,
    errors: BTreeMap<&'static str, u64>,
    ledger: Ledger,
    measured: u64,
    warmup: u64,
    first_send: Option<Instant>,
    last_done: Option<Instant>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency: Recorder::default(),
            uncorrected: Recorder::default(),
            statuses: Box::new([0; 1000]),
            errors: BTreeMap::new(),
            ledger: Ledger::default(),
            measured: 0,
            warmup: 0,
            first_send: None,
            last_done: None,
        }
    }
}

impl Tally {
    /// Counts a request's status, error and counter value (not its latency).
    fn account(
        &mut self,
        ticket: &Ticket,
        outcome: &Outcome,
        check: bool,
        start: Instant,
        done: Instant,
    ) {
        if ticket.measured {
            self.measured += 1;
            self.first_send = Some(self.first_send.map_or(start, |s| s.min(start)));
            self.last_done = Some(self.last_done.map_or(done, |d| d.max(done)));
            match outcome {
                Outcome::Answer { status, .. } => {
                    // hyper only yields codes 100 to 999.
                    if let Some(n) = self.statuses.get_mut(usize::from(*status)) {
                        *n += 1;
                    }
                    if let Some(kind) = status_error(*status) {
                        *self.errors.entry(kind).or_default() += 1;
                    }
                }
                Outcome::Fail(kind) => *self.errors.entry(kind).or_default() += 1,
            }
        } else {
            self.warmup += 1;
        }
        if check {
            match outcome {
                Outcome::Answer {
                    status,
                    head,
                    head_len,
                    truncated,
                } if (200..300).contains(status) => {
                    let head = &head[..usize::from(*head_len)];
                    match (!truncated).then(|| parse_value(head)).flatten() {
                        Some(v) => self.ledger.insert(v),
                        None => self.ledger.non_integer += 1,
                    }
                }
                _ => self.ledger.unanswered += 1,
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latency.merge(&other.latency);
        self.uncorrected.merge(&other.uncorrected);
        for (mine, theirs) in self.statuses.iter_mut().zip(other.statuses.iter()) {
            *mine += theirs;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.ledger.merge(other.ledger);
        self.measured += other.measured;
        self.warmup += other.warmup;
        self.first_send = match (self.first_send, other.first_send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_done = match (self.last_done, other.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

fn status_error(status: u16) -> Option<&'static str> {
    match status {
        400..=499 => Some("http_4xx"),
        500..=599 => Some("http_5xx"),
        _ => None,
    }
}

/// Longest body prefix kept: a u64 has at most 20 digits; the rest is only counted.
const HEAD_BYTES: usize = 32;

enum Outcome {
    Answer {
        status: u16,
        /// The body's first bytes, kept inline: no allocation per request.
        head: [u8; HEAD_BYTES],
        head_len: u8,
        truncated: bool,
    },
    Fail(&'static str),
}

impl Outcome {
    fn is_error(&self) -> bool {
        match self {
            Outcome::Answer { status, .. } => status_error(*status).is_some(),
            Outcome::Fail(_) => true,
        }
    }
}

/// The request, built once: the bytes written for every send.
struct RequestTemplate {
    /// `GET path HTTP/1.1`, `host`, `user-agent`, and `authorization` (`Basic …` from the
    /// URL's `user:password@`; never shown) and `connection: close` when they apply.
    bytes: Vec<u8>,
}

/// The `Authorization: Basic` value for a URL with credentials (percent-decoded, as
/// curl sends them).
fn basic_auth(url: &url::Url) -> Option<String> {
    use base64::Engine as _;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut pair = decode(url.username());
    pair.push(b':');
    pair.extend(decode(url.password().unwrap_or_default()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    Some(format!("Basic {encoded}"))
}

const AGENT: &str = concat!("latency-bench/", env!("CARGO_PKG_VERSION"));

impl RequestTemplate {
    fn new(config: &BenchConfig) -> Self {
        let url = &config.url;
        // A parsed url::Url's path, query and host are already percent-encoded ASCII.
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut text = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {AGENT}\r\n");
        if let Some(auth) = basic_auth(url) {
            text.push_str(&format!("authorization: {auth}\r\n"));
        }
        if !config.keepalive {
            text.push_str("connection: close\r\n");
        }
        text.push_str("\r\n");
        Self {
            bytes: text.into_bytes(),
        }
    }

    /// One request/response on `conn`, opening a connection first if there is none or
    /// the server has closed it while idle. Reads the whole body; leaves `conn` empty when
    /// the connection cannot carry another request. Never retries: `GET /hits` is not
    /// idempotent.
    async fn exchange(&self, conn: &mut Option<Conn>, dialer: &Dialer) -> Outcome {
        if !conn.as_mut().is_some_and(Conn::is_reusable) {
            match Conn::open(dialer).await {
                Ok(c) => *conn = Some(c),
                Err(_) => {
                    *conn = None;
                    return Outcome::Fail("connect");
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            return Outcome::Fail("connect");
        };
        if let Err(e) = c.write_all(&self.bytes).await {
            *conn = None;
            return Outcome::Fail(io_kind(&e));
        }
        match c.read_answer().await {
            Ok((answer, close)) => {
                if close {
                    *conn = None;
                }
                answer
            }
            Err(kind) => {
                *conn = None;
                Outcome::Fail(kind)
            }
        }
    }
}

/// The error kind of a failed read or write: the peer went away, or something else.
fn io_kind(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "closed",
        io::ErrorKind::TimedOut => "timeout",
        _ => "io",
    }
}

/// Read buffer of a connection. An answer's head (status line and headers) and a chunk
/// size line must fit; bodies stream through it.
const BUF_BYTES: usize = 16 * 1024;
/// Most headers an answer may have.
const MAX_HEADERS: usize = 64;

/// How an answer's body ends.
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The first [`HEAD_BYTES`] of a body, for the counter check.
#[derive(Default)]
struct BodyHead {
    head: [u8; HEAD_BYTES],
    len: usize,
    truncated: bool,
}

impl BodyHead {
    fn take(&mut self, data: &[u8]) {
        let take = data.len().min(HEAD_BYTES - self.len);
        self.head[self.len..self.len + take].copy_from_slice(&data[..take]);
        self.len += take;
        self.truncated |= data.len() > take;
    }
}

/// One HTTP/1.1 connection, used by one worker at a time, one request at a time.
///
/// There is no connection task: the worker writes the request and reads the answer
/// itself. (With hyper's client, polling the connection from the worker instead of a
/// task saved nothing, docs/benchmarks.md; here the whole exchange is one future.)
struct Conn {
    stream: Opened,
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl Conn {
    async fn open(dialer: &Dialer) -> io::Result<Conn> {
        Ok(Conn {
            stream: dialer.open().await?,
            buf: vec![0; BUF_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
        })
    }

    fn poll_read_into(
        stream: &mut Opened,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match stream {
            Opened::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Opened::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }

    /// Whether an idle connection can carry a request: the server has not closed it and
    /// sent nothing unasked. Looks without waiting (tokio's cached readiness, at most one
    /// non-blocking read), as hyper's connection task would have noticed the close.
    fn is_reusable(&mut self) -> bool {
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(Waker::noop());
        Self::poll_read_into(&mut self.stream, &mut cx, &mut probe).is_pending()
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Opened::Plain(tcp) => tcp.write_all(bytes).await,
            Opened::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    /// Reads more bytes into the buffer. The server closing the connection here is an
    /// error (`closed`): the answer is incomplete.
    async fn fill(&mut self) -> Result<(), &'static str> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err("protocol"); // a head or chunk line longer than the buffer
        }
        match self.read_some().await {
            Ok(0) => Err("closed"),
            Ok(_) => Ok(()),
            Err(e) => Err(io_kind(&e)),
        }
    }

    /// One read into the free end of the buffer; `Ok(0)` when the server closed.
    async fn read_some(&mut self) -> io::Result<usize> {
        let Conn {
            stream, buf, end, ..
        } = self;
        let n = std::future::poll_fn(|cx| {
            let mut free = ReadBuf::new(&mut buf[*end..]);
            std::task::ready!(Self::poll_read_into(stream, cx, &mut free))?;
            Poll::Ready(Ok::<_, io::Error>(free.filled().len()))
        })
        .await?;
        *end += n;
        Ok(n)
    }

    /// Reads one answer: its status and the first bytes of its body, and whether the
    /// connection must close after it. An error is the kind of failure.
    async fn read_answer(&mut self) -> Result<(Outcome, bool), &'static str> {
        let (status, framing, mut close) = loop {
            let parsed = if self.start < self.end {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete(used)) => {
                        Some((used, head_facts(&response).ok_or("protocol")?))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(_) => return Err("protocol"),
                }
            } else {
                None
            };
            match parsed {
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                Some((used, (status, ..))) if (100..200).contains(&status) && status != 101 => {
                    self.start += used;
                }
                Some((_, (101, ..))) => return Err("protocol"), // no upgrade was asked
                Some((used, facts)) => {
                    self.start += used;
                    break facts;
                }
                None => self.fill().await?,
            }
        };
        let mut body = BodyHead::default();
        match framing {
            Framing::Empty => {}
            Framing::Length(n) => self.read_exact_body(n, &mut body).await?,
            Framing::Chunked => self.read_chunked_body(&mut body).await?,
            Framing::UntilClose => {
                close = true;
                loop {
                    body.take(&self.buf[self.start..self.end]);
                    self.start = self.end;
                    match self.fill().await {
                        Ok(()) => {}
                        Err("closed") => break,
                        Err(kind) => return Err(kind),
                    }
                }
            }
        }
        // Nothing was asked for beyond this answer: more bytes mean a confused server.
        close |= self.start != self.end;
        self.start = 0;
        self.end = 0;
        let answer = Outcome::Answer {
            status,
            head: body.head,
            // At most HEAD_BYTES (32).
            head_len: u8::try_from(body.len).unwrap_or(u8::MAX),
            truncated: body.truncated,
        };
        Ok((answer, close))
    }

    async fn read_exact_body(
        &mut self,
        mut left: u64,
        body: &mut BodyHead,
    ) -> Result<(), &'static str> {
        loop {
            let have = self.end - self.start;
            let take = usize::try_from(left).map_or(have, |left| left.min(have));
            body.take(&self.buf[self.start..self.start + take]);
            self.start += take;
            left -= take as u64;
            if left == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    async fn read_chunked_body(&mut self, body: &mut BodyHead) -> Result<(), &'static str> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err("protocol"),
                }
            };
            if size == 0 {
                // Trailer lines, if any, up to an empty line.
                loop {
                    match self.buf[self.start..self.end]
                        .windows(2)
                        .position(|w| w == b"\r\n")
                    {
                        Some(0) => {
                            self.start += 2;
                            return Ok(());
                        }
                        Some(line) => self.start += line + 2,
                        None => self.fill().await?,
                    }
                }
            }
            self.read_exact_body(size, body).await?;
            while self.end - self.start < 2 {
                self.fill().await?;
            }
            if &self.buf[self.start..self.start + 2] != b"\r\n" {
                return Err("protocol");
            }
            self.start += 2;
        }
    }
}

/// What an answer's head says: its status, how its body ends, and whether the server
/// closes the connection after it. `None` for a head that contradicts itself.
fn head_facts(response: &httparse::Response<'_, '_>) -> Option<(u16, Framing, bool)> {
    let status = response.code?;
    let mut length = None;
    let mut chunked = false;
    // HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps unless it says close.
    let http10 = response.version == Some(0);
    let mut close = http10;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()?;
            if length.is_some_and(|l| l != value) {
                return None;
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = header
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if http10 && token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n == 0 {
            Framing::Empty
        } else {
            Framing::Length(n)
        }
    } else {
        Framing::UntilClose
    };
    Some((status, framing, close))
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpListener;

    use super::*;
    use crate::Stop;
    use crate::counter::Verdict;

    /// A server that reads each request head and writes `answer(n)` for the n-th request
    /// (from 1) on the same connection; an answer that ends with the connection closes it.
    async fn raw_server(answer: fn(u64) -> (Vec<u8>, bool)) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while tcp.read(&mut byte).await.unwrap_or(0) == 1 {
                        head.push(byte[0]);
                        if head.ends_with(b"\r\n\r\n") {
                            head.clear();
                            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
                            let (bytes, close) = answer(n);
                            if tcp.write_all(&bytes).await.is_err() || close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    async fn run_against(addr: std::net::SocketAddr, requests: u64) -> Results {
        let mut config = BenchConfig::new(&format!("http://{addr}/hits")).expect("url");
        config.stop = Stop::Requests(requests);
        config.warmup = Warmup::None;
        run(config).await.expect("run").results
    }

    /// Every request answered 200 with the next count, no error.
    fn assert_all_counted(r: &Results, requests: u64) {
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.status_codes.get("200"), Some(&requests));
        assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
    }

    #[tokio::test]
    async fn chunked_answers_with_interim_heads_and_trailers_are_read_whole() {
        let addr = raw_server(|n| {
            // The count split over two chunks, after a 100 Continue, with a trailer.
            let text = n.to_string();
            let (a, b) = text.split_at(text.len() / 2);
            let mut out = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for part in [a, b] {
                if !part.is_empty() {
                    out.extend(format!("{:x}\r\n{part}\r\n", part.len()).bytes());
                }
            }
            out.extend(b"0\r\nx-trailer: 1\r\n\r\n");
            (out, false)
        })
        .await;
        assert_all_counted(&run_against(addr, 30).await, 30);
    }

    #[tokio::test]
    async fn an_answer_ended_by_closing_the_connection_is_read_whole() {
        // HTTP/1.0 with no length: the body ends when the server closes.
        let addr = raw_server(|n| (format!("HTTP/1.0 200 OK\r\n\r\n{n}").into_bytes(), true)).await;
        assert_all_counted(&run_against(addr, 12).await, 12);
    }

    #[tokio::test]
    async fn a_malformed_or_cut_answer_is_a_counted_error() {
        let bad = raw_server(|_| (b"HTTP/1.1 2x0 OK\r\n\r\n".to_vec(), false)).await;
        let r = run_against(bad, 3).await;
        assert_eq!(r.errors.get("protocol"), Some(&3), "{:?}", r.errors);
        let cut = raw_server(|_| {
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n12".to_vec(),
                true,
            )
        })
        .await;
        let r = run_against(cut, 3).await;
        assert_eq!(r.errors.get("closed"), Some(&3), "{:?}", r.errors);
    }

    #[test]
    fn the_request_is_written_once_with_host_agent_and_credentials() {
        let mut config =
            BenchConfig::new("http://user:p%40ss@example.test:8080/hits?x=1").expect("url");
        config.keepalive = false;
        let text = String::from_utf8(RequestTemplate::new(&config).bytes).expect("ascii");
        assert!(
            text.starts_with("GET /hits?x=1 HTTP/1.1\r\nhost: example.test:8080\r\n"),
            "{text}"
        );
        // base64("user:p@ss")
        assert!(
            text.contains("authorization: Basic dXNlcjpwQHNz\r\n"),
            "{text}"
        );
        assert!(text.ends_with("connection: close\r\n\r\n"), "{text}");
    }
}
