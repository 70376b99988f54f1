//! The tokio runtime that async subcommands run on.

use std::future::Future;

/// Runs `future` to completion on a multi-threaded runtime with one worker per core.
pub(crate) fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
