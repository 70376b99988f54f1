//! An SQS event batch through `handle_batch`: only failed messages are reported, and a
//! redelivered message is not counted twice.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use latency_lambda_calc::handle_batch;
use latency_queue::{Job, done_counter_from_url};

fn message(id: &str, body: &str) -> SqsMessage {
    SqsMessage {
        message_id: Some(id.to_owned()),
        body: Some(body.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
#[allow(clippy::needless_update)] // the catch-all field exists only with a feature
async fn poison_messages_are_the_only_batch_item_failures() {
    let done = done_counter_from_url("memory://").await.expect("counter");
    let good: Vec<Job> = (0..8).map(|n| Job::new(f64::from(n) * 0.1)).collect();
    let mut records: Vec<SqsMessage> = good
        .iter()
        .enumerate()
        .map(|(n, job)| {
            message(
                &format!("m{n}"),
                &String::from_utf8(job.to_body()).expect("utf8"),
            )
        })
        .collect();
    records.push(message("poison-json", "{not json"));
    records.push(message(
        "poison-x",
        "{\"id\":\"p\",\"x\":-1,\"enqueued_at_ms\":0}",
    ));
    let started = tokio::time::Instant::now();
    let response = handle_batch(
        &done,
        SqsEvent {
            records: records.clone(),
            ..Default::default()
        },
    )
    .await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    failed.sort();
    assert_eq!(failed, ["poison-json", "poison-x"]);
    assert_eq!(done.count().await.expect("count"), 8);
    // The jobs of a batch run at once: the batch takes its longest x, not the sum.
    assert_eq!(started.elapsed(), std::time::Duration::from_millis(700));

    // The same batch delivered again (a lost delete) counts nothing twice.
    let again = handle_batch(
        &done,
        SqsEvent {
            records,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(again.batch_item_failures.len(), 2);
    assert_eq!(done.count().await.expect("count"), 8);
}

/// The cloud's `POST /calc` is API Gateway's SQS integration, which forwards the request
/// body as it came: `{"x": …}` with no id. Such a message is a job keyed by its SQS
/// message id, so a redelivery still counts once; anything else in the body is refused.
#[tokio::test(start_paused = true)]
#[allow(clippy::needless_update)] // the catch-all field exists only with a feature
async fn a_request_body_from_api_gateway_is_a_job_keyed_by_its_message_id() {
    let done = done_counter_from_url("memory://").await.expect("counter");
    let records = vec![
        message("api-1", "{\"x\": 0.2}"),
        message("api-2", "{\"x\": 0}"),
        message("api-3", "{\"x\": 1, \"extra\": true}"),
    ];
    let batch = || SqsEvent {
        records: records.clone(),
        ..Default::default()
    };
    let response = handle_batch(&done, batch()).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(failed, ["api-3"]);
    assert_eq!(done.count().await.expect("count"), 2);
    let again = handle_batch(&done, batch()).await;
    assert_eq!(again.batch_item_failures.len(), 1);
    assert_eq!(
        done.count().await.expect("count"),
        2,
        "redelivery counts once"
    );
}
