//! `calc` as a Lambda function behind an SQS event source.
//!
//! [`handle_batch`] runs every job of an SQS event batch at once (a batch is at most 10
//! jobs, and `calc` only waits), records each done job in the [`DoneCounter`](latency_queue::DoneCounter)
//! once per id, and answers with the `batchItemFailures` of the jobs that failed. With
//! `ReportBatchItemFailures` on the event source mapping, only those are delivered again;
//! the rest of the batch is deleted, so one poison message does not redo its batch.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use latency_lambda_start::Variable;
use latency_queue::{Job, SharedDoneCounter, calc, now_ms};

/// `LATENCY_DONE_STORE` (required): the done counter's URL.
pub const DONE_STORE: Variable = Variable {
    name: "LATENCY_DONE_STORE",
    required: true,
    meaning: "the done counter's URL, e.g. dynamodb://latency-calc-done or redis://host:6379/0?key=done",
};

/// Every environment variable `latency-calc` reads (besides those Lambda sets).
pub const ENVIRONMENT: &[Variable] = &[DONE_STORE, latency_lambda_start::LOG_FILTER];

/// Runs one SQS event batch; the response names every message that failed.
///
/// A message fails when its body is not a job, `calc` refuses its `x`, or the done
/// counter cannot record it. A message without a `messageId` cannot be named in the
/// response, so the whole batch is reported failed rather than lose it silently.
// `..Default::default()` fills the catch-all field that aws_lambda_events adds when another
// crate in the build turns on its `catch-all-fields` feature.
#[allow(clippy::needless_update)]
pub async fn handle_batch(done: &SharedDoneCounter, event: SqsEvent) -> SqsBatchResponse {
    let jobs = event
        .records
        .into_iter()
        .map(|message| run_one(done, message));
    let outcomes = futures_join_all(jobs).await;
    let mut failures = Vec::new();
    for (message_id, outcome) in outcomes {
        if let Err(reason) = outcome {
            tracing::warn!(message_id = message_id.as_deref().unwrap_or("?"), %reason, "job failed");
            failures.push(BatchItemFailure {
                item_identifier: message_id.unwrap_or_default(),
                ..Default::default()
            });
        }
    }
    SqsBatchResponse {
        batch_item_failures: failures,
        ..Default::default()
    }
}

async fn run_one(
    done: &SharedDoneCounter,
    message: SqsMessage,
) -> (Option<String>, Result<bool, String>) {
    let outcome = async {
        let job = job_of(&message)?;
        calc(job.x).await.map_err(|err| err.to_string())?;
        done.record(&job.id, now_ms())
            .await
            .map_err(|err| err.to_string())
    }
    .await;
    (message.message_id, outcome)
}

/// The job a message carries. A producer of this project sends a whole [`Job`]; API
/// Gateway's SQS integration (the cloud's `POST /calc`, deploy/terraform/modules/lambda-sqs)
/// forwards the request body as it came, `{"x": 1.5}`, so a body with `x` alone is a job
/// whose id is the SQS message id (the same on every redelivery, so the done counter
/// still counts it once) and whose enqueue time is SQS's `SentTimestamp`.
fn job_of(message: &SqsMessage) -> Result<Job, String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    if let Ok(job) = Job::from_body(body.as_bytes()) {
        return Ok(job);
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Request {
        x: f64,
    }
    let request: Request = serde_json::from_str(body)
        .map_err(|err| format!("the body is neither a job nor {{\"x\": seconds}}: {err}"))?;
    let id = message
        .message_id
        .clone()
        .ok_or("a request body without an id needs the SQS message id, and there is none")?;
    let enqueued_at_ms = message
        .attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(now_ms);
    Ok(Job {
        id,
        x: request.x,
        enqueued_at_ms,
    })
}

/// Awaits every future concurrently, in order. Hand-written (a JoinSet needs 'static
/// futures, and pulling in the `futures` crate for this one call grows the binary).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
