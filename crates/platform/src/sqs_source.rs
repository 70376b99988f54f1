//! An SQS event-source mapping: polls a queue, hands batches to a function, deletes what
//! succeeded. The local stand-in for Lambda's SQS trigger.
//!
//! # Scaling policy
//! Modelled on Lambda's, as AWS documents it in "Configuring scaling behavior for SQS event
//! source mappings" (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html>):
//! Lambda "starts processing five batches at a time with five concurrent invocations",
//! and while messages remain "increases the number of processes that are reading batches by
//! up to 300 more instances per minute", to at most 1,000 batches at once (or the mapping's
//! `MaximumConcurrency`, 2 to 1,000); when traffic is low it scales back to five.
//!
//! Here: [`SqsSourceConfig::initial_pollers`] pollers start; each poller receives up to
//! [`SqsSourceConfig::batch_size`] (≤ 10) messages, invokes the function once with them as
//! an SQS event, and waits for the answer, so pollers = concurrent invocations. Every
//! second that some poller found messages, up to `scale_up_per_minute / 60` pollers are
//! added, to [`SqsSourceConfig::maximum_concurrency`]. A poller whose receive comes back
//! empty stops while more than `initial_pollers` run.
//!
//! # Deletes and failures
//! With `ReportBatchItemFailures` (always on here), the messages the function names in
//! `batchItemFailures` are given back and the others acked (deleted); an invocation that
//! fails (error, crash, timeout) gives back its whole batch. Unlike Lambda, which leaves a
//! failed message invisible until its visibility timeout, it is given back at once; the
//! receive count, and so the dead-letter path, are the same.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use latency_queue::{Delivery, SharedQueue};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::PlatformHandle;

/// How the event source polls and scales.
#[derive(Debug, Clone)]
pub struct SqsSourceConfig {
    /// The function invoked with each batch.
    pub function: String,
    /// Most messages per batch (Lambda's `BatchSize`; SQS allows at most 10 per receive).
    pub batch_size: usize,
    /// How long one receive waits for messages (Lambda long-polls up to 20 s).
    pub wait: Duration,
    /// Pollers at the start and after scaling back (Lambda: 5).
    pub initial_pollers: usize,
    /// Pollers added per minute while messages remain (Lambda: 300).
    pub scale_up_per_minute: usize,
    /// Most pollers, i.e. concurrent invocations (Lambda: 1,000, or `MaximumConcurrency`).
    pub maximum_concurrency: usize,
    /// The ARN put in each record's `eventSourceARN`.
    pub queue_arn: String,
}

impl SqsSourceConfig {
    /// Lambda's defaults for `function`.
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            batch_size: 10,
            wait: Duration::from_secs(1),
            initial_pollers: 5,
            scale_up_per_minute: 300,
            maximum_concurrency: 1000,
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:latency-calc".to_owned(),
        }
    }
}

/// What an event source did until it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqsSourceStats {
    /// Invocations made.
    pub invocations: u64,
    /// Messages acked (deleted) after their invocation succeeded.
    pub deleted: u64,
    /// Messages given back: named in `batchItemFailures`, or in a failed invocation.
    pub released: u64,
    /// The most pollers that ran at once.
    pub peak_pollers: u64,
}

#[derive(Default)]
struct Counters {
    invocations: AtomicU64,
    deleted: AtomicU64,
    released: AtomicU64,
    pollers: AtomicUsize,
    peak: AtomicUsize,
    found_messages: AtomicBool,
}

/// A running event source; [`stop`](SqsEventSource::stop) it to end polling.
pub struct SqsEventSource {
    stop: watch::Sender<bool>,
    controller: tokio::task::JoinHandle<()>,
    counters: Arc<Counters>,
}

