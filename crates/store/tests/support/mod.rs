//! Shared by the backend tests: where the local endpoints are, unique names, and local
//! servers that a test starts, stops and restarts itself.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

// Not every suite that includes this module uses all three.
#[allow(unused_imports)]
pub use latency_testkit::services::{repo_root, service, unique};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A server process this test owns, killed when dropped.
pub struct LocalServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub port: u16,
}

impl LocalServer {
    /// Starts `program args…`, waits (at most 60 s) for it to print an
    /// `http://127.0.0.1:PORT` address on stdout or stderr, and returns it.
    pub async fn start(program: &str, args: &[String]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program}: {err}"));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let line = tokio::time::timeout_at(deadline.into(), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("{program} printed no address in 60 s: {seen:?}"))
                .unwrap_or_else(|| panic!("{program} exited before printing an address: {seen:?}"));
            if let Some(start) = line.find("http://127.0.0.1:") {
                let address: String = line[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || ":/.".contains(*c))
                    .collect();
                let port = address
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port in the address");
                // Keep draining output so the server never blocks on a full pipe.
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                return Self {
                    child,
                    address,
                    port,
                };
            }
            seen.push(line);
        }
    }

    /// dynalite on `port` (0: any), keeping its tables in `dir` so they survive a restart.
    pub async fn dynalite(port: u16, dir: &Path) -> Option<Self> {
        let script = service("LATENCY_TEST_DYNALITE_JS")?;
        Some(
            Self::start(
                "node",
                &[
                    script,
                    "--port".into(),
                    port.to_string(),
                    "--path".into(),
                    dir.display().to_string(),
                ],
            )
            .await,
        )
    }

    /// moto's S3 server on `port` (0: any), holding everything in memory.
    pub async fn moto(port: u16) -> Option<Self> {
        let program = service("LATENCY_TEST_MOTO_SERVER")?;
        Some(
            Self::start(
                &program,
                &[
                    "-H".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                ],
            )
            .await,
        )
    }

    /// A throwaway redis-server on `port` (0: a free one), without persistence.
    pub async fn redis(port: u16) -> Self {
        let port = if port == 0 { free_port() } else { port };
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start redis-server: {err}"));
        // redis-server does not print its URL; wait for the port instead.
        wait_for_port(port).await;
        Self {
            child,
            address: format!("redis://127.0.0.1:{port}/"),
            port,
        }
    }

    /// Kills the server (SIGKILL, as a crash would) and waits for it to exit.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits (at most 30 s) until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nothing listens on port {port} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `op` until it succeeds, for at most 30 s; returns its value.
pub async fn eventually<T, E: std::fmt::Display, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match op().await {
            Ok(value) => return value,
            Err(err) => {
                assert!(
                    Instant::now() < deadline,
                    "{what} still failing after 30 s: {err}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// 64 tasks each calling `incr` `per_task` times at once; returns (final count, total).
pub async fn hammer(store: latency_store::SharedStore, per_task: u64) -> (u64, u64) {
    const TASKS: u64 = 64;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    store.incr().await.expect("incr");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("an incrementing task panicked");
    }
    (store.get().await.expect("get"), TASKS * per_task)
}

/// Runs the conformance suite on stores opened from `url_for(n)`; each `n` must name a
/// fresh counter (a new key, item, table or bucket).
pub async fn conforms_at(url_for: impl Fn(usize) -> String) {
    let made = std::sync::atomic::AtomicUsize::new(0);
    latency_store::conformance::run_all(|| {
        let url = url_for(made.fetch_add(1, Ordering::Relaxed));
        async move {
            latency_store::from_url(&url)
                .await
                .unwrap_or_else(|err| panic!("{url} does not open: {err}"))
        }
    })
    .await;
}

/// The original study's read-then-write at `url` must lose some of 64 overlapping
/// tasks' increments (`per_task` each).
pub async fn read_modify_write_loses_updates(url: &str, per_task: u64) {
    let store = latency_store::from_url(url)
        .await
        .unwrap_or_else(|err| panic!("{url} does not open: {err}"));
    let (count, total) = hammer(store, per_task).await;
    assert!(
        count < total,
        "64 overlapping read-then-write increments should lose some of {total}, yet the count is {count}"
    );
}

/// Each URL is refused as invalid, with a message that contains its expected words.
pub async fn assert_invalid_urls(cases: &[(&str, &str)]) {
    for (url, expected) in cases {
        let err = latency_store::from_url(url)
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} must not open"));
        assert!(
            matches!(err, latency_store::StoreError::InvalidUrl { .. }),
            "{url}: {err}"
        );
        assert!(err.to_string().contains(expected), "{url}: {err}");
    }
}

/// Opening `url`, where nothing listens, fails as `backend` being unavailable.
pub async fn assert_unreachable(url: &str, backend: &str) {
    let err = latency_store::from_url(url)
        .await
        .err()
        .unwrap_or_else(|| panic!("{url} must not open: nothing listens there"));
    assert!(
        matches!(&err, latency_store::StoreError::Unavailable { backend: b, .. } if *b == backend),
        "{url}: {err}"
    );
}

/// Opening `create` (a URL with `?create=true`) makes a counter at 0 and opening it again
/// keeps its count; `missing` (the same store, another counter, without `create=true`)
/// does not open, with an error that names `location` and says how to create it.
pub async fn creating_is_explicit(create: &str, missing: &str, location: &str) {
    use latency_store::{StoreError, from_url};
    let store = from_url(create).await.expect("creates the counter");
    assert_eq!(store.get().await.expect("get"), 0);
    assert_eq!(store.incr().await.expect("incr"), 1);
    let again = from_url(create).await.expect("opens again");
    assert_eq!(
        again.get().await.expect("get"),
        1,
        "create=true reset the count"
    );
    let err = from_url(missing)
        .await
        .err()
        .expect("a missing counter must not open without create=true");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(location) && text.contains("?create=true"),
        "{text}"
    );
}

/// Every `incr` and `get` of each (name, store) is a `NotFound` that names `location`:
/// the counter was deleted, and no store may count again from 1.
pub async fn assert_counter_gone(stores: &[(&str, &latency_store::SharedStore)], location: &str) {
    for (name, store) in stores {
        for (op, result) in [("incr", store.incr().await), ("get", store.get().await)] {
            let err = result.expect_err("a deleted counter must not count again");
            assert!(
                matches!(err, latency_store::StoreError::NotFound { .. }),
                "{name} {op}: {err}"
            );
            assert!(err.to_string().contains(location), "{name} {op}: {err}");
        }
    }
}
