//! `POST /calc {"x": seconds}`: the queue workload's producer.
//!
//! | outcome | response |
//! |---|---|
//! | enqueued | `202 {"id": "…"}` |
//! | body not JSON, not an object, `x` missing, not a number, negative, NaN, infinite, or above the maximum | `400 {"error": "… x …"}` naming the field; nothing is enqueued |
//! | body over the limit | `413` (the app's body limit) |
//! | the queue failed | `503`; the job may not be enqueued |
//! | no queue configured | `503` saying so |

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latency_queue::{Job, SharedQueue};

use crate::errors::json_error;

/// What `POST /calc` enqueues on, and the largest `x` it accepts.
#[derive(Clone)]
pub struct CalcProducer {
    queue: SharedQueue,
    max_x: f64,
}

impl std::fmt::Debug for CalcProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalcProducer")
            .field("queue", &self.queue.backend())
            .field("max_x", &self.max_x)
            .finish()
    }
}

impl CalcProducer {
    /// A producer enqueuing on `queue` that rejects `x` above `max_x` seconds.
    pub fn new(queue: SharedQueue, max_x: f64) -> Self {
        Self { queue, max_x }
    }
}

/// Why a body is not a calculation, as the 400 message says it.
fn parse_x(body: &[u8], max_x: f64) -> Result<f64, String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| format!("body is not JSON ({err}); send {{\"x\": seconds}}"))?;
    let object = value
        .as_object()
        .ok_or("body must be a JSON object {\"x\": seconds}")?;
    let x = object.get("x").ok_or("field `x` is missing")?;
    let x = x
        .as_f64()
        .ok_or_else(|| format!("field `x` must be a number of seconds, not {x}"))?;
    // serde_json refuses NaN and infinity already; this keeps the rule if that changes.
    if !x.is_finite() {
        return Err("field `x` must be finite".to_owned());
    }
    if x < 0.0 {
        return Err(format!("field `x` must be >= 0, not {x}"));
    }
    if x > max_x {
        return Err(format!(
            "field `x` must be at most {max_x} (the configured maximum), not {x}"
        ));
    }
    Ok(x)
}

/// Handles `POST /calc`: validates, enqueues, answers 202 with the job id.
pub(crate) async fn submit(producer: Option<CalcProducer>, body: Bytes) -> Response {
    let Some(producer) = producer else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no job queue; start it with --queue URL",
        );
    };
    let x = match parse_x(&body, producer.max_x) {
        Ok(x) => x,
        Err(message) => return json_error(StatusCode::BAD_REQUEST, &message),
    };
    let job = Job::new(x);
    match producer.queue.send(&job).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "id": job.id })),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "enqueue failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the job queue is unavailable; try again shortly",
            )
        }
    }
}
