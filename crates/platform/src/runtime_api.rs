//! The Lambda Runtime API, version 2018-06-01, for one instance.
//!
//! Each instance gets its own listener: `AWS_LAMBDA_RUNTIME_API` is only `host:port`, so the
//! port is what tells instances apart.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::body::{BodyError, read_body};
use crate::handoff::{Reply, Shared};
use crate::outcome::{ErrorCause, FunctionError};

/// Lambda's limit on a synchronous request or response payload: 6 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>), taken as
/// 6 MiB, the figure in Lambda's own `RequestTooLargeException` message.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Serves the Runtime API on `listener` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            // No body limit here: `response` enforces Lambda's own, with Lambda's answer.
            post(response).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
        .with_state(shared);
    if let Err(err) = axum::serve(listener, app).await {
        tracing::warn!(%err, "runtime API server stopped");
    }
}

/// `GET /runtime/invocation/next`: long-polls until an event is handed over.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.mark_ready();
    let mut rx = shared.events_rx.lock().await;
    let event = match shared.take_event_or_freeze(&mut rx) {
        Some(event) => event,
        None => match rx.recv().await {
            Some(event) => event,
            None => return StatusCode::GONE.into_response(),
        },
    };
    drop(rx);
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &event.request_id);
    put("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &event.function_arn);
    put("lambda-runtime-trace-id", &event.trace_id);
    // "Lambda-Runtime-Client-Context – For invocations from the AWS Mobile SDK, data
    // about the client application and device"
    // (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-next>):
    // the JSON the caller sent base64-encoded in Invoke's `X-Amz-Client-Context`, which
    // runtime clients parse into `context.client_context`.
    if let Some(context) = &event.client_context {
        put("lambda-runtime-client-context", context);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (StatusCode::OK, headers, event.payload).into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn invalid_request_id() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
    )
        .into_response()
}

/// `POST /runtime/invocation/{id}/response`. A body over [`MAX_PAYLOAD_BYTES`] is
/// refused with 413 `RequestEntityTooLarge`: the Runtime API documents 413 among the
/// answers of this call
/// (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-response>),
/// and `{"errorType":"RequestEntityTooLarge",…}` is the body Lambda sends with it,
/// and the invocation fails at once with `Function.ResponseSizeTooLarge`, whatever the
/// runtime does next. The answer reaches the runtime whether or not it waits for
/// `100 Continue` (curl sends `Expect: 100-continue` for large bodies): see
/// [`read_body`].
async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let body = read_body(&headers, body, MAX_PAYLOAD_BYTES, RESPONSE_READ_TIMEOUT).await;
    let body = match body {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let reply = Reply::Error(FunctionError::new(
                ErrorCause::ResponseTooLarge,
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
                ),
            ));
            return if shared.complete(&request_id, reply) {
                payload_too_large()
            } else {
                invalid_request_id()
            };
        }
        // The invocation's own timeout ends it; the runtime's connection is gone or stuck.
        Err(BodyError::TimedOut | BodyError::Failed) => {
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"errorMessage":"the response body was not received","errorType":"InvalidRequestContent"}"#,
            )
                .into_response();
        }
    };
    if shared.complete(&request_id, Reply::Response(body)) {
        accepted()
    } else {
        invalid_request_id()
    }
}

/// A runtime has this long to send its response body: Lambda's longest function timeout
/// (15 minutes). The invocation's own timeout ends it sooner.
const RESPONSE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn payload_too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({
            "errorMessage": format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."),
            "errorType": "RequestEntityTooLarge",
        })
        .to_string(),
    )
        .into_response()
}

fn error_type_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
}

/// `POST /runtime/invocation/{id}/error`.
async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let err = FunctionError::from_function(error_type_header(&headers), body);
    if shared.complete(&request_id, Reply::Error(err)) {
        accepted()
    } else {
        invalid_request_id()
    }
}

/// `POST /runtime/init/error`.
async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut err = FunctionError::from_function(error_type_header(&headers), body);
    err.cause = ErrorCause::Init;
    shared.fail_init(err);
    accepted()
}
