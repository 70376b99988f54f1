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
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            concurrency: 100,
            batch: 10,
            wait: Duration::from_secs(1),
        }
    }
}

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
    let counted = match run_job(done, &delivery).await {
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
    let job = delivery.job().map_err(|err| err.to_string())?;
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
    let concurrency = config.concurrency.max(1);
    let batch = config.batch.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let stats = Arc::new(Mutex::new(PoolStats::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let receivers = concurrency.div_ceil(batch).clamp(1, MAX_RECEIVERS);
    let mut loops = JoinSet::new();
    for _ in 0..receivers {
        loops.spawn(receive_loop(
            Arc::clone(&queue),
            Arc::clone(&done),
            Arc::clone(&slots),
            Arc::clone(&stats),
            batch,
            config.wait,
            stop_rx.clone(),
        ));
    }
    stop.await;
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    tracing::info!("stopped receiving; finishing held jobs");
    // Every running job holds a slot until it is settled: all slots back = all settled.
    let _all = slots.acquire_many(concurrency as u32).await;
    *stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Most receivers a pool runs at once.
pub const MAX_RECEIVERS: usize = 16;

async fn receive_loop(
    queue: SharedQueue,
    done: SharedDoneCounter,
    slots: Arc<Semaphore>,
    stats: Arc<Mutex<PoolStats>>,
    batch: usize,
    wait: Duration,
    mut stop: watch::Receiver<bool>,
) {
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
            tokio::spawn(async move {
                let outcome = process(&queue, &done, delivery).await;
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
