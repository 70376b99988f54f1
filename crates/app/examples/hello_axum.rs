//! Benchmark reference: the smallest axum server, on the same runtime and socket options
//! as `latency serve`, answering `GET /` with a fixed body. `scripts/bench-serve` compares
//! `latency serve --store memory://` against it; the difference is the app's own cost
//! (routing layers, metrics, the store).
//!
//! Usage: `hello_axum [ADDR]` (default 127.0.0.1:0); prints `listening on http://ADDR`.

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route("/", get(|| async { "hello" }));
    axum::serve(listener, app).await
}
