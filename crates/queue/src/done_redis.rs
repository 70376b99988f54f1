//! `redis://host:port/db?key=done`: ids in a hash, the count beside it, one script.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::QueueError;
use crate::done::{Completion, DoneCounter};
use crate::url_parse::{expect_params, mask, param};

const BACKEND: &str = "redis";

/// Records the id with `HSETNX KEY:ids id done_at` and, only when that set it, `INCR KEY`.
/// Both run in one Lua script, which Redis executes atomically, so the id and the count
/// can never disagree (a crash between two separate commands could lose a count).
const RECORD: &str = "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then \
     redis.call('INCR', KEYS[2]) return 1 else return 0 end";

/// `redis://[user:password@]host:port/db?key=done`: the count is the integer at `KEY` and
/// the ids are the fields of the hash `KEY:ids` (values: done time in ms).
#[derive(Clone)]
pub struct RedisDoneCounter {
    connection: ConnectionManager,
    key: String,
    ids_key: String,
}

impl std::fmt::Debug for RedisDoneCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDoneCounter")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RedisDoneCounter {
    pub(crate) async fn open(url: &url::Url) -> Result<Self, QueueError> {
        let invalid = |reason: String| QueueError::InvalidUrl {
            what: "done counter",
            url: mask(url),
            reason,
        };
        expect_params(url, &["key"]).map_err(invalid)?;
        let key = param(url, "key").unwrap_or_else(|| "done".to_owned());
        if key.is_empty() {
            return Err(invalid("parameter `key` must not be empty".to_owned()));
        }
        let mut server = url.clone();
        server.set_query(None);
        let client = redis::Client::open(server.as_str())
            .map_err(|err| invalid(format!("not a Redis URL ({err})")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(1)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|err| QueueError::unavailable(BACKEND, err))?;
        Ok(Self {
            connection,
            ids_key: format!("{key}:ids"),
            key,
        })
    }
}

#[async_trait]
impl DoneCounter for RedisDoneCounter {
    async fn record(&self, id: &str, done_at_ms: u64) -> Result<bool, QueueError> {
        let counted: i64 = redis::cmd("EVAL")
            .arg(RECORD)
            .arg(2)
            .arg(&self.ids_key)
            .arg(&self.key)
            .arg(id)
            .arg(done_at_ms)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| QueueError::unavailable(BACKEND, err))?;
        Ok(counted == 1)
    }

    async fn count(&self) -> Result<u64, QueueError> {
        let count: Option<u64> = redis::cmd("GET")
            .arg(&self.key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| QueueError::unavailable(BACKEND, err))?;
        Ok(count.unwrap_or(0))
    }

    async fn completions(&self) -> Result<Vec<Completion>, QueueError> {
        let all: Vec<(String, u64)> = redis::cmd("HGETALL")
            .arg(&self.ids_key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|err| QueueError::unavailable(BACKEND, err))?;
        Ok(all
            .into_iter()
            .map(|(id, done_at_ms)| Completion { id, done_at_ms })
            .collect())
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}
