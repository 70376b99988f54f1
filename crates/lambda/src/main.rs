//! `latency-lambda`: the counter app as an AWS Lambda function (API Gateway HTTP API or a
//! function URL in front).
//!
//! Environment:
//! - `LATENCY_STORE` (required): the store URL, e.g. `dynamodb://latency` or
//!   `s3://my-bucket/hits`; the AWS SDK takes credentials and region from the function's
//!   role and `AWS_REGION`.
//! - `RUST_LOG`: log filter (default `info`); logs go to stderr, i.e. CloudWatch.

use std::process::ExitCode;

use latency_app::AppConfig;

fn main() -> ExitCode {
    // One invocation at a time per instance: a single-threaded runtime is all it needs, and
    // it starts faster.
    let Some(runtime) = latency_lambda_start::start_single_threaded() else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let store_url = match latency_lambda::STORE.require() {
        Ok(url) => url,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Init, once per instance and outside the handler: the store client is reused by
    // every invocation this instance serves.
    let app = match latency_lambda::init(&store_url, AppConfig::default()).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("error: cannot open the counter store: {err}");
            return ExitCode::FAILURE;
        }
    };
    match lambda_http::lambda_runtime::run(latency_lambda::handler(app)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: the Lambda runtime stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
