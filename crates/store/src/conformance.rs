//! The conformance suite that every [`CounterStore`] backend runs.
//!
//! Each backend's test calls [`run_all`] (or the checks one by one) with a function that
//! opens a **fresh** store whose counter starts at 0. The checks panic with a message that
//! names the broken property, so they are meant to run inside `#[tokio::test]`s; use a
//! multi-threaded runtime so that the concurrency check really runs tasks in parallel.

use std::collections::HashSet;
use std::future::Future;

use crate::SharedStore;

/// Tasks in [`concurrent_increments_are_never_lost`].
pub const CONCURRENT_TASKS: u64 = 64;
/// Increments per task in [`concurrent_increments_are_never_lost`].
pub const INCREMENTS_PER_TASK: u64 = 500;

/// Runs every check, each on its own fresh store.
pub async fn run_all<F, Fut>(fresh_store: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedStore>,
{
    sequential_increments_count_up_from_one(fresh_store().await).await;
    get_reads_without_incrementing(fresh_store().await).await;
    concurrent_increments_are_never_lost(fresh_store().await).await;
}

/// A fresh counter reads 0, and `incr` then returns 1, 2, 3, … in order.
pub async fn sequential_increments_count_up_from_one(store: SharedStore) {
    assert_eq!(
        expect_ok(store.get().await, "get"),
        0,
        "a fresh counter must read 0"
    );
    for expected in 1..=20 {
        let got = expect_ok(store.incr().await, "incr");
        assert_eq!(got, expected, "sequential incr #{expected} returned {got}");
    }
}

/// `get` after `incr` returns the value `incr` returned, and reading does not count.
pub async fn get_reads_without_incrementing(store: SharedStore) {
    let after_incr = expect_ok(store.incr().await, "incr");
    for _ in 0..3 {
        assert_eq!(
            expect_ok(store.get().await, "get"),
            after_incr,
            "get must return the value the last incr returned, and must not increment"
        );
    }
    let next = expect_ok(store.incr().await, "incr");
    assert_eq!(
        next,
        after_incr + 1,
        "incr after get must continue the count"
    );
}

/// 64 tasks × 500 increments: the count ends at exactly 32,000, and every returned value
/// is distinct — together, the values are exactly 1..=32,000.
pub async fn concurrent_increments_are_never_lost(store: SharedStore) {
    let tasks: Vec<_> = (0..CONCURRENT_TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(INCREMENTS_PER_TASK as usize);
                for _ in 0..INCREMENTS_PER_TASK {
                    seen.push(expect_ok(store.incr().await, "concurrent incr"));
                }
                seen
            })
        })
        .collect();
    let mut returned = HashSet::new();
    for task in tasks {
        for value in task.await.expect("an incrementing task panicked") {
            assert!(returned.insert(value), "incr returned {value} twice");
        }
    }
    let total = CONCURRENT_TASKS * INCREMENTS_PER_TASK;
    assert_eq!(
        expect_ok(store.get().await, "get"),
        total,
        "after {total} concurrent increments the count must be {total}"
    );
    assert_eq!(returned.len() as u64, total);
    assert!(
        (1..=total).all(|value| returned.contains(&value)),
        "returned values must be exactly 1..={total}"
    );
}

fn expect_ok<T>(result: Result<T, crate::StoreError>, op: &str) -> T {
    result.unwrap_or_else(|err| panic!("{op} failed: {err}"))
}
