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
    latency_lambda_start::init_logging();
    // Unlike the app's function, this one drives many connections at once: a multi-threaded
    // runtime uses every vCPU the memory size buys (1,769 MB = 1 vCPU).
    let Some(runtime) =
        latency_lambda_start::build_runtime(tokio::runtime::Builder::new_multi_thread())
    else {
        return ExitCode::FAILURE;
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
