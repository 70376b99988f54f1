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
