//! Every language variant, prepared as the lab prepares it, run as the lab runs it (the
//! functions on the local function platform behind its API Gateway front, the FastAPI
//! server as a process), passes the same HTTP contract checks as `latency serve`: status
//! codes, content types, JSON errors, and an exact counter under concurrency.
//!
//! Real parts: the official runtime clients (awslambdaric, aws-lambda-ric), boto3 and the
//! AWS SDK for JavaScript against moto and dynalite (`scripts/services start`).

use std::path::PathBuf;
use std::time::Duration;

use latency_platform::{FunctionSpec, GatewayOptions, Platform};
use latency_testkit::contract::{self, Contract};
use latency_testkit::services::{repo_root, service, unique};
use latency_variants::{Prepared, Store, Variant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;

/// Installs are slow the first time (aws-lambda-ric builds its native client), then cached.
const PREPARE_GUARD: Duration = Duration::from_secs(900);
const RUN_GUARD: Duration = Duration::from_secs(180);

/// One variant at a time: each starts several interpreters, and on a 2-core machine running
/// them side by side turns a cold start into an init timeout.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` on its own runtime while no other variant test runs.
fn one_at_a_time(test: impl std::future::Future<Output = ()>) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test);
}

fn cache_dir() -> PathBuf {
    repo_root().join(".cache")
}

async fn prepared(variant: &'static Variant) -> Prepared {
    let root = repo_root();
    let cache = cache_dir();
    let task = tokio::task::spawn_blocking(move || {
        latency_variants::prepare(variant, &root, &cache, &mut |line| eprintln!("{line}"))
    });
    match tokio::time::timeout(PREPARE_GUARD, task).await {
        Ok(Ok(Ok(prepared))) => prepared,
        Ok(Ok(Err(err))) => panic!("preparing {}: {err}", variant.id),
        Ok(Err(join)) => panic!("preparing {} panicked: {join}", variant.id),
        Err(_) => panic!(
            "preparing {} took longer than {PREPARE_GUARD:?}",
            variant.id
        ),
    }
}

/// The store URL for a function variant, on the local endpoint, created at its init.
fn store_url(variant: &Variant, mode: &str) -> Option<String> {
    let name = unique(&format!("variant-{}", variant.id.replace('_', "-")));
    Some(match variant.store {
        Store::S3 => format!(
            "s3://{name}/hits?endpoint={}&region=eu-west-2&create=true&mode={mode}",
            service("LATENCY_TEST_S3_ENDPOINT")?
        ),
        Store::DynamoDb => format!(
            "dynamodb://{name}?endpoint={}&region=eu-west-2&create=true&mode={mode}",
            service("LATENCY_TEST_DYNAMODB_ENDPOINT")?
        ),
        Store::File => unreachable!("functions keep their counter in S3 or DynamoDB"),
    })
}

async fn check_function(id: &str) {
    let variant = latency_variants::find(id).expect("a known variant");
    let Some(store) = store_url(variant, "atomic") else {
        return;
    };
    let Prepared::Function {
        command,
        args,
        handler,
        env,
        ..
    } = prepared(variant).await
    else {
        panic!("{id} is a function");
    };
    let mut spec = FunctionSpec::new(id, command)
        .env("LATENCY_STORE", store)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .max_concurrency(8)
        .timeout(Duration::from_secs(10))
        .unthrottled();
    // A busy test machine can take seconds to import boto3; Lambda allows 10 s.
    spec.init_timeout = Duration::from_secs(60);
    spec.args = args;
    spec.handler = handler;
    for (key, value) in env {
        spec = spec.env(key, value);
    }
    let platform = Platform::start(vec![spec]).expect("platform");
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    // As deploy/terraform's HTTP API: `GET /` goes to the function, which serves the page.
    let options = GatewayOptions::default();
    let front = platform
        .serve_gateway_with(id, listener, options)
        .await
        .expect("front");
    let base = front.url();
    let outcome = tokio::time::timeout(
        RUN_GUARD,
        contract::check(
            &base,
            Contract {
                page: true,
                concurrent: Some((8, 25)),
            },
        ),
    )
    .await;
    front.shutdown().await;
    platform.shutdown().await;
    outcome.unwrap_or_else(|_| panic!("{id}: the contract checks took longer than {RUN_GUARD:?}"));
}

