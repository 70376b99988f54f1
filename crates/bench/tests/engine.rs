//! The engine against in-process HTTP servers of known behaviour, on port 0.
//!
//! Tests that depend on time run on a paused tokio clock: the servers' delays are
//! virtual, so measured latencies are exact and nothing depends on the machine's speed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{counter_after, ms, plan, serve};
use latency_bench::{BenchError, CounterCheckMode, Stop, Verdict, Warmup};
use tokio::net::TcpListener;

#[tokio::test(start_paused = true)]
async fn sequential_run_against_a_fixed_2ms_server_reports_2ms() {
    let (addr, seen) = serve(counter_after(Duration::from_millis(2))).await;
    let report = latency_bench::run(plan(addr, 100)).await.expect("run");
    let r = &report.results;
    let lat = r.latency.as_ref().expect("latency");
    assert_eq!(r.requests, 100);
    assert_eq!(lat.count, 99, "the cold start is reported apart");
    assert!(
        ms(lat.p50_ms, 2.0) && ms(lat.min_ms, 2.0) && ms(lat.max_ms, 2.0),
        "{lat:?}"
    );
    assert!(ms(r.mean_all_ms.expect("mean"), 2.0));
    assert!(
        (r.throughput_rps - 500.0).abs() < 5.0,
        "{}",
        r.throughput_rps
    );
    assert_eq!(r.status_codes.get("200"), Some(&100));
    assert!(r.errors.is_empty());
    assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
    assert_eq!((r.counter.first, r.counter.last), (Some(1), Some(100)));
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "one keep-alive connection"
    );
    assert_eq!(latency_bench::render::mean_line(&report), "2.00ms");
}

#[tokio::test(start_paused = true)]
async fn the_first_request_is_reported_apart_as_the_cold_start() {
    let (addr, _) = serve(|i| async move {
        let delay = if i == 0 { 300 } else { 1 };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        (200, (i + 1).to_string())
    })
    .await;
    let r = latency_bench::run(plan(addr, 100))
        .await
        .expect("run")
        .results;
    let cold = r.cold_start.expect("cold start");
    assert!(ms(cold.latency_ms.expect("answered"), 300.0), "{cold:?}");
    assert!(cold.measured);
    assert!(
        ms(r.latency.expect("warm").max_ms, 1.0),
        "the warm figures exclude it"
    );
    // The original's mean includes it: (300 + 99 × 1) / 100.
    assert!(ms(r.mean_all_ms.expect("mean"), 3.99));
}

#[tokio::test(start_paused = true)]
async fn a_stall_in_the_open_loop_shows_in_the_corrected_p99_only() {
    let (addr, _) = serve(|i| async move {
        if i == 50 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (200, (i + 1).to_string())
    })
    .await;
    let mut c = plan(addr, 600);
    c.rate = Some(100.0);
    let r = latency_bench::run(c).await.expect("run").results;
    let corrected = r.latency.expect("corrected");
    let uncorrected = r.latency_uncorrected.expect("uncorrected");
    assert!(corrected.p99_ms >= 400.0, "corrected {corrected:?}");
    assert!(uncorrected.p99_ms < 1.0, "uncorrected {uncorrected:?}");
    assert!(
        ms(uncorrected.max_ms, 500.0),
        "the stalled request itself: {uncorrected:?}"
    );
    // About 50 of the 600 requests were due during the stall (8 %): each waited for it.
    assert!(corrected.p90_ms < 1.0, "{corrected:?}");
    assert_eq!(r.requests, 600);
    // 600 requests at 100/s take 6 s; the stall was caught up within them.
    assert!(r.elapsed_s > 5.9 && r.elapsed_s < 6.1, "{}", r.elapsed_s);
}