impl SqsEventSource {
    /// Starts polling `queue` for `platform`'s function. Must be called in a tokio runtime.
    pub fn start(platform: PlatformHandle, queue: SharedQueue, config: SqsSourceConfig) -> Self {
        let (stop, stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let controller = tokio::spawn(control(
            platform,
            queue,
            config,
            Arc::clone(&counters),
            stopped,
        ));
        Self {
            stop,
            controller,
            counters,
        }
    }

    /// Stops receiving, lets invocations in flight finish and settle their batches, and
    /// returns what the source did.
    pub async fn stop(self) -> SqsSourceStats {
        let _ = self.stop.send(true);
        let _ = self.controller.await;
        let counters = &self.counters;
        SqsSourceStats {
            invocations: counters.invocations.load(Ordering::Relaxed),
            deleted: counters.deleted.load(Ordering::Relaxed),
            released: counters.released.load(Ordering::Relaxed),
            peak_pollers: counters.peak.load(Ordering::Relaxed) as u64,
        }
    }
}

async fn control(
    platform: PlatformHandle,
    queue: SharedQueue,
    config: SqsSourceConfig,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    let config = Arc::new(config);
    let mut pollers = JoinSet::new();
    let poller_stop = stopped.clone();
    let spawn = |pollers: &mut JoinSet<()>| {
        let running = counters.pollers.fetch_add(1, Ordering::AcqRel) + 1;
        counters.peak.fetch_max(running, Ordering::AcqRel);
        pollers.spawn(poll(
            platform.clone(),
            Arc::clone(&queue),
            Arc::clone(&config),
            Arc::clone(&counters),
            poller_stop.clone(),
        ));
    };
    for _ in 0..config
        .initial_pollers
        .clamp(1, config.maximum_concurrency.max(1))
    {
        spawn(&mut pollers);
    }
    let per_second = (config.scale_up_per_minute / 60).max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            _ = tick.tick() => {}
            Some(_) = pollers.join_next() => continue,
        }
        if counters.found_messages.swap(false, Ordering::AcqRel) {
            let running = counters.pollers.load(Ordering::Acquire);
            let room = config.maximum_concurrency.saturating_sub(running);
            for _ in 0..per_second.min(room) {
                spawn(&mut pollers);
            }
        } else if counters.pollers.load(Ordering::Acquire) == 0 {
            spawn(&mut pollers);
        }
    }
    while pollers.join_next().await.is_some() {}
}

async fn poll(
    platform: PlatformHandle,
    queue: SharedQueue,
    config: Arc<SqsSourceConfig>,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let received = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            received = queue.receive(config.batch_size.clamp(1, 10), config.wait) => received,
        };
        let batch = match received {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %err, "event source: receive failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Scale back: a poller that finds nothing leaves while more than the floor run.
            let running = counters.pollers.load(Ordering::Acquire);
            if running > config.initial_pollers
                && counters
                    .pollers
                    .compare_exchange(running, running - 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                return;
            }
            continue;
        }
        counters.found_messages.store(true, Ordering::Release);
        invoke_batch(&platform, &queue, &config, &counters, batch).await;
    }
    counters.pollers.fetch_sub(1, Ordering::AcqRel);
}

/// One invocation with `batch` as an SQS event; acks the successes, gives back the rest.
async fn invoke_batch(
    platform: &PlatformHandle,
    queue: &SharedQueue,
    config: &SqsSourceConfig,
    counters: &Counters,
    batch: Vec<Delivery>,
) {
    let event = sqs_event(&batch, &config.queue_arn);
    counters.invocations.fetch_add(1, Ordering::Relaxed);
    let failed: Option<HashSet<String>> = match platform.invoke(&config.function, event).await {
        Ok(outcome) => match outcome.result {
            Ok(payload) => Some(batch_item_failures(&payload)),
            Err(err) => {
                tracing::warn!(error = ?err, "event source: the invocation failed; giving the batch back");
                None
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, "event source: cannot invoke; giving the batch back");
            None
        }
    };
    for delivery in batch {
        let succeeded = failed
            .as_ref()
            .is_some_and(|failed| !failed.contains(&delivery.message_id));
        let settled = if succeeded {
            counters.deleted.fetch_add(1, Ordering::Relaxed);
            queue.ack(delivery).await
        } else {
            counters.released.fetch_add(1, Ordering::Relaxed);
            queue.release(delivery).await
        };
        if let Err(err) = settled {
            tracing::warn!(error = %err, "event source: settling a message failed; it comes back after its visibility timeout");
        }
    }
}

/// The SQS event Lambda sends (`{"Records": [...]}`), with the fields functions read.
fn sqs_event(batch: &[Delivery], queue_arn: &str) -> Bytes {
    let records: Vec<serde_json::Value> = batch
        .iter()
        .map(|delivery| {
            serde_json::json!({
                "messageId": delivery.message_id,
                "receiptHandle": delivery.message_id,
                "body": String::from_utf8_lossy(&delivery.body),
                "attributes": { "ApproximateReceiveCount": delivery.receive_count.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    Bytes::from(serde_json::json!({ "Records": records }).to_string())
}

/// The message ids named in a response's `batchItemFailures`. A response that is not a
/// batch response names none: as on Lambda, a plain success deletes the whole batch.
fn batch_item_failures(payload: &[u8]) -> HashSet<String> {
    let Ok(response) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return HashSet::new();
    };
    response["batchItemFailures"]
        .as_array()
        .map(|failures| {
            failures
                .iter()
                .filter_map(|failure| failure["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
