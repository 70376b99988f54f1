//! A small Lambda function for the platform's tests and benchmarks, built on the
//! unmodified `lambda_runtime` client.
//!
//! The payload's `op` field chooses the behaviour (every answer carries the `pid`):
//! - `{"op":"echo", …}` (or no `op`): returns `{"pid":…,"echo":<payload>}`;
//! - `{"op":"sleep","ms":N}`: sleeps N ms, then answers;
//! - `{"op":"wait","file":PATH,"max_ms":N}`: waits until PATH exists (at most N ms);
//! - `{"op":"crash","code":N}`: exits with status N (default 3) without answering;
//! - `{"op":"alloc","mb":N}`: allocates and touches N MB, then answers;
//! - `{"op":"error"}`: returns a handler error (`POST …/error`);
//! - `{"op":"print","bytes":N}`: writes N bytes of `x` to stdout with no newline, then
//!   answers;
//! - an API Gateway payload 2.0 event (has `rawPath`): answers in the payload 2.0
//!   response format — `/malformed` gives an invalid response, `/error` a handler error,
//!   `/sleep?ms=N` sleeps, anything else 200 `text/plain` `hello from <path>` with an
//!   `x-test-function` header and a cookie.
//!
//! Environment: `LATENCY_TEST_INIT=exit` exits during init; `LATENCY_TEST_INIT=error`
//! posts to `/runtime/init/error` and exits; `LATENCY_TEST_INIT=say-and-exit` prints its
//! reason on stderr and exits.

use std::io::{Read, Write};
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

fn main() -> Result<(), Error> {
    match std::env::var("LATENCY_TEST_INIT").as_deref() {
        Ok("exit") => std::process::exit(2),
        Ok("say-and-exit") => {
            eprintln!("cannot load the handler: reason 7f3a");
            std::process::exit(1);
        }
        Ok("error") => {
            post_init_error()?;
            std::process::exit(1);
        }
        _ => {}
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(handle)))
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let pid = std::process::id();
    let payload = event.payload;
    if let Some(path) = payload.get("rawPath").and_then(Value::as_str) {
        return gateway(pid, path, &payload).await;
    }
    match payload.get("op").and_then(Value::as_str).unwrap_or("echo") {
        "sleep" => {
            let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "pid": pid, "slept_ms": ms }))
        }
        "wait" => {
            // Blocks until a file exists (bounded by `max_ms`): lets tests hold
            // invocations in flight without relying on timing.
            let file = payload.get("file").and_then(Value::as_str).unwrap_or("");
            let max_ms = payload
                .get("max_ms")
                .and_then(Value::as_u64)
                .unwrap_or(10_000);
            let mut released = false;
            for _ in 0..max_ms.div_ceil(5) {
                if std::path::Path::new(file).exists() {
                    released = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(json!({ "pid": pid, "released": released }))
        }
        "crash" => {
            let code = payload.get("code").and_then(Value::as_i64).unwrap_or(3);
            std::process::exit(code as i32);
        }
        "alloc" => {
            let mb = payload.get("mb").and_then(Value::as_u64).unwrap_or(0) as usize;
            let block = vec![1u8; mb * 1024 * 1024];
            let sum: u64 = block.iter().step_by(4096).map(|b| u64::from(*b)).sum();
            Ok(json!({ "pid": pid, "allocated_mb": mb, "pages": sum }))
        }
        "error" => Err("the test function was asked to fail".into()),
        "print" => {
            let bytes = payload.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize;
            let chunk = vec![b'x'; 64 * 1024];
            let mut stdout = std::io::stdout().lock();
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                stdout.write_all(&chunk[..n])?;
                left -= n;
            }
            stdout.flush()?;
            Ok(json!({ "pid": pid, "printed": bytes }))
        }
        _ => Ok(json!({ "pid": pid, "echo": payload })),
    }
}

async fn gateway(pid: u32, path: &str, event: &Value) -> Result<Value, Error> {
    match path {
        "/malformed" => Ok(json!({ "statusCode": "not a number" })),
        "/error" => Err("the test function was asked to fail".into()),
        "/sleep" => {
            let ms = event
                .pointer("/queryStringParameters/ms")
                .and_then(Value::as_str)
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "statusCode": 200, "body": format!("slept {ms} ms") }))
        }
        _ => Ok(json!({
            "statusCode": 200,
            "headers": {
                "content-type": "text/plain",
                "x-test-function": pid.to_string(),
                "x-seen-method": event.pointer("/requestContext/http/method").cloned().unwrap_or(Value::Null),
            },
            "cookies": ["seen=1; Path=/"],
            "body": format!("hello from {path}"),
            "isBase64Encoded": false,
        })),
    }
}

/// `POST /2018-06-01/runtime/init/error` with a plain HTTP/1.1 request: the runtime client
/// has no public call for it.
fn post_init_error() -> Result<(), Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let body = r#"{"errorMessage":"the test function was asked to fail init","errorType":"Test.InitError"}"#;
    let mut stream = std::net::TcpStream::connect(&api)?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Test.InitError\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(())
}
