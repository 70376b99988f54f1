//! Drives the platform for `scripts/bench-platform` (a benchmark helper, not a product).
//!
//! ```text
//! platform-bench serve <function> [--no-freeze] [--throttle] [KEY=VALUE...]
//!     Serves the function behind the API Gateway front on 127.0.0.1:0, prints
//!     `listening on http://ADDR`, and runs until stdin closes.
//! platform-bench cold <function> <runs> [--throttle] [KEY=VALUE...]
//!     Runs <runs> cold starts, each on a fresh platform: spawn to first response of an
//!     API Gateway `GET /hits` event. Prints one line per run:
//!     `cold total_us=… init_us=… duration_us=…`.
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use latency_platform::{CpuBudget, FunctionSpec, Platform};
use std::io::Read;

fn spec(function: &str, throttle: bool, env: &[(String, String)]) -> FunctionSpec {
    let mut spec = FunctionSpec::new("bench", function)
        .timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(3600))
        .max_concurrency(4);
    if !throttle {
        spec = spec.cpu_budget(CpuBudget::Unlimited).enforce_memory(false);
    }
    for (k, v) in env {
        spec = spec.env(k, v);
    }
    spec
}

const HITS_EVENT: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/hits","rawQueryString":"","headers":{"host":"localhost"},"requestContext":{"accountId":"000000000000","apiId":"bench","domainName":"localhost","domainPrefix":"localhost","http":{"method":"GET","path":"/hits","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"bench"},"requestId":"bench","routeKey":"$default","stage":"$default","time":"01/Jan/2026:00:00:00 +0000","timeEpoch":0},"isBase64Encoded":false}"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: platform-bench serve|cold <function> [runs] [--no-freeze] [--throttle] [KEY=VALUE...]";
    let (mode, function) = match (args.first(), args.get(1)) {
        (Some(mode), Some(function)) => (mode.as_str(), function.clone()),
        _ => return Err(usage.into()),
    };
    let rest = &args[2..];
    let freeze = !rest.iter().any(|a| a == "--no-freeze");
    let throttle = rest.iter().any(|a| a == "--throttle");
    let env: Vec<(String, String)> = rest
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

    match mode {
        "serve" => {
            let platform =
                Platform::start(vec![spec(&function, throttle, &env).freeze_idle(freeze)])?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            let front = platform.serve_gateway("bench", listener).await?;
            println!("listening on {}", front.url());
            eprintln!("throttling: {}", platform.throttling());
            // Until stdin closes (the script holds the pipe).
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                std::io::stdin().read_to_end(&mut sink)
            })
            .await;
            front.shutdown().await;
            platform.shutdown().await;
        }
        "cold" => {
            let runs: usize = rest.first().and_then(|r| r.parse().ok()).ok_or(usage)?;
            for _ in 0..runs {
                let platform = Platform::start(vec![spec(&function, throttle, &env)])?;
                let started = Instant::now();
                let outcome = platform
                    .invoke("bench", Bytes::from_static(HITS_EVENT.as_bytes()))
                    .await?;
                let total = started.elapsed();
                if let Err(err) = &outcome.result {
                    return Err(format!("cold start failed: {err}").into());
                }
                println!(
                    "cold total_us={} init_us={} duration_us={} throttling={}",
                    total.as_micros(),
                    outcome.report.init_duration.unwrap_or_default().as_micros(),
                    outcome.report.duration.as_micros(),
                    platform.throttling().is_applied()
                );
                platform.shutdown().await;
            }
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
