//! The hello-world function on the local function platform: it answers, and its cold start
//! is reported with an init duration (what the lab compares with published figures).

use std::time::Duration;

use latency_platform::{FunctionSpec, Platform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_answers_and_reports_its_cold_start() {
    let spec = FunctionSpec::new("hello", env!("CARGO_BIN_EXE_latency-hello"))
        .timeout(Duration::from_secs(10))
        .unthrottled();
    let platform = Platform::start(vec![spec]).expect("platform");
    let body = tokio::time::timeout(
        Duration::from_secs(60),
        platform.invoke("hello", bytes::Bytes::from_static(b"{}")),
    )
    .await
    .expect("the invocation finishes")
    .expect("invoke");
    let payload: serde_json::Value = match &body.result {
        Ok(bytes) => serde_json::from_slice(bytes).expect("JSON"),
        Err(err) => panic!("function error: {err}"),
    };
    assert_eq!(payload["statusCode"], 200);
    assert_eq!(payload["body"], "hello");
    let reports = platform.drain_reports();
    let report = reports.first().expect("a REPORT for the invocation");
    assert!(report.cold_start, "the first invocation is a cold start");
    assert!(
        report.init_duration.is_some_and(|d| d > Duration::ZERO),
        "a cold start reports its init duration: {report:?}"
    );
    platform.shutdown().await;
}
