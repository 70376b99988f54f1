//! Measures one counter store directly, without HTTP, and prints one JSON line.
//!
//! ```text
//! cargo run --release -p latency-store --features s3,dynamodb,redis,postgres \
//!     --example store_bench -- URL [--seq N] [--tasks T --per-task K] [--round-trips]
//! ```
//!
//! - `--seq N` (default 1000, after 50 warm-up calls): sequential `incr` latency
//!   (p50/p90/p99/mean, µs) and throughput.
//! - `--tasks T --per-task K` (default 0: skipped): T concurrent tasks × K `incr`s on one
//!   store, then `get`: lost updates = T × K − the counter's advance.
//! - `--round-trips`: for URLs with `endpoint=http://…` (s3, dynamodb), route the store
//!   through a counting TCP proxy and report the HTTP responses the backend sent per
//!   sequential `incr` and per concurrent one. Latency is not measured through the proxy.
//!
//! Use a fresh counter (a new key, item or table) for each run.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

struct Args {
    url: String,
    seq: u64,
    tasks: u64,
    per_task: u64,
    round_trips: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        url: String::new(),
        seq: 1000,
        tasks: 0,
        per_task: 0,
        round_trips: false,
    };
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = args.next().ok_or(format!("{name} needs a value"))?;
            Ok(value.parse()?)
        };
        match arg.as_str() {
            "--seq" => parsed.seq = number("--seq")?,
            "--tasks" => parsed.tasks = number("--tasks")?,
            "--per-task" => parsed.per_task = number("--per-task")?,
            "--round-trips" => parsed.round_trips = true,
            url if !url.starts_with("--") && parsed.url.is_empty() => parsed.url = url.to_owned(),
            other => return Err(format!("unexpected argument `{other}`").into()),
        }
    }
    if parsed.url.is_empty() {
        return Err(
            "usage: store_bench URL [--seq N] [--tasks T --per-task K] [--round-trips]".into(),
        );
    }
    Ok(parsed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let mut url = args.url.clone();
    let mut responses = None;
    if args.round_trips {
        let (proxied, counter) = proxy_endpoint(&url).await?;
        url = proxied;
        responses = Some(counter);
    }
    let store = latency_store::from_url(&url).await?;
    let mut out = serde_like::Object::default();
    out.string("url", &args.url);
    out.string("backend", store.backend());

    if args.seq > 0 {
        for _ in 0..50 {
            store.incr().await?;
        }
        let before = responses.as_ref().map(|c| c.load(Ordering::Relaxed));
        let mut micros = Vec::with_capacity(args.seq as usize);
        let started = Instant::now();
        for _ in 0..args.seq {
            let t = Instant::now();
            store.incr().await?;
            micros.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let elapsed = started.elapsed().as_secs_f64();
        micros.sort_by(f64::total_cmp);
        let pick = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
        out.number("seq_n", args.seq as f64);
        out.number("p50_us", pick(0.50));
        out.number("p90_us", pick(0.90));
        out.number("p99_us", pick(0.99));
        out.number("mean_us", micros.iter().sum::<f64>() / micros.len() as f64);
        out.number("ops_per_s", args.seq as f64 / elapsed);
        if let (Some(before), Some(counter)) = (before, &responses) {
            let after = counter.load(Ordering::Relaxed);
            out.number(
                "round_trips_per_seq_incr",
                (after - before) as f64 / args.seq as f64,
            );
        }
    }

    if args.tasks > 0 && args.per_task > 0 {
        let start_value = store.get().await?;
        let before = responses.as_ref().map(|c| c.load(Ordering::Relaxed));
        let errors = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let handles: Vec<_> = (0..args.tasks)
            .map(|_| {
                let store = store.clone();
                let errors = Arc::clone(&errors);
                let per_task = args.per_task;
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        if store.incr().await.is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let after_responses = responses.as_ref().map(|c| c.load(Ordering::Relaxed));
        let end_value = store.get().await?;
        let calls = args.tasks * args.per_task;
        let succeeded = calls - errors.load(Ordering::Relaxed);
        out.number("conc_tasks", args.tasks as f64);
        out.number("conc_calls", calls as f64);
        out.number("conc_errors", errors.load(Ordering::Relaxed) as f64);
        out.number("conc_ops_per_s", succeeded as f64 / elapsed);
        out.number(
            "conc_lost",
            succeeded.saturating_sub(end_value - start_value) as f64,
        );
        if let (Some(before), Some(after)) = (before, after_responses) {
            out.number(
                "round_trips_per_conc_incr",
                (after - before) as f64 / calls as f64,
            );
        }
    }
    println!("{}", out.finish());
    Ok(())
}

/// Replaces `endpoint=http://HOST:PORT` in `url` by a local proxy to it that counts the
/// HTTP responses coming back (each `HTTP/1.1 ` status line is one round trip).
async fn proxy_endpoint(url: &str) -> Result<(String, Arc<AtomicU64>)> {
    let parsed = url::Url::parse(url)?;
    let endpoint = parsed
        .query_pairs()
        .find(|(k, _)| k == "endpoint")
        .map(|(_, v)| v.into_owned())
        .ok_or("--round-trips needs an endpoint=http://… parameter")?;
    let target = endpoint
        .strip_prefix("http://")
        .ok_or("--round-trips needs an http:// endpoint")?
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = format!("http://{}", listener.local_addr()?);
    let counter = Arc::new(AtomicU64::new(0));
    let counting = Arc::clone(&counter);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let target = target.clone();
            let counting = Arc::clone(&counting);
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(&target).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                    let downstream = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut tail: Vec<u8> = Vec::new();
                        loop {
                            let n = match server_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            // Count status lines, also when one is split across reads.
                            tail.extend_from_slice(&buf[..n]);
                            let hits = tail.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
                            counting.fetch_add(hits as u64, Ordering::Relaxed);
                            let keep = tail.len().min(8);
                            tail.drain(..tail.len() - keep);
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let _ = tokio::join!(upstream, downstream);
                }
            });
        }
    });
    let proxied = url.replace(&endpoint, &proxy);
    Ok((proxied, counter))
}

/// Just enough JSON for one flat line of strings and numbers.
mod serde_like {
    #[derive(Default)]
    pub struct Object(Vec<String>);

    impl Object {
        pub fn string(&mut self, key: &str, value: &str) {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            self.0.push(format!("\"{key}\":\"{escaped}\""));
        }

        pub fn number(&mut self, key: &str, value: f64) {
            self.0
                .push(format!("\"{key}\":{}", (value * 1000.0).round() / 1000.0));
        }

        pub fn finish(self) -> String {
            format!("{{{}}}", self.0.join(","))
        }
    }
}
