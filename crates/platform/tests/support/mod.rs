//! Shared helpers for the platform's integration tests: real processes, bounded waits.

#![allow(dead_code, missing_docs)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use latency_platform::{FunctionSpec, InvocationOutcome};
use serde_json::Value;

/// Every test body runs under this hang guard.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

pub const TEST_FUNCTION: &str = env!("CARGO_BIN_EXE_latency-test-function");

/// A spec for the test function, unthrottled so the suite does not depend on cgroups.
pub fn spec(name: &str) -> FunctionSpec {
    FunctionSpec::new(name, TEST_FUNCTION).unthrottled()
}

pub async fn guarded<F: Future<Output = T>, T>(body: F) -> T {
    match tokio::time::timeout(HANG_GUARD, body).await {
        Ok(value) => value,
        Err(_) => panic!("test did not finish within {HANG_GUARD:?}"),
    }
}

/// Polls `condition` every 10 ms, at most 2,000 times (20 s); panics with `what` if it
/// never holds.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

pub fn json(value: Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// The successful response body as JSON; panics on a function error.
pub fn body(outcome: &InvocationOutcome) -> Value {
    match &outcome.result {
        Ok(bytes) => serde_json::from_slice(bytes).expect("the function answers JSON"),
        Err(err) => panic!("unexpected function error: {err}"),
    }
}

pub fn pid_of(outcome: &InvocationOutcome) -> u32 {
    body(outcome)["pid"].as_u64().expect("pid in the answer") as u32
}

/// The process state letter from /proc/<pid>/stat (`S`, `R`, `T`, `Z`), or `None` when
/// the process is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    after.chars().next()
}

/// `true` when the process no longer exists (or is only a zombie awaiting its reaper).
pub fn is_gone(pid: u32) -> bool {
    matches!(process_state(pid), None | Some('Z') | Some('X'))
}

/// A file path that does not exist yet, for the test function's `wait` op.
pub fn release_file(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "latency-platform-{tag}-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ))
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A minimal HTTP/1.1 client for the fronts.
pub async fn http_get(url: &str) -> (u16, Vec<(String, String)>, String) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let response = client
        .get(url.parse().expect("valid url"))
        .await
        .expect("the front answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
