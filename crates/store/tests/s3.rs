//! The S3 store against a real S3-compatible server (moto), never a mock.
#![cfg(feature = "s3")]

mod support;

use latency_store::{StoreError, from_url};
use support::{
    LocalServer, assert_counter_gone, assert_invalid_urls, assert_unreachable, conforms_at,
    creating_is_explicit, free_port, read_modify_write_loses_updates, service, unique,
};

fn endpoint() -> Option<String> {
    service("LATENCY_TEST_S3_ENDPOINT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("conformance");
    conforms_at(|n| format!("s3://{bucket}/hits-{n}?endpoint={endpoint}&create=true")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_read_modify_write_mode_loses_updates() {
    let Some(endpoint) = endpoint() else { return };
    let url = format!(
        "s3://{}/hits?endpoint={endpoint}&create=true&mode=read-modify-write",
        unique("rmw")
    );
    read_modify_write_loses_updates(&url, 10).await;
}

/// Separate stores stand for separate processes or function instances: they share
/// nothing but the object, so only the conditional writes keep their increments apart.
async fn separate_stores(url: &str, n: usize) -> Vec<latency_store::SharedStore> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(from_url(url).await.expect("s3 store opens"));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_separate_writers_never_lose_updates() {
    let Some(endpoint) = endpoint() else { return };
    let url = format!(
        "s3://{}/hits?endpoint={endpoint}&create=true",
        unique("writers")
    );
    let stores = separate_stores(&url, 16).await;
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|store| {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..25 {
                    seen.push(store.incr().await.expect("incr"));
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=400).collect::<Vec<u64>>(),
        "each value returned once"
    );
    assert_eq!(stores[0].get().await.expect("get"), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_gives_up_with_contended_after_max_attempts() {
    let Some(endpoint) = endpoint() else { return };
    let url = format!(
        "s3://{}/hits?endpoint={endpoint}&create=true&max_attempts=1",
        unique("contended")
    );
    let stores = separate_stores(&url, 32).await;
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|store| {
            tokio::spawn(async move {
                let mut results = Vec::new();
                for _ in 0..5 {
                    results.push(store.incr().await);
                }
                results
            })
        })
        .collect();
    let (mut won, mut gave_up) = (0u64, 0u64);
    for task in tasks {
        for result in task.await.expect("task") {
            match result {
                Ok(_) => won += 1,
                Err(StoreError::Contended { attempts: 1, .. }) => gave_up += 1,
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
    }
    assert!(
        gave_up > 0,
        "with one attempt each, some of 160 overlapping increments from 32 writers must give up"
    );
    assert_eq!(
        stores[0].get().await.expect("get"),
        won,
        "every increment that succeeded counts, and no other"
    );
}

#[tokio::test]
async fn s3_missing_bucket_is_an_error_that_says_how_to_create_it() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("missing");
    let err = from_url(&format!("s3://{bucket}/hits?endpoint={endpoint}"))
        .await
        .err()
        .expect("a missing bucket must not open");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&bucket) && text.contains("?create=true"),
        "{text}"
    );
}

#[tokio::test]
async fn s3_object_that_is_not_a_count_is_corrupt_and_kept() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("corrupt");
    let url = format!("s3://{bucket}/hits?endpoint={endpoint}&create=true");
    from_url(&url).await.expect("creates the bucket");
    // Write garbage through the read-modify-write path's raw client: a second store whose
    // key is the same object cannot do that, so use the SDK directly.
    let client = raw_client(&endpoint).await;
    client
        .put_object()
        .bucket(&bucket)
        .key("hits")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"twelve"))
        .send()
        .await
        .expect("put garbage");
    let err = from_url(&url)
        .await
        .err()
        .expect("a corrupt counter must not open");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("twelve"), "{err}");
    let body = client
        .get_object()
        .bucket(&bucket)
        .key("hits")
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(
        &body[..],
        b"twelve",
        "a corrupt counter is never overwritten"
    );
}

#[tokio::test]
async fn s3_url_errors_name_the_problem() {
    assert_invalid_urls(&[
        ("s3:///hits", "name the bucket"),
        (
            "s3://b/hits?endpoint=http://127.0.0.1:1&colour=red",
            "unknown parameter `colour`",
        ),
        (
            "s3://b/hits?endpoint=http://127.0.0.1:1&mode=fast",
            "read-modify-write",
        ),
        ("s3://b/hits?endpoint=127.0.0.1:1", "http://"),
        (
            "s3://b/hits?endpoint=http://127.0.0.1:1&max_attempts=0",
            "max_attempts",
        ),
    ])
    .await;
}

#[tokio::test]
async fn s3_unreachable_endpoint_is_unavailable() {
    let port = free_port();
    assert_unreachable(
        &format!("s3://b/hits?endpoint=http://127.0.0.1:{port}"),
        "s3",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_reports_unavailable_while_the_server_is_down_and_recovers() {
    let Some(server) = LocalServer::moto(0).await else {
        return;
    };
    let port = server.port;
    let url = format!("s3://recover/hits?endpoint={}&create=true", server.address);
    let store = from_url(&url).await.expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.backend(), "s3");
    server.kill().await;
    let err = store.incr().await.expect_err("the server is down");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    // moto keeps objects in memory: the restarted server is empty, so make the bucket again
    // (with a second store) and check that the first store's client reconnects.
    let _server = LocalServer::moto(port).await.expect("moto restarts");
    from_url(&url).await.expect("bucket made again");
    let value = support::eventually("incr after restart", || store.incr()).await;
    assert_eq!(value, 1, "a fresh server holds a fresh counter");
}

/// An S3 client of its own, to change the object behind the store's back.
async fn raw_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "t", "t", None, None, "t",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// Regression (issue 10): a deleted counter object used to be recreated at 1 by the next
/// increment. Now it is an error that names the object, and nothing is written.
#[tokio::test]
async fn s3_counter_deleted_while_open_is_an_error_not_a_restart() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("deleted");
    let url = format!("s3://{bucket}/hits?endpoint={endpoint}&create=true");
    let store = from_url(&url).await.expect("opens");
    let rmw = from_url(&format!("{url}&mode=read-modify-write"))
        .await
        .expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.incr().await.expect("incr"), 2);
    let client = raw_client(&endpoint).await;
    client
        .delete_object()
        .bucket(&bucket)
        .key("hits")
        .send()
        .await
        .expect("delete the counter");
    assert_counter_gone(
        &[("atomic", &store), ("read-modify-write", &rmw)],
        &format!("s3://{bucket}/hits"),
    )
    .await;
    let head = client
        .head_object()
        .bucket(&bucket)
        .key("hits")
        .send()
        .await;
    assert!(head.is_err(), "the store recreated the deleted counter");
    // Restored by hand, the count goes on from the restored value.
    client
        .put_object()
        .bucket(&bucket)
        .key("hits")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"41"))
        .send()
        .await
        .expect("restore");
    assert_eq!(store.incr().await.expect("incr after restore"), 42);
}

/// Without ?create=true a missing counter object does not open; with it, an existing
/// count is kept, never reset to 0.
#[tokio::test]
async fn s3_creating_the_counter_is_explicit_and_never_resets_it() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = unique("explicit");
    creating_is_explicit(
        &format!("s3://{bucket}/hits?endpoint={endpoint}&create=true"),
        &format!("s3://{bucket}/other?endpoint={endpoint}"),
        &format!("s3://{bucket}/other"),
    )
    .await;
}
