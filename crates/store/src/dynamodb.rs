//! `dynamodb://table`: the counter is one attribute of one DynamoDB item.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};

use crate::aws::{self, WriteMode};
use crate::backends::excerpt;
use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

const BACKEND: &str = "dynamodb";

/// How long to wait for a table to become ACTIVE after it is created.
const TABLE_ACTIVE_DEADLINE: Duration = Duration::from_secs(60);

/// `dynamodb://table?endpoint=URL&region=R`: the counter is the number attribute `hits` of
/// the item whose partition key `id` is 0. It stands for the original study's Lambda +
/// DynamoDB functions.
///
/// # How an increment stays atomic
/// One `UpdateItem` with `ADD hits :1` and `ReturnValues=UPDATED_NEW`: DynamoDB applies
/// the addition on the item itself and returns the new value, in a single round trip. The
/// update carries `attribute_exists(hits)`, so it never creates the counter.
///
/// With `?mode=read-modify-write` it does what the original did: `GetItem`, then an
/// `UpdateItem` that sets the value read + 1. Overlapping calls lose updates.
///
/// # Parameters
/// - `?key=id`: the table's partition key attribute; `?key_value=0`: the item's key. The
///   key's type (number or string) is read from the table.
/// - `?key_type=N|S`: the key's type when `create=true` creates the table (default: a
///   number when `key_value` is one), and the type an existing table's key must have
///   (default: any). The architecture descriptions state it, and the lab creates the
///   table as Terraform does.
/// - `?attribute=hits`: the counter attribute.
/// - `?create=true`: create a missing table (on-demand billing) and, when the store
///   opens, a missing counter at 0 (`SET hits = if_not_exists(hits, 0)`, so an existing
///   count is kept). Without it, a missing table or counter is an error that says how to
///   create it.
///
/// # A counter never restarts by itself
/// Once open, the store never creates the counter again: if the item or its attribute
/// disappears (deleted, or the table recreated), every call fails with
/// [`StoreError::NotFound`] naming it, rather than counting again from 1.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    key_name: String,
    key_value: AttributeValue,
    attribute: String,
    mode: WriteMode,
}

impl DynamoDbStore {
    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
        let parsed = url.url();
        let table = parsed.host_str().unwrap_or_default().to_owned();
        if table.is_empty() {
            return Err(url.invalid("name the table, e.g. dynamodb://latency"));
        }
        if !matches!(parsed.path(), "" | "/") {
            return Err(url.invalid(
                "a DynamoDB URL names only a table; choose the item with ?key=…&key_value=…",
            ));
        }
        let key_name = url.param("key").unwrap_or_default();
        let key_text = url.param("key_value").unwrap_or_default();
        let attribute = url.param("attribute").unwrap_or_default();
        if key_name.is_empty() || attribute.is_empty() || key_name == attribute {
            return Err(url.invalid("`key` and `attribute` must be two different, non-empty names"));
        }
        let mode = WriteMode::from_url(url)?;
        let create = url.bool_param("create")?;
        let wanted_type = match url.param("key_type").as_deref() {
            None => None,
            Some("N") => Some(ScalarAttributeType::N),
            Some("S") => Some(ScalarAttributeType::S),
            Some(other) => {
                return Err(url.invalid(format!("key_type must be N or S, not `{other}`")));
            }
        };

