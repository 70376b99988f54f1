//! Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), for
//! aws-sdk-lambda, the AWS CLI and any HTTP client
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::body::{BodyError, read_body};
use crate::error::PlatformError;
use crate::platform::{InvokeOptions, PlatformHandle};
use crate::runtime_api::MAX_PAYLOAD_BYTES;

/// How long a caller has to send an Invoke request's body, by default.
pub(crate) const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The Invoke API as a router, to embed in another server, with a 30 s body-read
/// timeout.
pub fn invoke_router(platform: PlatformHandle) -> Router {
    invoke_router_with(platform, DEFAULT_BODY_READ_TIMEOUT)
}

#[derive(Clone)]
struct InvokeState {
    platform: PlatformHandle,
    body_read_timeout: Duration,
}

/// The Invoke API as a router: a body not received within `body_read_timeout` is
/// answered with 408 `RequestTimeoutException`.
pub(crate) fn invoke_router_with(platform: PlatformHandle, body_read_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions/{function}/invocations",
            // Another method on Invoke's path is answered as every Invoke error is: JSON
            // with `x-amzn-ErrorType`, not axum's empty 405.
            post(invoke_api).fallback(method_not_allowed),
        )
        // `invoke_api` enforces Lambda's limit itself, with Lambda's error.
        .layer(DefaultBodyLimit::disable())
        .with_state(InvokeState {
            platform,
            body_read_timeout,
        })
}

/// Any path that is not an Invoke API operation, on the Invoke-only front.
pub(crate) async fn unknown_operation(uri: axum::http::Uri) -> Response {
    aws_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!("{} is not an operation of this API", uri.path()),
        &call_id(),
    )
}

async fn method_not_allowed(method: axum::http::Method) -> Response {
    let mut response = aws_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "UnknownOperationException",
        &format!("{method} is not an operation on this path: Invoke is POST"),
        &call_id(),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The answer to a request hyper itself could not parse (a bad `Content-Length`, a
/// header section too large), on the platform's fronts: JSON with `x-amzn-ErrorType`,
/// readable both as an Invoke error (`Type`, `message`) and as an API Gateway one
/// (`message`).
pub(crate) fn parse_error_answer(
    status: u16,
    message: &str,
) -> (Vec<(&'static str, String)>, String) {
    let error_type = match status {
        413 | 414 | 431 => "RequestTooLargeException",
        400..=499 => "InvalidRequestContentException",
        _ => "ServiceException",
    };
    (
        vec![
            ("x-amzn-errortype", error_type.to_owned()),
            ("x-amzn-requestid", call_id()),
        ],
        serde_json::json!({ "Type": "User", "Message": message, "message": message }).to_string(),
    )
}

/// Invoke's `ClientContext` is "up to 3,583 bytes of base64-encoded data"
/// (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>).
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// `X-Amz-Client-Context`: base64 of a JSON object, decoded for the runtime's
/// `Lambda-Runtime-Client-Context`: re-serialised on one line, with every non-ASCII
/// character as a `\uXXXX` escape, so that it is a valid header value as it is and
/// means the same JSON.
fn client_context(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get("x-amz-client-context") else {
        return Ok(None);
    };
    if value.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes of base64, got {}",
            value.len()
        ));
    }
    let json = BASE64
        .decode(value.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter(serde_json::Value::is_object)
        .ok_or("Client context must be a valid Base64-encoded JSON object.")?;
    Ok(Some(ascii_json(&json.to_string())))
}

/// `json` with each non-ASCII character written as JSON's `\uXXXX` escape (a surrogate
/// pair above U+FFFF). Such characters occur only inside strings, where the escape means
/// the same character.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `my-fn`, `my-fn:$LATEST`, `arn:aws:lambda:region:acct:function:my-fn[:qualifier]` or
/// `acct:function:my-fn` → `my-fn`.
fn function_name(identifier: &str) -> &str {
    let parts: Vec<&str> = identifier.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts.first().copied().unwrap_or(identifier),
    }
}

/// An Invoke API error as AWS sends it: the type in `x-amzn-ErrorType` and in the JSON
/// body's `Type`/`message` (what the SDKs and the CLI parse).
fn aws_error(status: StatusCode, error_type: &str, message: &str, request_id: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (HeaderName::from_static("x-amzn-errortype"), error_type),
            (HeaderName::from_static("x-amzn-requestid"), request_id),
        ],
        serde_json::json!({ "Type": "User", "Message": message, "message": message }).to_string(),
    )
        .into_response()
}

