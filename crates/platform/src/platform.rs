//! The platform: one instance pool per function, invocation, reports, shutdown.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::cgroup::{CgroupParent, Limits, Throttling};
use crate::error::PlatformError;
use crate::handoff::Event;
use crate::instance::{Instance, SpawnParams};
use crate::outcome::{FunctionTotals, InvocationOutcome, InvocationReport, billed_ms};
use crate::spec::{FunctionSpec, PlatformConfig};
use crate::util::lock;

/// A snapshot of one function's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The platform-wide instance number.
    pub id: u64,
    /// The process id.
    pub pid: u32,
    /// `true` when the instance is idle (not serving an invocation).
    pub idle: bool,
    /// `true` while the process is stopped (SIGSTOP) by the platform.
    pub frozen: bool,
}

/// The instances of one function.
struct Pool {
    spec: FunctionSpec,
    arn: Arc<str>,
    /// One permit per instance that may exist; waiters are served in arrival order.
    permits: Semaphore,
    /// Idle instances, most recently used last.
    idle: Mutex<Vec<Arc<Instance>>>,
    /// Every live instance, busy or idle.
    live: Mutex<BTreeMap<u64, Arc<Instance>>>,
    cold_starts: AtomicU64,
    /// Invocations waiting for a permit.
    queued: AtomicUsize,
    /// Every finished invocation, summed.
    totals: Mutex<FunctionTotals>,
}

pub(crate) struct Inner {
    config: PlatformConfig,
    pools: HashMap<String, Arc<Pool>>,
    throttling: Throttling,
    cgroups: Option<CgroupParent>,
    next_instance: AtomicU64,
    reports: Mutex<VecDeque<InvocationReport>>,
    reports_dropped: AtomicU64,
    closed: AtomicBool,
    /// One permit per queued asynchronous event.
    async_slots: Arc<Semaphore>,
}

/// A local stand-in for AWS Lambda: runs real Lambda runtime binaries as processes against
/// the Runtime API 2018-06-01, with an instance pool per function (cold starts, warm reuse,
/// scale-out to a concurrency limit then FIFO queueing, freezing of idle instances,
/// eviction, timeouts, crash replacement) and Lambda's CPU and memory budgets.
///
/// The `lambda-simulator` crate was considered: it simulates one runtime instance, without
/// a pool, scale-out, an API Gateway front or the Invoke API, so the platform is its own.
///
/// Dropping the platform kills every instance (SIGKILL) and removes its cgroups;
/// [`Platform::shutdown`] does the same and waits for the processes to be reaped.
pub struct Platform {
    inner: Arc<Inner>,
    evictor: JoinHandle<()>,
}

/// A cheap, cloneable handle for invoking functions, e.g. from servers. It does not keep
/// instances alive: once the [`Platform`] is dropped or shut down, invocations fail with
/// [`PlatformError::ShutDown`].
#[derive(Clone)]
pub struct PlatformHandle {
    inner: Arc<Inner>,
}

impl Platform {
    /// Starts a platform with [`PlatformConfig::default`]. No instance is started until
    /// the first invocation (cold start). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`PlatformError::InvalidSpec`] or [`PlatformError::DuplicateFunction`].
    pub fn start(specs: Vec<FunctionSpec>) -> Result<Platform, PlatformError> {
        Platform::start_with(PlatformConfig::default(), specs)
    }

