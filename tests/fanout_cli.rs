//! `latency bench --via-lambda` and `--fanout`, end to end: the real `latency` binary
//! invokes the real bench Lambda (`latency-lambda-bench`) through `aws-sdk-lambda`, against
//! the local function platform's Invoke API, and the bench Lambda measures a real
//! `latency serve`.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::{Server, latency};
use latency_platform::{FunctionSpec, Platform};

/// The bench Lambda's binary, built beside `latency` by `cargo build --workspace --bins`
/// (scripts/test does that before the tests).
fn bench_lambda_exe() -> PathBuf {
    let latency = PathBuf::from(env!("CARGO_BIN_EXE_latency"));
    let exe = latency.with_file_name("latency-lambda-bench");
    assert!(
        exe.is_file(),
        "{} is missing; build it with: cargo build -p latency-lambda-bench",
        exe.display()
    );
    exe
}

/// Runs `latency bench ARGS` with the Lambda endpoint and dummy credentials (the platform
/// does not check them), bounded by the platform's own invocation timeout.
async fn bench_via(endpoint: &str, args: Vec<String>) -> Output {
    let endpoint = endpoint.to_owned();
    tokio::task::spawn_blocking(move || {
        latency()
            .arg("bench")
            .args(&args)
            .args(["--lambda-endpoint", &endpoint])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "eu-west-2")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run latency bench")
    })
    .await
    .expect("join")
}

async fn platform_with_bench_lambda() -> (Platform, latency_platform::FrontServer) {
    let spec = FunctionSpec::new("bench", bench_lambda_exe())
        .unthrottled()
        .memory_mb(1769)
        .max_concurrency(4)
        .timeout(Duration::from_secs(60));
    let platform = Platform::start(vec![spec]).expect("platform");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let front = platform
        .serve_invoke_api(listener)
        .await
        .expect("invoke front");
    (platform, front)
}

/// Runs `latency bench URL ARGS --json FILE` through the bench Lambda, requires exit 0,
/// and returns stdout and the Report.
async fn bench_ok(endpoint: &str, url: String, args: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut all = vec![url];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["--json".to_owned(), json.display().to_string()]);
    let output = bench_via(endpoint, all).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status
    );
    let report = std::fs::read_to_string(&json).expect("Report written");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        serde_json::from_str(&report).expect("JSON"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_4_merges_four_bench_lambda_reports_into_one() {
    let server = Server::start("memory://", &[]);
    let (platform, front) = platform_with_bench_lambda().await;
    let (_, report) = bench_ok(
        &front.url(),
        format!("{}/hits", server.base_url),
        &["400", "-c", "8", "--via-lambda", "bench", "--fanout", "4"],
    )
    .await;

    let results = &report["results"];
    assert_eq!(results["requests"], 400);
    assert_eq!(results["status_codes"]["200"], 400);
    // One cold start per share is reported apart; the other 396 are the warm latencies.
    assert_eq!(results["latency"]["count"], 396);
    assert_eq!(report["plan"]["connections"], 8);
    // The four shares' values interleave; together they are exactly 1..=400.
    let counter = &results["counter"];
    assert_eq!(counter["verdict"], "pass", "{counter}");
    assert_eq!(counter["values"], 400);
    assert_eq!(
        (counter["first"].as_u64(), counter["last"].as_u64()),
        (Some(1), Some(400))
    );
    assert_eq!(counter["lost_updates"], 0);
    let bins: u64 = results["distribution"]["bins"]
        .as_array()
        .expect("bins")
        .iter()
        .map(|b| b["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(bins, 396);
    // Four invocations of the bench Lambda ran.
    let invocations = platform
        .drain_reports()
        .iter()
        .filter(|r| r.function == "bench")
        .count();
    assert_eq!(invocations, 4);

    front.shutdown().await;
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn via_lambda_runs_the_same_engine_in_the_function() {
    let server = Server::start("memory://", &[]);
    let (platform, front) = platform_with_bench_lambda().await;
    let (stdout, report) = bench_ok(
        &front.url(),
        format!("{}/hits", server.base_url),
        &["50", "--via-lambda", "bench", "--label", "in-region"],
    )
    .await;
    assert!(
        stdout.lines().next().is_some_and(|l| l.ends_with("ms")),
        "{stdout}"
    );

    assert_eq!(report["target"]["label"], "in-region");
    assert_eq!(report["results"]["requests"], 50);
    // One load generator: the engine's own counter check, values 1..=50.
    assert_eq!(report["results"]["counter"]["verdict"], "pass");
    assert_eq!(report["results"]["counter"]["last"], 50);
    assert!(report["notes"].as_array().expect("notes").iter().any(|n| {
        n.as_str()
            .is_some_and(|n| n.contains("bench Lambda `bench`"))
    }));

    front.shutdown().await;
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_bench_lambda_is_one_clear_error() {
    let (platform, front) = platform_with_bench_lambda().await;
    // Nothing listens on the port the closed listener had.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);

    let output = bench_via(
        &front.url(),
        vec![
            format!("http://127.0.0.1:{port}/hits"),
            "10".into(),
            "--via-lambda".into(),
            "bench".into(),
            "--fanout".into(),
            "2".into(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bench Lambda `bench` failed"), "{stderr}");
    assert!(stderr.contains("function error"), "{stderr}");
    assert!(
        stderr.contains(&port.to_string()),
        "the error names the URL: {stderr}"
    );

    // An unknown function is named too.
    let output = bench_via(
        &front.url(),
        vec![
            "http://127.0.0.1:9/hits".into(),
            "--via-lambda".into(),
            "no-such-function".into(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-function"), "{stderr}");

    front.shutdown().await;
    platform.shutdown().await;
}
