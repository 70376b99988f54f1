//! A store password never reaches the output of `latency serve` (issue 10): not in
//! "invalid store URL" errors, not in the errors of a store that cannot be reached, not
//! in `RUST_LOG=debug` logs. Every byte of stdout and stderr is searched for it.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use common::{latency, wait_bounded};

const PASSWORD: &str = "hunter2-Zq7";

/// Runs `latency serve --store URL` with debug logs and returns its exit code and all of
/// its output. A store that opens would serve for ever, so the listen address is taken
/// and `serve` fails after opening it at the latest.
fn serve_output(store: &str) -> (Option<i32>, String) {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = busy.local_addr().expect("address").to_string();
    let mut child = latency()
        .args(["serve", "--listen", &address, "--store", store])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latency serve");
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut stream| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    })
    .collect();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let output = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader"))
        .collect::<Vec<_>>()
        .join("\n");
    (status.code(), output)
}

#[test]
fn store_passwords_never_appear_in_serve_output() {
    let cases = [
        // Invalid URLs of each kind: the error names the URL, redacted.
        (format!("redis://:{PASSWORD}@127.0.0.1:6379/?kee=1"), true),
        (
            format!("postgres://me:{PASSWORD}@127.0.0.1:5432/db?table=no-such!"),
            true,
        ),
        (
            format!("s3://b/hits?endpoint=http://ak:{PASSWORD}@127.0.0.1:1"),
            true,
        ),
        (
            format!(
                "dynamodb://t?endpoint=http%3A%2F%2Fak%3A{PASSWORD}%40127.0.0.1%3A1&colour=red"
            ),
            true,
        ),
        (format!("redis://u:{PASSWORD}@bad host:1/"), true),
        // Well-formed: Redis refuses the password (or is not there), PostgreSQL too;
        // either way the store's error and the debug logs are printed.
        (
            format!("redis://:{PASSWORD}@127.0.0.1:6379/0?key=latency-secrets-test"),
            false,
        ),
        (
            format!("postgres://nobody:{PASSWORD}@127.0.0.1:1/db"),
            false,
        ),
    ];
    for (store, invalid) in &cases {
        let (code, output) = serve_output(store);
        assert_ne!(code, Some(0), "{store} should not serve:\n{output}");
        assert!(
            !output.contains(PASSWORD),
            "the password leaked for {store}:\n{output}"
        );
        if *invalid {
            assert!(
                output.contains("invalid store URL"),
                "{store}: expected an invalid-URL error:\n{output}"
            );
        }
        assert!(
            output.contains("cannot open the counter store"),
            "{store}: expected the store's error:\n{output}"
        );
    }
}