    /// Starts a platform with explicit settings. See [`Platform::start`].
    ///
    /// # Errors
    /// [`PlatformError::InvalidSpec`] or [`PlatformError::DuplicateFunction`].
    pub fn start_with(
        config: PlatformConfig,
        specs: Vec<FunctionSpec>,
    ) -> Result<Platform, PlatformError> {
        let mut pools = HashMap::new();
        for spec in specs {
            spec.validate()
                .map_err(|reason| PlatformError::InvalidSpec {
                    function: spec.name.clone(),
                    reason,
                })?;
            let arn: Arc<str> = format!(
                "arn:aws:lambda:{}:{}:function:{}",
                config.region, config.account_id, spec.name
            )
            .into();
            let name = spec.name.clone();
            let pool = Pool {
                permits: Semaphore::new(spec.max_concurrency),
                spec,
                arn,
                idle: Mutex::new(Vec::new()),
                live: Mutex::new(BTreeMap::new()),
                cold_starts: AtomicU64::new(0),
                queued: AtomicUsize::new(0),
                totals: Mutex::new(FunctionTotals::default()),
            };
            if pools.insert(name.clone(), Arc::new(pool)).is_some() {
                return Err(PlatformError::DuplicateFunction(name));
            }
        }
        let (cgroups, throttling) = if config.use_cgroups {
            match CgroupParent::create("latency-platform") {
                Ok(parent) => (Some(parent), Throttling::Applied),
                Err(err) => {
                    tracing::warn!(%err, "CPU and memory budgets unavailable; running unthrottled");
                    (None, Throttling::Unavailable(err.to_string()))
                }
            }
        } else {
            (None, Throttling::Unavailable("turned off".into()))
        };
        if config.async_queue_capacity == 0 || config.async_queue_capacity > Semaphore::MAX_PERMITS
        {
            return Err(PlatformError::InvalidConfig(format!(
                "async_queue_capacity must be 1 to {}",
                Semaphore::MAX_PERMITS
            )));
        }
        let inner = Arc::new(Inner {
            pools,
            throttling,
            cgroups,
            next_instance: AtomicU64::new(1),
            reports: Mutex::new(VecDeque::new()),
            reports_dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            async_slots: Arc::new(Semaphore::new(config.async_queue_capacity)),
            config,
        });
        let evictor = tokio::spawn(evict_idle(Arc::downgrade(&inner)));
        Ok(Platform { inner, evictor })
    }

    /// A cloneable handle for invoking functions.
    pub fn handle(&self) -> PlatformHandle {
        PlatformHandle {
            inner: self.inner.clone(),
        }
    }

