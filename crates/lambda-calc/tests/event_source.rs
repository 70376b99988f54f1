//! The platform's SQS event source runs the real `latency-calc` function: every job is
//! counted once in Redis, and a poison message reaches the dead-letter path.

#[path = "../../store/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use latency_platform::sqs_source::{SqsEventSource, SqsSourceConfig};
use latency_platform::{FunctionSpec, Platform};
use latency_queue::{DeliveryPolicy, Job, MemoryQueue, SharedQueue, done_counter_from_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_source_runs_calc_in_batches_and_dead_letters_poison() {
    let Some(redis) = support::service("LATENCY_TEST_REDIS_URL") else {
        return;
    };
    let store = format!("{redis}?key={}", support::unique("latency-test-esm"));
    let done = done_counter_from_url(&store).await.expect("done counter");
    let mut spec = FunctionSpec::new("calc", env!("CARGO_BIN_EXE_latency-calc"));
    spec.env
        .push(("LATENCY_DONE_STORE".to_owned(), store.clone()));
    spec.max_concurrency = 8;
    let platform = Platform::start(vec![spec]).expect("platform starts");

    let memory = Arc::new(MemoryQueue::new(DeliveryPolicy {
        visibility_timeout: Duration::from_secs(5),
        max_receives: 2,
    }));
    let queue: SharedQueue = memory.clone();
    let poison = b"{\"id\":\"poison\",\"x\":-1,\"enqueued_at_ms\":0}".to_vec();
    queue.send_body(&poison).await.expect("send");
    for n in 0..60 {
        queue
            .send(&Job::new(f64::from(n % 10) * 0.02))
            .await
            .expect("send");
    }
    let mut config = SqsSourceConfig::new("calc");
    config.initial_pollers = 2;
    config.maximum_concurrency = 8;
    let source = SqsEventSource::start(platform.handle(), Arc::clone(&queue), config);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut dead = Vec::new();
    while (done.count().await.expect("count") < 60 || dead.is_empty()) && Instant::now() < deadline
    {
        dead.extend(queue.drain_dead_letters().await.expect("dead letters"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = source.stop().await;
    assert_eq!(
        done.count().await.expect("count"),
        60,
        "every good job counted once"
    );
    assert_eq!(
        dead,
        vec![poison],
        "the poison message is dead-lettered after 2 receives"
    );
    assert_eq!(stats.deleted, 60, "each good message deleted once");
    assert_eq!(
        stats.released, 2,
        "the poison message was given back once per receive"
    );
    assert!(
        stats.invocations < 61,
        "messages travel in batches: {} invocations",
        stats.invocations
    );
    assert!(stats.peak_pollers >= 2);
    assert!(memory.is_empty(), "{} messages left", memory.len());
    platform.shutdown().await;
}
