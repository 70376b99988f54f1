//! Every built-in backend runs the shared conformance suite against real storage.

use std::sync::atomic::{AtomicUsize, Ordering};

use latency_store::{conformance, from_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms() {
    conformance::run_all(|| async { from_url("memory://").await.expect("memory store opens") })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files_made = AtomicUsize::new(0);
    conformance::run_all(|| {
        let n = files_made.fetch_add(1, Ordering::Relaxed);
        let url = format!("file://{}/hits-{n}", dir.path().display());
        async move { from_url(&url).await.expect("file store opens") }
    })
    .await;
}
