//! The HTTP fronts: an API Gateway HTTP API (payload format 2.0) in front of one function,
//! and Lambda's Invoke API for any function.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::query_map::QueryMap;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::PlatformError;
use crate::outcome::ErrorCause;
use crate::platform::{Platform, PlatformHandle};
use crate::runtime_api::MAX_PAYLOAD_BYTES;

/// API Gateway's limit on a request payload.
const MAX_GATEWAY_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A running front: its bound address, and how to stop it.
pub struct FrontServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FrontServer {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, for clients and SDK endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for requests in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for FrontServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn spawn_server(
    listener: TcpListener,
    router: Router,
    what: &'static str,
) -> Result<FrontServer, PlatformError> {
    let addr = listener
        .local_addr()
        .map_err(|source| PlatformError::Bind { what, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(err) = axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
        {
            tracing::warn!(%err, "front stopped");
        }
    });
    Ok(FrontServer {
        addr,
        stop: Some(stop),
        task,
    })
}

impl Platform {
    /// Serves, on `listener`, an API Gateway HTTP API in front of `function`:
    /// `GET /` returns the app's page (as the original study's S3 proxy route did), the
    /// Invoke API answers under `/2015-03-31/functions/`, and every other request becomes
    /// a payload 2.0 event for `function`, whose response (`statusCode`, `headers`,
    /// `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`) becomes the HTTP
    /// response. A function error or a malformed response gives 502
    /// `{"message":"Internal Server Error"}`, a timeout 503
    /// `{"message":"Service Unavailable"}`, as API Gateway does.
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], or [`PlatformError::Bind`] when the listener's
    /// address cannot be read.
    pub async fn serve_gateway(
        &self,
        function: &str,
        listener: TcpListener,
    ) -> Result<FrontServer, PlatformError> {
        let router = gateway_router(self.handle(), function)?;
        spawn_server(listener, router, "the API Gateway front").await
    }

    /// Serves only Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`)
    /// on `listener`, for aws-sdk-lambda and the AWS CLI.
    ///
    /// # Errors
    /// [`PlatformError::Bind`] when the listener's address cannot be read.
    pub async fn serve_invoke_api(
        &self,
        listener: TcpListener,
    ) -> Result<FrontServer, PlatformError> {
        spawn_server(listener, invoke_router(self.handle()), "the Invoke API").await
    }
}

/// The Invoke API as a router, to embed in another server.
pub fn invoke_router(platform: PlatformHandle) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(invoke_api),
        )
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
        .with_state(platform)
}

/// The API Gateway front for `function` (with the Invoke API) as a router. Needs
/// `ConnectInfo<SocketAddr>` (serve it with `into_make_service_with_connect_info`).
///
/// # Errors
/// [`PlatformError::UnknownFunction`].
pub fn gateway_router(platform: PlatformHandle, function: &str) -> Result<Router, PlatformError> {
    if !platform.has_function(function) {
        return Err(PlatformError::UnknownFunction(function.to_owned()));
    }
    let gateway = Arc::new(Gateway {
        platform: platform.clone(),
        function: function.to_owned(),
        api_id: format!("{:010x}", fastrand::u64(..) & 0xff_ffff_ffff),
    });
    let front = Router::new()
        .route("/", get(page))
        .fallback(gateway_request)
        .layer(DefaultBodyLimit::max(MAX_GATEWAY_BODY_BYTES))
        .with_state(gateway);
    Ok(invoke_router(platform).merge(front))
}

struct Gateway {
    platform: PlatformHandle,
    function: String,
    api_id: String,
}

async fn page() -> Html<&'static str> {
    Html(latency_app::PAGE)
}

fn json_message(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn bad_gateway() -> Response {
    json_message(StatusCode::BAD_GATEWAY, "Internal Server Error")
}

async fn gateway_request(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_GATEWAY_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return json_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let request_id = format!("{:016x}=", fastrand::u64(..));
    let event = build_event(&gateway, &parts, &body, peer, &request_id);
    let payload = match serde_json::to_vec(&event) {
        Ok(payload) => Bytes::from(payload),
        Err(_) => return bad_gateway(),
    };
    let outcome = match gateway.platform.invoke(&gateway.function, payload).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::warn!(%err, "gateway: invocation failed");
            return json_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    };
    let mut response = match outcome.result {
        Ok(output) => function_response(&output).unwrap_or_else(bad_gateway),
        Err(err) if err.cause == ErrorCause::Timeout => {
            json_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(_) => bad_gateway(),
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
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(key))
            .or_default()
            .push(percent_decode(value));
    }
    QueryMap::from(map)
}

fn percent_decode(text: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `26/Nov/2025:20:01:02 +0000`, as API Gateway's `requestContext.time`.
fn clf_time(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = crate::instance::civil_from_days((epoch_secs / 86_400) as i64);
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

/// `my-fn`, `my-fn:$LATEST`, `arn:aws:lambda:region:acct:function:my-fn[:qualifier]` or
/// `acct:function:my-fn` → `my-fn`.
fn function_name(identifier: &str) -> &str {
    let parts: Vec<&str> = identifier.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts.first().copied().unwrap_or(identifier),
    }
}

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

/// `POST /2015-03-31/functions/{function}/invocations`.
async fn invoke_api(
    State(platform): State<PlatformHandle>,
    Path(function): Path<String>,
    method_headers: HeaderMap,
    payload: Bytes,
) -> Response {
    let name = function_name(&function).to_owned();
    let call_id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u64(..) & 0xffff_ffff_ffff
    );
    let Some(arn) = platform.function_arn(&name) else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {function}"),
            &call_id,
        );
    };
    let invocation_type = method_headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        payload
    };
    match invocation_type {
        "RequestResponse" => {}
        "Event" => {
            tokio::spawn(async move {
                if let Err(err) = platform.invoke(&name, payload).await {
                    tracing::warn!(%err, function = %name, "asynchronous invocation failed");
                }
            });
            return (
                StatusCode::ACCEPTED,
                [(HeaderName::from_static("x-amzn-requestid"), call_id)],
            )
                .into_response();
        }
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        other => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("Unsupported invocation type {other} for {arn}"),
                &call_id,
            );
        }
    }
    let outcome = match platform.invoke(&name, payload).await {
        Ok(outcome) => outcome,
        Err(err) => {
            return aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &err.to_string(),
                &call_id,
            );
        }
    };
    let request_id = outcome.report.request_id.clone();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", value);
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

    #[test]
    fn query_is_decoded() {
        let q = parse_query("a=1&b=x%20y&a=3&flag");
        assert_eq!(q.all("a"), Some(vec!["1", "3"]));
        assert_eq!(q.first("b"), Some("x y"));
        assert_eq!(q.first("flag"), Some(""));
        assert_eq!(percent_decode("100%"), "100%");
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
