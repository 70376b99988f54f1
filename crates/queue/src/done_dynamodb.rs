//! `dynamodb://table?endpoint=URL`: job ids as items, the count as one more item, written
//! together in one transaction.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem, Update,
};

use crate::QueueError;
use crate::done::{Completion, DoneCounter};
use crate::url_parse::{expect_params, mask, param};

const BACKEND: &str = "dynamodb";
const JOB_PREFIX: &str = "job#";

/// `dynamodb://table?endpoint=URL&region=R&create=true&counter=done`: a table keyed by the
/// string attribute `id`. The count is attribute `done` of the item `id = COUNTER` (default
/// `done`); each job is an item `id = job#JOB_ID` with its `done_at` time in ms.
///
/// `record` is one `TransactWriteItems`: a `Put` of the job item with the condition
/// `attribute_not_exists(id)`, and an `Update … ADD done :one` of the count. DynamoDB applies
/// both or neither, so a redelivered job fails the condition and the count does not move.
/// `?create=true` creates a missing table (on-demand billing).
#[derive(Debug, Clone)]
pub struct DynamoDbDoneCounter {
    client: Client,
    table: String,
    counter: String,
}

fn unavailable(err: impl std::error::Error + 'static) -> QueueError {
    crate::aws::unavailable(BACKEND, &err)
}

impl DynamoDbDoneCounter {
    pub(crate) async fn open(url: &url::Url) -> Result<Self, QueueError> {
        let invalid = |reason: String| QueueError::InvalidUrl {
            what: "done counter",
            url: mask(url),
            reason,
        };
        expect_params(url, &["endpoint", "region", "create", "counter"]).map_err(invalid)?;
        let table = url.host_str().unwrap_or_default().to_owned();
        if table.len() < 3 || table.len() > 255 {
            return Err(invalid(
                "the table name (dynamodb://TABLE) must be 3 to 255 characters".to_owned(),
            ));
        }
        let counter = param(url, "counter").unwrap_or_else(|| "done".to_owned());
        if counter.is_empty() || counter.starts_with(JOB_PREFIX) {
            return Err(invalid(format!(
                "parameter `counter` must be non-empty and not start with `{JOB_PREFIX}`"
            )));
        }
        let create = match param(url, "create").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "parameter `create` must be true or false, not `{other}`"
                )));
            }
        };
        let client = Client::new(&crate::aws::sdk_config(url).await.map_err(invalid)?);
        let counter_store = Self {
            client,
            table,
            counter,
        };
        counter_store.ensure_table(create).await?;
        Ok(counter_store)
    }

    async fn ensure_table(&self, create: bool) -> Result<(), QueueError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        match described {
            Ok(_) => return Ok(()),
            Err(err)
                if !err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Err(unavailable(err));
            }
            Err(_) if !create => {
                return Err(QueueError::unavailable(
                    BACKEND,
                    format!(
                        "table `{}` does not exist; add ?create=true to create it",
                        self.table
                    ),
                ));
            }
            Err(_) => {}
        }
        let attribute = AttributeDefinition::builder()
            .attribute_name("id")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(unavailable)?;
        let key = KeySchemaElement::builder()
            .attribute_name("id")
            .key_type(KeyType::Hash)
            .build()
            .map_err(unavailable)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(unavailable)?;
        // A new table is CREATING for a moment; writes before ACTIVE fail.
        for _ in 0..100 {
            let status = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(unavailable)?;
            if status
                .table
                .and_then(|t| t.table_status)
                .is_some_and(|s| s.as_str() == "ACTIVE")
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(QueueError::unavailable(
            BACKEND,
            format!("table `{}` did not become ACTIVE within 10 s", self.table),
        ))
    }
}

#[async_trait]
impl DoneCounter for DynamoDbDoneCounter {
    async fn record(&self, id: &str, done_at_ms: u64) -> Result<bool, QueueError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("id", AttributeValue::S(format!("{JOB_PREFIX}{id}")))
            .item("done_at", AttributeValue::N(done_at_ms.to_string()))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(unavailable)?;
        let update = Update::builder()
            .table_name(&self.table)
            .key("id", AttributeValue::S(self.counter.clone()))
            .update_expression("ADD done :one")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .build()
            .map_err(unavailable)?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(err) => {
                let already = err.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancel) => {
                        Some(cancel.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")))
                    }
                    _ => None,
                });
                if already == Some(true) {
                    Ok(false)
                } else {
                    Err(unavailable(err))
                }
            }
        }
    }

    async fn count(&self) -> Result<u64, QueueError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(self.counter.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?
            .item;
        match item.as_ref().and_then(|item| item.get("done")) {
            None => Ok(0),
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| {
                QueueError::unavailable(BACKEND, format!("`done` is not a count: {n}"))
            }),
            Some(other) => Err(QueueError::unavailable(
                BACKEND,
                format!("`done` is not a number: {other:?}"),
            )),
        }
    }

    async fn completions(&self) -> Result<Vec<Completion>, QueueError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                let id = match item.get("id") {
                    Some(AttributeValue::S(id)) => id.strip_prefix(JOB_PREFIX).map(str::to_owned),
                    _ => None,
                };
                let done_at = match item.get("done_at") {
                    Some(AttributeValue::N(n)) => n.parse().ok(),
                    _ => None,
                };
                if let (Some(id), Some(done_at_ms)) = (id, done_at) {
                    out.push(Completion { id, done_at_ms });
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}
