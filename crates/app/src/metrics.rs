//! Prometheus metrics: request counts and latency by route, and store-operation latency.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A route *pattern* as a label value: the router's matched path (an `Arc<str>` inside, so
/// cloning it does not allocate), or `unmatched`. Never the raw path, so unknown paths
/// cannot grow the label set without bound.
#[derive(Clone, Debug)]
pub(crate) struct RouteLabel(Option<MatchedPath>);

impl RouteLabel {
    pub(crate) fn new(matched: Option<&MatchedPath>) -> Self {
        Self(matched.cloned())
    }

    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl Hash for RouteLabel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: RouteLabel,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: RouteLabel,
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

    /// The histogram for one store operation's latency, resolved once so that the hot
    /// path does not hash labels.
    pub fn store_operation(
        &self,
        backend: &'static str,
        operation: &'static str,
    ) -> StoreOperationTimer {
        let handle = |outcome| {
            self.store_seconds
                .get_or_create(&StoreLabels {
                    backend,
                    operation,
                    outcome,
                })
                .clone()
        };
        StoreOperationTimer {
            ok: handle("ok"),
            error: handle("error"),
        }
    }

    /// Counts one answered request and records how long it took.
    fn record_request(
        &self,
        route: RouteLabel,
        method: &'static str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: status.as_u16(),
            })
            .inc();
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

/// The latency histograms of one store operation, by outcome.
#[derive(Clone)]
pub struct StoreOperationTimer {
    ok: Histogram,
    error: Histogram,
}

impl StoreOperationTimer {
    /// Records one operation that took `elapsed` and succeeded or not.
    pub fn record(&self, ok: bool, elapsed: Duration) {
        let histogram = if ok { &self.ok } else { &self.error };
        histogram.observe(elapsed.as_secs_f64());
    }
}

/// Request metrics for one service instance of the router. axum applies a layer to every
/// (route, method) endpoint separately, so an instance nearly always sees one route and
/// method: their handles are resolved on the first request and reused, and anything else
/// takes the general path through the label maps.
#[derive(Clone, Default)]
pub(crate) struct RequestRecorder {
    hot: Arc<OnceLock<HotHandles>>,
}

struct HotHandles {
    route: RouteLabel,
    method: &'static str,
    duration: Histogram,
    ok: Counter,
}

impl RequestRecorder {
    pub(crate) fn record(
        &self,
        metrics: &Metrics,
        route: RouteLabel,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        let hot = self.hot.get_or_init(|| HotHandles {
            duration: metrics
                .request_seconds
                .get_or_create(&RouteLabels {
                    route: route.clone(),
                })
                .clone(),
            ok: metrics
                .requests
                .get_or_create(&RequestLabels {
                    route: route.clone(),
                    method,
                    status: StatusCode::OK.as_u16(),
                })
                .clone(),
            route: route.clone(),
            method,
        });
        if hot.route != route || hot.method != method {
            metrics.record_request(route, method, status, elapsed);
            return;
        }
        hot.duration.observe(elapsed.as_secs_f64());
        if status == StatusCode::OK {
            hot.ok.inc();
        } else {
            metrics
                .requests
                .get_or_create(&RequestLabels {
                    route,
                    method,
                    status: status.as_u16(),
                })
                .inc();
        }
    }
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
