//! `sqs://NAME?endpoint=URL&region=R`: an Amazon SQS standard queue (or moto's) through
//! aws-sdk-sqs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::url_parse::QueueUrl;
use crate::{Delivery, DeliveryHandle, DeliveryPolicy, JobQueue, QueueError};

const BACKEND: &str = "sqs";

/// SQS returns at most this many messages per receive.
pub const MAX_BATCH: usize = 10;

/// `sqs://NAME?endpoint=URL&region=R`: the standard queue `NAME`, with the dead-letter
/// queue `NAME-dlq`. On open, both are created if missing, and `NAME` gets the policy:
/// `VisibilityTimeout` (whole seconds) and a `RedrivePolicy` with `maxReceiveCount =
/// max_receives` to `NAME-dlq`, which SQS applies by itself.
///
/// Receives long-poll (`WaitTimeSeconds`, rounded up to whole seconds, at most 20) for up
/// to 10 messages; `ack` is `DeleteMessage`; `release` is `ChangeMessageVisibility` to 0,
/// so the job is visible again at once.
///
/// Credentials and region come from the standard AWS chain; with `?endpoint=` (moto) and
/// none configured, us-east-1 and dummy credentials are used, as local servers ignore them.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
}

fn unavailable(err: impl std::error::Error + 'static) -> QueueError {
    crate::aws::unavailable(BACKEND, &err)
}

impl SqsQueue {
    pub(crate) async fn open_url(
        url: &QueueUrl,
        policy: &DeliveryPolicy,
    ) -> Result<Self, QueueError> {
        url.expect_no_params(&["endpoint", "region"])?;
        let name = url.url.host_str().unwrap_or_default().to_owned();
        // SQS names: 1-80 of alphanumerics, hyphens, underscores (the DLQ adds 4).
        let valid = !name.is_empty()
            && name.len() <= 76
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(url.invalid(
                "the queue name (sqs://NAME) must be 1 to 76 letters, digits, `-` or `_`",
            ));
        }
        let client = Client::new(
            &crate::aws::sdk_config(&url.url)
                .await
                .map_err(|reason| url.invalid(reason))?,
        );
        let dead_letter_url = ensure_queue(&client, &format!("{name}-dlq"), Vec::new()).await?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(unavailable)?
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| QueueError::unavailable(BACKEND, "the dead-letter queue has no ARN"))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": policy.max_receives.max(1).to_string(),
        });
        let attributes = vec![
            (
                QueueAttributeName::VisibilityTimeout,
                policy.visibility_timeout.as_secs().max(1).to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        let queue_url = ensure_queue(&client, &name, attributes).await?;
        Ok(Self {
            client,
            queue_url,
            dead_letter_url,
        })
    }

    async fn receive_from(
        &self,
        queue_url: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>, QueueError> {
        let wait_seconds = wait.as_secs_f64().ceil().min(20.0) as i32;
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.messages.unwrap_or_default())
    }

    fn receipt(delivery: &Delivery) -> Result<&str, QueueError> {
        match &delivery.handle {
            DeliveryHandle::Sqs(receipt) => Ok(receipt),
            #[allow(unreachable_patterns)]
            _ => Err(QueueError::unavailable(
                BACKEND,
                "a delivery from another queue was given to the SQS queue",
            )),
        }
    }
}

/// The queue's URL, creating it with `attributes` if missing, or setting them if it exists
/// (CreateQueue refuses an existing name with different attributes).
async fn ensure_queue(
    client: &Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String, QueueError> {
    if let Ok(found) = client.get_queue_url().queue_name(name).send().await
        && let Some(queue_url) = found.queue_url
    {
        if !attributes.is_empty() {
            let mut set = client.set_queue_attributes().queue_url(&queue_url);
            for (key, value) in attributes {
                set = set.attributes(key, value);
            }
            set.send().await.map_err(unavailable)?;
        }
        return Ok(queue_url);
    }
    let mut create = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        create = create.attributes(key, value);
    }
    create
        .send()
        .await
        .map_err(unavailable)?
        .queue_url
        .ok_or_else(|| {
            QueueError::unavailable(BACKEND, format!("CreateQueue {name} returned no URL"))
        })
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send_body(&self, body: &[u8]) -> Result<(), QueueError> {
        let text = std::str::from_utf8(body).map_err(|err| QueueError::BadBody {
            reason: format!("SQS message bodies must be UTF-8 ({err})"),
        })?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(text)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let messages = self.receive_from(&self.queue_url, max, wait).await?;
        Ok(messages
            .into_iter()
            .filter_map(|message| {
                let receive_count = message
                    .attributes
                    .as_ref()
                    .and_then(|attributes| {
                        attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(0);
                Some(Delivery {
                    message_id: message.message_id.unwrap_or_default(),
                    body: message.body.unwrap_or_default().into_bytes(),
                    receive_count,
                    handle: DeliveryHandle::Sqs(message.receipt_handle?),
                })
            })
            .collect())
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(Self::receipt(&delivery)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(Self::receipt(&delivery)?)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, QueueError> {
        let mut out = Vec::new();
        loop {
            let batch = self
                .receive_from(&self.dead_letter_url, MAX_BATCH, Duration::ZERO)
                .await?;
            if batch.is_empty() {
                return Ok(out);
            }
            for message in batch {
                if let Some(receipt) = message.receipt_handle {
                    self.client
                        .delete_message()
                        .queue_url(&self.dead_letter_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map_err(unavailable)?;
                }
                out.push(message.body.unwrap_or_default().into_bytes());
            }
        }
    }

    async fn delete(&self) -> Result<(), QueueError> {
        for queue_url in [&self.queue_url, &self.dead_letter_url] {
            self.client
                .delete_queue()
                .queue_url(queue_url)
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}
