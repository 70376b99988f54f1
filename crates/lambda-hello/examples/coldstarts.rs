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
//! duration is recorded. `--unthrottled` runs them without the memory size's CPU budget
//! (to tell the budget's share of the init apart). `latency-lambda` gets `LATENCY_STORE=memory://`, so neither
//! touches the network.

use std::path::Path;

fn usage() -> ! {
    eprintln!("usage: coldstarts [--memory MB] [--rounds K] [--unthrottled] BINARY...");
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut memory_mb = 128u32;
    let mut rounds = 15usize;
    let mut throttled = true;
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
            "--unthrottled" => throttled = false,
            _ if arg.starts_with('-') => usage(),
            _ => binaries.push(arg),
        }
    }
    if binaries.is_empty() || rounds == 0 {
        usage();
    }
    println!("binary\tmemory_mb\trounds\tinit_p50_ms\tinit_min_ms\tinit_max_ms\tthrottling");
    for binary in &binaries {
        let starts =
            latency_lambda_hello::cold_starts(Path::new(binary), memory_mb, rounds, throttled)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
        let (min, max) = starts.range_ms();
        println!(
            "{binary}\t{memory_mb}\t{rounds}\t{:.2}\t{min:.2}\t{max:.2}\t{}",
            starts.median_ms(),
            starts.throttling
        );
    }
}
