//! The tokio runtime that async subcommands run on, and the signals that stop them.

use std::future::Future;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// Runs `future` to completion on a multi-threaded runtime with one worker per core.
pub(crate) fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// A future that resolves on the first SIGINT (Ctrl-C) or SIGTERM (what `timeout` and
/// service managers send). The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives in between is not lost (and does not
/// kill the process with its children still running). Call it inside the runtime.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
