//! `latency serve` end to end: the address line, bad input, SIGTERM, and the file store's
//! durability across `kill -9` and across processes.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Server, latency};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn hit(client: &reqwest::Client, base: &str) -> Result<u64, String> {
    let response = client
        .get(format!("{base}/hits"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let text = response.text().await.map_err(|e| e.to_string())?;
    text.parse().map_err(|_| format!("not a count: {text:?}"))
}

#[tokio::test]
async fn serve_prints_its_bound_address_and_counts() {
    let server = Server::start("memory://", &[]);
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.base_url
    );
    assert!(
        !server.base_url.ends_with(":0"),
        "printed port 0, not the bound port"
    );
    let client = client();
    for expected in 1..=3 {
        assert_eq!(hit(&client, &server.base_url).await, Ok(expected));
    }
}

#[test]
fn a_bad_store_url_is_one_clear_error() {
    let output = latency()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "gopher://nowhere",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gopher://nowhere"), "{stderr}");
    assert!(stderr.contains("accepted forms"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "printed an address for a server that never ran"
    );
}

#[test]
fn a_busy_port_is_named_in_the_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let output = latency()
        .args(["serve", "--listen", &address])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}

#[test]
fn a_malformed_listen_address_is_a_usage_error() {
    let output = latency()
        .args(["serve", "--listen", "localhost:port"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
}

#[test]
fn help_explains_every_store_url() {
    let output = latency().args(["serve", "--help"]).output().expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for form in [
        "memory://",
        "file:///abs/path",
        "?create=false",
        "listening on",
    ] {
        assert!(help.contains(form), "--help lacks {form}:\n{help}");
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let server = Server::start("memory://", &[]);
    assert_eq!(hit(&client(), &server.base_url).await, Ok(1));
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("join");
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

/// Requests stream in from 4 clients; the server is killed with SIGKILL mid-stream and
/// restarted on the same file. Every hit a client saw acknowledged must be in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_keeps_every_acknowledged_hit_across_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_url = format!("file://{}/hits", dir.path().display());
    let mut server = Server::start(&store_url, &[]);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let highest_seen = Arc::new(AtomicU64::new(0));
    const KILL_AFTER: u64 = 300;
    const MAX_REQUESTS_PER_CLIENT: u64 = 5_000;

    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, acknowledged, highest_seen) = (
                server.base_url.clone(),
                acknowledged.clone(),
                highest_seen.clone(),
            );
            tokio::spawn(async move {
                let client = client();
                for _ in 0..MAX_REQUESTS_PER_CLIENT {
                    match hit(&client, &base).await {
                        Ok(value) => {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                            highest_seen.fetch_max(value, Ordering::SeqCst);
                        }
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "too few hits acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    for client in clients {
        client.await.expect("client task");
    }
    let acked = acknowledged.load(Ordering::SeqCst);
    let highest = highest_seen.load(Ordering::SeqCst);
    assert!(acked >= KILL_AFTER);

    let restarted = Server::start(&store_url, &[]);
    let next = hit(&client(), &restarted.base_url)
        .await
        .expect("restarted server counts");
    let stored_before_restart = next - 1;
    assert!(
        stored_before_restart >= acked,
        "{acked} hits were acknowledged but only {stored_before_restart} survived kill -9"
    );
    assert!(
        stored_before_restart >= highest,
        "a returned value {highest} was lost"
    );
}

/// Two servers share one counter file; concurrent clients split across both must never
/// see a value twice, and the file must end at the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_file_never_lose_an_update() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store_url = format!("file://{}/hits", dir.path().display());
    let servers = [
        Server::start(&store_url, &[]),
        Server::start(&store_url, &[]),
    ];
    const CLIENTS: usize = 8;
    const HITS_PER_CLIENT: u64 = 150;

    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let base = servers[i % 2].base_url.clone();
            tokio::spawn(async move {
                let client = client();
                let mut values = Vec::new();
                for _ in 0..HITS_PER_CLIENT {
                    values.push(hit(&client, &base).await.expect("hit"));
                }
                values
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for value in task.await.expect("client") {
            assert!(seen.insert(value), "value {value} returned twice");
        }
    }
    let total = CLIENTS as u64 * HITS_PER_CLIENT;
    assert_eq!(seen.len() as u64, total);
    assert_eq!(
        seen.iter().max(),
        Some(&total),
        "values are not 1..={total}"
    );
    let store = latency_store::from_url(&store_url).await.expect("open");
    assert_eq!(store.get().await.expect("get"), total);
}
