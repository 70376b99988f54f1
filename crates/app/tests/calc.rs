//! `POST /calc`: each malformed body gets a 400 naming the field and enqueues nothing; a
//! good one gets 202 with the id of the job now on the (real, in-process) queue.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use latency_app::calc::CalcProducer;
use latency_app::{AppConfig, AppState, router};
use latency_queue::{DeliveryPolicy, JobQueue, MemoryQueue};
use latency_store::MemoryStore;
use tower::ServiceExt;

fn app_with(queue: Option<Arc<MemoryQueue>>) -> axum::Router {
    let mut state = AppState::new(Arc::new(MemoryStore::new()), AppConfig::default());
    if let Some(queue) = queue {
        state = state.with_calc(CalcProducer::new(queue, 2.0));
    }
    router(state)
}

async fn post(app: &axum::Router, body: impl Into<Body>) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/calc")
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("router answers");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.expect("body");
    let json =
        serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("not JSON ({err}): {bytes:?}"));
    (parts.status, json)
}

#[tokio::test]
async fn each_malformed_body_is_rejected_naming_the_problem_and_nothing_is_enqueued() {
    let queue = Arc::new(MemoryQueue::new(DeliveryPolicy::default()));
    let app = app_with(Some(Arc::clone(&queue)));
    let cases: [(&str, &str); 10] = [
        ("{\"x\": ", "not JSON"),
        ("[1, 2]", "JSON object"),
        ("{}", "field `x` is missing"),
        ("{\"y\": 1}", "field `x` is missing"),
        ("{\"x\": \"1\"}", "field `x` must be a number"),
        ("{\"x\": null}", "field `x` must be a number"),
        ("{\"x\": -0.5}", "field `x` must be >= 0"),
        ("{\"x\": NaN}", "not JSON"),
        ("{\"x\": 1e999}", "not JSON"),
        ("{\"x\": 2.5}", "field `x` must be at most 2"),
    ];
    for (body, expected) in cases {
        let (status, json) = post(&app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "body {body}");
        let message = json["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "body {body}: `{message}` does not say `{expected}`"
        );
    }
    let oversized = format!(
        "{{\"x\": 1, \"pad\": \"{}\"}}",
        "a".repeat(AppConfig::default().body_limit_bytes)
    );
    let (status, _) = post(&app, oversized).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        queue.is_empty(),
        "a rejected request enqueued {} jobs",
        queue.len()
    );
}

#[tokio::test]
async fn a_good_body_is_enqueued_once_with_the_answered_id() {
    let queue = Arc::new(MemoryQueue::new(DeliveryPolicy::default()));
    let app = app_with(Some(Arc::clone(&queue)));
    for x in [0, 2] {
        let (status, json) = post(&app, format!("{{\"x\": {x}}}")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let id = json["id"].as_str().expect("an id").to_owned();
        let mut got = queue.receive(10, Duration::ZERO).await.expect("receive");
        assert_eq!(got.len(), 1, "exactly one job per request");
        let job = got.pop().expect("one").job().expect("a job");
        assert_eq!((job.id, job.x), (id, f64::from(x)));
    }
}

#[tokio::test]
async fn without_a_queue_calc_is_unavailable() {
    let (status, json) = post(&app_with(None), "{\"x\": 1}").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--queue")
    );
}
