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
        let key = url.param("key").unwrap_or_default();
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
        let store = Self {
            connection,
            location: format!("{} key {key}", crate::redact_url(server.as_str())),
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
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let reason = match &content {
            Some(text) => why_not_a_count(text).unwrap_or(reason),
            None => reason,
        };
        StoreError::Corrupt {
            location: self.location.clone(),
            reason,
            content: content
                .as_deref()
                .map_or_else(|| Some("a value that is not a string".to_owned()), excerpt),
        }
    }
}

/// Increments the key only if it holds a count that can be incremented: absent (counts
/// from 0), or a string of decimal digits below `i64::MAX` (Redis integers are signed
/// 64-bit). Anything else is left untouched and answered with a `LATENCY_CORRUPT` error,
/// so that a negative or impossible value is reported, never incremented in place.
///
/// Sent with `EVAL`, which Redis caches by the script's hash, rather than through the
/// redis crate's `Script` (which would add a feature and a SHA-1 dependency for a
/// script of a few hundred bytes). It is still one round trip per increment.
const CHECKED_INCR: &str = r"
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return redis.call('INCR', KEYS[1]) end
if kind ~= 'string' then return redis.error_reply('LATENCY_CORRUPT the key holds a ' .. kind) end
local value = redis.call('GET', KEYS[1])
if not string.match(value, '^%d+$') or #value > 19
   or (#value == 19 and value >= '9223372036854775807') then
  return redis.error_reply('LATENCY_CORRUPT not a count that can be incremented')
end
return redis.call('INCR', KEYS[1])
";

/// Why a stored value is not a count this store can keep; `None` when it is one.
fn why_not_a_count(text: &str) -> Option<String> {
    match text.parse::<i128>() {
        Ok(value) if value < 0 => Some(format!("the count is negative ({value})")),
        Ok(value) if value >= i128::from(i64::MAX) => Some(format!(
            "the count {value} is at or beyond the largest Redis can increment ({})",
            i64::MAX
        )),
        Ok(_) if is_digits(text) => None,
        _ => Some("not a decimal count".to_owned()),
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        let result = redis::cmd("EVAL")
            .arg(CHECKED_INCR)
            .arg(1)
            .arg(&self.key)
            .query_async::<i64>(&mut self.connection.clone())
            .await;
        match result {
            // The script only increments non-negative counts, so this cannot fail; a
            // failure would still be reported, not hidden.
            Ok(value) => u64::try_from(value).map_err(|_| StoreError::Corrupt {
                location: self.location.clone(),
                reason: "the count is negative".to_owned(),
                content: Some(value.to_string()),
            }),
            Err(err) if is_bad_value(&err) => Err(self.corrupt(describe(&err)).await),
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
                // i64::MAX itself can be read; the next incr reports that it cannot grow.
                match text.parse::<i64>() {
                    Ok(value) if is_digits(&text) => Ok(value.unsigned_abs()),
                    _ => Err(StoreError::Corrupt {
                        location: self.location.clone(),
                        reason: why_not_a_count(&text)
                            .unwrap_or_else(|| "not a decimal count".to_owned()),
                        content: excerpt(&text),
                    }),
                }
            }
            Err(err) if is_bad_value(&err) => Err(self.corrupt(describe(&err)).await),
            Err(err) => Err(unavailable(&err)),
        }
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The server's message, without the client's framing.
fn describe(err: &RedisError) -> String {
    err.detail().map_or_else(|| err.to_string(), str::to_owned)
}

fn is_bad_value(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::ResponseError => err.to_string().contains("not an integer"),
        ErrorKind::ExtensionError => {
            matches!(err.code(), Some("WRONGTYPE" | "LATENCY_CORRUPT"))
        }
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
