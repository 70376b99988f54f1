//! The API Gateway front: an HTTP API (payload format 2.0) in front of one function.
//!
//! Every request becomes a payload 2.0 event; the function's output (`statusCode`,
//! `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`, or bare JSON)
//! becomes the HTTP response, as HTTP APIs map it
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::query_map::QueryMap;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::body::{BodyError, read_body};
use crate::error::PlatformError;
use crate::invoke_api::invoke_router_with;
use crate::platform::PlatformHandle;

/// API Gateway's limit on a request payload (10 MB).
const MAX_GATEWAY_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What the API Gateway front serves besides the function.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// An HTML page answered at `GET /` instead of invoking the function (the original
    /// study served its page from S3 through such a route). `None` sends `GET /` to the
    /// function like every other request.
    pub index_page: Option<Bytes>,
    /// API Gateway's integration timeout: HTTP APIs wait at most 30 s for a Lambda
    /// integration (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html>),
    /// then answer 503. Default 30 s.
    pub integration_timeout: Duration,
    /// A request's body must arrive within this time of its head, or the request is
    /// answered 408 (the Invoke API: `RequestTimeoutException`). Default 30 s.
    pub body_read_timeout: Duration,
    /// The listener's connection limits: header-read and idle timeouts, connection cap
    /// (`latency serve`'s server loop, [`latency_app::serve_with`]). Default
    /// [`latency_app::ServerConfig::default`].
    pub server: latency_app::ServerConfig,
}

impl Default for GatewayOptions {
    fn default() -> GatewayOptions {
        GatewayOptions {
            index_page: None,
            integration_timeout: Duration::from_secs(30),
            body_read_timeout: crate::invoke_api::DEFAULT_BODY_READ_TIMEOUT,
            server: latency_app::ServerConfig::default(),
        }
    }
}

/// The API Gateway front for `function` (with the Invoke API) as a router. Needs
/// `ConnectInfo<SocketAddr>` (serve it with `into_make_service_with_connect_info`).
///
/// # Errors
/// [`PlatformError::UnknownFunction`].
pub fn gateway_router(
    platform: PlatformHandle,
    function: &str,
    options: GatewayOptions,
) -> Result<Router, PlatformError> {
    if !platform.has_function(function) {
        return Err(PlatformError::UnknownFunction(function.to_owned()));
    }
    let index_page = options.index_page.clone();
    let body_read_timeout = options.body_read_timeout;
    let gateway = Arc::new(Gateway {
        platform: platform.clone(),
        function: function.to_owned(),
        api_id: format!("{:010x}", fastrand::u64(..) & 0xff_ffff_ffff),
        options,
    });
    let mut front = Router::new();
    if let Some(page) = index_page {
        front = front.route("/", get(move || async move { Html(page) }));
    }
    let front = front
        .fallback(gateway_request)
        .layer(DefaultBodyLimit::max(MAX_GATEWAY_BODY_BYTES))
        .with_state(gateway);
    Ok(invoke_router_with(platform, body_read_timeout).merge(front))
}

struct Gateway {
    platform: PlatformHandle,
    function: String,
    api_id: String,
    options: GatewayOptions,
}