        let config = aws::load_config(url).await?;
        let client = Client::new(&config);
        let key_type = Self::ensure_table(
            &client,
            &table,
            &key_name,
            (&key_text, wanted_type.clone()),
            create,
        )
        .await?;
        if let Some(wanted) = wanted_type
            && wanted != key_type
        {
            return Err(url.invalid(format!(
                "table `{table}` has a {} key, but key_type is {}",
                key_type.as_str(),
                wanted.as_str()
            )));
        }
        let key_value = match key_type {
            ScalarAttributeType::N => {
                if key_text.parse::<f64>().is_err() {
                    return Err(url.invalid(format!(
                        "table `{table}` has a number key, but key_value is `{key_text}`"
                    )));
                }
                AttributeValue::N(key_text)
            }
            _ => AttributeValue::S(key_text),
        };
        let store = Self {
            client,
            table,
            key_name,
            key_value,
            attribute,
            mode,
        };
        if create {
            store.create_counter().await?;
        }
        // Fails early on a missing counter, or an attribute that is not a count.
        store.get().await?;
        Ok(store)
    }

    /// The write mode chosen by `?mode=`.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Checks that the table exists (creating it if asked) and is keyed by `key_name`
    /// alone; returns the key's type.
    async fn ensure_table(
        client: &Client,
        table: &str,
        key_name: &str,
        key: (&str, Option<ScalarAttributeType>),
        create: bool,
    ) -> Result<ScalarAttributeType, StoreError> {
        let started = Instant::now();
        let mut created = false;
        loop {
            match client.describe_table().table_name(table).send().await {
                Ok(output) => {
                    let Some(description) = output.table else {
                        return Err(StoreError::Unavailable {
                            backend: BACKEND,
                            detail: format!("DescribeTable `{table}` returned no table"),
                        });
                    };
                    if description.table_status == Some(TableStatus::Active) {
                        return key_type_of(&description, table, key_name);
                    }
                }
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    if !create {
                        return Err(missing_table(table, key_name));
                    }
                    if !created {
                        create_table(client, table, key_name, key.clone()).await?;
                        created = true;
                        continue;
                    }
                }
                Err(err) => return Err(unavailable(&err)),
            }
            if started.elapsed() > TABLE_ACTIVE_DEADLINE {
                return Err(StoreError::Unavailable {
                    backend: BACKEND,
                    detail: format!(
                        "table `{table}` is not ACTIVE after {} s",
                        TABLE_ACTIVE_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the counter to 0 unless it exists: an existing count is kept.
    async fn create_counter(&self) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key()))
            .update_expression("SET #counter = if_not_exists(#counter, :zero)")
            .expression_attribute_names("#counter", &self.attribute)
            .expression_attribute_values(":zero", AttributeValue::N("0".to_owned()))
            .send()
            .await
            .map_err(|err| self.classify(&err))?;
        Ok(())
    }

    fn missing_counter(&self) -> StoreError {
        StoreError::NotFound {
            backend: BACKEND,
            resource: format!("counter {}", self.location()),
            hint: "it was deleted, or never created. Restore it, or open the store with \
                   ?create=true to start at 0; an open store never recreates it by itself"
                .to_owned(),
        }
    }

    fn key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([(self.key_name.clone(), self.key_value.clone())])
    }

    fn location(&self) -> String {
        let key = match &self.key_value {
            AttributeValue::N(n) | AttributeValue::S(n) => n.as_str(),
            _ => "?",
        };
        format!(
            "dynamodb://{}, item {} = {key}, attribute {}",
            self.table, self.key_name, self.attribute
        )
    }

    fn parse_count(&self, value: Option<&AttributeValue>) -> Result<u64, StoreError> {
        match value {
            None => Err(self.missing_counter()),
            Some(AttributeValue::N(number)) => {
                number.parse::<u64>().map_err(|err| StoreError::Corrupt {
                    location: self.location(),
                    reason: format!("not a whole count ({err})"),
                    content: excerpt(number),
                })
            }
            Some(other) => Err(StoreError::Corrupt {
                location: self.location(),
                reason: "the attribute is not a number".to_owned(),
                content: excerpt(&format!("{other:?}")),
            }),
        }
    }

    async fn read(&self, consistent: bool) -> Result<u64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key()))
            .projection_expression("#counter")
            .expression_attribute_names("#counter", &self.attribute)
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|err| self.classify(&err))?;
        self.parse_count(
            output
                .item
                .as_ref()
                .and_then(|item| item.get(&self.attribute)),
        )
    }

    async fn incr_atomic(&self) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key()))
            .update_expression("ADD #counter :one")
            .condition_expression("attribute_exists(#counter)")
            .expression_attribute_names("#counter", &self.attribute)
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match output {
            Ok(output) => {
                let value = output
                    .attributes
                    .as_ref()
                    .and_then(|attributes| attributes.get(&self.attribute));
                if value.is_none() {
                    return Err(StoreError::Unavailable {
                        backend: BACKEND,
                        detail: "UpdateItem returned no new value".to_owned(),
                    });
                }
                self.parse_count(value)
            }
            Err(err) if is_validation(&err) => {
                // ADD on an attribute that is not a number: say what is there instead.
                Err(match self.read(true).await {
                    Err(corrupt @ StoreError::Corrupt { .. }) => corrupt,
                    _ => self.classify(&err),
                })
            }
            Err(err) => Err(self.classify(&err)),
        }
    }

    async fn incr_read_modify_write(&self) -> Result<u64, StoreError> {
        // Like the original's `get_item`: an eventually consistent read.
        let next = self.read(false).await? + 1;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key()))
            .update_expression("SET #counter = :next")
            .condition_expression("attribute_exists(#counter)")
            .expression_attribute_names("#counter", &self.attribute)
            .expression_attribute_values(":next", AttributeValue::N(next.to_string()))
            .send()
            .await
            .map_err(|err| self.classify(&err))?;
        Ok(next)
    }

    fn classify<E>(&self, err: &SdkError<E, HttpResponse>) -> StoreError
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    {
        match err.as_service_error().and_then(|e| e.code()) {
            Some("ResourceNotFoundException") => {
                return StoreError::NotFound {
                    backend: BACKEND,
                    resource: format!("table `{}`", self.table),
                    hint: "it was deleted while the store was open; create it again".to_owned(),
                };
            }
            // Only the `attribute_exists` condition can fail.
            Some("ConditionalCheckFailedException") => return self.missing_counter(),
            _ => {}
        }
        unavailable(err)
    }
}

