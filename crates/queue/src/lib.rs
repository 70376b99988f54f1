//! The queue workload of the study's second part.
//!
//! A job is `calc(x)`: it takes `x` seconds and returns `x` ([`calc`]). A producer enqueues
//! jobs on a [`JobQueue`]; workers ([`worker::run_pool`]) receive them, run `calc`, record
//! each job id once in a [`DoneCounter`] and acknowledge. Queues and counters are chosen by
//! URL, one backend module per scheme, each behind a cargo feature:
//!
//! | queue URL | backend |
//! |---|---|
//! | `memory://` | [`MemoryQueue`]: in this process (the embedded default) |
//! | `amqp://user:pass@host:5672/vhost?queue=NAME` | `AmqpQueue` (feature `amqp`): RabbitMQ quorum queue, manual acks, prefetch, dead-letter exchange |
//! | `sqs://NAME?endpoint=URL&region=R` | `SqsQueue` (feature `sqs`): SQS (or moto), visibility timeout, redrive policy |
//!
//! | done counter URL | backend |
//! |---|---|
//! | `memory://` | [`MemoryDoneCounter`] |
//! | `redis://host:port/db?key=done` | `RedisDoneCounter` (feature `redis`): `HSETNX` + `INCR` in one script |
//! | `dynamodb://table?endpoint=URL&create=true` | `DynamoDbDoneCounter` (feature `dynamodb`): one transaction, `attribute_not_exists` + `ADD` |
//!
//! Every queue backend runs the [`conformance`] suite; so does every done counter.

mod done;
mod error;
mod job;
mod memory;
mod url_parse;

#[cfg(feature = "amqp")]
mod amqp;
#[cfg(any(feature = "sqs", feature = "dynamodb"))]
mod aws;
#[cfg(feature = "dynamodb")]
mod done_dynamodb;
#[cfg(feature = "redis")]
mod done_redis;
#[cfg(feature = "sqs")]
mod sqs;

pub mod conformance;
pub mod measure;
pub mod report;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use done::{
    Completion, DoneCounter, MemoryDoneCounter, SharedDoneCounter, done_counter_forms,
    done_counter_from_url,
};
pub use error::QueueError;
pub use job::{CalcError, Job, calc, now_ms};
pub use memory::MemoryQueue;
pub use url_parse::QueueScheme;

#[cfg(feature = "amqp")]
pub use amqp::AmqpQueue;
#[cfg(feature = "dynamodb")]
pub use done_dynamodb::DynamoDbDoneCounter;
#[cfg(feature = "redis")]
pub use done_redis::RedisDoneCounter;
#[cfg(feature = "sqs")]
pub use sqs::SqsQueue;

/// How a queue delivers: the settings every backend honours.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// A received job that is neither acked nor released within this time becomes visible
    /// again and is delivered anew (SQS: the queue's visibility timeout; memory: the same;
    /// AMQP: RabbitMQ redelivers when the consumer's channel closes instead).
    pub visibility_timeout: Duration,
    /// After this many receives without an ack, a job goes to the dead-letter path instead
    /// of being delivered again (SQS: `maxReceiveCount`; AMQP: `x-delivery-limit`).
    pub max_receives: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 3,
        }
    }
}

/// One received job, held by its receiver until it is [acked](JobQueue::ack) or
/// [released](JobQueue::release).
#[derive(Debug)]
pub struct Delivery {
    /// The message body as sent. It is not parsed here, so that a malformed (poison) body
    /// is still delivered and can reach the dead-letter path like any failing job.
    pub body: Vec<u8>,
    /// How many times this message has been received, this time included (1 = first),
    /// where the backend knows it; 0 where it does not.
    pub receive_count: u32,
    /// The broker's id for this message (SQS `MessageId`, AMQP delivery tag, memory
    /// sequence number), e.g. for an SQS event's `messageId`.
    pub message_id: String,
    /// The backend's handle for ack and release.
    pub(crate) handle: DeliveryHandle,
}

impl Delivery {
    /// The job in the body, or why the body is not a job.
    pub fn job(&self) -> Result<Job, QueueError> {
        Job::from_body(&self.body)
    }
}

#[derive(Debug)]
pub(crate) enum DeliveryHandle {
    Memory(u64, u64),
    #[cfg(feature = "amqp")]
    Amqp(lapin::acker::Acker),
    #[cfg(feature = "sqs")]
    Sqs(String),
}

