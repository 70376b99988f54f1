//! Every error the app returns is JSON: `{"error": "…"}` with the right status code.
//!
//! | status | when |
//! |---|---|
//! | 404 | no route for the path |
//! | 405 | the path exists but not for this method (an `Allow` header lists the methods) |
//! | 413 | the body is larger than [`AppConfig::body_limit_bytes`](crate::AppConfig) |
//! | 503 | the counter store failed, or the request timed out |
//!
//! A 5xx body never carries internals; the details go to the log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latency_store::StoreError;

use crate::AppConfig;

/// A failure inside a handler.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The counter store could not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metrics could not be encoded.
    #[error("cannot encode metrics: {0}")]
    Metrics(#[from] std::fmt::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let message = match &self {
            AppError::Store(err) => {
                tracing::warn!(error = %err, "store operation failed");
                "the counter store is unavailable; try again shortly"
            }
            AppError::Metrics(err) => {
                tracing::error!(error = %err, "metrics encoding failed");
                "metrics are unavailable"
            }
        };
        json_error(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

/// A JSON error response: `{"error": message}`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Middleware that gives every error response produced outside the handlers (routing,
/// the body limit, the timeout) a JSON body that says what went wrong. Responses that are
/// already JSON pass through untouched, and so do headers such as `Allow`.
pub(crate) async fn json_errors(
    State(config): State<Arc<AppConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => format!("no route for {method} {}", shorten(&path)),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("method {method} is not allowed on {}", shorten(&path))
        }
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "request body is larger than the limit of {} bytes",
            config.body_limit_bytes
        ),
        StatusCode::SERVICE_UNAVAILABLE => format!(
            "request timed out after {} ms",
            config.request_timeout.as_millis()
        ),
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    let mut json = json_error(status, &message);
    if method == Method::HEAD {
        *json.body_mut() = axum::body::Body::empty();
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json.headers().clone());
    Response::from_parts(parts, json.into_body())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Keeps an echoed path short enough for a log line or an error message.
fn shorten(path: &str) -> &str {
    const MAX: usize = 200;
    if path.len() <= MAX {
        return path;
    }
    let mut end = MAX;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}
