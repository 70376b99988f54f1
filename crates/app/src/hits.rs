//! `GET /hits`, the request every benchmark measures, as a plain service: no handler box,
//! and no future box at all when the store answers at once (`memory://`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use latency_store::StoreError;

use crate::{AppError, AppState, StateInner};

/// Counts one hit in the store and answers the new count (`200 text/plain`), or a JSON 503
/// when the store fails.
#[derive(Clone)]
pub(crate) struct HitsService {
    state: Arc<StateInner>,
}

impl HitsService {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state: state.inner }
    }
}

impl tower::Service<Request> for HitsService {
    type Response = Response;
    type Error = Infallible;
    type Future = HitsFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request) -> HitsFuture {
        let state = &self.state;
        let started = Instant::now();
        if let Some(outcome) = state.store.incr_now() {
            state.store_incr.record(outcome.is_ok(), started.elapsed());
            return HitsFuture::Ready(Some(count_response(state, outcome)));
        }
        let state = Arc::clone(state);
        HitsFuture::Waiting(Box::pin(async move {
            let outcome = state.store.incr().await;
            state.store_incr.record(outcome.is_ok(), started.elapsed());
            count_response(&state, outcome)
        }))
    }
}

/// The answer of [`HitsService`]: ready at once, or waiting for the store.
pub(crate) enum HitsFuture {
    /// `None` once taken.
    Ready(Option<Response>),
    Waiting(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for HitsFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            HitsFuture::Ready(response) => Poll::Ready(Ok(response
                .take()
                .expect("HitsFuture polled after completion"))),
            HitsFuture::Waiting(call) => call.as_mut().poll(cx).map(Ok),
        }
    }
}

/// The answer for a store call's outcome: the count as `text/plain`, or the JSON 503 (the
/// failure logged through the state's rate limit).
pub(crate) fn count_response(state: &StateInner, outcome: Result<u64, StoreError>) -> Response {
    let count = match outcome {
        Ok(count) => count,
        Err(err) => {
            state.store_warning.warn(|suppressed| {
                tracing::warn!(error = %err, suppressed, "store operation failed");
            });
            return AppError::from(err).into_response();
        }
    };
    // Built directly: `([(name, value); 2], String)` inserts the content type twice
    // (once for the String, once from the array) through axum's generic header parts.
    let mut response = Response::new(Body::from(count.to_string()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