    /// Invokes `function` synchronously (RequestResponse) with `payload`. See
    /// [`PlatformHandle::invoke`].
    ///
    /// # Errors
    /// See [`PlatformHandle::invoke`].
    pub async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
    ) -> Result<InvocationOutcome, PlatformError> {
        self.handle().invoke(function, payload).await
    }

    /// Whether CPU and memory budgets are enforced on this machine.
    pub fn throttling(&self) -> &Throttling {
        &self.inner.throttling
    }

    /// Takes the REPORT figures of every invocation finished since the last call, oldest
    /// first. At most [`PlatformConfig::report_capacity`] are kept; older ones are dropped
    /// and counted by [`Platform::reports_dropped`].
    pub fn drain_reports(&self) -> Vec<InvocationReport> {
        lock(&self.inner.reports).drain(..).collect()
    }

    /// How many reports were dropped because nobody drained them.
    pub fn reports_dropped(&self) -> u64 {
        self.inner.reports_dropped.load(Ordering::Relaxed)
    }

    /// The live instances of `function`, in start order (empty for unknown names).
    pub fn instances(&self, function: &str) -> Vec<InstanceInfo> {
        let Some(pool) = self.inner.pools.get(function) else {
            return Vec::new();
        };
        let idle: Vec<u64> = lock(&pool.idle).iter().map(|i| i.id).collect();
        lock(&pool.live)
            .values()
            .filter(|i| !i.has_exited())
            .map(|i| InstanceInfo {
                id: i.id,
                pid: i.pid,
                idle: idle.contains(&i.id),
                frozen: i.is_frozen(),
            })
            .collect()
    }

    /// Starts instances of `function` until it has `count` live ones (at most its
    /// concurrency limit), at most `parallel` initialising at a time, and leaves them idle
    /// (frozen) for the next invocations, which then start warm. Returns how many were
    /// started. Meant for a quiet moment, e.g. between a benchmark's phases.
    ///
    /// This is not Lambda's provisioned concurrency (whose init runs without the CPU
    /// burst and is billed): it is what a burst of on-demand invocations leaves behind,
    /// done ahead of time and without REPORTs. Its use is a machine that cannot run many
    /// inits at once: on Lambda each instance initialises on its own share of a host,
    /// here they all share the same few cores. Prewarmed instances count in
    /// [`Platform::cold_starts`].
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], [`PlatformError::ShutDown`], a failure to
    /// start an instance, or [`PlatformError::PrewarmFailed`] when one fails its init
    /// (the others started are kept).
    pub async fn prewarm(
        &self,
        function: &str,
        count: usize,
        parallel: usize,
    ) -> Result<usize, PlatformError> {
        let pool = self.inner.pool(function)?;
        let live = self.instances(function).len();
        let wanted = count.min(pool.spec.max_concurrency).saturating_sub(live);
        let mut started = 0;
        let mut first_error = None;
        let mut remaining = wanted;
        while remaining > 0 {
            let batch = remaining.min(parallel.max(1));
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..batch {
                let (inner, pool) = (self.inner.clone(), pool.clone());
                set.spawn(async move { prewarm_one(&inner, &pool).await });
            }
            while let Some(joined) = set.join_next().await {
                match joined.unwrap_or(Err(PlatformError::ShutDown)) {
                    Ok(()) => started += 1,
                    Err(err) => {
                        first_error.get_or_insert(err);
                    }
                }
            }
            remaining -= batch;
            if first_error.is_some() {
                break;
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(started),
        }
    }

    /// How many instances of `function` have been started so far.
    pub fn cold_starts(&self, function: &str) -> u64 {
        self.inner
            .pools
            .get(function)
            .map_or(0, |p| p.cold_starts.load(Ordering::Relaxed))
    }

    /// Totals over every invocation of `function` finished so far (invocations, cold
    /// starts, billed duration, peak memory), or `None` for an unknown name. See
    /// [`FunctionTotals::summary_line`].
    pub fn totals(&self, function: &str) -> Option<FunctionTotals> {
        self.inner
            .pools
            .get(function)
            .map(|p| lock(&p.totals).clone())
    }

    /// How many asynchronous (`Event`) invocations are queued or running, all functions
    /// together ([`PlatformHandle::invoke_async`]).
    pub fn async_pending(&self) -> usize {
        self.inner.config.async_queue_capacity - self.inner.async_slots.available_permits()
    }

    /// How many invocations of `function` are waiting for a free slot under its
    /// concurrency limit.
    pub fn queued(&self, function: &str) -> usize {
        self.inner
            .pools
            .get(function)
            .map_or(0, |p| p.queued.load(Ordering::Acquire))
    }

    /// The cgroup parent directories when throttling is applied: `[cpu, memory]` on
    /// cgroup v1, `[dir]` on v2.
    pub fn cgroup_dirs(&self) -> Option<Vec<std::path::PathBuf>> {
        self.inner.cgroups.as_ref().map(|p| p.dirs().to_vec())
    }

    /// One line for reports on the budget `function`'s instances get, naming the CPU
    /// period, e.g. `hits: 128 MB, 0.072 vCPU as 1447 µs per 20 ms CFS period, memory
    /// limit 128 MB (cgroup v1)`, or why nothing is enforced. `None` for an unknown name.
    pub fn budget_note(&self, function: &str) -> Option<String> {
        let pool = self.inner.pools.get(function)?;
        let spec = &pool.spec;
        Some(match (&self.inner.cgroups, &self.inner.throttling) {
            (Some(parent), _) => format!(
                "{}: {} MB, {}",
                spec.name,
                spec.memory_mb,
                crate::cgroup::describe_limits(parent.version(), &limits_for(spec))
            ),
            (None, throttling) => format!(
                "{}: {} MB, unthrottled ({throttling})",
                spec.name, spec.memory_mb
            ),
        })
    }

    /// Stops accepting invocations, kills every instance and waits (at most 5 s) until
    /// each process has been reaped, then removes the cgroups.
    pub async fn shutdown(self) {
        self.inner.close();
        let instances = self.inner.take_all();
        for instance in &instances {
            instance.kill();
        }
        for instance in &instances {
            let _ = tokio::time::timeout(Duration::from_secs(5), instance.exited()).await;
        }
        drop(instances);
        // Drop does the rest (the evictor, the cgroup parent once `inner` goes).
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.evictor.abort();
        self.inner.close();
        // Synchronously: in-flight invocations may still hold their instance, and the
        // runtime may be going away.
        for instance in self.inner.take_all() {
            instance.kill_now();
        }
    }
}

