//! A store opened on first use.

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::{CounterStore, SharedStore, StoreError, StoreScheme};

/// A store that is opened by the first call that needs it, and by every later call until
/// opening succeeds.
///
/// For a process that must start while its store is unreachable (a Lambda instance whose
/// init must not fail because of an outage): until the store opens, each call returns the
/// error [`from_url`](crate::from_url) gave, and the first call after the store comes
/// back opens it; later calls reuse it. Two calls racing to open it open it once.
pub struct LazyStore {
    url: String,
    scheme: StoreScheme,
    store: OnceCell<SharedStore>,
}

impl std::fmt::Debug for LazyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyStore")
            .field("url", &crate::redact_url(&self.url))
            .field("open", &self.store.initialized())
            .finish()
    }
}

impl LazyStore {
    /// A store for `url`, not opened yet. Fails only when the URL names no scheme this
    /// build can open; everything else is checked when it opens.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let scheme = crate::url_parse::StoreUrl::parse(url)?.scheme();
        Ok(Self {
            url: url.to_owned(),
            scheme,
            store: OnceCell::new(),
        })
    }

    async fn store(&self) -> Result<&SharedStore, StoreError> {
        self.store
            .get_or_try_init(|| async {
                let store = crate::from_url(&self.url).await?;
                tracing::info!(backend = self.scheme.name(), "store reachable; opened");
                Ok(store)
            })
            .await
    }
}

#[async_trait]
impl CounterStore for LazyStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        self.store().await?.incr().await
    }

    async fn get(&self) -> Result<u64, StoreError> {
        self.store().await?.get().await
    }

    /// The scheme's name, known before the store opens.
    fn backend(&self) -> &'static str {
        self.scheme.name()
    }
}
