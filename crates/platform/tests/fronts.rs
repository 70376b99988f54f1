//! The API Gateway front and the Invoke API, over real connections to real processes.

mod support;

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use latency_platform::{GatewayOptions, Platform};
use serde_json::json;
use support::*;
use tokio::net::TcpListener;

async fn local_listener() -> TcpListener {
    TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind 127.0.0.1:0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_turns_requests_into_payload_2_events() {
    guarded(async {
        let platform = Platform::start(vec![spec("web").timeout(Duration::from_millis(500))])
            .expect("platform");
        let options = GatewayOptions {
            index_page: Some(bytes::Bytes::from_static(b"<!doctype html><p>the page</p>")),
            ..GatewayOptions::default()
        };
        let front = platform
            .serve_gateway_with("web", local_listener().await, options)
            .await
            .expect("front");
        let base = front.url();

        let (status, headers, body) = http_get(&format!("{base}/hello?x=1")).await;
        assert_eq!(status, 200);
        assert_eq!(body, "hello from /hello");
        assert_eq!(header(&headers, "content-type"), Some("text/plain"));
        assert_eq!(header(&headers, "x-seen-method"), Some("GET"));
        assert_eq!(header(&headers, "set-cookie"), Some("seen=1; Path=/"));
        let pid: u32 = header(&headers, "x-test-function")
            .and_then(|p| p.parse().ok())
            .expect("pid header");
        assert!(header(&headers, "apigw-requestid").is_some());

        let (status, headers, body) = http_get(&format!("{base}/")).await;
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type").is_some_and(|c| c.starts_with("text/html")));
        assert_eq!(body, "<!doctype html><p>the page</p>");

        // HTTP APIs answer 500 for a malformed response, a function error and the
        // function's own timeout.
        for path in ["/malformed", "/error", "/sleep?ms=20000"] {
            let (status, _, body) = http_get(&format!("{base}{path}")).await;
            assert_eq!(
                (status, body.as_str()),
                (500, r#"{"message":"Internal Server Error"}"#),
                "{path}"
            );
        }

        // The handled errors kept the first instance; the timeout replaced it.
        let (status, headers, _) = http_get(&format!("{base}/again")).await;
        assert_eq!(status, 200);
        assert_ne!(
            header(&headers, "x-test-function").and_then(|p| p.parse().ok()),
            Some(pid)
        );
        assert_eq!(platform.cold_starts("web"), 2);
        front.shutdown().await;
        platform.shutdown().await;
    })
    .await;
}

fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    let credentials = aws_credential_types::Credentials::new("test", "test", None, None, "static");
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("eu-west-2"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_lambda_invokes_through_the_invoke_api() {
    guarded(async {
        let platform = Platform::start(vec![spec("calc")]).expect("platform");
        let front = platform
            .serve_invoke_api(local_listener().await)
            .await
            .expect("front");
        let client = lambda_client(&front.url());

        let output = client
            .invoke()
            .function_name("calc")
            .payload(Blob::new(json!({"op": "echo", "x": 7}).to_string()))
            .send()
            .await
            .expect("invoke succeeds");
        assert_eq!(output.status_code(), 200);
        assert_eq!(output.executed_version(), Some("$LATEST"));
        assert_eq!(output.function_error(), None);
        let payload: serde_json::Value =
            serde_json::from_slice(output.payload().expect("payload").as_ref()).expect("JSON");
        assert_eq!(payload["echo"]["x"], 7);

        // By ARN, and a function error.
        let output = client
            .invoke()
            .function_name("arn:aws:lambda:eu-west-2:000000000000:function:calc")
            .payload(Blob::new(json!({"op": "error"}).to_string()))
            .send()
            .await
            .expect("invoke answers");
        assert_eq!(output.function_error(), Some("Unhandled"));
        let payload: serde_json::Value =
            serde_json::from_slice(output.payload().expect("payload").as_ref()).expect("JSON");
        assert!(
            payload["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("asked to fail"))
        );

        let err = client
            .invoke()
            .function_name("nope")
            .send()
            .await
            .expect_err("unknown function");
        let service_error = err.into_service_error();
        assert!(
            service_error.is_resource_not_found_exception(),
            "{service_error:?}"
        );

        // Another path is an Invoke-style error too, not an empty 404.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(front.local_addr())
            .await
            .expect("connect");
        stream
            .write_all(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("x-amzn-errortype: unknownoperationexception"),
            "{answer}"
        );
        front.shutdown().await;
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_front_also_serves_the_invoke_api() {
    guarded(async {
        let platform = Platform::start(vec![spec("both")]).expect("platform");
        let front = platform
            .serve_gateway("both", local_listener().await)
            .await
            .expect("front");
        let output = lambda_client(&front.url())
            .invoke()
            .function_name("both")
            .payload(Blob::new(json!({"op": "echo"}).to_string()))
            .send()
            .await
            .expect("invoke succeeds");
        assert_eq!(output.function_error(), None);
        front.shutdown().await;
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_page_every_path_goes_to_the_function_and_slow_ones_get_503() {
    guarded(async {
        let platform = Platform::start(vec![spec("plain").timeout(Duration::from_secs(30))])
            .expect("platform");
        let options = GatewayOptions {
            index_page: None,
            integration_timeout: Duration::from_millis(200),
            ..GatewayOptions::default()
        };
        let front = platform
            .serve_gateway_with("plain", local_listener().await, options)
            .await
            .expect("front");
        let (status, _, body) = http_get(&format!("{}/", front.url())).await;
        assert_eq!((status, body.as_str()), (200, "hello from /"));
        // Past API Gateway's integration timeout (here 200 ms; the function's own
        // timeout is 30 s): 503, as HTTP APIs answer.
        let (status, _, body) = http_get(&format!("{}/sleep?ms=20000", front.url())).await;
        assert_eq!(
            (status, body.as_str()),
            (503, r#"{"message":"Service Unavailable"}"#)
        );
        front.shutdown().await;
        platform.shutdown().await;
    })
    .await;
}