#[tokio::test(start_paused = true)]
async fn the_open_loop_keeps_its_total_rate_across_connections() {
    let (addr, seen) = serve(counter_after(Duration::from_millis(20))).await;
    let mut c = plan(addr, 1);
    c.rate = Some(200.0);
    c.connections = 8;
    c.stop = Stop::Duration(Duration::from_secs(2));
    let r = latency_bench::run(c).await.expect("run").results;
    // 200/s in total for 2 s (+ the cold start), not 200/s per connection.
    assert!((395..=405).contains(&r.requests), "{}", r.requests);
    assert!(
        ms(r.latency.expect("lat").p99_ms, 20.0),
        "8 connections keep up"
    );
    assert_eq!(seen.connections.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn a_counter_that_skips_and_repeats_values_fails_the_check() {
    // 1, 2, 2, 4, 5, 6, …: one repeat, and 3 never comes.
    let (addr, _) = serve(|i| async move {
        let v = match i {
            0 | 1 => i + 1,
            2 => 2,
            _ => i + 1,
        };
        (200, v.to_string())
    })
    .await;
    let r = latency_bench::run(plan(addr, 50))
        .await
        .expect("run")
        .results;
    assert_eq!(r.counter.verdict, Verdict::Fail);
    assert_eq!(r.counter.duplicates, 1);
    assert_eq!(r.counter.gaps, 1);
    assert!(
        r.errors.is_empty(),
        "a bad counter is not a transport error"
    );
}

#[tokio::test(start_paused = true)]
async fn a_non_atomic_counter_loses_updates_under_concurrency_only() {
    let count = Arc::new(AtomicU64::new(0));
    let handler = {
        let count = Arc::clone(&count);
        move |_| {
            let count = Arc::clone(&count);
            async move {
                let read = count.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                count.store(read + 1, Ordering::SeqCst);
                (200, (read + 1).to_string())
            }
        }
    };
    let (addr, _) = serve(handler).await;
    let seq = latency_bench::run(plan(addr, 100))
        .await
        .expect("run")
        .results;
    assert_eq!(seq.counter.verdict, Verdict::Pass, "{:?}", seq.counter);
    let mut c = plan(addr, 400);
    c.connections = 4;
    let conc = latency_bench::run(c).await.expect("run").results;
    assert_eq!(conc.counter.verdict, Verdict::Fail);
    assert!(conc.counter.lost_updates > 100, "{:?}", conc.counter);
    assert!(
        conc.counter.note.contains("lost updates"),
        "{}",
        conc.counter.note
    );
}

#[tokio::test]
async fn server_errors_are_counted_by_status_and_kind() {
    let (addr, _) = serve(|i| async move {
        if i % 4 == 3 {
            (503, "{\"error\":\"store unavailable\"}".to_owned())
        } else {
            (200, "ok".to_owned())
        }
    })
    .await;
    let r = latency_bench::run(plan(addr, 100))
        .await
        .expect("run")
        .results;
    assert_eq!(r.status_codes.get("200"), Some(&75));
    assert_eq!(r.status_codes.get("503"), Some(&25));
    assert_eq!(r.errors.get("http_5xx"), Some(&25));
    assert!((r.error_rate - 0.25).abs() < 1e-9);
    assert_eq!(
        r.counter.verdict,
        Verdict::NotApplicable,
        "\"ok\" is not a counter"
    );
    assert_eq!(
        r.latency.expect("latency").count,
        99,
        "answered 5xx have latencies too"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_timeout_counts_as_a_timeout_and_the_run_goes_on() {
    let (addr, seen) = serve(|i| async move {
        if i == 3 {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        (200, (i + 1).to_string())
    })
    .await;
    let mut c = plan(addr, 10);
    c.timeout = Duration::from_secs(1);
    let r = latency_bench::run(c).await.expect("run").results;
    assert_eq!(r.requests, 10);
    assert_eq!(r.errors.get("timeout"), Some(&1));
    assert_eq!(r.status_codes.values().sum::<u64>(), 9);
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        2,
        "the stuck connection was replaced"
    );
    // Value 4 went to the request that timed out: one gap, explained.
    assert_eq!(r.counter.gaps, 1);
    assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
    assert!(
        r.latency.expect("lat").max_ms < 1.0,
        "timeouts have no latency"
    );
}

#[tokio::test]
async fn an_unreachable_url_is_an_error_that_names_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = latency_bench::run(plan(addr, 10))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, BenchError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("http://{addr}/hits")),
        "{err}"
    );
}

#[tokio::test]
async fn without_keepalive_every_request_opens_a_connection() {
    let (addr, seen) = serve(counter_after(Duration::ZERO)).await;
    let mut c = plan(addr, 20);
    c.keepalive = false;
    let r = latency_bench::run(c).await.expect("run").results;
    assert_eq!(r.requests, 20);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 20);

    let (addr, seen) = serve(counter_after(Duration::ZERO)).await;
    let mut c = plan(addr, 200);
    c.connections = 3;
    latency_bench::run(c).await.expect("run");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn warmup_requests_are_not_measured_but_their_counter_values_are_checked() {
    let (addr, seen) = serve(counter_after(Duration::from_millis(1))).await;
    let mut c = plan(addr, 20);
    c.warmup = Warmup::Requests(5);
    let r = latency_bench::run(c).await.expect("run").results;
    assert_eq!((r.requests, r.warmup_requests), (20, 5));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 25);
    assert!(!r.cold_start.expect("cold").measured);
    assert_eq!(
        r.latency.expect("lat").count,
        20,
        "all measured requests are warm"
    );
    assert_eq!(r.counter.values, 25);
    assert_eq!(r.counter.verdict, Verdict::Pass);
    assert_eq!(r.status_codes.get("200"), Some(&20));
}

#[tokio::test(start_paused = true)]
async fn a_duration_bounds_the_measured_phase() {
    let (addr, _) = serve(counter_after(Duration::from_millis(10))).await;
    let mut c = plan(addr, 1);
    c.stop = Stop::Duration(Duration::from_secs(1));
    c.warmup = Warmup::Duration(Duration::from_millis(200));
    let r = latency_bench::run(c).await.expect("run").results;
    assert!((99..=101).contains(&r.requests), "{}", r.requests);
    assert!(
        (19..=21).contains(&r.warmup_requests),
        "{}",
        r.warmup_requests
    );
}

