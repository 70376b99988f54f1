//! The app's one middleware layer: body limit, request timeout, JSON errors and request
//! metrics, in a single service.
//!
//! Why hand-written rather than tower-http's `RequestBodyLimitLayer` + `TimeoutLayer` plus
//! two `from_fn` middlewares: axum boxes and clones the route service once per `layer`
//! call, and with four layers that cost ~4 µs of CPU per request on this machine — more
//! than half the cost of a hello-world response (docs/benchmarks.md). One layer doing
//! the four jobs costs one box.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use tower::{Layer, Service};

use crate::AppConfig;
use crate::errors::{ensure_json, json_error, needs_json};
use crate::metrics::{Metrics, RequestRecorder, RouteLabel};

/// What every request shares: the limits and the metrics registry.
#[derive(Clone)]
pub(crate) struct AppLayer {
    shared: Arc<Shared>,
}

struct Shared {
    config: Arc<AppConfig>,
    metrics: Arc<Metrics>,
}

impl AppLayer {
    pub(crate) fn new(config: Arc<AppConfig>, metrics: Arc<Metrics>) -> Self {
        Self {
            shared: Arc::new(Shared { config, metrics }),
        }
    }
}

impl<S> Layer<S> for AppLayer {
    type Service = AppService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AppService {
            inner,
            shared: Arc::clone(&self.shared),
            recorder: RequestRecorder::default(),
        }
    }
}

/// The service [`AppLayer`] wraps each route in.
#[derive(Clone)]
pub(crate) struct AppService<S> {
    inner: S,
    shared: Arc<Shared>,
    recorder: RequestRecorder,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for AppService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let limit = self.shared.config.body_limit_bytes;
        let route = RouteLabel::new(request.extensions().get::<MatchedPath>());
        let method = request.method().clone();
        // The inner service is called here, the one `poll_ready` readied, rather than
        // inside the future: that needs no clone of the route service (a heap allocation
        // per request) to move into the future, and the route's future owns what it needs.
        let call = match limit_body(&mut request, limit) {
            Ok(()) => Ok(self.inner.call(request)),
            Err(too_large) => Err(too_large),
        };
        let shared = Arc::clone(&self.shared);
        let recorder = self.recorder.clone();
        Box::pin(async move {
            let config = &shared.config;
            let response = match call {
                Err(BodyTooLarge) => json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "request body is larger than the limit of {} bytes",
                        config.body_limit_bytes
                    ),
                ),
                Ok(call) => match answer_within(config.request_timeout, call).await {
                    // The error path is boxed so that its state does not enlarge (and
                    // slow the moves of) every request's future.
                    Ok(Ok(response)) if needs_json(&response) => {
                        Box::pin(ensure_json(response)).await
                    }
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_elapsed) => json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!(
                            "request timed out after {} ms",
                            config.request_timeout.as_millis()
                        ),
                    ),
                },
            };
            recorder.record(
                &shared.metrics,
                route,
                &method,
                response.status(),
                started.elapsed(),
            );
            Ok(response)
        })
    }
}

/// `tokio::time::timeout`, with the timer armed only if `call` is not ready at its first
/// poll. Most answers are (an in-memory counter, the page, health), and creating and
/// dropping a timer is a clock read, a runtime-handle clone and a timer-wheel entry: a
/// large share of a hello-world request's cost (docs/benchmarks.md). The time of the first
/// poll, which does not wait for anything, is not counted against the limit.
async fn answer_within<F: Future>(
    limit: std::time::Duration,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut call = std::pin::pin!(call);
    let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        // Boxed: a timer's state is large, and only a request that waits needs it.
        Poll::Pending => Box::pin(tokio::time::timeout(limit, call)).await,
    }
}

/// The request declares a body larger than the limit.
struct BodyTooLarge;

/// Refuses a body whose declared length is over `limit` at once; a body of unknown
/// length (chunked) is wrapped so that reading past `limit` fails, which axum's body
/// extractors answer with 413.
fn limit_body(request: &mut Request, limit: usize) -> Result<(), BodyTooLarge> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(BodyTooLarge),
        Some(_) => Ok(()),
        None if request.body().is_end_stream() => Ok(()),
        None => {
            let body = std::mem::take(request.body_mut());
            *request.body_mut() = Body::new(http_body_util::Limited::new(body, limit));
            Ok(())
        }
    }
}
