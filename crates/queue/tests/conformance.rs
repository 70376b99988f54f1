//! Every queue and done-counter backend runs the shared conformance suites against the
//! real broker or store (RabbitMQ on 5672, moto's SQS, Redis), never a mock.

#[path = "../../store/tests/support/mod.rs"]
mod support;

use latency_queue::conformance::{self, POLICY};
use latency_queue::{done_counter_from_url, from_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_queue_conforms() {
    conformance::run_queue_checks(|| async {
        from_url("memory://", &POLICY)
            .await
            .expect("memory queue opens")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_done_counter_conforms() {
    conformance::run_done_checks(|| async {
        done_counter_from_url("memory://")
            .await
            .expect("memory counter opens")
    })
    .await;
}

#[cfg(feature = "amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn amqp_queue_conforms() {
    let Some(server) = support::service("LATENCY_TEST_AMQP_URL") else {
        return;
    };
    let names = std::sync::Mutex::new(Vec::new());
    conformance::run_queue_checks(|| {
        let name = support::unique("latency-test-q");
        let url = format!("{server}?queue={name}");
        names.lock().expect("lock").push(url.clone());
        async move { from_url(&url, &POLICY).await.expect("amqp queue opens") }
    })
    .await;
    delete_queues(&names.into_inner().expect("lock")).await;
}

#[cfg(feature = "sqs")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_queue_conforms() {
    let Some(endpoint) = support::service("LATENCY_TEST_SQS_ENDPOINT") else {
        return;
    };
    conformance::run_queue_checks(|| {
        let url = format!(
            "sqs://{}?endpoint={endpoint}",
            support::unique("latency-test-q")
        );
        async move { from_url(&url, &POLICY).await.expect("sqs queue opens") }
    })
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_done_counter_conforms() {
    let Some(server) = support::service("LATENCY_TEST_REDIS_URL") else {
        return;
    };
    let keys = std::sync::Mutex::new(Vec::new());
    conformance::run_done_checks(|| {
        let key = support::unique("latency-test-done");
        keys.lock().expect("lock").push(key.clone());
        let url = format!("{server}?key={key}");
        async move {
            done_counter_from_url(&url)
                .await
                .expect("redis counter opens")
        }
    })
    .await;
    let client = redis::Client::open(server.as_str()).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for key in keys.into_inner().expect("lock") {
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .arg(format!("{key}:ids"))
            .query_async(&mut connection)
            .await
            .expect("DEL");
    }
}

/// Deletes the test's queues (each reopened by its URL) with `JobQueue::delete`, so the
/// shared broker stays clean; a queue that is still there afterwards fails the test.
#[cfg(feature = "amqp")]
async fn delete_queues(urls: &[String]) {
    for url in urls {
        let queue = from_url(url, &POLICY).await.expect("the queue reopens");
        queue.delete().await.expect("the queue is deleted");
    }
}

#[cfg(feature = "dynamodb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_done_counter_conforms() {
    // moto, not dynalite: dynalite has no TransactWriteItems. Only the sequential check:
    // moto does not serialize concurrent transactions (the concurrent check saw 101 and 104
    // of 100 ids counted there), so concurrent exactly-once rests on DynamoDB's documented
    // transaction isolation and is not verified locally.
    let Some(endpoint) = support::service("LATENCY_TEST_SQS_ENDPOINT") else {
        return;
    };
    let url = format!(
        "dynamodb://{}?endpoint={endpoint}&create=true",
        support::unique("latency-test-done")
    );
    let done = done_counter_from_url(&url)
        .await
        .expect("dynamodb counter opens");
    conformance::an_id_counts_once_however_often_it_is_recorded(done).await;
}
