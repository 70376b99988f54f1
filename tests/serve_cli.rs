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

/// The same HTTP contract check every language variant passes (`latency_testkit::contract`):
/// status codes, content types, JSON errors, and an exact counter under concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_meets_the_shared_http_contract() {
    for store in ["memory://", "file"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match store {
            "file" => format!("file://{}", dir.path().join("hits").display()),
            other => other.to_owned(),
        };
        let server = Server::start(&url, &[]);
        latency_testkit::contract::check(
            &server.base_url,
            latency_testkit::contract::Contract::default(),
        )
        .await;
        assert!(server.terminate().success(), "{url}: clean exit on SIGTERM");
    }
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

/// Guards a test against hanging if the behaviour under test is broken; generous, because
/// the machine may be busy. No assertion depends on how fast the machine is.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn address_of(server: &Server) -> String {
    server
        .base_url
        .strip_prefix("http://")
        .expect("http URL")
        .to_owned()
}

/// Reads until the server closes the connection; `Err` if it is still open at the guard.
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(HANG_GUARD, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    read.map(|()| received)
        .map_err(|_| format!("connection still open after {HANG_GUARD:?}"))
}

/// A connection that has sent the start of a request head and not its end.
async fn half_sent_request(address: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /hits HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("partial head");
    stream
}

#[tokio::test]
async fn head_does_not_count() {
    let server = Server::start("memory://", &[]);
    let client = client();
    for _ in 0..3 {
        let response = client
            .head(format!("{}/hits", server.base_url))
            .send()
            .await
            .expect("HEAD");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(hit(&client, &server.base_url).await, Ok(1));
}

#[test]
fn limits_that_cannot_work_are_usage_errors() {
    for (flag, value) in [
        ("--request-timeout", "0s"),
        ("--body-limit", "0"),
        ("--header-read-timeout", "0ms"),
        ("--idle-timeout", "0s"),
        ("--max-connections", "0"),
    ] {
        let output = latency()
            .args(["serve", "--listen", "127.0.0.1:0", flag, value])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains("greater than zero") || stderr.contains("at least 1"),
            "{flag} {value}: {stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "{flag} {value}: the server started"
        );
    }
}

/// Slowloris: connections that trickle a request head forever, as many as the cap
/// allows. Each must be dropped, never counted, and the server must serve a normal
/// client afterwards.
#[tokio::test]
async fn slowloris_connections_are_dropped_and_the_cap_is_kept() {
    use tokio::io::AsyncWriteExt;
    const CAP: usize = 6;
    let server = Server::start(
        "memory://",
        &[
            "--header-read-timeout",
            "1s",
            "--max-connections",
            &CAP.to_string(),
        ],
    );
    let address = address_of(&server);
    let slow: Vec<_> = (0..CAP)
        .map(|_| {
            let address = address.clone();
            tokio::spawn(async move {
                let mut stream = half_sent_request(&address).await;
                // One header byte every 100 ms, bounded: far longer than the timeout.
                for _ in 0..300 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if stream.write_all(b"X").await.is_err() {
                        return Ok(());
                    }
                }
                Err("the server kept a slowloris connection for 30 s".to_owned())
            })
        })
        .collect();
    for task in slow {
        task.await.expect("slow client").expect("dropped");
    }
    // Never counted: the first real hit is 1.
    assert_eq!(hit(&client(), &server.base_url).await, Ok(1));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start("memory://", &["--idle-timeout", "1s"]);
    let mut stream = tokio::net::TcpStream::connect(address_of(&server))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /hits HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut answer = vec![0u8; 1024];
    let n = stream.read(&mut answer).await.expect("answer");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &answer[..n]
    );
    let rest = read_until_closed(&mut stream)
        .await
        .expect("closed when idle");
    assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
}

/// SIGTERM with a half-sent request head and an idle keep-alive connection open: the
/// server must exit at once, not after --drain-timeout.
#[tokio::test]
async fn a_partial_header_does_not_hold_up_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start("memory://", &["--drain-timeout", "300s"]);
    let address = address_of(&server);
    let mut partial = half_sent_request(&address).await;
    let mut idle = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    idle.write_all(b"GET /hits HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut answer = vec![0u8; 1024];
    let n = idle.read(&mut answer).await.expect("answer");
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));

    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("join");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    read_until_closed(&mut partial)
        .await
        .expect("partial closed");
    read_until_closed(&mut idle).await.expect("idle closed");
}

/// Sends `request` while reading, so the answer is read even if the server closes before
/// taking all the bytes; returns (status line, content type, body).
async fn raw_answer(address: &str, request: Vec<u8>) -> (String, String, String) {
    use tokio::io::AsyncWriteExt;
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        // The server may close mid-request (that is the point): ignore write errors.
        let _ = writer.write_all(&request).await;
        writer
    });
    let received = read_until_closed(&mut reader)
        .await
        .expect("the server closed the connection after its error answer");
    sender.abort();
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let content_type = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

#[tokio::test]
async fn hypers_own_error_answers_are_json() {
    let server = Server::start("memory://", &[]);
    let address = address_of(&server);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let huge_header = format!("GET / HTTP/1.1\r\nX-Big: {}", "b".repeat(600_000));
    for (request, status) in [
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), "400"),
        (long_uri.into_bytes(), "414"),
        (huge_header.into_bytes(), "431"),
    ] {
        let (status_line, content_type, body) = raw_answer(&address, request).await;
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {status}")),
            "{status_line}"
        );
        assert_eq!(content_type, "application/json", "{status_line}");
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|err| panic!("{status_line}: body {body:?} is not JSON: {err}"));
        assert!(json["error"].is_string(), "{status_line}: {body}");
    }
    // The server is unharmed and nothing was counted.
    assert_eq!(hit(&client(), &server.base_url).await, Ok(1));
}
