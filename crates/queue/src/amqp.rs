//! `amqp://…?queue=NAME`: a RabbitMQ quorum queue through lapin.

use std::time::Duration;

use async_trait::async_trait;
use futures_lite::StreamExt;
use futures_lite::future::poll_once;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use tokio::sync::Mutex;

use crate::url_parse::QueueUrl;
use crate::{Delivery, DeliveryHandle, DeliveryPolicy, JobQueue, QueueError};

const BACKEND: &str = "amqp";

/// `amqp://user:pass@host:port/vhost?queue=latency-calc&prefetch=100`: a durable RabbitMQ
/// **quorum** queue, declared on open with:
/// - `x-delivery-limit = max_receives - 1`: a quorum queue counts returns (nacks, closed
///   channels), and dead-letters a message returned more often than the limit, so it is
///   delivered `max_receives` times at most;
/// - `x-dead-letter-exchange = NAME.dlx`, a fanout exchange bound to the queue `NAME.dlq`.
///
/// Sends use publisher confirms: `send` returns once the broker has the message. Receives
/// use one consumer with manual acks and a prefetch of `?prefetch=` (default 100; give it
/// the worker pool's concurrency). There is no per-message visibility timeout in AMQP:
/// RabbitMQ redelivers a held job when its consumer's channel or connection closes
/// (a crashed worker), or after the broker's `consumer_timeout`.
pub struct AmqpQueue {
    // Held so that the connection lives as long as the queue.
    _connection: Connection,
    publisher: Channel,
    consumer_channel: Channel,
    consumer: Mutex<Option<Consumer>>,
    queue: String,
    dead_letter_queue: String,
    prefetch: u16,
}

impl std::fmt::Debug for AmqpQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpQueue")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

fn unavailable(err: impl std::fmt::Display) -> QueueError {
    QueueError::unavailable(BACKEND, err)
}

impl AmqpQueue {
    pub(crate) async fn open_url(
        url: &QueueUrl,
        policy: &DeliveryPolicy,
    ) -> Result<Self, QueueError> {
        url.expect_no_params(&["queue", "prefetch"])?;
        let queue = url
            .param("queue")
            .unwrap_or_else(|| "latency-calc".to_owned());
        if queue.is_empty() || queue.len() > 200 {
            return Err(url.invalid("parameter `queue` must be 1 to 200 characters"));
        }
        let prefetch = match url.param("prefetch") {
            None => 100,
            Some(text) => text.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| {
                url.invalid(format!(
                    "parameter `prefetch` must be 1..=65535, not `{text}`"
                ))
            })?,
        };
        if url.url.scheme() == "amqps" {
            ensure_tls_provider();
        }
        // lapin reads its own query parameters (heartbeat, …); ours are not among them.
        let mut server = url.url.clone();
        server.set_query(None);
        let connect = Connection::connect(server.as_str(), ConnectionProperties::default());
        let connection = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| unavailable(format!("no answer from {} within 5 s", url.display())))?
            .map_err(|err| unavailable(format!("cannot connect to {}: {err}", url.display())))?;
        let publisher = connection.create_channel().await.map_err(unavailable)?;
        let dead_letter_exchange = format!("{queue}.dlx");
        let dead_letter_queue = format!("{queue}.dlq");
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        publisher
            .exchange_declare(
                &dead_letter_exchange,
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        publisher
            .queue_declare(&dead_letter_queue, durable, FieldTable::default())
            .await
            .map_err(unavailable)?;
        publisher
            .queue_bind(
                &dead_letter_queue,
                &dead_letter_exchange,
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(dead_letter_exchange.as_str().into()),
        );
        let limit = i64::from(policy.max_receives.saturating_sub(1));
        arguments.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(limit));
        publisher
            .queue_declare(&queue, durable, arguments)
            .await
            .map_err(|err| {
                unavailable(format!(
                    "cannot declare quorum queue `{queue}` (an existing queue of that name \
                     with other arguments must be deleted first): {err}"
                ))
            })?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable)?;
        let consumer_channel = connection.create_channel().await.map_err(unavailable)?;
        Ok(Self {
            _connection: connection,
            publisher,
            consumer_channel,
            consumer: Mutex::new(None),
            queue,
            dead_letter_queue,
            prefetch,
        })
    }

    /// The consumer, started on the first receive so that a producer-only process never
    /// takes jobs from the queue.
    async fn start_consumer(&self) -> Result<Consumer, QueueError> {
        self.consumer_channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(unavailable)?;
        self.consumer_channel
            .basic_consume(
                &self.queue,
                "",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)
    }
}

