//! How [`from_url`](crate::from_url) opens each [`StoreScheme`], including those behind
//! cargo features.

use std::sync::Arc;

use crate::url_parse::StoreUrl;
use crate::{FileStore, MemoryStore, SharedStore, StoreError, StoreScheme};

/// Opens a backend behind a cargo feature. Without the feature, [`StoreUrl::parse`] has
/// already refused the URL; the second arm only keeps such builds compiling (and says the
/// same thing should it ever be reached).
macro_rules! open_gated {
    ($feature:literal, $url:expr, $open:expr) => {{
        #[cfg(feature = $feature)]
        {
            let store: SharedStore = Arc::new($open.await?);
            Ok(store)
        }
        #[cfg(not(feature = $feature))]
        {
            Err($url.invalid(concat!(
                "this build has no such store; rebuild with the cargo feature `",
                $feature,
                "`"
            )))
        }
    }};
}

/// Opens the store `url` names: one arm per [`StoreScheme`].
pub(crate) async fn open(url: &StoreUrl) -> Result<SharedStore, StoreError> {
    match url.scheme() {
        StoreScheme::Memory => Ok(Arc::new(MemoryStore::new())),
        StoreScheme::File => Ok(Arc::new(FileStore::open_url(url).await?)),
        StoreScheme::S3 => open_gated!("s3", url, crate::s3::S3Store::open_url(url)),
        StoreScheme::DynamoDb => {
            open_gated!(
                "dynamodb",
                url,
                crate::dynamodb::DynamoDbStore::open_url(url)
            )
        }
        StoreScheme::Redis => open_gated!("redis", url, crate::redis::RedisStore::open_url(url)),
        StoreScheme::Postgres => {
            open_gated!(
                "postgres",
                url,
                crate::postgres::PostgresStore::open_url(url)
            )
        }
    }
}

/// The start of a stored value, for a [`StoreError::Corrupt`] message.
#[cfg(any(feature = "s3", feature = "dynamodb", feature = "redis"))]
pub(crate) fn excerpt(text: &str) -> Option<String> {
    Some(text.chars().take(64).collect())
}
