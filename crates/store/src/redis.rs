//! `redis://host:port/db?key=hits`: the counter is one Redis key, incremented with `INCR`.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};

use crate::backends::excerpt;
use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

const BACKEND: &str = "redis";

/// `redis://[user:password@]host:port/db?key=hits`: the counter is the integer in one Redis
/// key (default `hits`). It is a shared store for several replicas (the Kubernetes row).
///
/// `incr` is one `INCR`: atomic in Redis, one round trip. A missing key counts from 0; a
/// key holding anything but an integer is [`StoreError::Corrupt`], never reset.
///
/// All calls share one multiplexed connection, which reconnects by itself after Redis
/// comes back; calls made while it is away fail with [`StoreError::Unavailable`].
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    key: String,
    location: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
        url.expect_no_params(&["key"])?;
        let key = url.param("key").unwrap_or_else(|| "hits".to_owned());
        if key.is_empty() {
            return Err(url.invalid("parameter `key` must not be empty"));
        }
        // The redis crate reads its own query parameters; ours are not among them.
        let mut server = url.url().clone();
        server.set_query(None);
        let client = redis::Client::open(server.as_str())
            .map_err(|err| url.invalid(format!("not a Redis URL ({err})")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(3))
            // The default backoff grows to minutes; a request should fail within seconds.
            .set_number_of_retries(1)
            .set_factor(2)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|err| unavailable(&err))?;
        let mut display = server.clone();
        if display.password().is_some() {
            let _ = display.set_password(Some("***"));
        }
        let store = Self {
            connection,
            location: format!("{display} key {key}"),
            key,
        };
        // Fails early on a key that does not hold a counter.
        store.get().await?;
        Ok(store)
    }

    async fn corrupt(&self, reason: String) -> StoreError {
        let content = redis::cmd("GET")
            .arg(&self.key)
            .query_async::<Option<Vec<u8>>>(&mut self.connection.clone())
            .await
            .ok()
            .flatten()
            .map(|bytes| excerpt(&String::from_utf8_lossy(&bytes)))
            .unwrap_or_else(|| "a value that is not a string".to_owned());
        StoreError::Corrupt {
            location: self.location.clone(),
            reason,
            content,
        }
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        let result = redis::cmd("INCR")
            .arg(&self.key)
            .query_async::<i64>(&mut self.connection.clone())
            .await;
        match result {
            Ok(value) => u64::try_from(value).map_err(|_| StoreError::Corrupt {
                location: self.location.clone(),
                reason: "the count is negative".to_owned(),
                content: value.to_string(),
            }),
            // WRONGTYPE, or "value is not an integer or out of range".
            Err(err) if is_bad_value(&err) => Err(self.corrupt(err.to_string()).await),
            Err(err) => Err(unavailable(&err)),
        }
    }

    async fn get(&self) -> Result<u64, StoreError> {
        let result = redis::cmd("GET")
            .arg(&self.key)
            .query_async::<Option<Vec<u8>>>(&mut self.connection.clone())
            .await;
        match result {
            Ok(None) => Ok(0),
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                text.parse::<u64>().map_err(|err| StoreError::Corrupt {
                    location: self.location.clone(),
                    reason: format!("not a decimal count ({err})"),
                    content: excerpt(&text),
                })
            }
            Err(err) if is_bad_value(&err) => Err(self.corrupt(err.to_string()).await),
            Err(err) => Err(unavailable(&err)),
        }
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

fn is_bad_value(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::ResponseError => err.to_string().contains("not an integer"),
        ErrorKind::ExtensionError => err.code() == Some("WRONGTYPE"),
        ErrorKind::TypeError => true,
        _ => false,
    }
}

fn unavailable(err: &RedisError) -> StoreError {
    StoreError::Unavailable {
        backend: BACKEND,
        detail: err.to_string(),
    }
}
