//! Prometheus metrics: request counts and latency by route, and store-operation latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    backend: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 10 µs to about 5 s, doubling: wide enough for an in-memory
/// counter and for a cloud store behind a slow network.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 2.0, 20))
}

/// The app's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<RouteLabels>,
    store_seconds: HistogramFamily<StoreLabels>,
}

impl Metrics {
    /// An empty registry with the app's metrics registered.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let store_seconds = HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let mut registry = Registry::with_prefix("latency");
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by route",
            request_seconds.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Counter-store operation latency, by backend, operation and outcome",
            store_seconds.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            store_seconds,
        }
    }

    /// Records one store operation's latency.
    pub fn record_store_operation(
        &self,
        backend: &'static str,
        operation: &'static str,
        ok: bool,
        elapsed: Duration,
    ) {
        let outcome = if ok { "ok" } else { "error" };
        self.store_seconds
            .get_or_create(&StoreLabels {
                backend,
                operation,
                outcome,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in OpenMetrics text format, which Prometheus scrapes.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware that counts every request and times it, labelled by the route *pattern*
/// (never the raw path, so unknown paths cannot grow the label set without bound).
pub(crate) async fn record_request(
    State(metrics): State<Arc<Metrics>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .request_seconds
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
