//! The worker pool: receive, `calc`, record done once, ack. What `latency worker` runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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
pub async fn run_pool(
    queue: SharedQueue,
    done: SharedDoneCounter,
    config: PoolConfig,
    stop: impl Future<Output = ()>,
) -> PoolStats {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut stats = PoolStats::default();
    tokio::pin!(stop);
    loop {
        let first = tokio::select! {
            () = &mut stop => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let mut permits: Vec<OwnedSemaphorePermit> = vec![first];
        while permits.len() < config.batch.max(1) {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let received = tokio::select! {
            () = &mut stop => break,
            received = queue.receive(permits.len(), config.wait) => received,
        };
        match received {
            Ok(batch) => {
                for delivery in batch {
                    let Some(permit) = permits.pop() else {
                        // A backend returned more than asked: run it anyway, unthrottled,
                        // rather than drop a job it now considers held.
                        tracing::warn!("queue returned more jobs than asked for");
                        let (queue, done) = (Arc::clone(&queue), Arc::clone(&done));
                        running.spawn(async move { process(&queue, &done, delivery).await });
                        continue;
                    };
                    let (queue, done) = (Arc::clone(&queue), Arc::clone(&done));
                    running.spawn(async move {
                        let outcome = process(&queue, &done, delivery).await;
                        drop(permit);
                        outcome
                    });
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "receive failed; retrying shortly");
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
        while let Some(finished) = running.try_join_next() {
            count(&mut stats, finished);
        }
    }
    tracing::info!(
        held = running.len(),
        "stopped receiving; finishing held jobs"
    );
    while let Some(finished) = running.join_next().await {
        count(&mut stats, finished);
    }
    stats
}

fn count(stats: &mut PoolStats, finished: Result<Outcome, tokio::task::JoinError>) {
    match finished {
        Ok(Outcome::Completed) => stats.completed += 1,
        Ok(Outcome::Duplicate) => {
            stats.completed += 1;
            stats.duplicates += 1;
        }
        Ok(Outcome::Released) => stats.released += 1,
        Ok(Outcome::AckFailed) => stats.ack_failures += 1,
        Err(err) => tracing::error!(error = %err, "a job task panicked"),
    }
}
