//! Counting done jobs exactly once per job id, even when a job is delivered twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::QueueError;
use crate::url_parse::{expect_params, mask, parse_any};

/// One job recorded as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The job id.
    pub id: String,
    /// When its first completion was recorded, in milliseconds since the Unix epoch.
    pub done_at_ms: u64,
}

/// The `done` counter of the study, made idempotent per job id.
///
/// # Contract
/// - [`record`](DoneCounter::record) records `id` as done and adds one to the count, **once
///   per id**: the id is recorded idempotently first, and the count moves only when the id
///   was new, both in one atomic step of the same store, so a crash between the two cannot
///   count a job twice or lose it. It returns `true` when this call counted the job and
///   `false` when the id was already recorded (a redelivery).
/// - [`count`](DoneCounter::count) is the number of distinct ids recorded; 0 when none.
/// - [`completions`](DoneCounter::completions) lists every recorded id with the time of
///   its first `record`, in no particular order.
/// - An error is returned, never a guess. After an error the job may or may not have been
///   recorded; recording it again is safe, which is the point.
#[async_trait]
pub trait DoneCounter: Send + Sync + 'static {
    /// Records job `id` as done at `done_at_ms`; `true` if this call counted it.
    async fn record(&self, id: &str, done_at_ms: u64) -> Result<bool, QueueError>;

    /// The number of distinct job ids recorded.
    async fn count(&self) -> Result<u64, QueueError>;

    /// Every recorded job id with its done time.
    async fn completions(&self) -> Result<Vec<Completion>, QueueError>;

    /// The backend's short name.
    fn backend(&self) -> &'static str;
}

/// A shared, type-erased done counter.
pub type SharedDoneCounter = Arc<dyn DoneCounter>;

/// `memory://`: ids in a map in this process.
#[derive(Debug, Default)]
pub struct MemoryDoneCounter {
    done: Mutex<HashMap<String, u64>>,
}

impl MemoryDoneCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.done
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl DoneCounter for MemoryDoneCounter {
    async fn record(&self, id: &str, done_at_ms: u64) -> Result<bool, QueueError> {
        let mut done = self.lock();
        if done.contains_key(id) {
            return Ok(false);
        }
        done.insert(id.to_owned(), done_at_ms);
        Ok(true)
    }

    async fn count(&self) -> Result<u64, QueueError> {
        Ok(self.lock().len() as u64)
    }

    async fn completions(&self) -> Result<Vec<Completion>, QueueError> {
        Ok(self
            .lock()
            .iter()
            .map(|(id, done_at_ms)| Completion {
                id: id.clone(),
                done_at_ms: *done_at_ms,
            })
            .collect())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// The done-counter URL forms this build accepts, one per line.
pub fn done_counter_forms() -> Vec<String> {
    let built = |feature: &str, on: bool, text: &str| {
        if on {
            text.to_owned()
        } else {
            format!("{text} [not in this build: enable cargo feature `{feature}`]")
        }
    };
    vec![
        "memory://                 ids in this process".to_owned(),
        built(
            "redis",
            cfg!(feature = "redis"),
            "redis://host:port/db      HSETNX KEY:ids + INCR KEY in one Lua script (?key=done)",
        ),
        built(
            "dynamodb",
            cfg!(feature = "dynamodb"),
            "dynamodb://table          one TransactWriteItems: Put id if attribute_not_exists, ADD done (?endpoint=URL ?region=R ?create=true ?counter=done)",
        ),
    ]
}

/// Opens the done counter that `url` names.
pub async fn done_counter_from_url(url: &str) -> Result<SharedDoneCounter, QueueError> {
    let parsed = parse_any(url, "done counter")?;
    let invalid = |reason: String| QueueError::InvalidUrl {
        what: "done counter",
        url: mask(&parsed),
        reason,
    };
    match parsed.scheme() {
        "memory" => {
            expect_params(&parsed, &[]).map_err(invalid)?;
            Ok(Arc::new(MemoryDoneCounter::new()))
        }
        "redis" => open_redis(&parsed).await,
        "dynamodb" => open_dynamodb(&parsed).await,
        other => Err(invalid(format!(
            "unknown done counter scheme `{other}://`; accepted forms:\n  {}",
            done_counter_forms().join("\n  ")
        ))),
    }
}

#[cfg(feature = "redis")]
async fn open_redis(url: &url::Url) -> Result<SharedDoneCounter, QueueError> {
    Ok(Arc::new(crate::RedisDoneCounter::open(url).await?))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &url::Url) -> Result<SharedDoneCounter, QueueError> {
    Err(not_built(url, "redis"))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(url: &url::Url) -> Result<SharedDoneCounter, QueueError> {
    Ok(Arc::new(crate::DynamoDbDoneCounter::open(url).await?))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(url: &url::Url) -> Result<SharedDoneCounter, QueueError> {
    Err(not_built(url, "dynamodb"))
}

#[cfg(not(all(feature = "redis", feature = "dynamodb")))]
fn not_built(url: &url::Url, feature: &str) -> QueueError {
    QueueError::InvalidUrl {
        what: "done counter",
        url: mask(url),
        reason: format!(
            "this build has no `{}://` done counter; rebuild with the cargo feature `{feature}`",
            url.scheme()
        ),
    }
}
