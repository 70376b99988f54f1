//! The `latency-calc` binary as `scripts/build-lambdas` builds it (default features) opens
//! the done counter its description names (`deploy/architectures/lambda-sqs.json`: a
//! DynamoDB table under `LATENCY_DONE_STORE`). Before, the default build had Redis only,
//! so the deployed function failed at every start.

use std::collections::BTreeMap;

use latency_arch::ArchitectureId;
use latency_description::{Description, render, with_endpoint};
use latency_platform::{FunctionSpec, Platform};
use latency_testkit::services::{service, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_build_starts_on_the_done_store_its_description_names() {
    let Some(endpoint) = service("LATENCY_TEST_DYNAMODB_ENDPOINT") else {
        return;
    };
    let description = Description::of(ArchitectureId::LambdaSqs).expect("description");
    let function = description.function.expect("a function row");
    let values = BTreeMap::from([("done_table", unique("latency-test-done"))]);
    let mut spec = FunctionSpec::new("calc", env!("CARGO_BIN_EXE_latency-calc"));
    for (name, template) in &function.environment {
        let mut value = render(template, &values).expect("renders");
        if value.starts_with("dynamodb://") {
            // The table Terraform creates in the cloud is created here by the function.
            value = format!("{}&create=true", with_endpoint(&value, &endpoint));
        }
        spec.env.push((name.clone(), value));
    }
    spec.env.extend(
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let platform = Platform::start(vec![spec]).expect("platform starts");
    let started = platform.prewarm("calc", 1, 1).await;
    platform.shutdown().await;
    assert_eq!(
        started.expect("the function opens its done store at init"),
        1
    );
}
