//! The counter app as an AWS Lambda function.
//!
//! The function serves the same [`latency_app::router`] as `latency serve`, through
//! `lambda_http`, so it answers API Gateway HTTP API (payload 2.0) events and Lambda
//! function URL events, which share that format.
//!
//! - [`init`] runs once per instance, at cold start, outside the handler: it opens the
//!   store (an SDK client and its connection pool), which later invocations reuse. The
//!   original study found that this matters for warm latency.
//! - [`handler`] is the service the Lambda runtime calls for each event.
//!
//! A store that cannot be reached does not stop the function: at init the store is then
//! opened lazily (see [`init`]), and a request that cannot reach it gets a 503 JSON error
//! while the instance stays up, ready for the store to come back.
//!
//! An invocation never runs into Lambda's own timeout: [`DEADLINE_MARGIN`] before the
//! invocation's deadline, the function gives up and answers 503 (see [`init`]).

use latency_lambda_start::Variable;

/// `LATENCY_STORE` (required): the counter store's URL.
pub const STORE: Variable = Variable {
    name: "LATENCY_STORE",
    required: true,
    meaning: "the counter store's URL, e.g. dynamodb://latency?key=id&key_value=0&attribute=hits or s3://bucket/hits",
};

/// Every environment variable `latency-lambda` reads (besides those Lambda sets).
pub const ENVIRONMENT: &[Variable] = &[STORE, latency_lambda_start::LOG_FILTER];

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::{Adapter, RequestExt};
use latency_app::errors::json_error;
use latency_app::{AppConfig, AppState};
use latency_store::{LazyStore, SharedStore, StoreError};

pub use axum::Router;

/// Builds the app for `store_url`. Call it once per instance, before serving events.
///
/// A bad store URL, a missing table or bucket, or a corrupt counter is an error: the
/// instance cannot do anything useful, and Lambda reports the init failure with this
/// message. A store that is merely unreachable is not: the function starts anyway, every
/// request tries to open the store until it succeeds, and until then `/hits` answers 503.
/// So an outage of the store never turns into a crash loop of cold starts.
///
/// Every request is given until [`DEADLINE_MARGIN`] before its invocation's deadline; a
/// request still running then (a store that is slow, or a conditional write retried under
/// contention) is dropped and answered 503, which says so. Lambda would otherwise kill
/// the instance at its timeout, and the next request would pay a cold start: in the lab,
/// 32 writers on one S3 object made hundreds of them.
pub async fn init(store_url: &str, config: AppConfig) -> Result<Router, StoreError> {
    let store: SharedStore = match latency_store::from_url(store_url).await {
        Ok(store) => store,
        Err(StoreError::Unavailable { backend, detail }) => {
            tracing::warn!(
                backend,
                %detail,
                "store unreachable at init; starting anyway and retrying on each request"
            );
            Arc::new(LazyStore::new(store_url)?)
        }
        Err(err) => return Err(err),
    };
    tracing::info!(backend = store.backend(), "store ready");
    Ok(latency_app::router(AppState::new(store, config))
        .layer(axum::middleware::from_fn(within_deadline)))
}

/// How long before the invocation's deadline a request still running is given up: enough
/// to send the 503 back through the Runtime API before Lambda's timeout. The Python
/// variant gives up at the same margin.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// Runs the request until [`DEADLINE_MARGIN`] before the invocation's deadline. A request
/// without a Lambda context, or whose context has no deadline (0, as in
/// `Context::default()`), runs unbounded here (the app's own request timeout still holds).
async fn within_deadline(request: Request, next: Next) -> Response {
    let deadline_ms = request
        .lambda_context_ref()
        .map_or(0, |context| context.deadline);
    let Some(left) = time_left(deadline_ms, SystemTime::now()) else {
        return next.run(request).await;
    };
    match tokio::time::timeout(left, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                "gave up {} ms before the invocation's deadline",
                DEADLINE_MARGIN.as_millis()
            );
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "the request did not finish in time: given up {} ms before the function's timeout",
                    DEADLINE_MARGIN.as_millis()
                ),
            )
        }
    }
}

/// The time a request may still run at `now`, given the invocation's deadline in ms since
/// the Unix epoch; `None` for no deadline (0). Zero once inside the margin.
fn time_left(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let give_up = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms) - DEADLINE_MARGIN;
    Some(give_up.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The service the Lambda runtime calls with each event: it turns the event into an HTTP
/// request for `app`, and the app's response into the Lambda response (`statusCode`,
/// `headers`, `body`, `isBase64Encoded`). `main` runs exactly this, so tests that call it
/// with event fixtures exercise the production path minus the Runtime API's HTTP.
pub fn handler(app: Router) -> Handler {
    Adapter::from(app)
}

/// The Lambda service: `lambda_http`'s adapter around the app's router.
pub type Handler = Adapter<'static, axum::response::Response, Router>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_keeps_the_margin_and_no_deadline_is_unbounded() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let in_two_seconds = 1_000_000_000 + 2_000;
        assert_eq!(
            time_left(in_two_seconds, now),
            Some(Duration::from_millis(1_700))
        );
        assert_eq!(time_left(1_000_000_000 + 100, now), Some(Duration::ZERO));
        assert_eq!(time_left(1_000_000_000 - 5_000, now), Some(Duration::ZERO));
        assert_eq!(time_left(0, now), None);
    }
}
