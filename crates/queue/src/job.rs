//! The job: `calc(x)`, and how a job travels as a message body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::QueueError;

/// One calculation: wait `x` seconds. `id` is unique per job and is what the
/// [`DoneCounter`](crate::DoneCounter) counts once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique job id, chosen by the producer.
    pub id: String,
    /// Seconds the calculation takes.
    pub x: f64,
    /// When the producer enqueued it, in milliseconds since the Unix epoch.
    pub enqueued_at_ms: u64,
}

impl Job {
    /// A job with a fresh random id, enqueued now.
    pub fn new(x: f64) -> Self {
        Self {
            id: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            x,
            enqueued_at_ms: now_ms(),
        }
    }

    /// The message body: JSON.
    pub fn to_body(&self) -> Vec<u8> {
        // A struct of a string and two numbers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a message body, or says why it is not a job.
    pub fn from_body(body: &[u8]) -> Result<Self, QueueError> {
        serde_json::from_slice(body).map_err(|err| QueueError::BadBody {
            reason: err.to_string(),
        })
    }
}

/// Why `calc` refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("calc: x must be a finite number of seconds >= 0, not {x}")]
pub struct CalcError {
    /// The rejected input.
    pub x: f64,
}

/// The study's job: takes `x` seconds and returns `x`.
///
/// It is the one implementation every runtime calls (the worker pool, the Lambda function,
/// the platform's event source). A negative, NaN or infinite `x` is an error, so that a
/// poison message fails instead of sleeping forever or panicking.
pub async fn calc(x: f64) -> Result<f64, CalcError> {
    let duration = Duration::try_from_secs_f64(x).map_err(|_| CalcError { x })?;
    tokio::time::sleep(duration).await;
    Ok(x)
}

/// Milliseconds since the Unix epoch: the clock that enqueue and done times share across
/// processes on one machine.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calc_takes_x_seconds_and_returns_x() {
        let started = tokio::time::Instant::now();
        assert_eq!(calc(1.5).await, Ok(1.5));
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn calc_rejects_what_is_not_a_duration() {
        for x in [-0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = calc(x).await.expect_err("must fail");
            assert!(err.to_string().contains("x must be"), "{err}");
        }
    }

    #[test]
    fn a_job_round_trips_through_its_body_and_garbage_is_rejected() {
        let job = Job::new(0.25);
        assert_eq!(Job::from_body(&job.to_body()).expect("parses"), job);
        assert!(matches!(
            Job::from_body(b"not json"),
            Err(QueueError::BadBody { .. })
        ));
    }
}
