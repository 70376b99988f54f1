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

use std::sync::Arc;

use lambda_http::Adapter;
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
    Ok(latency_app::router(AppState::new(store, config)))
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
