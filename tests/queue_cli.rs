//! The queue workload's failure tests, end to end through the `latency` binary, on real
//! parts: RabbitMQ (5672), moto's SQS, Redis, real worker processes and real signals.
//! Every wait is bounded; x values are 0.01-1 s.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use latency_queue::{DeliveryPolicy, Job, SharedDoneCounter, SharedQueue, done_counter_from_url};

const PATIENCE: Duration = Duration::from_secs(60);

/// A `latency worker` process, killed when dropped, with its output as lines.
struct Worker {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Worker {
    fn start(queue: &str, store: &str, concurrency: u32, max_receives: u32) -> Worker {
        Self::spawn(queue, store, concurrency, max_receives, &[])
    }

    /// Starts a worker with extra flags (`--calc-max`, `--drain-timeout`, …).
    fn start_with(queue: &str, store: &str, max_receives: u32, extra: &[&str]) -> Worker {
        Self::spawn(queue, store, 4, max_receives, extra)
    }

    fn spawn(
        queue: &str,
        store: &str,
        concurrency: u32,
        max_receives: u32,
        extra: &[&str],
    ) -> Worker {
        let mut child = common::latency()
            .args(["worker", "--queue", queue, "--store", store])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--max-receives", &max_receives.to_string()])
            .args(["--visibility-timeout", "2s", "--wait", "1s"])
            .args(extra)
            .env("RUST_LOG", "latency_queue=debug,info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latency worker");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        let worker = Worker {
            child,
            stdout,
            stderr,
        };
        let ready = worker
            .stdout
            .recv_timeout(PATIENCE)
            .expect("the worker printed a line");
        assert_eq!(ready, "worker ready");
        worker
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Waits until the log shows `n` jobs started.
    fn wait_started(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        let mut started = 0;
        while started < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .stderr
                .recv_timeout(left)
                .expect("the worker started the jobs in time");
            started += usize::from(line.contains("job started"));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Parts {
    queue_url: String,
    store_url: String,
    queue: SharedQueue,
    done: SharedDoneCounter,
}

/// A fresh queue (`amqp` or `sqs`) and a fresh Redis done counter, unique to this test.
async fn parts(broker: &str, max_receives: u32) -> Option<Parts> {
    let name = common::unique_name("latency-test-calc");
    let queue_url = match broker {
        "amqp" => format!(
            "{}?queue={name}",
            common::endpoint("LATENCY_TEST_AMQP_URL")?
        ),
        _ => format!(
            "sqs://{name}?endpoint={}",
            common::endpoint("LATENCY_TEST_SQS_ENDPOINT")?
        ),
    };
    let store_url = format!("{}?key={name}", common::endpoint("LATENCY_TEST_REDIS_URL")?);
    let policy = DeliveryPolicy {
        visibility_timeout: Duration::from_secs(2),
        max_receives,
    };
    let queue = latency_queue::from_url(&queue_url, &policy)
        .await
        .expect("queue opens");
    let done = done_counter_from_url(&store_url)
        .await
        .expect("done counter opens");
    Some(Parts {
        queue_url,
        store_url,
        queue,
        done,
    })
}

/// Sends `n` jobs with x spread over 0.01..=0.2 s; returns their ids.
async fn send_jobs(queue: &SharedQueue, n: u32) -> HashSet<String> {
    let mut ids = HashSet::new();
    for i in 0..n {
        let job = Job::new(0.01 + f64::from(i % 20) * 0.01);
        queue.send(&job).await.expect("send");
        ids.insert(job.id);
    }
    ids
}

async fn wait_count(done: &SharedDoneCounter, n: u64) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let count = done.count().await.expect("count");
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every sent id is recorded exactly once, and nothing else.
async fn assert_done_exactly(done: &SharedDoneCounter, ids: &HashSet<String>) {
    // Redeliveries may still be running: give them time to (not) count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        done.count().await.expect("count"),
        ids.len() as u64,
        "done must equal the jobs sent"
    );
    let recorded: Vec<String> = done
        .completions()
        .await
        .expect("completions")
        .into_iter()
        .map(|c| c.id)
        .collect();
    let unique: HashSet<String> = recorded.iter().cloned().collect();
    assert_eq!(recorded.len(), unique.len(), "an id was recorded twice");
    assert_eq!(
        &unique, ids,
        "the recorded ids must be exactly the sent ones"
    );
}

async fn sigkill_mid_run(broker: &str) {
    let Some(parts) = parts(broker, 5).await else {
        return;
    };
    let ids = send_jobs(&parts.queue, 200).await;
    let victim = Worker::start(&parts.queue_url, &parts.store_url, 20, 5);
    let survivor = Worker::start(&parts.queue_url, &parts.store_url, 20, 5);
    let reached = wait_count(&parts.done, 50).await;
    assert!(reached >= 50, "only {reached} jobs done before the kill");
    victim.signal("-KILL");
    drop(victim);
    let count = wait_count(&parts.done, 200).await;
    assert_eq!(count, 200, "the surviving worker must finish the run");
    assert_done_exactly(&parts.done, &ids).await;
    drop(survivor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_a_worker_mid_run_on_rabbitmq_and_every_job_counts_once() {
    sigkill_mid_run("amqp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_a_worker_mid_run_on_sqs_and_every_job_counts_once() {
    sigkill_mid_run("sqs").await;
}

async fn poison_reaches_dead_letters(broker: &str) {
    let Some(parts) = parts(broker, 2).await else {
        return;
    };
    let garbage = b"{\"not\": \"a job\"}".to_vec();
    let bad_x = Job {
        id: "bad-x".into(),
        x: -1.0,
        enqueued_at_ms: 0,
    }
    .to_body();
    parts.queue.send_body(&garbage).await.expect("send");
    let ids = send_jobs(&parts.queue, 30).await;
    parts.queue.send_body(&bad_x).await.expect("send");
    let _worker = Worker::start(&parts.queue_url, &parts.store_url, 10, 2);
    assert_eq!(
        wait_count(&parts.done, 30).await,
        30,
        "the rest of the run must complete"
    );
    let deadline = Instant::now() + PATIENCE;
    let mut dead = Vec::new();
    while dead.len() < 2 && Instant::now() < deadline {
        dead.extend(
            parts
                .queue
                .drain_dead_letters()
                .await
                .expect("dead letters"),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dead.sort();
    let mut expected = vec![garbage, bad_x];
    expected.sort();
    assert_eq!(
        dead, expected,
        "both poison messages must reach the dead-letter path, once each"
    );
    assert_done_exactly(&parts.done, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_reach_the_dead_letter_queue_on_rabbitmq() {
    poison_reaches_dead_letters("amqp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_reach_the_dead_letter_queue_on_sqs() {
    poison_reaches_dead_letters("sqs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_a_busy_worker_finishes_and_acks_what_it_holds() {
    let Some(parts) = parts("amqp", 3).await else {
        return;
    };
    let worker = Worker::start(&parts.queue_url, &parts.store_url, 10, 3);
    let mut ids = HashSet::new();
    for _ in 0..10 {
        let job = Job::new(1.0);
        parts.queue.send(&job).await.expect("send");
        ids.insert(job.id);
    }
    worker.wait_started(10);
    assert_eq!(
        parts.done.count().await.expect("count"),
        0,
        "no 1 s job can be done yet"
    );
    worker.signal("-TERM");
    let mut worker = worker;
    let status = common::wait_bounded(&mut worker.child, PATIENCE);
    assert!(status.success(), "the worker must exit cleanly: {status}");
    let last = worker
        .stdout
        .recv_timeout(Duration::from_secs(5))
        .expect("a summary line");
    assert_eq!(
        last,
        "stopped: completed=10 duplicates=0 released=0 ack_failures=0"
    );
    assert_done_exactly(&parts.done, &ids).await;
    // Acked, not merely abandoned: with the worker gone, nothing comes back.
    let again = parts
        .queue
        .receive(10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert!(again.is_empty(), "{} jobs were left unacked", again.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_rejects_malformed_bodies_on_rabbitmq_and_enqueues_nothing() {
    let Some(parts) = parts("amqp", 3).await else {
        return;
    };
    let server = common::Server::start(
        "memory://",
        &["--queue", &parts.queue_url, "--calc-max", "2"],
    );
    let client = reqwest::Client::new();
    let url = format!("{}/calc", server.base_url);
    for body in [
        "{\"x\": ",
        "{}",
        "{\"x\": \"1\"}",
        "{\"x\": -1}",
        "{\"x\": NaN}",
        "{\"x\": 1e999}",
        "{\"x\": 3}",
    ] {
        let response = client.post(&url).body(body).send().await.expect("POST");
        assert_eq!(response.status().as_u16(), 400, "body {body}");
    }
    let nothing = parts
        .queue
        .receive(10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert!(
        nothing.is_empty(),
        "a rejected request enqueued {} jobs",
        nothing.len()
    );
    let accepted = client
        .post(&url)
        .body("{\"x\": 0.5}")
        .send()
        .await
        .expect("POST");
    assert_eq!(accepted.status().as_u16(), 202);
    let answer: serde_json::Value =
        serde_json::from_slice(&accepted.bytes().await.expect("body")).expect("JSON");
    let got = parts
        .queue
        .receive(10, Duration::from_secs(5))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].job().expect("a job").id,
        answer["id"].as_str().expect("id")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_answers_503_when_the_queue_is_down() {
    let Some(moto) = common::endpoint("LATENCY_TEST_MOTO_SERVER") else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut broker = std::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let queue = format!("sqs://latency-test-down?endpoint=http://127.0.0.1:{port}");
    let deadline = Instant::now() + PATIENCE;
    let server = loop {
        // moto takes a moment to listen; serve refuses to start until the queue opens.
        let probe = latency_queue::from_url(&queue, &DeliveryPolicy::default()).await;
        if probe.is_ok() {
            break common::Server::start("memory://", &["--queue", &queue]);
        }
        assert!(Instant::now() < deadline, "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let client = reqwest::Client::new();
    let url = format!("{}/calc", server.base_url);
    let up = client
        .post(&url)
        .body("{\"x\": 0.1}")
        .send()
        .await
        .expect("POST");
    assert_eq!(up.status().as_u16(), 202);
    broker.kill().expect("kill moto");
    broker.wait().expect("reap moto");
    let down = client
        .post(&url)
        .body("{\"x\": 0.1}")
        .send()
        .await
        .expect("POST");
    assert_eq!(down.status().as_u16(), 503);
    let body: serde_json::Value =
        serde_json::from_slice(&down.bytes().await.expect("body")).expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("queue is unavailable")
    );
}

/// Regression (issue 24, probe 3): a job with x = 100000 slept for 27.8 hours; the worker
/// had no bound on x. A job above `--calc-max` now fails like any bad job and reaches the
/// dead-letter queue after its receives, and the worker is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_above_calc_max_fails_to_the_dead_letter_queue() {
    let Some(parts) = parts("amqp", 1).await else {
        return;
    };
    let _worker = Worker::start_with(&parts.queue_url, &parts.store_url, 1, &["--calc-max", "60"]);
    let huge = Job::new(100_000.0);
    parts.queue.send(&huge).await.expect("send");
    let mut dead = Vec::new();
    for _ in 0..300 {
        dead = parts.queue.drain_dead_letters().await.expect("drain");
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1, "the job above --calc-max is dead-lettered");
    assert_eq!(Job::from_body(&dead[0]).expect("a job").id, huge.id);
    assert_eq!(parts.done.count().await.expect("count"), 0);
}

/// Regression (issue 24, probe 3): while a long job ran, SIGTERM and SIGINT were ignored
/// ("finishing held jobs") until it was done. Past `--drain-timeout` the worker gives the
/// job back to the queue and exits; the job is delivered again (at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_job_returns_it_to_the_queue_after_the_drain_timeout() {
    for signal in ["-TERM", "-INT"] {
        let Some(parts) = parts("amqp", 3).await else {
            return;
        };
        let worker = Worker::start_with(
            &parts.queue_url,
            &parts.store_url,
            3,
            &["--drain-timeout", "1s"],
        );
        let long = Job::new(600.0);
        parts.queue.send(&long).await.expect("send");
        worker.wait_started(1);
        worker.signal(signal);
        let mut worker = worker;
        let status = common::wait_bounded(&mut worker.child, PATIENCE);
        assert!(
            status.success(),
            "{signal}: the worker must exit cleanly: {status}"
        );
        let again = parts
            .queue
            .receive(1, Duration::from_secs(10))
            .await
            .expect("receive");
        assert_eq!(again.len(), 1, "{signal}: the job is back in the queue");
        assert_eq!(again[0].job().expect("a job").id, long.id);
        assert_eq!(parts.done.count().await.expect("count"), 0);
        let _ = parts.queue.delete().await;
    }
}

/// Regression (issue 24, probe 1): `amqps://` connected in plain AMQP, credentials in the
/// clear. A listener that records what it is sent (and answers nothing) must see a TLS
/// ClientHello, never the AMQP header or the password, and the worker fails clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_speaks_tls_or_fails_and_never_sends_credentials_in_the_clear() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let recorder = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("the worker connects");
        let mut seen = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut seen))
            .await
            .expect("the worker sends its first bytes")
            .expect("read");
        seen.truncate(n);
        seen
    });
    let mut child = common::latency()
        .args(["worker", "--store", "memory://", "--queue"])
        .arg(format!(
            "amqps://probe-user:probe-secret-3c9d@127.0.0.1:{port}/%2f?queue=tls-probe"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latency worker");
    let seen = recorder.await.expect("recorder");
    let status = common::wait_bounded(&mut child, PATIENCE);
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !seen.starts_with(b"AMQP"),
        "plain AMQP over amqps://: {seen:?}"
    );
    assert!(
        !seen.windows(17).any(|w| w == b"probe-secret-3c9d"),
        "the password crossed the wire in the clear"
    );
    assert_eq!(
        seen.first(),
        Some(&0x16),
        "a TLS handshake record: {seen:?}"
    );
    assert!(!status.success(), "no broker: the worker must fail");
    assert!(!stdout.contains("worker ready"), "{stdout}");
    assert!(stderr.contains("cannot open the queue"), "{stderr}");
    assert!(!stderr.contains("probe-secret-3c9d"), "{stderr}");
}

/// A second SIGTERM or Ctrl-C while the worker waits for a long job releases the job at
/// once (here the drain timeout is an hour): a second Ctrl-C is never ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_releases_running_jobs_at_once() {
    let Some(parts) = parts("amqp", 3).await else {
        return;
    };
    let worker = Worker::start_with(
        &parts.queue_url,
        &parts.store_url,
        3,
        &["--drain-timeout", "1h"],
    );
    let long = Job::new(600.0);
    parts.queue.send(&long).await.expect("send");
    worker.wait_started(1);
    worker.signal("-TERM");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = worker
            .stderr
            .recv_timeout(left)
            .expect("the worker says it is finishing held jobs");
        if line.contains("finishing held jobs") {
            break;
        }
    }
    worker.signal("-INT");
    let mut worker = worker;
    let status = common::wait_bounded(&mut worker.child, PATIENCE);
    assert!(status.success(), "the worker must exit cleanly: {status}");
    let again = parts
        .queue
        .receive(1, Duration::from_secs(10))
        .await
        .expect("receive");
    assert_eq!(again.len(), 1, "the job is back in the queue");
    assert_eq!(again[0].job().expect("a job").id, long.id);
    let _ = parts.queue.delete().await;
}