/// A job queue with at-least-once delivery.
///
/// # Contract
/// - [`send`](JobQueue::send) returns only once the queue has accepted the job durably (as
///   durable as the backend is: `memory://` lives as long as the process). An error means
///   the job may not have been enqueued; the caller reports it (the producer answers 503).
/// - [`receive`](JobQueue::receive) returns up to `max` deliveries, waiting at most about
///   `wait` for the first one; an empty batch is not an error. Each received job stays held
///   by its receiver: it is not delivered to anyone else until it is acked, released, its
///   visibility timeout passes, or its receiver goes away.
/// - [`ack`](JobQueue::ack) removes the job for good. Ack only a job whose work is done.
/// - [`release`](JobQueue::release) gives a job back after a failure; it is delivered again
///   (at once or after a backoff) and its failed receive counts.
/// - A job received [`DeliveryPolicy::max_receives`] times without an ack goes to the
///   dead-letter path (a dead-letter queue or exchange) and is not delivered again.
/// - Delivery is at least once, never exactly once: a job may be delivered more than once
///   (after a crash, a timeout, a lost ack), so consumers must be idempotent; the
///   [`DoneCounter`] is how this workload is.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Enqueues one job.
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_body(&job.to_body()).await
    }

    /// Enqueues one message body as it is. Producers use [`send`](JobQueue::send); this is
    /// for tests that need a body that is not a job (a poison message).
    async fn send_body(&self, body: &[u8]) -> Result<(), QueueError>;

    /// Receives up to `max` jobs, waiting at most about `wait` for the first.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError>;

    /// Removes a received job: its work is done.
    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError>;

    /// Gives a received job back after a failure, for redelivery or the dead-letter path.
    async fn release(&self, delivery: Delivery) -> Result<(), QueueError>;

    /// The bodies in the dead-letter path, removed from it (for tests and operators).
    async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, QueueError>;

    /// Deletes the queue and its dead-letter path with whatever they still hold (clean-up
    /// of a run's queue on a shared broker). Nothing can be sent or received afterwards.
    async fn delete(&self) -> Result<(), QueueError>;

    /// The backend's short name (`memory`, `amqp`, `sqs`).
    fn backend(&self) -> &'static str;
}

/// A shared, type-erased queue.
pub type SharedQueue = Arc<dyn JobQueue>;

/// The queue URL forms this build accepts, one per line, for help texts and errors.
pub fn accepted_forms() -> Vec<String> {
    QueueScheme::ALL
        .iter()
        .map(|scheme| scheme.form())
        .collect()
}

/// Opens the queue that `url` names, with `policy`, creating it (and its dead-letter
/// queue or exchange) when missing.
pub async fn from_url(url: &str, policy: &DeliveryPolicy) -> Result<SharedQueue, QueueError> {
    let parsed = url_parse::QueueUrl::parse(url)?;
    match parsed.scheme {
        QueueScheme::Memory => {
            parsed.expect_no_params(&[])?;
            Ok(Arc::new(MemoryQueue::new(policy.clone())))
        }
        QueueScheme::Amqp => open_amqp(&parsed, policy).await,
        QueueScheme::Sqs => open_sqs(&parsed, policy).await,
    }
}

#[cfg(feature = "amqp")]
async fn open_amqp(
    url: &url_parse::QueueUrl,
    policy: &DeliveryPolicy,
) -> Result<SharedQueue, QueueError> {
    Ok(Arc::new(AmqpQueue::open_url(url, policy).await?))
}

#[cfg(not(feature = "amqp"))]
async fn open_amqp(
    url: &url_parse::QueueUrl,
    _: &DeliveryPolicy,
) -> Result<SharedQueue, QueueError> {
    Err(url.not_built("amqp"))
}

#[cfg(feature = "sqs")]
async fn open_sqs(
    url: &url_parse::QueueUrl,
    policy: &DeliveryPolicy,
) -> Result<SharedQueue, QueueError> {
    Ok(Arc::new(SqsQueue::open_url(url, policy).await?))
}

#[cfg(not(feature = "sqs"))]
async fn open_sqs(
    url: &url_parse::QueueUrl,
    _: &DeliveryPolicy,
) -> Result<SharedQueue, QueueError> {
    Err(url.not_built("sqs"))
}