/// Makes sure rustls has a process-wide crypto provider before lapin opens an `amqps://`
/// connection (TLS through lapin's `rustls` feature: an `amqps://` URL is never spoken to
/// in plain AMQP). rustls picks one by itself only when exactly one is compiled in; this
/// build has two (ring comes with another dependency), and without a choice the TLS
/// handshake panics. aws-lc-rs, as everywhere else in the project; a provider that the
/// embedding program installed first is kept.
fn ensure_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err means another thread installed one meanwhile: also fine.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    });
}

fn to_delivery(message: lapin::message::Delivery) -> Delivery {
    // Quorum queues put the number of earlier returns in `x-delivery-count`.
    let returns = message
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count").cloned())
        .and_then(|value| match value {
            AMQPValue::LongLongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongUInt(n) => Some(n),
            _ => None,
        })
        .unwrap_or(0);
    Delivery {
        body: message.data,
        receive_count: returns + 1,
        message_id: message.delivery_tag.to_string(),
        handle: DeliveryHandle::Amqp(message.acker),
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn send_body(&self, body: &[u8]) -> Result<(), QueueError> {
        let confirm = self
            .publisher
            .basic_publish(
                "",
                &self.queue,
                BasicPublishOptions::default(),
                body,
                // Persistent: a quorum queue keeps every message on disk anyway.
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        if confirm.is_nack() {
            return Err(unavailable("the broker refused the message (nack)"));
        }
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let mut guard = self.consumer.lock().await;
        if guard.is_none() {
            *guard = Some(self.start_consumer().await?);
        }
        let Some(consumer) = guard.as_mut() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let first = match tokio::time::timeout(wait, consumer.next()).await {
            Err(_) => return Ok(out),
            Ok(None) => return Err(unavailable("the consumer was cancelled by the broker")),
            Ok(Some(first)) => first.map_err(unavailable)?,
        };
        out.push(to_delivery(first));
        // Then whatever the prefetch has already brought, without waiting.
        while out.len() < max {
            match poll_once(consumer.next()).await {
                Some(Some(Ok(message))) => out.push(to_delivery(message)),
                Some(Some(Err(err))) => {
                    tracing::warn!(error = %err, "consumer error after a partial batch");
                    break;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        match delivery.handle {
            DeliveryHandle::Amqp(acker) => acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(unavailable),
            #[allow(unreachable_patterns)]
            _ => Err(unavailable(
                "a delivery from another queue was given to the AMQP queue",
            )),
        }
    }

    async fn release(&self, delivery: Delivery) -> Result<(), QueueError> {
        match delivery.handle {
            DeliveryHandle::Amqp(acker) => acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
                .map_err(unavailable),
            #[allow(unreachable_patterns)]
            _ => Err(unavailable(
                "a delivery from another queue was given to the AMQP queue",
            )),
        }
    }

    async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, QueueError> {
        let mut out = Vec::new();
        while let Some(message) = self
            .publisher
            .basic_get(&self.dead_letter_queue, BasicGetOptions { no_ack: true })
            .await
            .map_err(unavailable)?
        {
            out.push(message.delivery.data);
        }
        Ok(out)
    }

    async fn delete(&self) -> Result<(), QueueError> {
        for queue in [&self.queue, &self.dead_letter_queue] {
            self.publisher
                .queue_delete(queue, QueueDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        self.publisher
            .exchange_delete(
                &format!("{}.dlx", self.queue),
                ExchangeDeleteOptions::default(),
            )
            .await
            .map_err(unavailable)
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}
