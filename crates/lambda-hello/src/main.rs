//! `latency-hello`: the smallest useful Rust Lambda function. It answers every event with
//! an API Gateway payload-2.0 response saying hello, and does nothing else: no SDK, no
//! store, no configuration to load. Its init duration is the floor of a Rust cold start,
//! which the lab sets against published cold starts of the same runtime and memory size
//! (docs/fidelity.md) to tell the platform's own cost apart from the real function's.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

fn main() -> Result<(), Error> {
    // One invocation at a time per instance, as Lambda runs it: a current-thread runtime
    // starts fastest.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_runtime::run(service_fn(hello)))
}

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "body": "hello",
    }))
}