#[tokio::test(start_paused = true)]
async fn progress_is_reported_and_ends_complete() {
    let (addr, _) = serve(counter_after(Duration::from_millis(5))).await;
    let mut seen = Vec::new();
    latency_bench::run_with_progress(plan(addr, 100), |p| seen.push(p.clone()))
        .await
        .expect("run");
    assert!(
        seen.len() >= 4,
        "about every 100 ms over 0.5 s: {}",
        seen.len()
    );
    let last = seen.last().expect("some");
    assert_eq!((last.completed, last.total), (100, Some(100)));
    assert!(seen.windows(2).all(|w| w[0].completed <= w[1].completed));
    // Every answer took 5 ms of the paused clock; the live p99 says so (to 2
    // significant digits), and is absent before the first batch is published.
    assert_eq!(seen.first().and_then(|p| p.p99), None);
    let p99 = last.p99.expect("a p99 at the end");
    assert!(
        (Duration::from_millis(5)..Duration::from_micros(5_100)).contains(&p99),
        "{p99:?}"
    );
}

#[tokio::test]
async fn the_counter_check_can_be_turned_off() {
    let (addr, _) = serve(|_| async { (200, "7".to_owned()) }).await;
    let mut c = plan(addr, 10);
    c.counter_check = CounterCheckMode::Off;
    let r = latency_bench::run(c).await.expect("run").results;
    assert_eq!(r.counter.verdict, Verdict::NotApplicable);
    let on = latency_bench::run(plan(addr, 10))
        .await
        .expect("run")
        .results;
    assert_eq!(
        on.counter.verdict,
        Verdict::Fail,
        "always 7 is a broken counter"
    );
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_connection_the_server_closed_while_idle_is_replaced_without_an_error() {
    // A server that closes every connection 50 ms after accepting it, as a keep-alive
    // timeout does; requests come every 200 ms, so each finds its connection closed.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = Arc::new(AtomicU64::new(0));
    let served2 = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let served = Arc::clone(&served2);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let n = served.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(n.to_string())),
                        ))
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                let _ = tokio::time::timeout(Duration::from_millis(50), conn).await;
            });
        }
    });
    let mut config = plan(addr, 10);
    config.rate = Some(5.0);
    let r = latency_bench::run(config).await.expect("run").results;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.status_codes.get("200"), Some(&10));
    assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
}

#[tokio::test]
async fn a_server_that_closes_after_every_answer_costs_no_errors() {
    let (addr, seen) = serve(|i| async move { (200, (i + 1).to_string()) }).await;
    // The helper's server keeps connections open; this one says it will close them.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closing = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let upstream = addr;
            tokio::spawn(async move {
                // Relay one exchange to the counter, then answer with Connection: close.
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 1024];
                if stream.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = up
                    .write_all(b"GET /hits HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    .await;
                let mut answer = Vec::new();
                let _ = up.read_to_end(&mut answer).await;
                let text = String::from_utf8_lossy(&answer);
                let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    let r = latency_bench::run(plan(closing, 20))
        .await
        .expect("run")
        .results;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.status_codes.get("200"), Some(&20));
    assert_eq!(r.counter.verdict, Verdict::Pass, "{:?}", r.counter);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 20);
}

/// A count with a time limit ends at whichever comes first, and the Report says which
/// (`oha -n N -z T`): a slow target cannot make a count take minutes.
#[tokio::test(start_paused = true)]
async fn a_count_with_a_time_limit_ends_at_whichever_comes_first_and_says_which() {
    let (addr, _) = serve(counter_after(Duration::from_millis(10))).await;
    let mut slow = plan(addr, 1000);
    slow.time_limit = Some(Duration::from_millis(95));
    let report = latency_bench::run(slow).await.expect("run");
    // Sent at 0, 10, …, 90 ms: ten requests fit before the limit, none after it.
    assert_eq!(report.results.requests, 10);
    assert_eq!(
        report.plan.ended_by,
        Some(latency_bench::EndedBy::TimeLimit)
    );
    assert_eq!(report.plan.requests, Some(1000));
    assert_eq!(report.plan.duration_s, Some(0.095));
    assert_eq!(report.results.counter.verdict, Verdict::Pass);

    let mut quick = plan(addr, 5);
    quick.time_limit = Some(Duration::from_secs(10));
    let report = latency_bench::run(quick).await.expect("run");
    assert_eq!(report.results.requests, 5);
    assert_eq!(report.plan.ended_by, Some(latency_bench::EndedBy::Requests));

    let mut zero = plan(addr, 5);
    zero.time_limit = Some(Duration::ZERO);
    let err = latency_bench::run(zero).await.expect_err("a zero limit");
    assert!(err.to_string().contains("time limit"), "{err}");
}