fn json_message(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// What HTTP APIs answer when the Lambda integration fails: a function error (its own
/// timeout included) or a response that is not valid payload 2.0 output gives 500
/// `{"message":"Internal Server Error"}`
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html>).
fn internal_server_error() -> Response {
    json_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

async fn gateway_request(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let read = read_body(
        &parts.headers,
        body,
        MAX_GATEWAY_BODY_BYTES,
        gateway.options.body_read_timeout,
    );
    let body = match read.await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return json_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        Err(BodyError::TimedOut) => {
            return json_message(StatusCode::REQUEST_TIMEOUT, "Request Timeout");
        }
        Err(BodyError::Failed) => return json_message(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let request_id = format!("{:016x}=", fastrand::u64(..));
    let event = build_event(&gateway, &parts, &body, peer, &request_id);
    let payload = match serde_json::to_vec(&event) {
        Ok(payload) => Bytes::from(payload),
        Err(_) => return internal_server_error(),
    };
    let invocation = gateway.platform.invoke(&gateway.function, payload);
    let outcome = match tokio::time::timeout(gateway.options.integration_timeout, invocation).await
    {
        Ok(Ok(outcome)) => outcome,
        // A throttle is expected under load: no log line per request.
        Ok(Err(PlatformError::Throttled { .. })) => return internal_server_error(),
        Ok(Err(err)) => {
            tracing::warn!(%err, "gateway: invocation failed");
            return internal_server_error();
        }
        // The invocation itself runs on (the platform finishes it); only the client's
        // wait ends, as with API Gateway.
        Err(_) => return json_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    };
    let mut response = match outcome.result {
        Ok(output) => function_response(&output).unwrap_or_else(internal_server_error),
        Err(_) => internal_server_error(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

/// The payload 2.0 event for one request.
// `..Default::default()` stays although every field is set today: the `catch-all-fields`
// feature of aws_lambda_events (unified in from any crate) adds one.
#[allow(clippy::needless_update)]
fn build_event(
    gateway: &Gateway,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
    request_id: &str,
) -> ApiGatewayV2httpRequest {
    // Payload 2.0: header names lower-case, repeated headers joined with commas, cookies
    // moved out of the headers into `cookies`.
    let mut headers = HeaderMap::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name == header::COOKIE {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
            headers.insert(name.clone(), value);
        }
    }
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let (body, is_base64_encoded) = if body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (Some(BASE64.encode(body)), true),
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    ApiGatewayV2httpRequest {
        version: Some("2.0".into()),
        route_key: Some("$default".into()),
        raw_path: Some(raw_path.clone()),
        raw_query_string: Some(raw_query.clone()),
        cookies: (!cookies.is_empty()).then_some(cookies),
        headers,
        query_string_parameters: parse_query(&raw_query),
        request_context: ApiGatewayV2httpRequestContext {
            route_key: Some("$default".into()),
            account_id: Some("000000000000".into()),
            stage: Some("$default".into()),
            request_id: Some(request_id.to_owned()),
            apiid: Some(gateway.api_id.clone()),
            domain_prefix: host.split('.').next().map(str::to_owned),
            domain_name: Some(host),
            time: Some(clf_time(now.as_secs())),
            time_epoch: now.as_millis() as i64,
            http: ApiGatewayV2httpRequestContextHttpDescription {
                method: parts.method.clone(),
                path: Some(raw_path),
                protocol: Some(format!("{:?}", parts.version)),
                source_ip: Some(peer.ip().to_string()),
                user_agent,
                ..Default::default()
            },
            ..Default::default()
        },
        body,
        is_base64_encoded,
        http_method: parts.method.clone(),
        ..Default::default()
    }
}

/// `a=1&b=2&a=3` → `{a: [1, 3], b: [2]}`, percent-decoded.
fn parse_query(raw: &str) -> QueryMap {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        map.entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    QueryMap::from(map)
}

/// `26/Nov/2025:20:01:02 +0000`, as API Gateway's `requestContext.time`.
fn clf_time(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = crate::util::civil_from_days((epoch_secs / 86_400) as i64);
    let secs = epoch_secs % 86_400;
    format!(
        "{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m as usize).saturating_sub(1) % 12],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The payload 2.0 response format.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionResponse {
    status_code: u16,
    #[serde(default)]
    headers: Option<HashMap<String, serde_json::Value>>,
    #[serde(default)]
    multi_value_headers: Option<HashMap<String, Vec<String>>>,
    #[serde(default)]
    cookies: Option<Vec<String>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

/// Turns the function's output into the HTTP response, or `None` when it is malformed.
/// Output that is valid JSON without `statusCode` is, as API Gateway infers, a 200
/// `application/json` body.
fn function_response(output: &[u8]) -> Option<Response> {
    let value: serde_json::Value = serde_json::from_slice(output).ok()?;
    if value.get("statusCode").is_none() {
        return Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Bytes::copy_from_slice(output),
            )
                .into_response(),
        );
    }
    let parsed: FunctionResponse = serde_json::from_value(value).ok()?;
    let status = StatusCode::from_u16(parsed.status_code).ok()?;
    let body = match (parsed.body, parsed.is_base64_encoded.unwrap_or(false)) {
        (None, _) => Bytes::new(),
        (Some(text), false) => Bytes::from(text),
        (Some(text), true) => Bytes::from(BASE64.decode(text.as_bytes()).ok()?),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, values) in parsed.multi_value_headers.unwrap_or_default() {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        for value in values {
            headers.append(name.clone(), HeaderValue::from_str(&value).ok()?);
        }
    }
    for (name, value) in parsed.headers.unwrap_or_default() {
        let value = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => return None,
        };
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(&value).ok()?,
        );
    }
    for cookie in parsed.cookies.unwrap_or_default() {
        headers.append(header::SET_COOKIE, HeaderValue::from_str(&cookie).ok()?);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_decoded() {
        let q = parse_query("a=1&b=x%20y&a=3&flag");
        assert_eq!(q.all("a"), Some(vec!["1", "3"]));
        assert_eq!(q.first("b"), Some("x y"));
        assert_eq!(q.first("flag"), Some(""));
        assert_eq!(parse_query("p=100%").first("p"), Some("100%"));
    }

    #[test]
    fn responses_follow_payload_2() {
        let ok = function_response(
            br#"{"statusCode":201,"headers":{"x-a":"1"},"cookies":["c=1"],"body":"hi"}"#,
        )
        .expect("valid");
        assert_eq!(ok.status(), StatusCode::CREATED);
        assert_eq!(ok.headers()["x-a"], "1");
        assert_eq!(ok.headers()[header::SET_COOKIE], "c=1");
        let inferred = function_response(br#"{"hello":"world"}"#).expect("inferred");
        assert_eq!(inferred.status(), StatusCode::OK);
        assert!(function_response(b"not json").is_none());
        assert!(function_response(br#"{"statusCode":"abc"}"#).is_none());
        assert!(function_response(br#"{"statusCode":99999}"#).is_none());
        let binary =
            function_response(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#);
        assert!(binary.is_some());
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
    }
}
