//! Merging the Reports of two shards of one run adds their histograms: the merged
//! percentiles are those of all latencies together, not the average of each shard's.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ms, plan, serve};
use latency_bench::{Report, Verdict};

/// Two shards against one counter: the first 100 requests take 1 ms, the next 100 take
/// 9 ms (virtual time, so exact).
async fn two_shards() -> (Report, Report) {
    let (addr, _) = serve(|i| async move {
        let delay = if i < 100 { 1 } else { 9 };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        (200, (i + 1).to_string())
    })
    .await;
    let fast = latency_bench::run(plan(addr, 100)).await.expect("run");
    let slow = latency_bench::run(plan(addr, 100)).await.expect("run");
    (fast, slow)
}

#[tokio::test(start_paused = true)]
async fn merged_percentiles_are_those_of_all_latencies_not_an_average() {
    let (fast, slow) = two_shards().await;
    let f = fast.results.latency.as_ref().expect("latency");
    let s = slow.results.latency.as_ref().expect("latency");
    assert!(ms(f.p99_ms, 1.0) && ms(s.p50_ms, 9.0), "{f:?} {s:?}");

    let merged = Report::merge(&[fast.clone(), slow.clone()], &[]).expect("merges");
    let m = merged.results.latency.as_ref().expect("latency");
    // 99 warm latencies of 1 ms and 99 of 9 ms (each shard's first is its cold start).
    assert_eq!(m.count, 198);
    assert!(ms(m.min_ms, 1.0) && ms(m.max_ms, 9.0), "{m:?}");
    assert!(
        ms(m.p50_ms, 1.0),
        "the median of all is 1 ms, not (1 + 9) / 2: {m:?}"
    );
    assert!(ms(m.p90_ms, 9.0) && ms(m.p99_ms, 9.0), "{m:?}");
    assert!(ms(m.mean_ms, 5.0) && ms(m.stdev_ms, 4.0), "{m:?}");
    let r = &merged.results;
    assert_eq!(r.requests, 200);
    assert_eq!(r.status_codes.get("200"), Some(&200));
    assert!(
        (r.throughput_rps - (fast.results.throughput_rps + slow.results.throughput_rps)).abs()
            < 1e-6
    );
    assert_eq!(merged.plan.connections, 2);
    assert_eq!(merged.plan.requests, Some(200));
    let bins: u64 = r.distribution.bins.iter().map(|b| b.count).sum();
    assert_eq!(bins, 198);
    // The two shards shared the counter: 1..=200 with nothing missing or repeated.
    assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
    assert_eq!((r.counter.first, r.counter.last), (Some(1), Some(200)));

    // The merged Report carries its own histogram: merging it again is exact too.
    let again = Report::merge(std::slice::from_ref(&merged), &[]).expect("merges");
    assert_eq!(again.results.latency, merged.results.latency);
    let text = merged.to_json();
    assert_eq!(
        Report::from_json(&text, Path::new("merged.json")).expect("reads"),
        merged
    );
}

#[tokio::test(start_paused = true)]
async fn reports_that_cannot_merge_are_named_with_the_reason() {
    let (fast, slow) = two_shards().await;
    let paths = [Path::new("a.json"), Path::new("b.json")];

    let mut old = slow.clone();
    old.schema_version = 1;
    old.results.latency_histogram = None;
    let err = Report::merge(&[fast.clone(), old], &paths)
        .expect_err("no histogram")
        .to_string();
    assert!(
        err.contains("b.json") && err.contains("no latency histogram"),
        "{err}"
    );

    let mut elsewhere = slow.clone();
    elsewhere.target.url = "http://127.0.0.1:9/hits".to_owned();
    let err = Report::merge(&[fast.clone(), elsewhere], &paths)
        .expect_err("another URL")
        .to_string();
    assert!(
        err.contains("b.json") && err.contains("only shards of one run"),
        "{err}"
    );

    let mut tampered = slow;
    tampered.results.latency_histogram = fast.results.latency_histogram.clone();
    tampered.results.latency.as_mut().expect("latency").count += 1;
    let err = Report::merge(&[fast, tampered], &paths)
        .expect_err("count mismatch")
        .to_string();
    assert!(
        err.contains("b.json") && err.contains("holds 99 latencies"),
        "{err}"
    );

    assert!(Report::merge(&[], &[]).is_err());
}

#[tokio::test(start_paused = true)]
async fn shards_that_got_the_same_counter_values_fail_the_merged_check() {
    // A "counter" that restarts: each shard alone is fine, together they repeat values.
    let (addr, _) = serve(|i| async move { (200, (i % 50 + 1).to_string()) }).await;
    let a = latency_bench::run(plan(addr, 50)).await.expect("run");
    let b = latency_bench::run(plan(addr, 50)).await.expect("run");
    assert_eq!(a.results.counter.verdict, Verdict::Pass);
    assert_eq!(b.results.counter.verdict, Verdict::Pass);
    let merged = Report::merge(&[a, b], &[]).expect("merges");
    let c = &merged.results.counter;
    assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
    assert_eq!(c.duplicates, 50, "{c:?}");
}
