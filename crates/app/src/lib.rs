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
//!
//! Every error is JSON, `{"error": "…"}`, with its status code (see [`errors`]).

pub mod errors;
mod metrics;
mod page;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use latency_store::SharedStore;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use errors::AppError;
pub use metrics::Metrics;

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
#[derive(Clone)]
pub struct AppState {
    store: SharedStore,
    metrics: Arc<Metrics>,
    config: Arc<AppConfig>,
}

impl AppState {
    /// State for an app counting in `store`, with fresh metrics.
    pub fn new(store: SharedStore, config: AppConfig) -> Self {
        Self {
            store,
            metrics: Arc::new(Metrics::new()),
            config: Arc::new(config),
        }
    }

    /// The metrics this app records, e.g. to read them in tests.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The app's HTTP routes with their middleware: request metrics, JSON errors, the body
/// limit and the request timeout. Every runtime serves this same router.
pub fn router(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    Router::new()
        .route("/", get(page::page))
        .route("/hits", get(hits))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&config),
            errors::json_errors,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            metrics::record_request,
        ))
        .with_state(state)
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

async fn hits(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let started = Instant::now();
    let outcome = state.store.incr().await;
    state.metrics.record_store_operation(
        state.store.backend(),
        "incr",
        outcome.is_ok(),
        started.elapsed(),
    );
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

async fn metrics_text(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let body = state.metrics.encode()?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}
