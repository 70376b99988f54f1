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
}

#[async_trait]
impl CounterStore for MemoryStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        Ok(self.hits.fetch_add(1, Ordering::SeqCst) + 1)
    }

    async fn get(&self) -> Result<u64, StoreError> {
        Ok(self.hits.load(Ordering::SeqCst))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
