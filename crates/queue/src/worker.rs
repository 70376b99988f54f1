//! The worker pool: receive, `calc`, record done once, ack. What `latency worker` runs.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::{Delivery, SharedDoneCounter, SharedQueue, calc, now_ms};

/// How a pool receives and how much it runs at once.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Jobs run at once, at most. Nothing more is received while every slot is busy, so a
    /// job is never held by a worker that is not running it (except AMQP's prefetch, which
    /// the broker gives back when the pool's connection closes).
    pub concurrency: usize,
    /// Most jobs asked for per receive (SQS allows at most 10).
    pub batch: usize,
    /// How long one receive waits for a job (SQS long polling: at most 20 s).
    pub wait: Duration,
    /// The largest `x` a job may ask for, in seconds; a job above it fails (it is
    /// released, and reaches the dead-letter path after its receives) instead of holding
    /// a slot for hours. Default 900 (`latency serve --calc-max`'s default, and Lambda's
    /// 15-minute limit on the `calc` function).
    pub max_x: f64,
    /// After `stop`, how long jobs already running may take to finish. Past it every
    /// job still running is abandoned and released (given back to the queue: delivery
    /// is at least once), so a stop never waits longer than this plus the releases.
    /// Default 30 s (Kubernetes' default termination grace period).
    pub drain_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            concurrency: 100,
            batch: 10,
            wait: Duration::from_secs(1),
            max_x: 900.0,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

impl PoolConfig {
    /// Fails on a value that cannot work, naming the limit.
    pub fn validate(&self) -> Result<(), String> {
        if !self.max_x.is_finite() || self.max_x < 0.0 || self.max_x > MAX_X_LIMIT {
            return Err(format!(
                "the largest x must be 0 to {MAX_X_LIMIT} seconds, not {}",
                self.max_x
            ));
        }
        Ok(())
    }
}

/// The largest `x` bound a pool accepts: one day. Any larger `x` is a poison message,
/// not a job.
pub const MAX_X_LIMIT: f64 = 86_400.0;

/// How long releasing the abandoned jobs may take after the drain timeout.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a pool did, from its start until it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Jobs run, recorded as done and acked.
    pub completed: u64,
    /// Of those, jobs another delivery had already counted (redeliveries).
    pub duplicates: u64,
    /// Deliveries given back because the body was not a job, `calc` refused it, or the
    /// done counter failed.
    pub released: u64,
    /// Acks the queue refused; those jobs will be delivered again.
    pub ack_failures: u64,
}

/// What happened to one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, counted by this delivery, acked.
    Completed,
    /// Done, already counted by an earlier delivery, acked.
    Duplicate,
    /// Failed and given back to the queue.
    Released,
    /// Done and counted, but the ack failed: the job will come back and count as a duplicate.
    AckFailed,
}

/// Runs one delivery: parse, `calc`, record done, then ack; on any failure, release it.
/// This is the whole job's life in every runtime (the pool, and the SQS event source).
pub async fn process(queue: &SharedQueue, done: &SharedDoneCounter, delivery: Delivery) -> Outcome {
    process_bounded(queue, done, delivery, f64::INFINITY, std::future::pending()).await
}

/// As [`process`], refusing `x` above `max_x`; when `abandon` resolves before the job is
/// done, the job is given back to the queue (released) instead.
pub async fn process_bounded(
    queue: &SharedQueue,
    done: &SharedDoneCounter,
    delivery: Delivery,
    max_x: f64,
    abandon: impl Future<Output = ()>,
) -> Outcome {
    let run = run_job_bounded(done, &delivery, max_x);
    let result = tokio::select! {
        result = run => result,
        () = abandon => Err("the worker is stopping: the job goes back to the queue".to_owned()),
    };
    let counted = match result {
        Ok(counted) => counted,
        Err(reason) => {
            tracing::warn!(receive_count = delivery.receive_count, %reason, "job failed; releasing it");
            if let Err(err) = queue.release(delivery).await {
                tracing::warn!(error = %err, "release failed; the job comes back after its visibility timeout");
            }
            return Outcome::Released;
        }
    };
    match queue.ack(delivery).await {
        Ok(()) if counted => Outcome::Completed,
        Ok(()) => Outcome::Duplicate,
        Err(err) => {
            tracing::warn!(error = %err, "ack failed; the job will be delivered again");
            Outcome::AckFailed
        }
    }
}

