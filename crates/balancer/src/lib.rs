//! A round-robin HTTP/1.1 reverse proxy: the load balancer in front of the lab's
//! container rows (the original study's ALB for Fargate, and the Kubernetes
//! LoadBalancer Service in front of three replicas).
//!
//! Why not nginx or haproxy: the lab must run from `cargo run` on a fresh machine with
//! nothing installed, and a proxy in the same binary starts in microseconds and prints
//! the address it bound. Its added latency is measured in `docs/benchmarks.md`.
//!
//! Contract:
//! - Each request goes to the next backend in turn, over pooled keep-alive connections.
//! - A backend that refuses the connection is skipped and the request goes to the next
//!   one (the request has not reached any backend, so this is safe for any method);
//!   when every backend refuses, the client gets `502 {"error": …}`.
//! - Errors after a backend accepted the request are not retried: the client gets 502.
//! - Hop-by-hop headers are not forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Why the balancer could not start.
#[derive(Debug, thiserror::Error)]
pub enum BalancerError {
    /// It was given no backend to send requests to.
    #[error("a load balancer needs at least one backend")]
    NoBackends,
    /// The listening socket failed.
    #[error("load balancer socket error: {0}")]
    Io(#[from] std::io::Error),
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// A round-robin balancer over a fixed set of backends.
pub struct Balancer {
    backends: Vec<SocketAddr>,
    next: AtomicUsize,
    client: Client<HttpConnector, ProxyBody>,
}

impl Balancer {
    /// A balancer over `backends`, which must not be empty.
    pub fn new(backends: Vec<SocketAddr>) -> Result<Arc<Self>, BalancerError> {
        if backends.is_empty() {
            return Err(BalancerError::NoBackends);
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Arc::new(Self {
            backends,
            next: AtomicUsize::new(0),
            client,
        }))
    }

    /// Accepts connections on `listener` and proxies them until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BalancerError> {
        tokio::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                () = &mut shutdown => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let balancer = Arc::clone(&self);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let balancer = Arc::clone(&balancer);
                    async move { Ok::<_, Infallible>(balancer.forward(request).await) }
                });
                if let Err(err) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%err, "client connection ended with an error");
                }
            });
        }
    }

    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (mut head, body) = request.into_parts();
        strip_hop_by_hop(&mut head.headers);
        let path = head
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        // A request without a body can be rebuilt from its head and sent to another
        // backend when one refuses the connection; one with a body is sent once.
        let retryable = body.is_end_stream();
        let mut body = Some(body.boxed());
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for attempt in 0..self.backends.len() {
            let backend = self.backends[(start + attempt) % self.backends.len()];
            let Ok(uri) = Uri::try_from(format!("http://{backend}{path}")) else {
                return error(StatusCode::BAD_REQUEST, "malformed request path");
            };
            let outgoing_body = match body.take() {
                Some(body) => body,
                None if retryable => Empty::new().map_err(|never| match never {}).boxed(),
                None => break,
            };
            let mut outgoing = Request::from_parts(head.clone(), outgoing_body);
            *outgoing.uri_mut() = uri;
            match self.client.request(outgoing).await {
                Ok(response) => {
                    let (mut parts, body) = response.into_parts();
                    strip_hop_by_hop(&mut parts.headers);
                    return Response::from_parts(parts, body.boxed());
                }
                Err(err) if err.is_connect() => {
                    tracing::warn!(%backend, %err, "backend refused the connection");
                }
                Err(err) => {
                    tracing::warn!(%backend, %err, "backend failed");
                    return error(StatusCode::BAD_GATEWAY, "backend failed to answer");
                }
            }
        }
        error(
            StatusCode::BAD_GATEWAY,
            "no backend accepted the connection",
        )
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [header::HeaderName; 6] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

fn error(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