#[test]
fn lambda_python_s3_meets_the_contract() {
    one_at_a_time(check_function("lambda-python-s3"));
}

#[test]
fn lambda_python_dynamodb_meets_the_contract() {
    one_at_a_time(check_function("lambda-python-dynamodb"));
}

#[test]
fn lambda_js_dynamodb_meets_the_contract() {
    one_at_a_time(check_function("lambda-js-dynamodb"));
}

#[test]
fn lambda_cpp_dynamodb_meets_the_contract() {
    one_at_a_time(check_function("lambda-cpp-dynamodb"));
}

#[test]
fn fastapi_server_meets_the_contract() {
    one_at_a_time(fastapi_server());
}

async fn fastapi_server() {
    let variant = latency_variants::find("ec2-fastapi").expect("a known variant");
    let Prepared::Server { command, args, env } = prepared(variant).await else {
        panic!("ec2-fastapi is a server");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(command)
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .envs(env)
        .env("LATENCY_COUNTER_FILE", dir.path().join("hits"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the FastAPI server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the server prints its address within 60 s")
        .expect("read stdout")
        .expect("a line");
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    tokio::time::timeout(RUN_GUARD, contract::check(&base, Contract::default()))
        .await
        .expect("the contract checks finish");
    child.kill().await.expect("stop the server");
}

/// The C++ handler's hand-written SigV4 signer reproduces AWS's published test-suite
/// signatures (`variants/lambda-cpp-dynamodb/tests/sigv4_test.cpp`).
#[test]
fn cpp_sigv4_signer_matches_the_aws_test_suite() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new("make")
        .arg("-C")
        .arg(repo_root().join("variants/lambda-cpp-dynamodb"))
        .arg(format!("OUT={}", out.path().display()))
        .arg("test")
        .output()
        .expect("run make (apt-get install make g++ libssl-dev)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "make test failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("7 passed, 0 failed"), "{text}");
}

/// With a competing writer that always wins (it rewrites the object between every read
/// and the conditional PUT, on moto's real S3 API), the Python S3 counter stops retrying
/// at its deadline with a `CounterError` that says so, instead of running into Lambda's
/// timeout (which recycles the instance: under the lab's 32 concurrent writers, 2,010 cold
/// starts in one row).
#[test]
fn the_python_s3_counter_gives_up_at_its_deadline_under_contention() {
    one_at_a_time(async {
        let variant = latency_variants::find("lambda-python-s3").expect("a known variant");
        let Some(store) = store_url(variant, "atomic") else {
            return;
        };
        let Prepared::Function { command, env, .. } = prepared(variant).await else {
            panic!("lambda-python-s3 is a function");
        };
        let script = r#"
import os, sys, time
import counters

class AlwaysBeaten(counters.S3Counter):
    def _read(self):
        value, etag = super()._read()
        # A different body (S3's ETag is the body's MD5, so the same body would not count).
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=str(value + 1000).encode())
        return value, etag

counter = counters.open_counter(os.environ["LATENCY_STORE"])
counter.__class__ = AlwaysBeaten
started = time.monotonic()
try:
    counter.incr(deadline=started + 0.3)
except counters.CounterError as err:
    print(f"gave up after {time.monotonic() - started:.2f} s: {err}")
    sys.exit(0)
print("the write went through although every attempt was beaten")
sys.exit(1)
"#;
        let mut python = Command::new(&command);
        python
            .arg("-c")
            .arg(script)
            .env("LATENCY_STORE", &store)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        for (key, value) in env {
            python.env(key, value);
        }
        let output = tokio::time::timeout(RUN_GUARD, python.output())
            .await
            .expect("the script finishes")
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("too much contention")
                && stdout.contains("before the function's timeout"),
            "{stdout}"
        );
    });
}
