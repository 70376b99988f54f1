//! The backends behind cargo features: how [`from_url`](crate::from_url) opens each, and
//! what a build without the feature says instead.

#[cfg(any(
    feature = "s3",
    feature = "dynamodb",
    feature = "redis",
    feature = "postgres"
))]
use std::sync::Arc;

use crate::url_parse::StoreUrl;
use crate::{SharedStore, StoreError};

/// One line of [`accepted_forms`](crate::accepted_forms) for a backend behind a feature.
/// A build without the feature still lists the form, and names the feature that enables
/// it, so that the error message for a URL it cannot open says how to get one that can.
macro_rules! feature_form {
    ($name:ident, $feature:literal, $text:literal) => {
        #[cfg(feature = $feature)]
        pub(crate) const $name: &str = $text;
        #[cfg(not(feature = $feature))]
        pub(crate) const $name: &str = concat!(
            $text,
            " [not in this build: enable cargo feature `",
            $feature,
            "`]"
        );
    };
}

feature_form!(
    S3_FORM,
    "s3",
    "s3://bucket/key           an S3 object, written only if unchanged since read (If-Match), retried with jitter (?endpoint=URL ?region=R ?create=true ?max_attempts=200 ?mode=read-modify-write)"
);
feature_form!(
    DYNAMODB_FORM,
    "dynamodb",
    "dynamodb://table          a DynamoDB item, one UpdateItem ADD … UPDATED_NEW (?endpoint=URL ?region=R ?create=true ?key=id ?key_value=0 ?attribute=hits ?mode=read-modify-write)"
);
feature_form!(
    REDIS_FORM,
    "redis",
    "redis://host:port/db      one Redis key, INCR (?key=hits)"
);
feature_form!(
    POSTGRES_FORM,
    "postgres",
    "postgres://user@host/db   a PostgreSQL row, one upsert … RETURNING, pooled (?table=hits ?create=false ?pool_size=16)"
);

/// Opens the feature-gated backend for `url`'s scheme; `None` for other schemes.
pub(crate) async fn open(url: &StoreUrl) -> Option<Result<SharedStore, StoreError>> {
    let opened = match url.scheme() {
        "s3" => open_s3(url).await,
        "dynamodb" => open_dynamodb(url).await,
        "redis" => open_redis(url).await,
        "postgres" | "postgresql" => open_postgres(url).await,
        _ => return None,
    };
    Some(opened)
}

#[cfg(feature = "s3")]
async fn open_s3(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(crate::s3::S3Store::open_url(url).await?))
}

#[cfg(not(feature = "s3"))]
async fn open_s3(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Err(not_built(url, "s3"))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(
        crate::dynamodb::DynamoDbStore::open_url(url).await?,
    ))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Err(not_built(url, "dynamodb"))
}

#[cfg(feature = "redis")]
async fn open_redis(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(crate::redis::RedisStore::open_url(url).await?))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Err(not_built(url, "redis"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(
        crate::postgres::PostgresStore::open_url(url).await?,
    ))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    Err(not_built(url, "postgres"))
}

#[cfg(not(all(
    feature = "s3",
    feature = "dynamodb",
    feature = "redis",
    feature = "postgres"
)))]
fn not_built(url: &StoreUrl, feature: &str) -> StoreError {
    url.invalid(format!(
        "this build has no `{}://` store; rebuild with the cargo feature `{feature}` \
         (the released `latency` binary has every store)",
        url.scheme()
    ))
}

/// The start of a stored value, for a [`StoreError::Corrupt`] message.
#[cfg(any(feature = "s3", feature = "dynamodb", feature = "redis"))]
pub(crate) fn excerpt(text: &str) -> String {
    text.chars().take(64).collect()
}
