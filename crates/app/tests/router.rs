//! The router's contract: routes, JSON errors with the right status codes, metrics, and a
//! store failure that becomes 503 and recovers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use latency_app::{AppConfig, AppState, router};
use latency_store::{MemoryStore, SharedStore};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    content_type: String,
    allow: Option<String>,
    body: String,
}

async fn call(app: &Router, method: Method, path: &str, body: Body) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .expect("valid request");
    send(app, request).await
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().expect("ascii header").to_owned())
    };
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    let allow = header_text(header::ALLOW);
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        content_type,
        allow,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

async fn get(app: &Router, path: &str) -> Answer {
    call(app, Method::GET, path, Body::empty()).await
}

fn app_with(store: SharedStore, config: AppConfig) -> Router {
    router(AppState::new(store, config))
}

fn memory_app() -> Router {
    app_with(Arc::new(MemoryStore::new()), AppConfig::default())
}

fn error_message(answer: &Answer) -> String {
    assert!(
        answer.content_type.starts_with("application/json"),
        "error must be JSON, got {:?}: {}",
        answer.content_type,
        answer.body
    );
    let value: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON body");
    value["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no \"error\" string in {}", answer.body))
        .to_owned()
}

#[tokio::test]
async fn hits_counts_up_as_plain_text() {
    let app = memory_app();
    for expected in 1..=3 {
        let answer = get(&app, "/hits").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer.content_type.starts_with("text/plain"),
            "{}",
            answer.content_type
        );
        assert_eq!(answer.body, expected.to_string());
    }
}

#[tokio::test]
async fn page_and_health_are_served() {
    let app = memory_app();
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("id=\"hit\""), "page lacks the button");
    assert!(
        !page.body.contains("://cdn"),
        "page must not load from a CDN"
    );

    let health = get(&app, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let value: serde_json::Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(value, serde_json::json!({"status": "pass"}));
}

#[tokio::test]
async fn unknown_path_is_a_json_404_naming_it() {
    let answer = get(&memory_app(), "/nowhere").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(error_message(&answer).contains("/nowhere"));
}

#[tokio::test]
async fn wrong_method_is_a_json_405_with_allow() {
    let answer = call(&memory_app(), Method::POST, "/hits", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error_message(&answer).contains("POST"));
    let allow = answer.allow.expect("405 carries Allow");
    assert!(allow.contains("GET"), "Allow: {allow}");
}

#[tokio::test]
async fn oversized_body_is_a_json_413() {
    let config = AppConfig {
        body_limit_bytes: 64,
        ..AppConfig::default()
    };
    let app = app_with(Arc::new(MemoryStore::new()), config);
    let request = Request::builder()
        .method(Method::GET)
        .uri("/hits")
        .header(header::CONTENT_LENGTH, "65")
        .body(Body::from(vec![b'x'; 65]))
        .expect("request");
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_message(&answer).contains("64 bytes"));

    // A body within the limit is fine, and the oversized one did not count.
    let small = call(&app, Method::GET, "/hits", Body::from(vec![b'x'; 64])).await;
    assert_eq!(small.status, StatusCode::OK);
    assert_eq!(small.body, "1");
}

