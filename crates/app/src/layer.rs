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
use axum::http::{Method, StatusCode, header};
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

impl<S> Service<Request> for AppService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AppFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let route = RouteLabel::new(request.extensions().get::<MatchedPath>());
        let method = request.method().clone();
        // The inner service is called here, the one `poll_ready` readied, rather than
        // inside the future: that needs no clone of the route service (a heap allocation
        // per request) to move into the future, and the route's future owns what it needs.
        let stage = match limit_body(&mut request, self.shared.config.body_limit_bytes) {
            Ok(()) => Stage::Call(self.inner.call(request)),
            Err(BodyTooLarge) => Stage::Answer(Some(body_too_large(&self.shared.config))),
        };
        AppFuture {
            stage,
            timer: None,
            started,
            route: Some(route),
            method,
            shared: Arc::clone(&self.shared),
            recorder: self.recorder.clone(),
        }
    }
}

/// The response future of [`AppService`]: a named type rather than a boxed `async` block,
/// which saves a heap allocation and a dynamic call per request.
pub(crate) struct AppFuture<F> {
    stage: Stage<F>,
    /// The request timeout, armed only if the call is not ready at its first poll. Most
    /// answers are (an in-memory counter, the page, health), and creating and dropping a
    /// timer is a runtime-handle clone and a timer-wheel entry: a large share of a
    /// hello-world request's cost (docs/benchmarks.md). The time of the first poll, which
    /// does not wait for anything, is not counted against the limit. Boxed: a timer's state
    /// is large, and only a request that waits needs it.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    started: Instant,
    /// Taken when the answer is recorded.
    route: Option<RouteLabel>,
    method: Method,
    shared: Arc<Shared>,
    recorder: RequestRecorder,
}

enum Stage<F> {
    /// Waiting for the route's answer.
    Call(F),
    /// Rewriting an error answer as JSON. Boxed: a rare path whose state should not
    /// enlarge (and slow the moves of) every request's future.
    Json(Pin<Box<dyn Future<Output = Response> + Send>>),
    /// An answer made without the route (413, 503); `None` once taken.
    Answer(Option<Response>),
}

impl<F> Future for AppFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = loop {
            match &mut this.stage {
                Stage::Call(call) => match Pin::new(call).poll(cx) {
                    Poll::Ready(Ok(response)) if needs_json(&response) => {
                        this.stage = Stage::Json(Box::pin(ensure_json(response)));
                    }
                    Poll::Ready(Ok(response)) => break response,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => {
                        let limit = this.shared.config.request_timeout;
                        let timer = this
                            .timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                        std::task::ready!(timer.as_mut().poll(cx));
                        // Out of time: the call is dropped now, not with the future.
                        this.stage = Stage::Answer(None);
                        break json_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            &format!("request timed out after {} ms", limit.as_millis()),
                        );
                    }
                },
                Stage::Json(rewrite) => break std::task::ready!(rewrite.as_mut().poll(cx)),
                Stage::Answer(answer) => {
                    break answer.take().expect("AppFuture polled after completion");
                }
            }
        };
        let route = this
            .route
            .take()
            .expect("AppFuture polled after completion");
        this.recorder.record(
            &this.shared.metrics,
            route,
            &this.method,
            response.status(),
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}

fn body_too_large(config: &AppConfig) -> Response {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "request body is larger than the limit of {} bytes",
            config.body_limit_bytes
        ),
    )
}

/// The request declares a body larger than the limit.
struct BodyTooLarge;

/// Refuses a body whose declared length is over `limit` at once; a body of unknown
/// length (chunked) is wrapped so that reading past `limit` fails, which axum's body
/// extractors answer with 413.
fn limit_body(request: &mut Request, limit: usize) -> Result<(), BodyTooLarge> {
    // Most requests have no body: nothing to limit, and no header to look up.
    if request.body().is_end_stream() {
        return Ok(());
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(BodyTooLarge),
        Some(_) => Ok(()),
        None => {
            let body = std::mem::take(request.body_mut());
            *request.body_mut() = Body::new(http_body_util::Limited::new(body, limit));
            Ok(())
        }
    }
}
