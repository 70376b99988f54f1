//! The Lambda handler, invoked with API Gateway HTTP API (payload 2.0) and function URL
//! event fixtures from `tests/data/`, as the Lambda runtime would invoke it, against real
//! stores.

#[path = "../../store/tests/support/mod.rs"]
mod support;

use std::path::Path;

use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use lambda_http::{Context, LambdaEvent, Service};
use latency_app::AppConfig;
use latency_lambda::{Handler, handler, init};
use latency_store::StoreError;
use serde_json::Value;

/// Invokes `handler` with the event in `tests/data/<fixture>`; returns the Lambda response
/// as the runtime would send it back: `statusCode`, `headers`, `body`, `isBase64Encoded`.
async fn invoke(handler: &mut Handler, fixture: &str) -> Value {
    invoke_with(handler, fixture, Context::default()).await
}

/// [`invoke`] with the invocation's `context` (its deadline, say).
async fn invoke_with(handler: &mut Handler, fixture: &str, context: Context) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(fixture);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let request: LambdaRequest =
        serde_json::from_str(&text).expect("the fixture is an API Gateway v2 event");
    let event = LambdaEvent::new(request, context);
    let response = handler
        .ready()
        .await
        .expect("the handler is ready")
        .call(event)
        .await
        .expect("the handler never fails; errors are HTTP responses");
    serde_json::to_value(response).expect("the response serializes")
}

fn status(response: &Value) -> u64 {
    response["statusCode"].as_u64().expect("a statusCode")
}

/// The response body as text. Lambda sends bodies whose content type is not text (the
/// OpenMetrics type, for one) base64-encoded, and API Gateway decodes them.
fn body(response: &Value) -> String {
    use base64::Engine;
    let text = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("valid base64");
        String::from_utf8(bytes).expect("UTF-8")
    } else {
        text.to_owned()
    }
}

fn header<'a>(response: &'a Value, name: &str) -> &'a str {
    response["headers"][name].as_str().unwrap_or_default()
}

async fn app(store_url: &str) -> Handler {
    handler(
        init(store_url, AppConfig::default())
            .await
            .expect("init opens the store"),
    )
}

/// Invokes `fixture` until the response has status `want`, for at most 30 s.
#[cfg(feature = "dynamodb")]
async fn invoke_until(handler: &mut Handler, fixture: &str, want: u64) -> Value {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = invoke(handler, fixture).await;
        if status(&response) == want {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after 30 s: {response}",
            status(&response)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn api_gateway_events_reach_every_route() {
    let mut handler = app("memory://").await;

    let first = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(status(&first), 200, "{first}");
    assert_eq!(body(&first), "1");
    assert!(
        header(&first, "content-type").starts_with("text/plain"),
        "{first}"
    );
    let second = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(body(&second), "2", "the same instance keeps counting");
    let by_url = invoke(&mut handler, "function-url-get-hits.json").await;
    assert_eq!(
        (status(&by_url), body(&by_url).as_str()),
        (200, "3"),
        "function URL events too"
    );

    let page = invoke(&mut handler, "apigw-v2-get-page.json").await;
    assert_eq!(status(&page), 200);
    assert!(
        header(&page, "content-type").starts_with("text/html"),
        "{page}"
    );
    assert!(
        body(&page).contains("fetch(\"hits\""),
        "the page calls hits"
    );

    let health = invoke(&mut handler, "apigw-v2-get-healthz.json").await;
    assert_eq!(status(&health), 200);
    let health: Value = serde_json::from_str(&body(&health)).expect("JSON");
    assert_eq!(health["status"], "pass");

    let metrics = invoke(&mut handler, "apigw-v2-get-metrics.json").await;
    assert_eq!(status(&metrics), 200);
    let metrics = body(&metrics);
    assert!(
        metrics.contains("latency_store_operation_duration_seconds")
            && metrics.contains("backend=\"memory\""),
        "{metrics}"
    );

    for (fixture, want) in [
        ("apigw-v2-post-hits.json", 405),
        ("apigw-v2-get-missing.json", 404),
    ] {
        let response = invoke(&mut handler, fixture).await;
        assert_eq!(status(&response), want, "{fixture}: {response}");
        let error: Value = serde_json::from_str(&body(&response)).expect("a JSON error");
        assert!(error["error"].is_string(), "{fixture}: {response}");
    }
    let after = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(body(&after), "4", "errors and other routes do not count");
}

#[tokio::test]
async fn init_rejects_a_store_it_can_never_open() {
    for url in [
        "ftp://example.com/hits",
        "memory://?colour=red",
        "file://relative",
    ] {
        let err = init(url, AppConfig::default())
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} must not open"));
        assert!(matches!(err, StoreError::InvalidUrl { .. }), "{url}: {err}");
    }
}

/// The function counts 1, 2, 3 through `store_url`, and its metrics name `backend`.
#[cfg(any(feature = "dynamodb", feature = "s3"))]
async fn counts_through(store_url: &str, backend: &str) {
    let mut handler = app(store_url).await;
    for expected in ["1", "2", "3"] {
        let response = invoke(&mut handler, "apigw-v2-get-hits.json").await;
        assert_eq!(
            (status(&response), body(&response).as_str()),
            (200, expected),
            "{response}"
        );
    }
    let metrics = invoke(&mut handler, "apigw-v2-get-metrics.json").await;
    let label = format!("backend=\"{backend}\"");
    assert!(body(&metrics).contains(&label), "{}", body(&metrics));
}

#[cfg(feature = "dynamodb")]
#[tokio::test]
async fn dynamodb_function_counts_in_a_real_table() {
    let Some(endpoint) = support::service("LATENCY_TEST_DYNAMODB_ENDPOINT") else {
        return;
    };
    let table = support::unique("lambda");
    counts_through(
        &format!("dynamodb://{table}?endpoint={endpoint}&create=true"),
        "dynamodb",
    )
    .await;
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_function_counts_in_a_real_bucket() {
    let Some(endpoint) = support::service("LATENCY_TEST_S3_ENDPOINT") else {
        return;
    };
    let bucket = support::unique("lambda");
    counts_through(
        &format!("s3://{bucket}/hits?endpoint={endpoint}&create=true"),
        "s3",
    )
    .await;
}

/// A store slower than the invocation's time: the function gives up before Lambda's
/// deadline and answers a 503 that says so, instead of being killed by the timeout (which
/// would make the next request a cold start). The S3 server is the harness's, behind a
/// delay proxy that holds every answer for 20 s once the function is up.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_is_given_up_before_the_invocations_deadline() {
    use std::time::{Duration, SystemTime};
    let Some(endpoint) = support::service("LATENCY_TEST_S3_ENDPOINT") else {
        return;
    };
    let upstream = endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("the S3 endpoint is host:port");
    let proxy = latency_cloud::DelayProxy::bind(upstream, latency_cloud::Delay::ZERO, 1)
        .await
        .expect("the proxy starts");
    let bucket = support::unique("deadline");
    let mut handler = app(&format!(
        "s3://{bucket}/hits?endpoint=http://{}&create=true",
        proxy.local_addr()
    ))
    .await;
    proxy.set_delay(latency_cloud::Delay::constant(20_000.0));

    let mut context = Context::default();
    context.deadline = (SystemTime::now() + Duration::from_millis(1_500))
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let response = invoke_with(&mut handler, "apigw-v2-get-hits.json", context).await;
    assert_eq!(status(&response), 503, "{response}");
    let error: Value = serde_json::from_str(&body(&response)).expect("a JSON error");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|text| text.contains("before the function's timeout")),
        "{error}"
    );
}

