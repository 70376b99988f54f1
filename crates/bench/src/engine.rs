//! The load engine: one task per connection, on hyper's HTTP/1 client connections.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONNECTION, HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};

use crate::counter::{CounterCheck, Ledger, parse_value};
use crate::dial::{Dialer, Opened, Stream};
use crate::report::{ColdStart, Environment, Plan, Report, Results, Target};
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
        plan: Plan::of(config),
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
            Stop::Requests(n) => self.measured_issued.fetch_add(1, Ordering::Relaxed) < n,
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

/// The request, built once and cloned cheaply per send.
struct RequestTemplate {
    uri: Uri,
    host: HeaderValue,
    /// `Basic …` from the URL's `user:password@`, marked sensitive so that hyper never
    /// shows it.
    authorization: Option<HeaderValue>,
    keepalive: bool,
}

/// The `Authorization: Basic` value for a URL with credentials (percent-decoded, as
/// curl sends them).
fn basic_auth(url: &url::Url) -> Option<HeaderValue> {
    use base64::Engine as _;
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut pair = decode(url.username());
    pair.push(b':');
    pair.extend(decode(url.password().unwrap_or_default()));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

static AGENT: HeaderValue =
    HeaderValue::from_static(concat!("latency-bench/", env!("CARGO_PKG_VERSION")));

impl RequestTemplate {
    fn new(config: &BenchConfig) -> Self {
        let url = &config.url;
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        Self {
            // A parsed url::Url's path and host are always valid URI parts.
            uri: path.parse().unwrap_or_else(|_| Uri::from_static("/")),
            host: HeaderValue::from_str(&host)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            authorization: basic_auth(url),
            keepalive: config.keepalive,
        }
    }

    /// One request/response on `conn`, opening a connection first if there is none or
    /// its driver task has seen it close. Reads the whole body. Never retries: `GET
    /// /hits` is not idempotent.
    async fn exchange(&self, conn: &mut Option<Conn>, dialer: &Dialer) -> Outcome {
        if conn.as_ref().is_none_or(|c| c.sender.is_closed()) {
            match Conn::open(dialer).await {
                Ok(c) => *conn = Some(c),
                Err(_) => return Outcome::Fail("connect"),
            }
        }
        let Some(c) = conn.as_mut() else {
            return Outcome::Fail("connect");
        };
        if c.sender.ready().await.is_err() {
            return Outcome::Fail("closed");
        }
        let response = match c.sender.send_request(self.request()).await {
            Ok(r) => r,
            Err(e) => return Outcome::Fail(hyper_kind(&e)),
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut head = [0u8; HEAD_BYTES];
        let mut len = 0;
        let mut truncated = false;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        let take = data.len().min(HEAD_BYTES - len);
                        head[len..len + take].copy_from_slice(&data[..take]);
                        len += take;
                        truncated |= data.len() > take;
                    }
                }
                Err(e) => return Outcome::Fail(hyper_kind(&e)),
            }
        }
        Outcome::Answer {
            status,
            head,
            // At most HEAD_BYTES (32).
            head_len: u8::try_from(len).unwrap_or(u8::MAX),
            truncated,
        }
    }

    /// The request to send: the URI and headers of the template.
    fn request(&self) -> Request<Empty<Bytes>> {
        let mut req = Request::new(Empty::<Bytes>::new());
        *req.uri_mut() = self.uri.clone();
        let headers = req.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(USER_AGENT, AGENT.clone());
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        if !self.keepalive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        req
    }
}

fn hyper_kind(e: &hyper::Error) -> &'static str {
    if e.is_parse() || e.is_parse_status() {
        "protocol"
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "closed"
    } else if e.is_timeout() {
        "timeout"
    } else {
        "io"
    }
}

/// One HTTP/1.1 connection; its driver task ends when it is dropped.
///
/// The driver is its own task, as in hyper's examples. Polling the connection from the
/// worker instead saves two cross-task wake-ups a request, but measured (callgrind and
/// timings, 2026-11-26 and 2026-11-29, docs/benchmarks.md) it executed as many
/// instructions and added about 7 µs to sequential latency, so it was not kept.
struct Conn {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
}

impl Conn {
    async fn open(dialer: &Dialer) -> io::Result<Conn> {
        match dialer.open().await? {
            Opened::Plain(tcp) => Self::start(tcp).await,
            Opened::Tls(tls) => Self::start(tls).await,
        }
    }

    /// The HTTP/1.1 handshake on an opened stream, and its driver task.
    async fn start(stream: impl Stream) -> io::Result<Conn> {
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn { sender, driver })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Aborting closes the socket at once, even with a response still pending.
        self.driver.abort();
    }
}