#[tokio::test]
async fn metrics_report_requests_by_route_and_store_latency() {
    let app = memory_app();
    get(&app, "/hits").await;
    get(&app, "/hits").await;
    get(&app, "/missing").await;
    let answer = get(&app, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = answer.body;
    assert!(
        text.contains(r#"latency_http_requests_total{route="/hits",method="GET",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"latency_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"latency_http_request_duration_seconds_count{route="/hits"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"latency_store_operation_duration_seconds_count{backend="memory",operation="incr",outcome="ok"} 2"#
        ),
        "{text}"
    );
}

/// The file store is the real thing here: corrupting its file makes it fail, and
/// repairing the file brings it back, with the same server.
#[tokio::test]
async fn failing_store_is_a_503_without_internals_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hits");
    let url = format!("file://{}", path.display());
    let store = latency_store::from_url(&url).await.expect("file store");
    let app = app_with(store, AppConfig::default());
    assert_eq!(get(&app, "/hits").await.body, "1");

    std::fs::write(&path, "garbage").expect("corrupt the counter");
    let failed = get(&app, "/hits").await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    let message = error_message(&failed);
    assert!(message.contains("store is unavailable"), "{message}");
    assert!(
        !message.contains(dir.path().to_str().expect("utf-8 path")),
        "leaks a path: {message}"
    );
    assert!(!message.contains("garbage"), "leaks contents: {message}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "garbage",
        "corrupt file was rewritten"
    );

    std::fs::write(&path, "41\n").expect("repair the counter");
    let recovered = get(&app, "/hits").await;
    assert_eq!(recovered.status, StatusCode::OK);
    assert_eq!(recovered.body, "42");

    let metrics = get(&app, "/metrics").await.body;
    assert!(
        metrics.contains(r#"backend="file",operation="incr",outcome="error"} 1"#),
        "{metrics}"
    );
    for (status, count) in [(200, 2), (503, 1)] {
        let line = format!(
            r#"latency_http_requests_total{{route="/hits",method="GET",status="{status}"}} {count}"#
        );
        assert!(metrics.contains(&line), "missing {line}:\n{metrics}");
    }
}

/// A store that never answers: the request timeout must turn it into a JSON 503.
struct HangingStore;

#[async_trait::async_trait]
impl latency_store::CounterStore for HangingStore {
    async fn incr(&self) -> Result<u64, latency_store::StoreError> {
        std::future::pending().await
    }
    async fn get(&self) -> Result<u64, latency_store::StoreError> {
        std::future::pending().await
    }
    fn backend(&self) -> &'static str {
        "hanging"
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_that_hangs_times_out_with_a_json_503() {
    let config = AppConfig {
        request_timeout: Duration::from_millis(750),
        ..AppConfig::default()
    };
    let app = app_with(Arc::new(HangingStore), config);
    let answer = get(&app, "/hits").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_message(&answer).contains("timed out after 750 ms"));
}

#[tokio::test]
async fn head_hits_answers_without_counting() {
    let app = memory_app();
    assert_eq!(get(&app, "/hits").await.body, "1");
    for _ in 0..3 {
        let answer = call(&app, Method::HEAD, "/hits", Body::empty()).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.content_type.starts_with("text/plain"));
        assert_eq!(answer.body, "", "HEAD answered with a body");
    }
    assert_eq!(get(&app, "/hits").await.body, "2", "HEAD changed the count");
}

#[test]
fn limits_that_cannot_work_are_refused_by_name() {
    assert_eq!(AppConfig::default().validate(), Ok(()));
    let zero_timeout = AppConfig {
        request_timeout: Duration::ZERO,
        ..AppConfig::default()
    };
    let err = zero_timeout.validate().expect_err("zero timeout accepted");
    assert!(err.to_string().contains("request timeout"), "{err}");
    let zero_body = AppConfig {
        body_limit_bytes: 0,
        ..AppConfig::default()
    };
    let err = zero_body.validate().expect_err("zero body limit accepted");
    assert!(err.to_string().contains("body limit"), "{err}");
}

/// A store that always fails, as during an outage.
struct DownStore;

#[async_trait::async_trait]
impl latency_store::CounterStore for DownStore {
    async fn incr(&self) -> Result<u64, latency_store::StoreError> {
        Err(latency_store::StoreError::Unavailable {
            backend: "down",
            detail: "connection refused".into(),
        })
    }
    async fn get(&self) -> Result<u64, latency_store::StoreError> {
        self.incr().await
    }
    fn backend(&self) -> &'static str {
        "down"
    }
}

/// Collects formatted log lines for one test.
#[derive(Clone, Default)]
struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn warnings(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().expect("log buffer").clone()).expect("utf-8");
        text.lines()
            .filter(|line| line.contains("store operation failed"))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn store_failures_log_one_warning_per_interval_with_a_count() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = AppConfig {
        store_warning_interval: Duration::from_secs(10),
        ..AppConfig::default()
    };
    let app = app_with(Arc::new(DownStore), config);

    let fail_once = || async {
        assert_eq!(
            get(&app, "/hits").await.status,
            StatusCode::SERVICE_UNAVAILABLE
        )
    };
    for _ in 0..100 {
        fail_once().await;
    }
    let first = lines.warnings();
    assert_eq!(first.len(), 1, "{first:#?}");
    assert!(first[0].contains("suppressed=0"), "{}", first[0]);
    assert!(first[0].contains("connection refused"), "{}", first[0]);

    tokio::time::advance(Duration::from_secs(10)).await;
    fail_once().await;
    let after = lines.warnings();
    assert_eq!(after.len(), 2, "{after:#?}");
    assert!(after[1].contains("suppressed=99"), "{}", after[1]);

    let metrics = get(&app, "/metrics").await.body;
    assert!(
        metrics.contains(
            r#"latency_http_requests_total{route="/hits",method="GET",status="503"} 101"#
        ),
        "every failure is still counted:\n{metrics}"
    );
}
