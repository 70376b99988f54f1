//! The same router as a long-running HTTP server (what `latency serve` runs), over a real
//! TCP connection: while the store's server is down, `/hits` answers 503 with a JSON
//! message and the server keeps serving; when the store returns, the count continues.
#![cfg(feature = "dynamodb")]

#[path = "../../store/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use latency_app::{AppConfig, AppState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One `GET path` on a fresh connection; returns (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("the server accepts");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers within 20 s")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answers_503_while_the_store_is_down_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(dynalite) = support::LocalServer::dynalite(0, dir.path()).await else {
        return;
    };
    let port = dynalite.port;
    let store = latency_store::from_url(&format!(
        "dynamodb://outage?endpoint={}&create=true",
        dynalite.address
    ))
    .await
    .expect("opens");
    let app = latency_app::router(AppState::new(store, AppConfig::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(latency_app::serve(listener, app, std::future::pending()));

    assert_eq!(get(addr, "/hits").await, (200, "1".to_owned()));

    dynalite.kill().await;
    for _ in 0..3 {
        let (status, body) = get(addr, "/hits").await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body, r#"{"error":"the counter store is unavailable; try again shortly"}"#,
            "a clear JSON message, no internals"
        );
    }
    assert_eq!(
        get(addr, "/healthz").await.0,
        200,
        "the server itself stays up"
    );
    assert!(!server.is_finished(), "the server task is still running");

    let _dynalite = support::LocalServer::dynalite(port, dir.path())
        .await
        .expect("dynalite restarts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(addr, "/hits").await;
        if status == 200 {
            assert_eq!(body, "2", "the count continues where it stopped");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} 30 s after the store came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
