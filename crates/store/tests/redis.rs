//! The Redis store against a real Redis server, never a mock.
#![cfg(feature = "redis")]

mod support;

use std::sync::Mutex;

use latency_store::{StoreError, from_url};
use support::{LocalServer, assert_unreachable, conforms_at, free_port, service, unique};

fn server_url() -> Option<String> {
    service("LATENCY_TEST_REDIS_URL")
}

/// Deletes `keys` so that repeated runs do not fill the shared Redis.
async fn delete(server: &str, keys: &[String]) {
    let client = redis::Client::open(server).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut connection)
        .await
        .expect("DEL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_conforms() {
    let Some(server) = server_url() else { return };
    let keys = Mutex::new(Vec::new());
    conforms_at(|_| {
        let key = unique("latency-test");
        keys.lock().expect("lock").push(key.clone());
        format!("{server}?key={key}")
    })
    .await;
    delete(&server, &keys.into_inner().expect("lock")).await;
}

#[tokio::test]
async fn redis_key_that_is_not_a_count_is_corrupt_and_kept() {
    let Some(server) = server_url() else { return };
    let key = unique("latency-test-corrupt");
    let client = redis::Client::open(server.as_str()).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("twelve")
        .query_async(&mut connection)
        .await
        .expect("SET");
    let err = from_url(&format!("{server}?key={key}"))
        .await
        .err()
        .expect("a corrupt counter must not open");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("twelve"), "{err}");
    let kept: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .expect("GET");
    assert_eq!(kept, "twelve", "a corrupt counter is never overwritten");
    delete(&server, &[key]).await;
}

#[tokio::test]
async fn redis_url_errors_name_the_problem() {
    let err = from_url("redis://127.0.0.1:1/?key=a&ttl=3")
        .await
        .err()
        .expect("bad param");
    assert!(err.to_string().contains("unknown parameter `ttl`"), "{err}");
    let port = free_port();
    assert_unreachable(&format!("redis://127.0.0.1:{port}/"), "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_reports_unavailable_while_the_server_is_down_and_recovers() {
    let server = LocalServer::redis(0).await;
    let port = server.port;
    let url = server.address.clone();
    let store = from_url(&url).await.expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(store.backend(), "redis");
    server.kill().await;
    let err = store.incr().await.expect_err("the server is down");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    // Restart on the same port; this throwaway server keeps nothing, so it counts anew.
    let _restarted = LocalServer::redis(port).await;
    let value = support::eventually("incr after restart", || store.incr()).await;
    assert_eq!(
        value, 1,
        "the same store reconnects; the restarted server counts anew"
    );
}

/// Regression (issue 10): a negative count used to be incremented in place, and
/// `u64::MAX` made every increment fail with Redis's opaque "not an integer or out of
/// range". Each impossible value is now reported as corruption that says what is wrong,
/// and left exactly as it was.
#[tokio::test]
async fn redis_impossible_counts_are_corrupt_and_never_incremented() {
    let Some(server) = server_url() else { return };
    let key = unique("latency-test-impossible");
    let client = redis::Client::open(server.as_str()).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let store = from_url(&format!("{server}?key={key}"))
        .await
        .expect("opens on a missing key");
    assert_eq!(store.incr().await.expect("incr"), 1);
    for (stored, reason) in [
        ("-3", "negative"),
        ("18446744073709551615", "largest Redis can increment"),
        ("9223372036854775807", "largest Redis can increment"),
        ("007x", "not a decimal count"),
    ] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(stored)
            .query_async(&mut connection)
            .await
            .expect("SET");
        let err = store.incr().await.expect_err("an impossible count");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{stored}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(reason) && text.contains(&key),
            "{stored}: {text}"
        );
        let kept: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("GET");
        assert_eq!(kept, stored, "an impossible count was changed");
    }
    // The largest count Redis can hold can still be read; anything beyond cannot.
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(i64::MAX)
        .query_async(&mut connection)
        .await
        .expect("SET");
    assert_eq!(
        store.get().await.expect("get i64::MAX"),
        i64::MAX.unsigned_abs()
    );
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("-3")
        .query_async(&mut connection)
        .await
        .expect("SET");
    let err = store.get().await.expect_err("a negative count");
    assert!(err.to_string().contains("negative"), "{err}");
    delete(&server, &[key]).await;
}
