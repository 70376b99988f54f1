//! Every error the app returns is JSON: `{"error": "…"}` with the right status code.
//!
//! | status | when |
//! |---|---|
//! | 404 | no route for the path |
//! | 405 | the path exists but not for this method (an `Allow` header lists the methods) |
//! | 413 | the body is larger than [`AppConfig::body_limit_bytes`](crate::AppConfig) |
//! | 503 | the counter store failed, or the request timed out |
//! | 400, 414, 431 | hyper could not parse the request head (answered by the server loop) |
//!
//! A 5xx body never carries internals; the details go to the log.

use axum::Json;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use latency_store::StoreError;

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
    /// The JSON 503. A store failure is not logged here: the handler that saw it logs it
    /// through a rate limit, so that an outage does not write one line per request.
    fn into_response(self) -> Response {
        let message = match &self {
            AppError::Store(_) => "the counter store is unavailable; try again shortly",
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

/// The fallback for paths no route matches: a JSON 404 that names the request.
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        &format!("no route for {method} {}", shorten(uri.path())),
    )
}

/// The fallback for a known path with the wrong method: a JSON 405 (axum adds `Allow`).
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed on {}", shorten(uri.path())),
    )
}

/// Gives an error response that is not JSON yet (an extractor's rejection, say) a JSON
/// body that keeps its message. Other responses pass through untouched, headers included.
pub(crate) async fn ensure_json(response: Response) -> Response {
    if !needs_json(&response) {
        return response;
    }
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    // Rejection messages are short; anything longer is cut rather than buffered.
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() || status.is_server_error() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let json = json_error(status, &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json.headers().clone());
    Response::from_parts(parts, json.into_body())
}

/// Whether [`ensure_json`] would change `response`: an error answer that is not JSON.
pub(crate) fn needs_json(response: &Response) -> bool {
    let status = response.status();
    (status.is_client_error() || status.is_server_error()) && !is_json(response)
}

const MAX_MESSAGE_BYTES: usize = 1024;

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

/// If `head` is hyper's own answer to a request head it could not parse (a `4xx` status
/// line and no `content-type`: every answer of the app has one), the JSON answer to write
/// instead, with `connection: close` (hyper closes the connection after it).
///
/// Cheap on the hot path: a success answer fails the first comparison.
pub(crate) fn json_parse_error_answer(
    head: &[u8],
    answer_for: crate::server::ParseErrorAnswer,
) -> Option<Vec<u8>> {
    const PREFIX: &[u8] = b"HTTP/1.1 4";
    if !head.starts_with(PREFIX) {
        return None;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&head[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut kept = Vec::new();
    for line in lines {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "content-type" => return None, // the app's own answer
            "content-length" | "connection" => {}
            _ => kept.push(line),
        }
    }
    let code: u16 = status_line.get(9..12)?.parse().ok()?;
    let message = match code {
        400 => "malformed HTTP request",
        414 => "the request URI is too long",
        431 => "the request header fields are too large",
        _ => StatusCode::from_u16(code)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("request failed"),
    };
    let (extra, body) = answer_for(code, message);
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in extra {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}
