//! The DynamoDB store against a real DynamoDB-compatible server (dynalite), never a mock.
#![cfg(feature = "dynamodb")]

mod support;

use latency_store::{StoreError, from_url};
use support::{
    LocalServer, assert_counter_gone, assert_invalid_urls, assert_unreachable, conforms_at,
    creating_is_explicit, free_port, read_modify_write_loses_updates, service, unique,
};

fn endpoint() -> Option<String> {
    service("LATENCY_TEST_DYNAMODB_ENDPOINT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_conforms() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique("conformance");
    // One table; each fresh store counts in its own item.
    conforms_at(|n| format!("dynamodb://{table}?endpoint={endpoint}&create=true&key_value={n}"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_read_modify_write_mode_loses_updates() {
    let Some(endpoint) = endpoint() else { return };
    let url = format!(
        "dynamodb://{}?endpoint={endpoint}&create=true&mode=read-modify-write",
        unique("rmw")
    );
    read_modify_write_loses_updates(&url, 20).await;
}

#[tokio::test]
async fn dynamodb_missing_table_is_an_error_that_says_how_to_create_it() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique("missing");
    let err = from_url(&format!("dynamodb://{table}?endpoint={endpoint}"))
        .await
        .err()
        .expect("a missing table must not open");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&table) && text.contains("?create=true") && text.contains("create-table"),
        "{text}"
    );
}

#[tokio::test]
async fn dynamodb_key_and_attribute_names_are_configurable() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique("names");
    let url = format!(
        "dynamodb://{table}?endpoint={endpoint}&create=true&key=pk&key_value=page-a&attribute=count"
    );
    let store = from_url(&url).await.expect("opens with a string key");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.incr().await.expect("incr"), 2);
    let other = from_url(&url.replace("page-a", "page-b"))
        .await
        .expect("opens");
    assert_eq!(
        other.incr().await.expect("incr"),
        1,
        "another item counts apart"
    );
    // The table is keyed by `pk`: the default key name does not fit it.
    let err = from_url(&format!("dynamodb://{table}?endpoint={endpoint}"))
        .await
        .err()
        .expect("wrong key name");
    assert!(err.to_string().contains("pk"), "{err}");
}

#[tokio::test]
async fn dynamodb_item_that_is_not_a_count_is_corrupt() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique("corrupt");
    let url = format!("dynamodb://{table}?endpoint={endpoint}&create=true");
    from_url(&url).await.expect("creates the table");
    let client = raw_client(&endpoint).await;
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::N("0".into()))
        .item("hits", AttributeValue::S("twelve".into()))
        .send()
        .await
        .expect("put garbage");
    let err = from_url(&url)
        .await
        .err()
        .expect("a corrupt counter must not open");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("twelve"), "{err}");
}

#[tokio::test]
async fn dynamodb_url_errors_name_the_problem() {
    assert_invalid_urls(&[
        ("dynamodb://", "name the table"),
        (
            "dynamodb://t/extra?endpoint=http://127.0.0.1:1",
            "names only a table",
        ),
        (
            "dynamodb://t?endpoint=http://127.0.0.1:1&table=x",
            "unknown parameter `table`",
        ),
        (
            "dynamodb://t?endpoint=http://127.0.0.1:1&key=a&attribute=a",
            "different",
        ),
        (
            "dynamodb://t?endpoint=http://127.0.0.1:1&create=maybe",
            "true or false",
        ),
    ])
    .await;
}

#[tokio::test]
async fn dynamodb_unreachable_endpoint_is_unavailable() {
    let port = free_port();
    assert_unreachable(
        &format!("dynamodb://t?endpoint=http://127.0.0.1:{port}"),
        "dynamodb",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_reports_unavailable_while_the_server_is_down_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(server) = LocalServer::dynalite(0, dir.path()).await else {
        return;
    };
    let port = server.port;
    let url = format!("dynamodb://recover?endpoint={}&create=true", server.address);
    let store = from_url(&url).await.expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.backend(), "dynamodb");
    server.kill().await;
    let err = store.incr().await.expect_err("the server is down");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(store.get().await.is_err(), "get fails too while it is down");
    // dynalite keeps its tables in `dir`, so the counter survives the restart.
    let _server = LocalServer::dynalite(port, dir.path())
        .await
        .expect("restarts");
    let value = support::eventually("incr after restart", || store.incr()).await;
    assert_eq!(
        value, 2,
        "the same store continues the count after the server returns"
    );
}

/// A DynamoDB client of its own, to change the item behind the store's back.
async fn raw_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "t", "t", None, None, "t",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// Regression (issue 10): `UpdateItem ADD` used to recreate a deleted item at 1. Now a
/// counter that disappears is an error that names it, and nothing is written.
#[tokio::test]
async fn dynamodb_counter_deleted_while_open_is_an_error_not_a_restart() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(endpoint) = endpoint() else { return };
    let table = unique("deleted");
    let url = format!("dynamodb://{table}?endpoint={endpoint}&create=true");
    let store = from_url(&url).await.expect("opens");
    let rmw = from_url(&format!("{url}&mode=read-modify-write"))
        .await
        .expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.incr().await.expect("incr"), 2);
    let client = raw_client(&endpoint).await;
    client
        .delete_item()
        .table_name(&table)
        .key("id", AttributeValue::N("0".into()))
        .send()
        .await
        .expect("delete the counter");
    assert_counter_gone(
        &[("atomic", &store), ("read-modify-write", &rmw)],
        &format!("dynamodb://{table}"),
    )
    .await;
    let item = client
        .get_item()
        .table_name(&table)
        .key("id", AttributeValue::N("0".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item");
    assert!(
        item.item.is_none(),
        "the store recreated the deleted counter"
    );
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::N("0".into()))
        .item("hits", AttributeValue::N("41".into()))
        .send()
        .await
        .expect("restore");
    assert_eq!(store.incr().await.expect("incr after restore"), 42);
}

/// Without ?create=true a missing counter does not open; with it, an existing count is
/// kept, never reset to 0.
#[tokio::test]
async fn dynamodb_creating_the_counter_is_explicit_and_never_resets_it() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique("explicit");
    creating_is_explicit(
        &format!("dynamodb://{table}?endpoint={endpoint}&create=true"),
        &format!("dynamodb://{table}?endpoint={endpoint}&key_value=7"),
        &format!("dynamodb://{table}"),
    )
    .await;
}
