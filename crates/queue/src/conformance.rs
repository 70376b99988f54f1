//! The conformance suites every [`JobQueue`] and every [`DoneCounter`] backend runs.
//!
//! Each backend's test calls [`run_queue_checks`] with a function that opens a **fresh,
//! empty** queue with [`POLICY`], and [`run_done_checks`] with one that opens a fresh
//! counter. The checks panic with a message naming the broken property, so they are meant
//! to run inside multi-threaded `#[tokio::test]`s. They are bounded: every wait has a
//! deadline well under a minute.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use crate::{DeliveryPolicy, Job, SharedDoneCounter, SharedQueue};

/// The policy fresh queues must be opened with: short enough for tests (SQS counts
/// visibility in whole seconds), two receives before the dead-letter path.
pub const POLICY: DeliveryPolicy = DeliveryPolicy {
    visibility_timeout: Duration::from_secs(2),
    max_receives: 2,
};

/// How long a check waits for something that should happen, at most.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs every queue check, each on its own fresh queue.
pub async fn run_queue_checks<F, Fut>(fresh_queue: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedQueue>,
{
    every_sent_job_is_received_once_and_acked_jobs_are_gone(fresh_queue().await).await;
    a_released_job_comes_back_then_goes_to_the_dead_letter_path(fresh_queue().await).await;
    a_held_job_is_not_delivered_to_another_receiver(fresh_queue().await).await;
}

/// Receives until `want` deliveries arrived or [`PATIENCE`] ran out.
async fn receive_n(queue: &SharedQueue, want: usize) -> Vec<crate::Delivery> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < want && tokio::time::Instant::now() < deadline {
        let batch = queue
            .receive((want - got.len()).min(10), Duration::from_millis(500))
            .await
            .unwrap_or_else(|err| panic!("receive failed: {err}"));
        got.extend(batch);
    }
    got
}

/// 25 jobs sent are received, each exactly once, with their bodies intact; once acked, no
/// receive returns them again.
pub async fn every_sent_job_is_received_once_and_acked_jobs_are_gone(queue: SharedQueue) {
    let jobs: Vec<Job> = (0..25).map(|n| Job::new(f64::from(n) / 100.0)).collect();
    for job in &jobs {
        queue
            .send(job)
            .await
            .unwrap_or_else(|err| panic!("send failed: {err}"));
    }
    let got = receive_n(&queue, jobs.len()).await;
    assert_eq!(got.len(), jobs.len(), "every sent job must be received");
    let mut ids = HashSet::new();
    for delivery in got {
        let job = delivery
            .job()
            .unwrap_or_else(|err| panic!("body changed in transit: {err}"));
        assert!(
            jobs.contains(&job),
            "received a job that was not sent: {job:?}"
        );
        assert!(ids.insert(job.id.clone()), "job {} delivered twice", job.id);
        queue
            .ack(delivery)
            .await
            .unwrap_or_else(|err| panic!("ack failed: {err}"));
    }
    // Past the visibility timeout, an acked job must not come back.
    tokio::time::sleep(POLICY.visibility_timeout + Duration::from_millis(500)).await;
    let again = queue
        .receive(10, Duration::from_millis(500))
        .await
        .unwrap_or_else(|err| panic!("receive failed: {err}"));
    assert!(
        again.is_empty(),
        "{} acked jobs were delivered again",
        again.len()
    );
}

