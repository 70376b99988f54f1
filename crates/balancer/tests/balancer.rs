//! The balancer spreads requests over real `latency` app servers and survives a dead one.

use std::net::SocketAddr;
use std::sync::Arc;

use latency_app::{AppConfig, AppState, router, serve};
use latency_balancer::{Balancer, BalancerError};
use latency_store::SharedStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts an app server on port 0 counting in `store`; returns its address.
async fn app_server(store: SharedStore) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let app = router(AppState::new(store, AppConfig::default()));
    tokio::spawn(serve(listener, app, std::future::pending()));
    address
}

async fn balancer_over(backends: Vec<SocketAddr>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let balancer = Balancer::new(backends).expect("balancer");
    tokio::spawn(balancer.serve(listener, std::future::pending()));
    address
}

/// One HTTP/1.1 GET on a fresh connection; returns (status, body).
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response[9..12].parse().expect("status code");
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn requests_go_round_robin_over_every_backend() {
    let stores: Vec<SharedStore> = (0..3)
        .map(|_| Arc::new(latency_store::MemoryStore::new()) as SharedStore)
        .collect();
    let mut backends = Vec::new();
    for store in &stores {
        backends.push(app_server(store.clone()).await);
    }
    let front = balancer_over(backends).await;
    for _ in 0..9 {
        let (status, _) = get(front, "/hits").await;
        assert_eq!(status, 200);
    }
    for store in &stores {
        assert_eq!(store.get().await.expect("get"), 3, "uneven spread");
    }
}

#[tokio::test]
async fn a_shared_store_behind_the_balancer_counts_every_hit_once() {
    let store: SharedStore = Arc::new(latency_store::MemoryStore::new());
    let backends = vec![
        app_server(store.clone()).await,
        app_server(store.clone()).await,
    ];
    let front = balancer_over(backends).await;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (status, body) = get(front, "/hits").await;
        assert_eq!(status, 200);
        seen.push(body.parse::<u64>().expect("count"));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_dead_backend_is_skipped_and_all_dead_is_a_json_502() {
    // A port that was bound and released: nothing listens there any more.
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr")
    };
    let store: SharedStore = Arc::new(latency_store::MemoryStore::new());
    let live = app_server(store.clone()).await;
    let front = balancer_over(vec![dead, live]).await;
    for _ in 0..4 {
        assert_eq!(get(front, "/hits").await.0, 200);
    }
    assert_eq!(store.get().await.expect("get"), 4);

    let all_dead = balancer_over(vec![dead]).await;
    let (status, body) = get(all_dead, "/hits").await;
    assert_eq!(status, 502);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert!(
        json["error"]
            .as_str()
            .expect("error")
            .contains("no backend"),
        "{body}"
    );
}

#[test]
fn no_backends_is_an_error() {
    assert!(matches!(
        Balancer::new(vec![]),
        Err(BalancerError::NoBackends)
    ));
}