/// Runs the job in `delivery` and records it; `true` if this delivery counted it.
pub async fn run_job(done: &SharedDoneCounter, delivery: &Delivery) -> Result<bool, String> {
    run_job_bounded(done, delivery, f64::INFINITY).await
}

async fn run_job_bounded(
    done: &SharedDoneCounter,
    delivery: &Delivery,
    max_x: f64,
) -> Result<bool, String> {
    let job = delivery.job().map_err(|err| err.to_string())?;
    if job.x > max_x {
        return Err(format!(
            "x = {} is above this worker's largest x, {max_x} s",
            job.x
        ));
    }
    tracing::debug!(id = %job.id, x = job.x, receive_count = delivery.receive_count, "job started");
    calc(job.x).await.map_err(|err| err.to_string())?;
    done.record(&job.id, now_ms())
        .await
        .map_err(|err| err.to_string())
}

/// Receives and runs jobs with up to `config.concurrency` at once until `stop` resolves,
/// then stops receiving, lets every job it holds finish (each is acked or released), and
/// returns what it did. Queue errors are logged and retried after a short pause; the pool
/// itself never gives up before `stop`.
///
/// `concurrency / batch` receivers (at most [`MAX_RECEIVERS`]) poll at once, as Lambda's
/// pollers do: with one, every job would wait for the round trips of all receives before
/// it, which caps an SQS pool at one batch per round trip.
pub async fn run_pool(
    queue: SharedQueue,
    done: SharedDoneCounter,
    config: PoolConfig,
    stop: impl Future<Output = ()>,
) -> PoolStats {
    run_pool_until(queue, done, config, stop, std::future::pending()).await
}