impl Inner {
    /// The pool of `function`, or [`PlatformError::UnknownFunction`].
    fn pool(&self, function: &str) -> Result<Arc<Pool>, PlatformError> {
        self.pools
            .get(function)
            .cloned()
            .ok_or_else(|| PlatformError::UnknownFunction(function.to_owned()))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for pool in self.pools.values() {
            pool.permits.close();
        }
    }

    fn take_all(&self) -> Vec<Arc<Instance>> {
        let mut all = Vec::new();
        for pool in self.pools.values() {
            lock(&pool.idle).clear();
            all.extend(std::mem::take(&mut *lock(&pool.live)).into_values());
        }
        all
    }

    fn observed(&self, outcome: InvocationOutcome) -> InvocationOutcome {
        if let Some(observer) = &self.config.observer {
            (observer.0)(&outcome);
        }
        outcome
    }

    fn record(&self, pool: &Pool, report: &InvocationReport) {
        // DEBUG, not INFO: one line per invocation floods any run of more than a few
        // requests; [`Platform::totals`] gives the summary.
        tracing::debug!(target: "latency_platform::report", function = %report.function, "{}", report.line());
        lock(&pool.totals).add(report);
        let mut reports = lock(&self.reports);
        if reports.len() >= self.config.report_capacity {
            reports.pop_front();
            self.reports_dropped.fetch_add(1, Ordering::Relaxed);
        }
        reports.push_back(report.clone());
    }
}

