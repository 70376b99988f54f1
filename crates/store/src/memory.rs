use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{CounterStore, StoreError};

/// `memory://`: an atomic counter in this process, lost when the process exits.
///
/// It stands for the original study's EC2 server, which kept the count in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    hits: AtomicU64,
}

impl MemoryStore {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn add_one(&self) -> u64 {
        self.hits.fetch_add(1, Ordering::SeqCst) + 1
    }
}

#[async_trait]
impl CounterStore for MemoryStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        Ok(self.add_one())
    }

    fn incr_now(&self) -> Option<Result<u64, StoreError>> {
        Some(Ok(self.add_one()))
    }

    async fn get(&self) -> Result<u64, StoreError> {
        Ok(self.hits.load(Ordering::SeqCst))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn incr_now_and_incr_count_on_one_counter() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        assert_eq!(store.incr_now().expect("memory never waits")?, 1);
        assert_eq!(store.incr().await?, 2);
        assert_eq!(store.incr_now().expect("memory never waits")?, 3);
        assert_eq!(store.get().await?, 3);
        Ok(())
    }
}
