//! The counter web app that every architecture runs.
//!
//! [`router`] builds the one HTTP application; the `latency serve` server, the Lambda
//! function and the lab's replicas all serve it unchanged:
//!
//! | request | response |
//! |---|---|
//! | `GET /` | the page (embedded in the binary) |
//! | `GET /hits` | `200 text/plain`: the new count |
//! | `GET /healthz` | `200 {"status":"pass"}` |
//! | `GET /metrics` | Prometheus (OpenMetrics) text |
//! | `POST /calc {"x": s}` | `202 {"id": …}`: a job enqueued (see [`calc`]) |
//!
//! Every error is JSON, `{"error": "…"}`, with its status code (see [`errors`]).

pub mod calc;
pub mod errors;
mod layer;
mod metrics;
mod page;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use latency_store::SharedStore;
use tokio::net::TcpListener;

pub use errors::AppError;
pub use metrics::{Metrics, StoreOperationTimer};
pub use page::PAGE;

/// Limits that protect the app from slow or oversized requests.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// A request that has not been answered after this long gets a 503.
    pub request_timeout: Duration,
    /// A request body larger than this many bytes gets a 413.
    pub body_limit_bytes: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_limit_bytes: 16 * 1024,
        }
    }
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
    let hits_state = state.clone();
    let calc_producer = state.calc.clone();
    let metrics_state = state;
    Router::new()
        .route("/", get(page::page))
        .route("/hits", get(move || hits(hits_state.clone())))
        .route("/healthz", get(healthz))
        .route("/metrics", get(move || metrics_text(metrics_state.clone())))
        .route(
            "/calc",
            post(move |body| calc::submit(calc_producer.clone(), body)),
        )
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(layer)
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
/// connections, lets requests in flight finish, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Small responses must not wait for Nagle's algorithm.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn hits(state: AppState) -> Result<impl IntoResponse, AppError> {
    let state = &state.inner;
    let started = Instant::now();
    let outcome = state.store.incr().await;
    state.store_incr.record(outcome.is_ok(), started.elapsed());
    let count = outcome?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        count.to_string(),
    ))
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