fn call_id() -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u64(..) & 0xffff_ffff_ffff
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /2015-03-31/functions/{function}/invocations`. Errors carry Invoke's
/// documented types and statuses: `ResourceNotFoundException` 404,
/// `RequestTooLargeException` 413 (payload over 6 MB),
/// `InvalidRequestContentException` 400 (payload not JSON),
/// `InvalidParameterValueException` 400, `TooManyRequestsException` 429 (reserved
/// concurrency reached), `ServiceException` 500. A function error is a
/// 200 with `X-Amz-Function-Error: Unhandled`; `X-Amz-Log-Type: Tail` adds the last 4 KB
/// of the invocation's log, base64, in `X-Amz-Log-Result`.
async fn invoke_api(
    State(state): State<InvokeState>,
    Path(function): Path<String>,
    request_headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let platform = state.platform;
    let call_id = call_id();
    let name = function_name(&function).to_owned();
    if !platform.has_function(&name) {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {function}"),
            &call_id,
        );
    }
    let payload = match read_body(
        &request_headers,
        body,
        MAX_PAYLOAD_BYTES,
        state.body_read_timeout,
    )
    .await
    {
        Ok(payload) => payload,
        Err(BodyError::TooLarge) => {
            return aws_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                &format!(
                    "Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
                ),
                &call_id,
            );
        }
        Err(BodyError::TimedOut) => {
            return aws_error(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeoutException",
                &format!(
                    "the request body was not received within {:?}",
                    state.body_read_timeout
                ),
                &call_id,
            );
        }
        Err(BodyError::Failed) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "the request body could not be read",
                &call_id,
            );
        }
    };
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload is not valid JSON",
            &call_id,
        );
    } else {
        payload
    };
    let tail = match header_str(&request_headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("Unsupported log type {other}: expected None or Tail"),
                &call_id,
            );
        }
    };
    let client_context = match client_context(&request_headers) {
        Ok(context) => context,
        Err(message) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &message,
                &call_id,
            );
        }
    };
    let options = InvokeOptions {
        // One id per invocation: the id Invoke answers is the `aws_request_id` the
        // function sees and the id in its REPORT line.
        request_id: Some(call_id.clone()),
        client_context,
    };
    match header_str(&request_headers, "x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => {}
        "Event" => {
            return match platform.invoke_async(&name, payload, options) {
                Ok(request_id) => (
                    StatusCode::ACCEPTED,
                    [(HeaderName::from_static("x-amzn-requestid"), request_id)],
                )
                    .into_response(),
                Err(err @ PlatformError::AsyncQueueFull { .. }) => aws_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    &format!("Rate Exceeded: {err}"),
                    &call_id,
                ),
                Err(err) => aws_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    &err.to_string(),
                    &call_id,
                ),
            };
        }
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        other => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("Unsupported invocation type {other}"),
                &call_id,
            );
        }
    }
    let outcome = match platform.invoke_with(&name, payload, options).await {
        Ok(outcome) => outcome,
        Err(err @ PlatformError::Throttled { .. }) => {
            return aws_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                &format!("Rate Exceeded: {err}"),
                &call_id,
            );
        }
        Err(err) => {
            return aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &err.to_string(),
                &call_id,
            );
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Ok(value) = HeaderValue::from_str(outcome.request_id()) {
        headers.insert("x-amzn-requestid", value);
    }
    if tail && let Ok(value) = HeaderValue::from_str(&BASE64.encode(outcome.log_tail())) {
        headers.insert("x-amz-log-result", value);
    }
    let body = match outcome.result {
        Ok(body) => body,
        Err(err) => {
            headers.insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            err.body
        }
    };
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_is_ascii_json_meaning_the_same() {
        let mut headers = HeaderMap::new();
        let context = r#"{"custom":{"name":"café 🚀","n":1}}"#;
        headers.insert(
            "x-amz-client-context",
            HeaderValue::from_str(&BASE64.encode(context)).expect("header"),
        );
        let decoded = client_context(&headers).expect("valid").expect("present");
        assert!(decoded.is_ascii(), "{decoded}");
        assert!(HeaderValue::from_str(&decoded).is_ok());
        let back: serde_json::Value = serde_json::from_str(&decoded).expect("JSON");
        assert_eq!(back["custom"]["name"], "café 🚀");
        headers.insert(
            "x-amz-client-context",
            HeaderValue::from_static("bm90IGpzb24="),
        );
        assert!(client_context(&headers).is_err(), "base64 of `not json`");
    }

    #[test]
    fn function_names_from_arns() {
        assert_eq!(function_name("hits"), "hits");
        assert_eq!(function_name("hits:$LATEST"), "hits");
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-2:000000000000:function:hits"),
            "hits"
        );
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-2:000000000000:function:hits:1"),
            "hits"
        );
        assert_eq!(function_name("000000000000:function:hits"), "hits");
    }
}
