//! A store password in `LATENCY_STORE` never reaches `latency-lambda`'s output, at any
//! log level (issue 10). Every byte of stdout and stderr is searched for it.

use std::process::Command;

const PASSWORD: &str = "hunter2-Lm4";

#[test]
fn store_passwords_never_appear_in_the_functions_output() {
    for store in [
        // A scheme no build knows (which schemes a build has depends on the features
        // cargo unified for it), and a typo'd parameter.
        format!("mysql://root:{PASSWORD}@127.0.0.1:3306/"),
        format!("dynamodb://t?endpoint=http://127.0.0.1:1&colour=red&token={PASSWORD}"),
        // An endpoint with user:password, plain and percent-encoded.
        format!("s3://b/hits?endpoint=http://ak:{PASSWORD}@127.0.0.1:1"),
        format!("s3://b/hits?endpoint=http%3A%2F%2Fak%3A{PASSWORD}%40127.0.0.1%3A1"),
        format!("s3://b/hits broken://u:{PASSWORD}@x"),
    ] {
        // No AWS_LAMBDA_RUNTIME_API: init fails on the URL before any runtime call.
        let output = Command::new(env!("CARGO_BIN_EXE_latency-lambda"))
            .env("LATENCY_STORE", &store)
            .env("RUST_LOG", "trace")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .output()
            .expect("run latency-lambda");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{store} opened:\n{text}");
        assert!(
            text.contains("invalid store URL"),
            "{store}: expected an invalid-URL error:\n{text}"
        );
        assert!(
            !text.contains(PASSWORD),
            "the password leaked for {store}:\n{text}"
        );
    }
}
