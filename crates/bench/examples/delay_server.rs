//! A counter server of known timing, for `scripts/bench-loadgen` (not for tests: tests
//! start their servers in-process).
//!
//! ```text
//! delay_server [--delay 2ms] [--stall-at N --stall 500ms]
//! ```
//! Answers every `GET` with the next counter value after `--delay`. With `--stall-at N`,
//! the N-th request starts a stall: every answer due before it ends is held until
//! `--stall` has passed, as a whole-process pause (GC, failover) would. Prints
//! `listening on http://127.0.0.1:PORT` and serves until killed.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;
use tokio::time::Instant;

struct State {
    count: AtomicU64,
    delay: Duration,
    stall_at: Option<u64>,
    stall: Duration,
    stall_until: Mutex<Option<Instant>>,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn duration(name: &str, default: Duration) -> Duration {
    arg(name).map_or(default, |v| {
        humantime::parse_duration(&v).expect("a duration like 2ms")
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let state = Arc::new(State {
        count: AtomicU64::new(0),
        delay: duration("--delay", Duration::ZERO),
        stall_at: arg("--stall-at").map(|v| v.parse().expect("a request number")),
        stall: duration("--stall", Duration::from_millis(500)),
        stall_until: Mutex::new(None),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let svc = service_fn(move |_req| {
                let state = Arc::clone(&state);
                async move {
                    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
                    if !state.delay.is_zero() {
                        // tokio's timer rounds up to whole milliseconds (2 ms would
                        // become 2–3 ms); a thread sleep is exact to tens of µs.
                        let delay = state.delay;
                        let _ =
                            tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
                    }
                    let until = {
                        let mut until = state.stall_until.lock().await;
                        if state.stall_at == Some(n) {
                            *until = Some(Instant::now() + state.stall);
                        }
                        *until
                    };
                    if let Some(until) = until {
                        tokio::time::sleep_until(until).await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(n.to_string()))))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
