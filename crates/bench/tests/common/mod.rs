//! In-process HTTP servers of known behaviour, on port 0, for the engine's tests.
#![allow(dead_code)] // each test crate uses a different subset

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use latency_bench::{BenchConfig, Stop};
use tokio::net::TcpListener;

/// What the test server saw.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub connections: AtomicU64,
}

/// Serves `handler(i)` for the i-th request (0-based, across connections).
pub async fn serve<F, Fut>(handler: F) -> (SocketAddr, Arc<Seen>)
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (u16, String)> + Send + 'static,
{
    serve_maybe_tls(None, handler).await
}

/// [`serve`], over TLS when `tls` is given (a connection whose handshake fails is
/// counted in `connections` and dropped).
pub async fn serve_maybe_tls<F, Fut>(
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: F,
) -> (SocketAddr, Arc<Seen>)
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (u16, String)> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Seen::default());
    let seen2 = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            seen2.connections.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let seen3 = Arc::clone(&seen2);
            let tls = tls.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let i = seen3.requests.fetch_add(1, Ordering::SeqCst);
                    let fut = handler(i);
                    async move {
                        let (status, body) = fut.await;
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(StatusCode::from_u16(status).expect("status"))
                                .header("content-type", "text/plain")
                                .body(Full::new(Bytes::from(body)))
                                .expect("response"),
                        )
                    }
                });
                match tls {
                    None => {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    }
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// A correct counter that answers after `delay`.
pub fn counter_after(
    delay: Duration,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = (u16, String)> + Send>> + Clone {
    move |i| {
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            (200, (i + 1).to_string())
        })
    }
}

pub fn plan(addr: SocketAddr, requests: u64) -> BenchConfig {
    let mut c = BenchConfig::new(&format!("http://{addr}/hits")).expect("url");
    c.stop = Stop::Requests(requests);
    c
}

pub fn ms(d: f64, want: f64) -> bool {
    (d - want).abs() < 0.005
}
