//! Counter stores for the `latency` app.
//!
//! A store keeps one counter. It is chosen by URL through [`from_url`]; each URL scheme is
//! one backend module. Every backend runs the same [`conformance`] suite.
//!
//! The schemes are listed once, in [`StoreScheme`]; [`accepted_forms`] and [`help`] are
//! generated from it. Store URLs are shown only through [`redact_url`], so no error or
//! log line carries a password.
//!
//! | URL | backend |
//! |---|---|
//! | `memory://` | [`MemoryStore`]: an atomic in this process (the EC2 server's in-memory counter) |
//! | `file:///abs/path` | [`FileStore`]: a durable file shared safely between processes (Fargate + EFS) |
//! | `s3://bucket/key` | `S3Store` (feature `s3`): conditional writes, retried (Lambda + S3) |
//! | `dynamodb://table` | `DynamoDbStore` (feature `dynamodb`): one `UpdateItem ADD` (Lambda + DynamoDB) |
//! | `redis://host:port/db` | `RedisStore` (feature `redis`): `INCR` |
//! | `postgres://user@host/db` | `PostgresStore` (feature `postgres`): one upsert … `RETURNING` |
//!
//! The conformance suite every backend runs is `conformance`, behind the cargo feature of
//! the same name, so that it is compiled only into tests (as a dev-dependency feature),
//! never into a release binary.

#[cfg(any(feature = "s3", feature = "dynamodb"))]
mod aws;
mod backends;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod file;
mod lazy;
mod local_endpoint;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod redact;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "s3")]
mod s3;
mod scheme;
mod url_parse;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::StoreError;
pub use file::FileStore;
pub use lazy::LazyStore;
pub use local_endpoint::uses_local_credentials;
pub use memory::MemoryStore;
pub use redact::redact_url;
pub use scheme::{SchemeParam, StoreScheme, UnknownScheme, accepted_forms, help};

#[cfg(any(feature = "s3", feature = "dynamodb"))]
pub use aws::WriteMode;
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
#[cfg(feature = "s3")]
pub use s3::S3Store;

/// One counter, shared by every request that reaches the app.
///
/// # Contract
/// - [`incr`](CounterStore::incr) adds one and returns the new value **atomically**: when
///   any number of callers, in this process or others sharing the same backing storage,
///   call it concurrently, every call returns a distinct value and no increment is lost.
///   It uses a single round trip to the backend where the backend allows it.
/// - [`get`](CounterStore::get) returns the current value without changing it. A counter
///   that was never incremented reads 0.
/// - An error is returned, never a made-up value: a store that cannot reach or trust its
///   backing storage says so with a [`StoreError`], and recovers by itself when the
///   storage comes back (no call leaves the store unusable).
#[async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// Adds one to the counter and returns the new value.
    async fn incr(&self) -> Result<u64, StoreError>;

    /// Returns the current value of the counter.
    async fn get(&self) -> Result<u64, StoreError>;

    /// The backend's short name (`memory`, `file`, …), used as a metrics label.
    fn backend(&self) -> &'static str;

    /// [`incr`](CounterStore::incr) done at once, for a store that never waits (an
    /// in-process counter): `Some` with what `incr` would return, under the same contract;
    /// `None` (the default) when the caller must use `incr`. It spares a request's hot path
    /// the boxed future of the async `incr`.
    fn incr_now(&self) -> Option<Result<u64, StoreError>> {
        None
    }
}

/// A shared, type-erased store, as the app holds it.
pub type SharedStore = Arc<dyn CounterStore>;

/// Opens the store that `url` names.
///
/// Opening checks what can be checked up front (the URL's form, a file's directory and
/// contents), so that a bad setting fails at start-up with a message that names it rather
/// than on the first request.
pub async fn from_url(url: &str) -> Result<SharedStore, StoreError> {
    backends::open(&url_parse::StoreUrl::parse(url)?).await
}