impl PlatformHandle {
    /// Invokes `function` synchronously with `payload`, as Lambda's RequestResponse Invoke:
    /// waits in FIFO order for a free slot under the concurrency limit, reuses the most
    /// recently used idle instance or cold-starts a new one, hands the event over and
    /// waits for the reply, the process's exit or the timeout.
    ///
    /// A function failure (error, crash, timeout, init failure) is an `Ok` outcome whose
    /// `result` is a [`FunctionError`](crate::FunctionError); the failed instance is
    /// replaced on the next invocation. The invocation runs to completion even if the
    /// returned future is dropped.
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], [`PlatformError::ShutDown`], or a failure to
    /// start an instance ([`PlatformError::Spawn`], [`PlatformError::Bind`],
    /// [`PlatformError::Cgroup`]).
    pub async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
    ) -> Result<InvocationOutcome, PlatformError> {
        let pool = self.inner.pool(function)?;
        drop(pool);
        // Spawned (in `invoke_with`), so a caller that goes away (a closed HTTP
        // connection) cannot leave an instance half-way through an event.
        self.invoke_with(function, payload, InvokeOptions::default())
            .await
    }

    /// As [`PlatformHandle::invoke`], with the request id and client context of
    /// `options`.
    ///
    /// # Errors
    /// See [`PlatformHandle::invoke`].
    pub async fn invoke_with(
        &self,
        function: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<InvocationOutcome, PlatformError> {
        let pool = self.inner.pool(function)?;
        let inner = self.inner.clone();
        let task =
            tokio::spawn(async move { run_invocation(&inner, &pool, payload, options).await });
        match task.await {
            Ok(result) => result,
            Err(_) => Err(PlatformError::ShutDown),
        }
    }

    /// Queues an asynchronous (`Event`) invocation of `function` and returns its request
    /// id at once, as Lambda's Invoke answers 202 with the id the function will see.
    ///
    /// Lambda "places the event in a queue and returns a success response"; a queued
    /// event that is throttled (the function is at its reserved concurrency) or meets a
    /// system error goes back to the queue and is tried again "for up to 6 hours", the
    /// interval growing "exponentially from 1 second after the first attempt to a maximum
    /// of 5 minutes"; a function error is retried twice, "with a one-minute wait between
    /// the first two attempts, and two minutes between the second and third"
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html>,
    /// <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>).
    /// Every figure is in [`PlatformConfig::async_retry`]. Every attempt carries the same
    /// request id. The queue holds at most [`PlatformConfig::async_queue_capacity`]
    /// events: past that the event is refused, not dropped later.
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], [`PlatformError::ShutDown`], or
    /// [`PlatformError::AsyncQueueFull`].
    pub fn invoke_async(
        &self,
        function: &str,
        payload: Bytes,
        options: InvokeOptions,
    ) -> Result<String, PlatformError> {
        self.inner.pool(function)?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(PlatformError::ShutDown);
        }
        let slot = Arc::clone(&self.inner.async_slots)
            .try_acquire_owned()
            .map_err(|_| PlatformError::AsyncQueueFull {
                function: function.to_owned(),
                capacity: self.inner.config.async_queue_capacity,
            })?;
        let request_id = options.request_id.clone().unwrap_or_else(request_id);
        let options = InvokeOptions {
            request_id: Some(request_id.clone()),
            ..options
        };
        let weak = Arc::downgrade(&self.inner);
        let function = function.to_owned();
        tokio::spawn(async move {
            run_async_event(weak, &function, payload, options).await;
            drop(slot);
        });
        Ok(request_id)
    }

    /// `true` when `function` is registered.
    pub fn has_function(&self, function: &str) -> bool {
        self.inner.pools.contains_key(function)
    }

    /// The function's ARN, e.g. `arn:aws:lambda:eu-west-2:000000000000:function:hits`.
    pub fn function_arn(&self, function: &str) -> Option<String> {
        self.inner.pools.get(function).map(|p| p.arn.to_string())
    }
}

/// Per-invocation settings beyond the payload, as Invoke's headers carry them.
#[derive(Debug, Clone, Default)]
pub struct InvokeOptions {
    /// The request id the function sees (`aws_request_id`); `None` draws a new one.
    pub request_id: Option<String>,
    /// The client context, JSON (Invoke's `X-Amz-Client-Context` decoded from base64):
    /// given to the runtime in `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
}

/// How queued asynchronous invocations are retried; see
/// [`PlatformHandle::invoke_async`]. The defaults are Lambda's.
#[derive(Debug, Clone)]
pub struct AsyncRetry {
    /// Retries after a function error (Lambda: 2, configurable 0 to 2).
    pub max_retry_attempts: u32,
    /// The wait before the first retry after a function error; each later retry waits
    /// twice as long as the one before (Lambda: 1 minute, then 2).
    pub error_delay: Duration,
    /// The first wait after a throttle or a system error (Lambda: 1 s); it doubles up to
    /// [`AsyncRetry::max_throttle_delay`].
    pub throttle_delay: Duration,
    /// The longest wait between attempts after throttles (Lambda: 5 minutes).
    pub max_throttle_delay: Duration,
    /// An event older than this is dropped, with a warning (Lambda: 6 hours).
    pub max_event_age: Duration,
}

impl Default for AsyncRetry {
    fn default() -> AsyncRetry {
        AsyncRetry {
            max_retry_attempts: 2,
            error_delay: Duration::from_secs(60),
            throttle_delay: Duration::from_secs(1),
            max_throttle_delay: Duration::from_secs(300),
            max_event_age: Duration::from_secs(6 * 3600),
        }
    }
}