/// The store's server dies and comes back: meanwhile `/hits` is a clear 503, the function
/// keeps answering, and the count continues afterwards.
#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_is_a_503_and_the_function_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(server) = support::LocalServer::dynalite(0, dir.path()).await else {
        return;
    };
    let port = server.port;
    let mut handler = app(&format!(
        "dynamodb://outage?endpoint={}&create=true",
        server.address
    ))
    .await;
    let before = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(
        (status(&before), body(&before).as_str()),
        (200, "1"),
        "{before}"
    );

    server.kill().await;
    let down = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(status(&down), 503, "{down}");
    assert!(
        header(&down, "content-type").starts_with("application/json"),
        "{down}"
    );
    let error: Value = serde_json::from_str(&body(&down)).expect("a JSON error");
    assert_eq!(
        error["error"], "the counter store is unavailable; try again shortly",
        "a clear message, and no internals"
    );
    let health = invoke(&mut handler, "apigw-v2-get-healthz.json").await;
    assert_eq!(status(&health), 200, "the function itself stays up");

    let _server = support::LocalServer::dynalite(port, dir.path())
        .await
        .expect("dynalite restarts");
    let after = invoke_until(&mut handler, "apigw-v2-get-hits.json", 200).await;
    assert_eq!(body(&after), "2", "the count continues where it stopped");
}

/// A cold start while the store is down does not fail init (which would make Lambda
/// retry the cold start on every request): the function answers 503 until the store
/// appears, then counts.
#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_while_the_store_is_down_still_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = support::free_port();
    let mut handler = app(&format!(
        "dynamodb://late?endpoint=http://127.0.0.1:{port}&create=true"
    ))
    .await;
    let down = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(status(&down), 503, "{down}");
    let metrics = invoke(&mut handler, "apigw-v2-get-metrics.json").await;
    assert_eq!(status(&metrics), 200);
    assert!(
        body(&metrics).contains("backend=\"dynamodb\""),
        "the lazily opened store is labelled by its backend: {}",
        body(&metrics)
    );

    let Some(_server) = support::LocalServer::dynalite(port, dir.path()).await else {
        return;
    };
    let up = invoke_until(&mut handler, "apigw-v2-get-hits.json", 200).await;
    assert_eq!(body(&up), "1");
    let next = invoke(&mut handler, "apigw-v2-get-hits.json").await;
    assert_eq!(body(&next), "2");
}
