//! Benchmark target: what `latency serve --store URL` runs, without the CLI around it —
//! the same [`latency_app::serve_with`], [`latency_app::router`] and
//! [`latency_app::AppState`] with the default limits, on the same multi-threaded runtime.
//! `scripts/bench-serve` measures it against `hello_axum`; it builds in minutes, where the
//! `latency` binary needs most of the workspace.
//!
//! Usage: `serve_store URL [ADDR]` (ADDR defaults to 127.0.0.1:0); prints
//! `listening on http://ADDR`.

use latency_app::{AppConfig, AppState, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: serve_store URL [ADDR]")?;
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let store = latency_store::from_url(&url).await?;
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = latency_app::router(AppState::new(store, AppConfig::default()));
    latency_app::serve_with(listener, app, ServerConfig::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
