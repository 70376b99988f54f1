//! The PostgreSQL store against a real PostgreSQL server, never a mock.
#![cfg(feature = "postgres")]

mod support;

use std::sync::Mutex;

use latency_store::{StoreError, from_url};
use support::{assert_invalid_urls, assert_unreachable, conforms_at, free_port, service, unique};

fn server_url() -> Option<String> {
    service("LATENCY_TEST_POSTGRES_URL")
}

fn table_name() -> String {
    unique("latency_test").replace('-', "_")
}

async fn drop_tables(server: &str, tables: &[String]) {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("connect to postgres");
    tokio::spawn(connection);
    for table in tables {
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS \"{table}\""))
            .await
            .expect("drop table");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_conforms() {
    let Some(server) = server_url() else { return };
    let tables = Mutex::new(Vec::new());
    conforms_at(|_| {
        let table = table_name();
        tables.lock().expect("lock").push(table.clone());
        format!("{server}?table={table}")
    })
    .await;
    drop_tables(&server, &tables.into_inner().expect("lock")).await;
}

#[tokio::test]
async fn postgres_missing_table_with_create_false_is_an_error() {
    let Some(server) = server_url() else { return };
    let table = table_name();
    let err = from_url(&format!("{server}?table={table}&create=false"))
        .await
        .err()
        .expect("a missing table must not open");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&table), "{err}");
    // Created by default, and then create=false opens it.
    let store = from_url(&format!("{server}?table={table}"))
        .await
        .expect("creates");
    assert_eq!(store.incr().await.expect("incr"), 1);
    let again = from_url(&format!("{server}?table={table}&create=false"))
        .await
        .expect("exists now");
    assert_eq!(again.incr().await.expect("incr"), 2, "both share one row");
    assert_eq!(again.backend(), "postgres");
    drop_tables(&server, &[table]).await;
}

#[tokio::test]
async fn postgres_url_errors_name_the_problem() {
    assert_invalid_urls(&[
        (
            "postgres://u@127.0.0.1:1/db?table=bad-name",
            "plain SQL name",
        ),
        (
            "postgres://u@127.0.0.1:1/db?tabel=x",
            "unknown parameter `tabel`",
        ),
        ("postgres://u@127.0.0.1:1/db?pool_size=0", "pool_size"),
    ])
    .await;
    let port = free_port();
    assert_unreachable(&format!("postgresql://u@127.0.0.1:{port}/db"), "postgres").await;
}
