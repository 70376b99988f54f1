//! `latency-lambda-bench`: the in-region load generator as an AWS Lambda function.
//!
//! Event: a bench plan (see `latency_lambda_bench::BenchPlan`), e.g.
//! `{"url": "https://abc.execute-api.eu-west-2.amazonaws.com/hits", "requests": 1000}`.
//! Answer: the JSON Report of `latency bench --json`. A bad plan or an unreachable URL is a
//! function error whose message names the problem.
//!
//! Environment: `RUST_LOG` (default `info`); logs go to stderr, i.e. CloudWatch.

use std::process::ExitCode;

use lambda_runtime::{LambdaEvent, service_fn};
use latency_lambda_bench::BenchPlan;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
    // Unlike the app's function, this one drives many connections at once: a multi-threaded
    // runtime uses every vCPU the memory size buys (1,769 MB = 1 vCPU).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(lambda_runtime::run(service_fn(
        |event: LambdaEvent<BenchPlan>| async move {
            latency_lambda_bench::handle(event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    )));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: the Lambda runtime stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