/// One queued asynchronous event, attempted until it succeeds, runs out of retries or
/// ages out. Holds the platform weakly, so that a platform shut down or dropped ends it.
async fn run_async_event(
    inner: std::sync::Weak<Inner>,
    function: &str,
    payload: Bytes,
    options: InvokeOptions,
) {
    let queued_at = std::time::Instant::now();
    let request_id = options.request_id.clone().unwrap_or_default();
    let mut error_retries = 0u32;
    let mut throttles = 0u32;
    // Bounded: each pass waits at least `throttle_delay` or runs an attempt, and the
    // event's age and the retry count both end the loop.
    loop {
        let (outcome, retry) = {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            if strong.closed.load(Ordering::Acquire) {
                return;
            }
            let handle = PlatformHandle { inner: strong };
            let outcome = handle
                .invoke_with(function, payload.clone(), options.clone())
                .await;
            (outcome, handle.inner.config.async_retry.clone())
        };
        let delay = match outcome {
            Ok(outcome) if outcome.is_success() => return,
            Ok(outcome) => {
                if error_retries >= retry.max_retry_attempts {
                    tracing::warn!(function, request_id, error = %outcome.result.err().map(|e| e.to_string()).unwrap_or_default(),
                        "asynchronous invocation failed after {error_retries} retries; dropping the event");
                    return;
                }
                let delay = retry.error_delay.saturating_mul(1 << error_retries.min(16));
                error_retries += 1;
                delay
            }
            Err(PlatformError::ShutDown) | Err(PlatformError::UnknownFunction(_)) => return,
            Err(err) => {
                tracing::debug!(function, request_id, %err, "asynchronous invocation throttled; queued again");
                let delay = retry
                    .throttle_delay
                    .saturating_mul(1 << throttles.min(16))
                    .min(retry.max_throttle_delay);
                throttles = throttles.saturating_add(1);
                delay
            }
        };
        if queued_at.elapsed().saturating_add(delay) > retry.max_event_age {
            tracing::warn!(
                function,
                request_id,
                "asynchronous event older than {:?}; dropping it",
                retry.max_event_age
            );
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

async fn run_invocation(
    inner: &Inner,
    pool: &Pool,
    payload: Bytes,
    options: InvokeOptions,
) -> Result<InvocationOutcome, PlatformError> {
    let _permit = if pool.spec.throttle_at_limit {
        pool.permits.try_acquire().map_err(|err| match err {
            tokio::sync::TryAcquireError::NoPermits => PlatformError::Throttled {
                function: pool.spec.name.clone(),
                limit: pool.spec.max_concurrency,
            },
            tokio::sync::TryAcquireError::Closed => PlatformError::ShutDown,
        })?
    } else {
        pool.queued.fetch_add(1, Ordering::AcqRel);
        let permit = pool.permits.acquire().await;
        pool.queued.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| PlatformError::ShutDown)?
    };
    if inner.closed.load(Ordering::Acquire) {
        return Err(PlatformError::ShutDown);
    }
    let request_id = options.request_id.unwrap_or_else(request_id);
    let spec = &pool.spec;

    let (instance, init_duration) = match take_idle(pool) {
        Some(instance) => (instance, None),
        None => {
            let instance = start_instance(inner, pool).await?;
            match instance.wait_ready(spec.init_timeout).await {
                Ok(init) => (instance, Some(init)),
                Err(error) => {
                    // Lambda bills a failed init's duration.
                    let init = instance.spawned_at.elapsed();
                    let memory = instance.max_memory_used_mb();
                    // Lambda writes what init printed to the function's log stream: the
                    // reason an init failed is usually there.
                    let logs = instance.take_init_logs().await;
                    retire(pool, &instance).await;
                    let report = Measured {
                        init: Some(init),
                        duration: Duration::ZERO,
                        billed: init,
                        memory,
                    }
                    .report(request_id, spec, &instance);
                    inner.record(pool, &report);
                    return Ok(inner.observed(InvocationOutcome {
                        result: Err(error),
                        report,
                        logs,
                    }));
                }
            }
        }
    };

    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(spec.timeout)
        .as_millis() as u64;
    let event = Event {
        request_id: request_id.clone(),
        payload,
        deadline_ms,
        function_arn: pool.arn.clone(),
        trace_id: trace_id(),
        client_context: options.client_context,
    };
    let started = std::time::Instant::now();
    let (result, logs) = instance.invoke(event, spec.timeout).await;
    let duration = started.elapsed();
    let memory = instance.max_memory_used_mb();
    let healthy = match &result {
        Ok(_) => true,
        Err(err) => match err.cause {
            crate::outcome::ErrorCause::Function => !instance.has_exited(),
            // The runtime is being answered 413 right now: it must be able to read that
            // answer (a kill now would take its HTTP client with it) and then carry on
            // or exit, as it chooses (awslambdaric and aws-lambda-ric exit).
            crate::outcome::ErrorCause::ResponseTooLarge => {
                instance.back_in_next(RUNTIME_RECOVERY_LIMIT).await
            }
            _ => false,
        },
    };
    if healthy && !inner.closed.load(Ordering::Acquire) {
        instance.touch();
        lock(&pool.idle).push(instance.clone());
    } else {
        retire(pool, &instance).await;
    }
    let report = Measured {
        init: init_duration,
        duration,
        billed: duration,
        memory,
    }
    .report(request_id, spec, &instance);
    inner.record(pool, &report);
    Ok(inner.observed(InvocationOutcome {
        result,
        report,
        logs,
    }))
}

/// How long a runtime answered 413 may take to either call `/next` again or exit before
/// it is replaced.
const RUNTIME_RECOVERY_LIMIT: Duration = Duration::from_secs(2);

/// Spawns a new instance of `pool`'s function (its cold start) and registers it as live.
async fn start_instance(inner: &Inner, pool: &Pool) -> Result<Arc<Instance>, PlatformError> {
    let spec = &pool.spec;
    let cgroup = match &inner.cgroups {
        Some(parent) => Some(parent.child(&spec.name, &init_limits_for(spec))?),
        None => None,
    };
    let id = inner.next_instance.fetch_add(1, Ordering::Relaxed);
    let instance = Arc::new(
        Instance::spawn(SpawnParams {
            spec,
            id,
            region: &inner.config.region,
            cgroup,
            steady_cpu: spec.init_cpu_burst.then(|| limits_for(spec).cpu).flatten(),
            observer: inner.config.instance_observer.clone(),
        })
        .await?,
    );
    pool.cold_starts.fetch_add(1, Ordering::Relaxed);
    lock(&pool.live).insert(id, instance.clone());
    if inner.closed.load(Ordering::Acquire) {
        retire(pool, &instance).await;
        return Err(PlatformError::ShutDown);
    }
    Ok(instance)
}

/// One prewarmed instance: a slot under the concurrency limit, a cold start, init, and
/// into the idle list.
async fn prewarm_one(inner: &Inner, pool: &Pool) -> Result<(), PlatformError> {
    let _permit = pool
        .permits
        .acquire()
        .await
        .map_err(|_| PlatformError::ShutDown)?;
    let instance = start_instance(inner, pool).await?;
    match instance.wait_ready(pool.spec.init_timeout).await {
        Ok(_) => {
            instance.touch();
            lock(&pool.idle).push(instance);
            Ok(())
        }
        Err(error) => {
            retire(pool, &instance).await;
            Err(PlatformError::PrewarmFailed {
                function: pool.spec.name.clone(),
                error_type: error.error_type,
                message: error.error_message,
            })
        }
    }
}

/// What was measured for one invocation; [`Measured::report`] is the one place an
/// [`InvocationReport`] is built.
struct Measured {
    init: Option<Duration>,
    duration: Duration,
    /// What Lambda bills: the duration, or the init time of a failed init.
    billed: Duration,
    memory: Option<u64>,
}

impl Measured {
    fn report(
        self,
        request_id: String,
        spec: &FunctionSpec,
        instance: &Instance,
    ) -> InvocationReport {
        InvocationReport {
            request_id,
            function: spec.name.clone(),
            instance: instance.id,
            pid: instance.pid,
            cold_start: self.init.is_some(),
            init_duration: self.init,
            duration: self.duration,
            billed_duration_ms: billed_ms(self.billed),
            memory_size_mb: spec.memory_mb,
            max_memory_used_mb: self.memory,
        }
    }
}

/// The cgroup limits for an instance of `spec`.
fn limits_for(spec: &FunctionSpec) -> Limits {
    Limits {
        cpu: spec.cpu_budget.quota(spec.memory_mb, spec.cpu_period),
        memory_bytes: spec
            .enforce_memory
            .then(|| u64::from(spec.memory_mb) * 1024 * 1024),
    }
}

/// The cgroup limits for an instance of `spec` during init: the memory limit, and a full
/// vCPU (or the budget, if larger) when [`FunctionSpec::init_cpu_burst`] is on. The
/// instance drops to [`limits_for`] at its first `/next`.
fn init_limits_for(spec: &FunctionSpec) -> Limits {
    let steady = limits_for(spec);
    if !spec.init_cpu_burst {
        return steady;
    }
    let cpu = spec.cpu_budget.vcpu(spec.memory_mb).map(|vcpu| {
        crate::cgroup::CpuQuota::from_vcpu_with_period(
            vcpu.max(crate::cgroup::LAMBDA_INIT_BURST_VCPU),
            spec.cpu_period,
        )
    });
    Limits { cpu, ..steady }
}

/// The most recently used idle instance that is still alive.
fn take_idle(pool: &Pool) -> Option<Arc<Instance>> {
    let mut dead = Vec::new();
    let found = {
        let mut idle = lock(&pool.idle);
        loop {
            match idle.pop() {
                Some(instance) if instance.has_exited() => dead.push(instance),
                other => break other,
            }
        }
    };
    if !dead.is_empty() {
        let mut live = lock(&pool.live);
        for instance in &dead {
            live.remove(&instance.id);
        }
    }
    found
}

/// Kills an instance, waits (bounded) until it is reaped and forgets it.
async fn retire(pool: &Pool, instance: &Arc<Instance>) {
    instance.kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), instance.exited()).await;
    lock(&pool.live).remove(&instance.id);
    tracing::debug!(
        function = instance.function(),
        instance = instance.id,
        "instance retired"
    );
}

