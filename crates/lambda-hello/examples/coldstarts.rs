//! Cold starts of Lambda binaries on the local function platform, at a memory size's CPU
//! budget: the median, min and max init duration over K fresh instances each.
//!
//! ```sh
//! cargo build --release -p latency-lambda-hello -p latency-lambda
//! cargo run --release -p latency-lambda-hello --example coldstarts -- \
//!     --memory 128 --rounds 15 target/release/latency-hello target/release/latency-lambda
//! ```
//!
//! Each binary is started K times as a new instance (a fresh platform each time, so the
//! cold start is real) and invoked once with an empty API Gateway event; its REPORT's init
//! duration is recorded. `latency-lambda` gets `LATENCY_STORE=memory://`, so neither
//! touches the network.

use std::time::Duration;

use latency_platform::{FunctionSpec, Platform};

fn usage() -> ! {
    eprintln!("usage: coldstarts [--memory MB] [--rounds K] BINARY...");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut memory_mb = 128u32;
    let mut rounds = 15usize;
    let mut binaries = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--memory" => {
                memory_mb = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ if arg.starts_with('-') => usage(),
            _ => binaries.push(arg),
        }
    }
    if binaries.is_empty() || rounds == 0 {
        usage();
    }
    println!("binary\tmemory_mb\trounds\tinit_p50_ms\tinit_min_ms\tinit_max_ms\tthrottling");
    for binary in &binaries {
        let mut inits = Vec::with_capacity(rounds);
        let mut throttling = String::new();
        for _ in 0..rounds {
            let spec = FunctionSpec::new("f", binary)
                .env("LATENCY_STORE", "memory://")
                .memory_mb(memory_mb)
                .timeout(Duration::from_secs(30));
            let platform = Platform::start(vec![spec]).expect("platform");
            throttling = format!("{:?}", platform.throttling());
            let event = bytes::Bytes::from_static(
                br#"{"version":"2.0","rawPath":"/healthz","requestContext":{"http":{"method":"GET","path":"/healthz"}}}"#,
            );
            let outcome = platform.invoke("f", event).await.expect("invoke");
            if let Err(err) = &outcome.result {
                panic!("{binary}: function error {err}");
            }
            let report = platform
                .drain_reports()
                .into_iter()
                .next()
                .expect("a REPORT");
            let init = report
                .init_duration
                .expect("a cold start has an init duration");
            inits.push(init.as_secs_f64() * 1000.0);
            platform.shutdown().await;
        }
        inits.sort_by(f64::total_cmp);
        println!(
            "{binary}\t{memory_mb}\t{rounds}\t{:.2}\t{:.2}\t{:.2}\t{throttling}",
            inits[inits.len() / 2],
            inits[0],
            inits[inits.len() - 1]
        );
    }
}