type HttpResponse = aws_sdk_dynamodb::config::http::HttpResponse;

#[async_trait]
impl CounterStore for DynamoDbStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        match self.mode {
            WriteMode::Atomic => self.incr_atomic().await,
            WriteMode::ReadModifyWrite => self.incr_read_modify_write().await,
        }
    }

    async fn get(&self) -> Result<u64, StoreError> {
        self.read(true).await
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

/// Creates `table` keyed by `key_name`, of the given type or, without one, a number when
/// the key's text is one.
async fn create_table(
    client: &Client,
    table: &str,
    key_name: &str,
    (key_text, key_type): (&str, Option<ScalarAttributeType>),
) -> Result<(), StoreError> {
    let key_type = key_type.unwrap_or(if key_text.parse::<f64>().is_ok() {
        ScalarAttributeType::N
    } else {
        ScalarAttributeType::S
    });
    let build_err = |err: aws_sdk_dynamodb::error::BuildError| StoreError::Unavailable {
        backend: BACKEND,
        detail: format!("building CreateTable: {err}"),
    };
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key_name)
                .attribute_type(key_type)
                .build()
                .map_err(build_err)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key_name)
                .key_type(KeyType::Hash)
                .build()
                .map_err(build_err)?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {
            tracing::debug!(table, "created DynamoDB table");
            Ok(())
        }
        // Another process created it first; it will become ACTIVE all the same.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(unavailable(&err)),
    }
}

fn key_type_of(
    description: &aws_sdk_dynamodb::types::TableDescription,
    table: &str,
    key_name: &str,
) -> Result<ScalarAttributeType, StoreError> {
    let schema = description.key_schema();
    let hash = schema
        .iter()
        .find(|element| element.key_type == KeyType::Hash)
        .map(|element| element.attribute_name.as_str());
    if hash != Some(key_name) || schema.len() != 1 {
        return Err(StoreError::NotFound {
            backend: BACKEND,
            resource: format!("a partition key `{key_name}` (alone) in table `{table}`"),
            hint: format!(
                "the table's key is {}; name its partition key with ?key=…",
                schema
                    .iter()
                    .map(|element| format!("{} ({})", element.attribute_name, element.key_type))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(description
        .attribute_definitions()
        .iter()
        .find(|definition| definition.attribute_name == key_name)
        .map(|definition| definition.attribute_type.clone())
        .unwrap_or(ScalarAttributeType::N))
}

fn missing_table(table: &str, key_name: &str) -> StoreError {
    StoreError::NotFound {
        backend: BACKEND,
        resource: format!("table `{table}`"),
        hint: format!(
            "create it (`aws dynamodb create-table --table-name {table} \
             --attribute-definitions AttributeName={key_name},AttributeType=N \
             --key-schema AttributeName={key_name},KeyType=HASH --billing-mode PAY_PER_REQUEST`), \
             or add ?create=true to the store URL"
        ),
    }
}

fn is_validation<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ValidationException")
}

fn unavailable<E>(err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + 'static,
{
    StoreError::Unavailable {
        backend: BACKEND,
        detail: aws::describe(err),
    }
}