/// Kills instances idle for longer than their function's idle timeout. Holds only a weak
/// reference: ends when the platform goes away.
async fn evict_idle(inner: std::sync::Weak<Inner>) {
    loop {
        let period = {
            let Some(inner) = inner.upgrade() else { return };
            if inner.closed.load(Ordering::Acquire) {
                return;
            }
            let shortest = inner
                .pools
                .values()
                .map(|p| p.spec.idle_timeout)
                .min()
                .unwrap_or(Duration::from_secs(1));
            (shortest / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
        };
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        for pool in inner.pools.values() {
            let expired: Vec<Arc<Instance>> = {
                let mut idle = lock(&pool.idle);
                let (expired, keep) =
                    std::mem::take(&mut *idle)
                        .into_iter()
                        .partition(|i: &Arc<Instance>| {
                            i.has_exited() || i.idle_for() >= pool.spec.idle_timeout
                        });
                *idle = keep;
                expired
            };
            for instance in &expired {
                tracing::debug!(function = %pool.spec.name, instance = instance.id, "evicting idle instance");
                retire(pool, instance).await;
            }
        }
    }
}

/// A UUID v4-shaped request id.
fn request_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// An X-Ray trace header, as Lambda passes in `Lambda-Runtime-Trace-Id`.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "Root=1-{secs:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
        fastrand::u32(..),
        fastrand::u64(..),
        fastrand::u64(..)
    )
}
