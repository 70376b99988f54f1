//! The counter web app that every architecture runs.
//!
//! [`router`] builds the one HTTP application; the `latency serve` server, the Lambda
//! function and the lab's replicas all serve it unchanged:
//!
//! | request | response |
//! |---|---|
//! | `GET /` | the page (embedded in the binary) |
//! | `GET /hits` | `200 text/plain`: the new count |
//! | `HEAD /hits` | the headers of `GET /hits` for the current count, which it does not change |
//! | `GET /healthz` | `200 {"status":"pass"}` |
//! | `GET /metrics` | Prometheus (OpenMetrics) text |
//! | `POST /calc {"x": s}` | `202 {"id": …}`: a job enqueued (see [`calc`]) |
//!
//! Every error is JSON, `{"error": "…"}`, with its status code (see [`errors`]).
//!
//! [`serve_with`] runs the router as an HTTP/1.1 server with connection limits
//! ([`ServerConfig`]); [`serve`] does so with the default limits.

pub mod calc;
pub mod errors;
mod hits;
mod layer;
mod metrics;
mod page;
mod server;
mod warn;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use latency_store::SharedStore;
use tokio::net::TcpListener;

pub use errors::AppError;
pub use metrics::{Metrics, StoreOperationTimer};
pub use page::PAGE;
pub use server::{ParseErrorAnswer, ServerConfig, app_parse_error, serve_with};

use crate::warn::RateLimitedWarning;

/// Limits that protect the app from slow or oversized requests.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// A request that has not been answered after this long gets a 503. Must be > 0.
    pub request_timeout: Duration,
    /// A request body larger than this many bytes gets a 413. Must be > 0.
    pub body_limit_bytes: usize,
    /// A failing store is logged at most once per this interval, with the number of
    /// failures held back since the last line (the metrics count every one).
    pub store_warning_interval: Duration,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_limit_bytes: 16 * 1024,
            store_warning_interval: Duration::from_secs(10),
        }
    }
}

impl AppConfig {
    /// Fails on a value that cannot work: a zero request timeout would answer every
    /// request 503 (after the store counted it), and a zero body limit would refuse every
    /// body.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.request_timeout.is_zero() {
            return Err(ConfigError::Zero("request timeout"));
        }
        if self.body_limit_bytes == 0 {
            return Err(ConfigError::Zero("body limit"));
        }
        Ok(())
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The value is zero where only a positive value works.
    #[error("the {0} must be greater than zero")]
    Zero(&'static str),
    /// The value is larger than the server supports.
    #[error("the {what} must be at most {max}")]
    TooLarge {
        /// What the value sets.
        what: &'static str,
        /// The largest value that works.
        max: u64,
    },
}

/// Everything a request handler needs: the counter store, the metrics, the limits.
/// Cloning it is one reference-count increment.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
    calc: Option<calc::CalcProducer>,
}

struct StateInner {
    store: SharedStore,
    store_incr: StoreOperationTimer,
    store_warning: RateLimitedWarning,
    metrics: Arc<Metrics>,
    config: Arc<AppConfig>,
}

impl AppState {
    /// State for an app counting in `store`, with fresh metrics.
    pub fn new(store: SharedStore, config: AppConfig) -> Self {
        let metrics = Arc::new(Metrics::new());
        Self {
            inner: Arc::new(StateInner {
                store_incr: metrics.store_operation(store.backend(), "incr"),
                store_warning: RateLimitedWarning::new(config.store_warning_interval),
                store,
                metrics,
                config: Arc::new(config),
            }),
            calc: None,
        }
    }

    /// The same state, with `POST /calc` enqueuing through `producer`.
    pub fn with_calc(mut self, producer: calc::CalcProducer) -> Self {
        self.calc = Some(producer);
        self
    }

    /// The metrics this app records, e.g. to read them in tests.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

/// The app's HTTP routes with their middleware (one layer: the body limit, the request
/// timeout, JSON errors and request metrics). Every runtime serves this same router.
pub fn router(state: AppState) -> Router {
    let layer = layer::AppLayer::new(
        Arc::clone(&state.inner.config),
        Arc::clone(&state.inner.metrics),
    );
    // Handlers capture the state instead of extracting it: an extractor makes axum split
    // and rebuild every request, which costs more than the counter itself.
    let calc_producer = state.calc.clone();
    let head_state = state.clone();
    let metrics_state = state.clone();
    // `GET /hits`, the measured path, is a service wrapped in the layer directly rather
    // than a handler layered by axum: that spares each request two boxed clones of the
    // route, two boxed futures and the handler's own box (docs/benchmarks.md). Its HEAD
    // and its 405 fallback take the ordinary path, so it is added after `.layer` below.
    let hits_route = MethodRouter::new()
        .head(move || hits_head(head_state.clone()))
        .fallback(errors::method_not_allowed)
        .layer(layer.clone())
        .get_service(tower::Layer::layer(&layer, hits::HitsService::new(state)));
    Router::new()
        .route("/", get(page::page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(move || metrics_text(metrics_state.clone())))
        .route(
            "/calc",
            post(move |body| calc::submit(calc_producer.clone(), body)),
        )
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(layer)
        // HEAD would otherwise run the GET handler, which counts: HEAD must not change state.
        .route("/hits", hits_route)
        // Turns each handler into its layered route once, here. Without it axum does so on
        // every request (`axum::serve` does it once per connection): re-applying the layer
        // and re-resolving its metric handles cost ~3k instructions a request.
        .with_state(())
}

/// Serves `app` on `listener` with the default [`ServerConfig`] until `shutdown`
/// resolves; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ServerConfig::default(), shutdown).await
}

/// `HEAD /hits`: what `GET /hits` would answer for the current count, without counting.
async fn hits_head(state: AppState) -> axum::response::Response {
    let state = &state.inner;
    hits::count_response(state, state.store.get().await)
}

/// Liveness: the process answers. It does not touch the store, so an orchestrator does not
/// restart healthy replicas while a shared store is down (`/hits` reports that with 503).
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "pass" }))
}

async fn metrics_text(state: AppState) -> Result<impl IntoResponse, AppError> {
    let body = state.inner.metrics.encode()?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}
