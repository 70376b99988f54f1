//! `latency-calc`: the queue workload's `calc` as an AWS Lambda function for SQS batches.
//!
//! Environment:
//! - `LATENCY_DONE_STORE` (required): the done counter URL, e.g. `redis://host:6379/0?key=done`.
//! - `RUST_LOG`: log filter (default `info`); logs go to stderr, i.e. CloudWatch.

use std::process::ExitCode;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

fn main() -> ExitCode {
    // One batch at a time per instance; its jobs interleave on one thread since they wait.
    let Some(runtime) = latency_lambda_start::start_single_threaded() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let url = match latency_lambda_calc::DONE_STORE.require() {
            Ok(url) => url,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        };
        let done = match latency_queue::done_counter_from_url(&url).await {
            Ok(done) => done,
            Err(err) => {
                eprintln!("error: cannot open the done counter: {err}");
                return ExitCode::FAILURE;
            }
        };
        let handler = service_fn(|event: LambdaEvent<SqsEvent>| {
            let done = done.clone();
            async move {
                Ok::<_, lambda_runtime::Error>(
                    latency_lambda_calc::handle_batch(&done, event.payload).await,
                )
            }
        });
        match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        }
    })
}
