//! Graceful shutdown: a request in flight when shutdown starts still gets its answer.

use std::sync::Arc;
use std::time::Duration;

use latency_app::{AppConfig, AppState, router, serve};
use latency_store::{CounterStore, MemoryStore, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// A real memory store whose `incr` waits at a gate, so a test can hold a request in flight.
struct GatedStore {
    inner: MemoryStore,
    entered: Notify,
    release: Notify,
}

#[async_trait::async_trait]
impl CounterStore for GatedStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.incr().await
    }
    async fn get(&self) -> Result<u64, StoreError> {
        self.inner.get().await
    }
    fn backend(&self) -> &'static str {
        "gated"
    }
}

/// Guards the test against hanging forever if the behaviour under test is broken.
const HANG_GUARD: Duration = Duration::from_secs(10);

#[tokio::test]
async fn shutdown_drains_the_request_in_flight() {
    let store = Arc::new(GatedStore {
        inner: MemoryStore::new(),
        entered: Notify::new(),
        release: Notify::new(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = router(AppState::new(store.clone(), AppConfig::default()));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, async {
        let _ = stopped.await;
    }));

    let client = tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream
            .write_all(b"GET /hits HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    });

    tokio::time::timeout(HANG_GUARD, store.entered.notified())
        .await
        .expect("request reached the store");
    stop.send(()).expect("server still running");
    // The server must not finish while the request is held at the gate.
    tokio::task::yield_now().await;
    assert!(
        !server.is_finished(),
        "server exited with a request in flight"
    );
    store.release.notify_one();

    let response = tokio::time::timeout(HANG_GUARD, client)
        .await
        .expect("client finished")
        .expect("client task");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\n1"), "{response}");
    tokio::time::timeout(HANG_GUARD, server)
        .await
        .expect("server stopped after draining")
        .expect("server task")
        .expect("server result");
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still accepting after shutdown"
    );
}
