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

/// Two futures: the first resolves on the first SIGINT or SIGTERM, the second on the
/// next one after it (a second Ctrl-C: "stop waiting"). Both are installed when this is
/// called, as [`shutdown_signal`]'s. Call it inside the runtime.
pub(crate) fn first_and_second_signal() -> anyhow::Result<(
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
)> {
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let (second_tx, second_rx) = tokio::sync::oneshot::channel::<()>();
    // One task reads both signals in order from the same streams, so the first signal
    // never counts as the second too.
    tokio::spawn(async move {
        for tx in [first_tx, second_tx] {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            let _ = tx.send(());
        }
    });
    // A channel whose task is gone (the runtime is shutting down) never resolves.
    let wait = |rx: tokio::sync::oneshot::Receiver<()>| async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    Ok((wait(first_rx), wait(second_rx)))
}