/// As [`run_pool`]; when `hurry` resolves after `stop` (a second Ctrl-C, say), the jobs
/// still running are released at once instead of after [`PoolConfig::drain_timeout`].
pub async fn run_pool_until(
    queue: SharedQueue,
    done: SharedDoneCounter,
    config: PoolConfig,
    stop: impl Future<Output = ()>,
    hurry: impl Future<Output = ()>,
) -> PoolStats {
    let concurrency = config.concurrency.max(1);
    let batch = config.batch.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let stats = Arc::new(Mutex::new(PoolStats::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let receivers = concurrency.div_ceil(batch).clamp(1, MAX_RECEIVERS);
    let (abandon_tx, abandon_rx) = watch::channel(false);
    let mut loops = JoinSet::new();
    for _ in 0..receivers {
        loops.spawn(receive_loop(
            Loop {
                queue: Arc::clone(&queue),
                done: Arc::clone(&done),
                slots: Arc::clone(&slots),
                stats: Arc::clone(&stats),
                batch,
                wait: config.wait,
                max_x: config.max_x,
                abandon: abandon_rx.clone(),
            },
            stop_rx.clone(),
        ));
    }
    stop.await;
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    tracing::info!(drain_timeout = ?config.drain_timeout, "stopped receiving; finishing held jobs");
    // Every running job holds a slot until it is settled: all slots back = all settled.
    let permits = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let all = slots.acquire_many(permits);
    tokio::pin!(all);
    let finished = tokio::select! {
        finished = tokio::time::timeout(config.drain_timeout, &mut all) => finished.is_ok(),
        () = hurry => false,
    };
    if !finished {
        tracing::warn!(
            "jobs still running after {:?} or a second signal; giving them back to the queue",
            config.drain_timeout
        );
        let _ = abandon_tx.send(true);
        if tokio::time::timeout(RELEASE_TIMEOUT, &mut all)
            .await
            .is_err()
        {
            tracing::warn!(
                "releases did not finish in {RELEASE_TIMEOUT:?}; the queue redelivers those jobs"
            );
        }
    }
    *stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Most receivers a pool runs at once.
pub const MAX_RECEIVERS: usize = 16;

/// What each receive loop shares with the pool.
struct Loop {
    queue: SharedQueue,
    done: SharedDoneCounter,
    slots: Arc<Semaphore>,
    stats: Arc<Mutex<PoolStats>>,
    batch: usize,
    wait: Duration,
    max_x: f64,
    /// Set when the drain timeout has passed: running jobs are released.
    abandon: watch::Receiver<bool>,
}

async fn receive_loop(pool: Loop, mut stop: watch::Receiver<bool>) {
    let Loop {
        queue,
        done,
        slots,
        stats,
        batch,
        wait,
        max_x,
        abandon,
    } = pool;
    loop {
        let first = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let mut permits: Vec<OwnedSemaphorePermit> = vec![first];
        while permits.len() < batch {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let received = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            received = queue.receive(permits.len(), wait) => received,
        };
        let deliveries = match received {
            Ok(deliveries) => deliveries,
            Err(err) => {
                tracing::warn!(error = %err, "receive failed; retrying shortly");
                drop(permits);
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
        };
        for delivery in deliveries {
            // A backend that returns more than asked still gets every job run, over the limit,
            // rather than drop a job it now considers held.
            let permit = permits.pop();
            let (queue, done, stats) = (Arc::clone(&queue), Arc::clone(&done), Arc::clone(&stats));
            let mut abandon = abandon.clone();
            tokio::spawn(async move {
                let abandoned = async move {
                    let _ = abandon.wait_for(|abandon| *abandon).await;
                };
                let outcome = process_bounded(&queue, &done, delivery, max_x, abandoned).await;
                count(
                    &mut stats
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                    outcome,
                );
                drop(permit);
            });
        }
    }
}

fn count(stats: &mut PoolStats, outcome: Outcome) {
    match outcome {
        Outcome::Completed => stats.completed += 1,
        Outcome::Duplicate => {
            stats.completed += 1;
            stats.duplicates += 1;
        }
        Outcome::Released => stats.released += 1,
        Outcome::AckFailed => stats.ack_failures += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeliveryPolicy, Job, MemoryDoneCounter, MemoryQueue};

    fn parts() -> (SharedQueue, SharedDoneCounter) {
        let policy = DeliveryPolicy {
            visibility_timeout: Duration::from_secs(3600),
            max_receives: 3,
        };
        (
            Arc::new(MemoryQueue::new(policy)),
            Arc::new(MemoryDoneCounter::default()),
        )
    }

    /// A stop waits at most the drain timeout for a long job, then gives it back to the
    /// queue (released, not acked), where it is received again at once.
    #[tokio::test(start_paused = true)]
    async fn a_stop_releases_a_job_still_running_after_the_drain_timeout() {
        let (queue, done) = parts();
        let job = Job::new(600.0);
        queue.send(&job).await.expect("send");
        let config = PoolConfig {
            concurrency: 2,
            batch: 1,
            wait: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            ..PoolConfig::default()
        };
        let started = tokio::time::Instant::now();
        let stop = tokio::time::sleep(Duration::from_secs(1));
        let stats = run_pool(Arc::clone(&queue), Arc::clone(&done), config, stop).await;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the pool waited for the job"
        );
        assert_eq!(stats.completed, 0);
        assert_eq!(stats.released, 1);
        let again = queue
            .receive(1, Duration::from_millis(10))
            .await
            .expect("receive");
        assert_eq!(again.len(), 1, "the job is back in the queue");
        assert_eq!(again[0].job().expect("a job").id, job.id);
        assert_eq!(done.count().await.expect("count"), 0);
    }

    /// A job above `max_x` is released (it fails), never run.
    #[tokio::test(start_paused = true)]
    async fn a_job_above_max_x_is_released_without_running() {
        let (queue, done) = parts();
        queue.send(&Job::new(1e5)).await.expect("send");
        let config = PoolConfig {
            concurrency: 1,
            batch: 1,
            wait: Duration::from_millis(100),
            max_x: 60.0,
            ..PoolConfig::default()
        };
        let stop = tokio::time::sleep(Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        let stats = run_pool(queue, done, config, stop).await;
        assert!(started.elapsed() < Duration::from_secs(60));
        assert!(stats.released >= 1, "{stats:?}");
        assert_eq!(stats.completed, 0);
    }

    #[test]
    fn the_largest_x_is_validated_naming_the_limit() {
        for max_x in [f64::NAN, -1.0, 1e308, f64::INFINITY] {
            let config = PoolConfig {
                max_x,
                ..PoolConfig::default()
            };
            let err = config.validate().expect_err("refused");
            assert!(err.contains("0 to 86400 seconds"), "{err}");
        }
        PoolConfig::default()
            .validate()
            .expect("the default is valid");
    }
}