/// A released job is delivered again with a higher receive count (where the backend
/// reports one); after [`POLICY`]`.max_receives` receives it goes to the dead-letter path,
/// and the next job behind it is still delivered.
pub async fn a_released_job_comes_back_then_goes_to_the_dead_letter_path(queue: SharedQueue) {
    let poison = b"{not a job".to_vec();
    queue
        .send_body(&poison)
        .await
        .unwrap_or_else(|err| panic!("send failed: {err}"));
    let mut last_count = 0;
    for receive in 1..=POLICY.max_receives {
        let mut got = receive_n(&queue, 1).await;
        let delivery = got
            .pop()
            .unwrap_or_else(|| panic!("receive #{receive} of a released job got nothing"));
        assert_eq!(delivery.body, poison, "the body must arrive as sent");
        assert!(
            delivery.job().is_err(),
            "a poison body must not parse as a job"
        );
        if delivery.receive_count != 0 {
            assert!(
                delivery.receive_count > last_count,
                "receive count must grow on redelivery"
            );
            last_count = delivery.receive_count;
        }
        queue
            .release(delivery)
            .await
            .unwrap_or_else(|err| panic!("release failed: {err}"));
    }
    let healthy = Job::new(0.0);
    queue
        .send(&healthy)
        .await
        .unwrap_or_else(|err| panic!("send failed: {err}"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut dead = Vec::new();
    let mut healthy_seen = false;
    while (dead.is_empty() || !healthy_seen) && tokio::time::Instant::now() < deadline {
        for delivery in queue
            .receive(10, Duration::from_millis(500))
            .await
            .unwrap_or_else(|err| panic!("receive failed: {err}"))
        {
            assert_ne!(
                delivery.body, poison,
                "a job received max_receives times was delivered again"
            );
            healthy_seen |= delivery.job().is_ok_and(|job| job == healthy);
            queue
                .ack(delivery)
                .await
                .unwrap_or_else(|err| panic!("ack failed: {err}"));
        }
        dead.extend(
            queue
                .drain_dead_letters()
                .await
                .unwrap_or_else(|err| panic!("reading dead letters failed: {err}")),
        );
    }
    assert!(
        healthy_seen,
        "the job behind a poison message must still be delivered"
    );
    assert_eq!(
        dead,
        vec![poison],
        "the poison body must reach the dead-letter path once"
    );
}

/// While one receiver holds a job, another receive does not get it.
pub async fn a_held_job_is_not_delivered_to_another_receiver(queue: SharedQueue) {
    queue
        .send(&Job::new(0.0))
        .await
        .unwrap_or_else(|err| panic!("send failed: {err}"));
    let mut held = receive_n(&queue, 1).await;
    let delivery = held
        .pop()
        .unwrap_or_else(|| panic!("the job was not received"));
    let other = queue
        .receive(10, Duration::from_millis(500))
        .await
        .unwrap_or_else(|err| panic!("receive failed: {err}"));
    assert!(
        other.is_empty(),
        "a held job was delivered to a second receiver"
    );
    queue
        .ack(delivery)
        .await
        .unwrap_or_else(|err| panic!("ack failed: {err}"));
}

/// Runs every done-counter check, each on its own fresh counter.
pub async fn run_done_checks<F, Fut>(fresh_counter: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedDoneCounter>,
{
    an_id_counts_once_however_often_it_is_recorded(fresh_counter().await).await;
    concurrent_records_of_the_same_ids_count_each_once(fresh_counter().await).await;
}

/// A fresh counter reads 0; the first `record` of an id counts, later ones do not, and the
/// first done time is kept.
pub async fn an_id_counts_once_however_often_it_is_recorded(done: SharedDoneCounter) {
    assert_eq!(
        done.count()
            .await
            .unwrap_or_else(|err| panic!("count failed: {err}")),
        0
    );
    assert!(
        done.record("job-a", 1000)
            .await
            .unwrap_or_else(|err| panic!("record failed: {err}"))
    );
    for _ in 0..3 {
        assert!(
            !done
                .record("job-a", 2000)
                .await
                .unwrap_or_else(|err| panic!("record failed: {err}")),
            "a recorded id must not count again"
        );
    }
    assert!(
        done.record("job-b", 3000)
            .await
            .unwrap_or_else(|err| panic!("record failed: {err}"))
    );
    assert_eq!(
        done.count()
            .await
            .unwrap_or_else(|err| panic!("count failed: {err}")),
        2
    );
    let mut completions = done
        .completions()
        .await
        .unwrap_or_else(|err| panic!("completions failed: {err}"));
    completions.sort_by(|a, b| a.id.cmp(&b.id));
    let seen: Vec<(&str, u64)> = completions
        .iter()
        .map(|c| (c.id.as_str(), c.done_at_ms))
        .collect();
    assert_eq!(
        seen,
        vec![("job-a", 1000), ("job-b", 3000)],
        "the first done time is kept"
    );
}

/// 8 tasks record the same 100 ids at once: the count is 100, and exactly one call per id
/// reported that it counted.
pub async fn concurrent_records_of_the_same_ids_count_each_once(done: SharedDoneCounter) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let done = done.clone();
            tokio::spawn(async move {
                let mut counted = 0u64;
                for n in 0..100 {
                    if done
                        .record(&format!("job-{n}"), 1)
                        .await
                        .unwrap_or_else(|err| panic!("record failed: {err}"))
                    {
                        counted += 1;
                    }
                }
                counted
            })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        counted += task
            .await
            .unwrap_or_else(|err| panic!("a recording task panicked: {err}"));
    }
    assert_eq!(
        counted, 100,
        "exactly one record per id must report that it counted"
    );
    assert_eq!(
        done.count()
            .await
            .unwrap_or_else(|err| panic!("count failed: {err}")),
        100
    );
}
