//! The instance pool against real processes: cold and warm, scale-out and queueing,
//! freeze and thaw, timeouts, crashes, init failures, eviction, shutdown.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use latency_platform::{
    AsyncRetry, ErrorCause, InvokeOptions, Platform, PlatformConfig, PlatformError,
};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_then_warm_reuses_the_instance() {
    guarded(async {
        let platform = Platform::start(vec![spec("echo")]).expect("platform starts");
        let first = platform
            .invoke("echo", json(json!({"op": "echo", "n": 1})))
            .await
            .expect("invoke");
        let second = platform
            .invoke("echo", json(json!({"op": "echo", "n": 2})))
            .await
            .expect("invoke");

        assert_eq!(body(&first)["echo"]["n"], 1);
        assert!(first.report.cold_start);
        assert!(first.report.init_duration.is_some());
        assert!(!second.report.cold_start);
        assert_eq!(second.report.init_duration, None);
        assert_eq!(
            pid_of(&first),
            pid_of(&second),
            "the warm call reuses the process"
        );
        assert_eq!(first.report.pid, pid_of(&first));
        assert_eq!(platform.cold_starts("echo"), 1);

        for outcome in [&first, &second] {
            let report = &outcome.report;
            assert_eq!(report.memory_size_mb, 128);
            assert!(report.max_memory_used_mb.is_some_and(|mb| mb > 0));
            assert_eq!(
                report.billed_duration_ms,
                report.duration.as_nanos().div_ceil(1_000_000) as u64
            );
            assert!(report.line().starts_with("REPORT RequestId: "));
        }
        assert!(first.report.line().contains("Init Duration: "));
        assert!(!second.report.line().contains("Init Duration"));
        let drained = platform.drain_reports();
        assert_eq!(drained.len(), 2);
        assert_eq!(drained[0].request_id, first.request_id());
        assert!(platform.drain_reports().is_empty());
        // The per-function totals agree with the reports, and survive draining them.
        let totals = platform.totals("echo").expect("known function");
        assert_eq!(totals, latency_platform::FunctionTotals::of(&drained));
        assert_eq!((totals.invocations, totals.cold_starts), (2, 1));
        assert_eq!(
            totals.billed_ms_total,
            first.report.billed_duration_ms + second.report.billed_duration_ms
        );
        assert!(platform.totals("nope").is_none());
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_scale_out_to_the_limit_then_queue() {
    guarded(async {
        let platform = Platform::start(vec![spec("wait").max_concurrency(3)]).expect("platform");
        let release = release_file("scale");
        let payload = json(json!({"op": "wait", "file": release, "max_ms": 30_000}));
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let handle = platform.handle();
                let payload = payload.clone();
                tokio::spawn(async move { handle.invoke("wait", payload).await })
            })
            .collect();

        // Three instances busy at the limit, two invocations queued behind them.
        wait_until("3 instances busy and 2 invocations queued", || {
            let instances = platform.instances("wait");
            instances.len() == 3
                && instances.iter().all(|i| !i.idle)
                && platform.queued("wait") == 2
        })
        .await;
        assert_eq!(platform.cold_starts("wait"), 3);

        std::fs::write(&release, b"go").expect("release file");
        let mut pids = BTreeSet::new();
        for call in calls {
            let outcome = call.await.expect("task").expect("invoke");
            assert_eq!(body(&outcome)["released"], true);
            pids.insert(pid_of(&outcome));
        }
        let _ = std::fs::remove_file(&release);
        assert_eq!(
            pids.len(),
            3,
            "the queued calls ran on the same three instances"
        );
        assert_eq!(platform.cold_starts("wait"), 3);
        assert_eq!(platform.queued("wait"), 0);
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_are_frozen_and_thawed() {
    guarded(async {
        let platform = Platform::start(vec![spec("freeze")]).expect("platform");
        let first = platform
            .invoke("freeze", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let pid = pid_of(&first);
        wait_until("the idle instance is stopped (T)", || {
            process_state(pid) == Some('T')
        })
        .await;
        assert!(platform.instances("freeze")[0].frozen);

        let second = platform
            .invoke("freeze", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert_eq!(
            pid_of(&second),
            pid,
            "the frozen instance was thawed and answered"
        );
        assert!(!second.report.cold_start);
        wait_until("it is frozen again", || process_state(pid) == Some('T')).await;
        platform.shutdown().await;
        wait_until("the frozen process is killed", || is_gone(pid)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freezing_can_be_turned_off() {
    guarded(async {
        let platform = Platform::start(vec![spec("awake").freeze_idle(false)]).expect("platform");
        let outcome = platform
            .invoke("awake", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let pid = pid_of(&outcome);
        // The next invocation reaches the instance in /next; by then it would have been
        // frozen if freezing were on.
        let again = platform
            .invoke("awake", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert_eq!(pid_of(&again), pid);
        assert!(platform.instances("awake").iter().all(|i| !i.frozen));
        assert_ne!(process_state(pid), Some('T'));
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_and_replaces_the_instance() {
    guarded(async {
        let platform = Platform::start(vec![spec("slow").timeout(Duration::from_millis(300))])
            .expect("platform");
        let warm = platform
            .invoke("slow", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let old_pid = pid_of(&warm);

        let timed_out = platform
            .invoke("slow", json(json!({"op": "sleep", "ms": 20_000})))
            .await
            .expect("invoke");
        let err = timed_out.result.as_ref().expect_err("a timeout");
        assert_eq!(err.cause, ErrorCause::Timeout);
        assert_eq!(err.error_type, "Sandbox.Timedout");
        assert_eq!(err.error_message, "Task timed out after 0.30 seconds");
        assert_eq!(timed_out.report.pid, old_pid);
        assert!(is_gone(old_pid), "the timed-out instance was killed");
        assert!(platform.instances("slow").is_empty());

        let next = platform
            .invoke("slow", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert!(next.report.cold_start);
        assert_ne!(pid_of(&next), old_pid);
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_fails_its_invocation_and_the_next_one_cold_starts() {
    guarded(async {
        let platform = Platform::start(vec![spec("crash")]).expect("platform");
        let warm = platform
            .invoke("crash", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let old_pid = pid_of(&warm);

        let crashed = platform
            .invoke("crash", json(json!({"op": "crash", "code": 3})))
            .await
            .expect("invoke");
        let err = crashed.result.as_ref().expect_err("a crash");
        assert_eq!(err.cause, ErrorCause::ProcessExit);
        assert_eq!(err.error_type, "Runtime.ExitError");
        assert!(
            err.error_message
                .ends_with("Runtime exited with error: exit status 3"),
            "{}",
            err.error_message
        );
        let body: serde_json::Value = serde_json::from_slice(&err.body).expect("JSON body");
        assert_eq!(body["errorType"], "Runtime.ExitError");

        let next = platform
            .invoke("crash", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert!(next.report.cold_start);
        assert_ne!(pid_of(&next), old_pid);
        assert_eq!(platform.cold_starts("crash"), 2);
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_keeps_the_instance() {
    guarded(async {
        let platform = Platform::start(vec![spec("err")]).expect("platform");
        let failed = platform
            .invoke("err", json(json!({"op": "error"})))
            .await
            .expect("invoke");
        let err = failed.result.as_ref().expect_err("a handler error");
        assert_eq!(err.cause, ErrorCause::Function);
        assert!(err.error_message.contains("asked to fail"), "{err}");
        let next = platform
            .invoke("err", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert!(!next.report.cold_start);
        assert_eq!(next.report.pid, failed.report.pid);
        platform.shutdown().await;
    })
    .await;
}

/// An `Event` invocation whose function fails is tried three times in all (Lambda's two
/// retries), every attempt under the request id the caller was given; then it is
/// dropped, and the queue is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_is_retried_twice_under_its_request_id() {
    guarded(async {
        let config = PlatformConfig {
            use_cgroups: false,
            async_retry: AsyncRetry {
                error_delay: Duration::from_millis(20),
                ..AsyncRetry::default()
            },
            ..PlatformConfig::default()
        };
        let platform = Platform::start_with(config, vec![spec("fails")]).expect("platform");
        let id = platform
            .handle()
            .invoke_async(
                "fails",
                json(json!({"op": "error"})),
                InvokeOptions::default(),
            )
            .expect("queued");
        wait_until("the event is done with", || platform.async_pending() == 0).await;
        let reports = platform.drain_reports();
        assert_eq!(reports.len(), 3, "one attempt and two retries");
        assert!(reports.iter().all(|r| r.request_id == id), "{reports:?}");
        platform.shutdown().await;
    })
    .await;
}

/// The queue of `Event` invocations is bounded: past its capacity an event is refused at
/// once (Invoke answers 429), not accepted and dropped later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_queue_refuses_what_it_cannot_hold() {
    guarded(async {
        let config = PlatformConfig {
            use_cgroups: false,
            async_queue_capacity: 1,
            ..PlatformConfig::default()
        };
        let platform = Platform::start_with(config, vec![spec("slow")]).expect("platform");
        let handle = platform.handle();
        let slow = json(json!({"op": "sleep", "ms": 2000}));
        handle
            .invoke_async("slow", slow.clone(), InvokeOptions::default())
            .expect("the first fits");
        let err = handle
            .invoke_async("slow", slow, InvokeOptions::default())
            .expect_err("the second does not");
        assert!(
            matches!(err, PlatformError::AsyncQueueFull { capacity: 1, .. }),
            "{err}"
        );
        platform.shutdown().await;
    })
    .await;
}

/// Regression (issue 24, probe 4): one long line without a newline was read in quadratic
/// time (each read searched the whole line again), so 50 MB stalled the function until
/// its timeout. Read linearly, it is done long before a 30 s timeout, and the line is cut
/// into pieces of at most 256 KiB, as CloudWatch Logs takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_line_without_newline_is_read_in_linear_time_and_cut() {
    guarded(async {
        let platform = Platform::start(vec![spec("print").timeout(Duration::from_secs(30))])
            .expect("platform starts");
        let bytes = 50 * 1024 * 1024;
        let outcome = platform
            .invoke("print", json(json!({"op": "print", "bytes": bytes})))
            .await
            .expect("invoke");
        assert_eq!(body(&outcome)["printed"], bytes, "{:?}", outcome.result);
        let logs = String::from_utf8_lossy(&outcome.logs);
        assert!(!logs.is_empty(), "the invocation's output is kept");
        for line in logs.lines() {
            assert!(
                line.len() <= 256 * 1024,
                "a log line of {} bytes",
                line.len()
            );
        }
        platform.shutdown().await;
    })
    .await;
}

/// Regression (issue 24): the output of a failed init (usually its reason) was dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_inits_output_is_in_the_invocations_log() {
    guarded(async {
        let platform = Platform::start(vec![
            spec("init-say").env("LATENCY_TEST_INIT", "say-and-exit"),
        ])
        .expect("platform");
        let outcome = platform
            .invoke("init-say", json(json!({})))
            .await
            .expect("invoke");
        let err = outcome.result.as_ref().expect_err("init fails");
        assert_eq!(err.cause, ErrorCause::Init);
        let logs = String::from_utf8_lossy(&outcome.logs);
        assert!(
            logs.contains("cannot load the handler: reason 7f3a"),
            "{logs:?}"
        );
        assert!(outcome.log_tail().windows(4).any(|w| w == b"7f3a"));
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_failures_fail_the_invocation_clearly() {
    guarded(async {
        let platform = Platform::start(vec![
            spec("init-exit").env("LATENCY_TEST_INIT", "exit"),
            spec("init-error").env("LATENCY_TEST_INIT", "error"),
        ])
        .expect("platform");

        let exited = platform
            .invoke("init-exit", json(json!({})))
            .await
            .expect("invoke");
        let err = exited.result.as_ref().expect_err("init fails");
        assert_eq!(err.cause, ErrorCause::Init);
        assert_eq!(err.error_type, "Runtime.ExitError");
        assert!(err.error_message.contains("exit status 2"), "{err}");
        assert!(exited.report.cold_start);

        let posted = platform
            .invoke("init-error", json(json!({})))
            .await
            .expect("invoke");
        let err = posted.result.as_ref().expect_err("init fails");
        assert_eq!(err.cause, ErrorCause::Init);
        assert_eq!(err.error_type, "Test.InitError");
        assert!(err.error_message.contains("asked to fail init"), "{err}");
        assert!(platform.instances("init-error").is_empty());
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_are_evicted() {
    guarded(async {
        let platform =
            Platform::start(vec![spec("evict").idle_timeout(Duration::from_millis(100))])
                .expect("platform");
        let outcome = platform
            .invoke("evict", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let pid = pid_of(&outcome);
        wait_until("the idle instance is evicted", || {
            platform.instances("evict").is_empty() && is_gone(pid)
        })
        .await;
        let next = platform
            .invoke("evict", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        assert!(next.report.cold_start);
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_memory_used_follows_the_process() {
    guarded(async {
        let platform = Platform::start(vec![spec("alloc").memory_mb(256)]).expect("platform");
        let outcome = platform
            .invoke("alloc", json(json!({"op": "alloc", "mb": 64})))
            .await
            .expect("invoke");
        assert_eq!(body(&outcome)["allocated_mb"], 64);
        let used = outcome.report.max_memory_used_mb.expect("VmHWM");
        assert!(used >= 64, "max memory used {used} MB");
        assert_eq!(outcome.report.memory_size_mb, 256);
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_platform_kills_every_instance() {
    guarded(async {
        let platform = Platform::start(vec![spec("drop").max_concurrency(2)]).expect("platform");
        let release = release_file("drop");
        let payload = json(json!({"op": "wait", "file": release, "max_ms": 30_000}));
        let handle = platform.handle();
        let busy = tokio::spawn(async move { handle.invoke("drop", payload).await });
        wait_until("one busy instance", || {
            platform.instances("drop").len() == 1
        })
        .await;
        let pid = platform.instances("drop")[0].pid;
        drop(platform);
        wait_until("the process is gone", || is_gone(pid)).await;
        let result = busy.await.expect("task");
        match result {
            Ok(outcome) => assert!(outcome.result.is_err()),
            Err(err) => assert!(matches!(err, PlatformError::ShutDown), "{err}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_functions_and_bad_specs_are_errors() {
    guarded(async {
        let platform = Platform::start(vec![spec("known")]).expect("platform");
        let err = platform
            .invoke("unknown", json(json!({})))
            .await
            .expect_err("unknown function");
        assert!(matches!(err, PlatformError::UnknownFunction(ref name) if name == "unknown"));
        assert!(matches!(
            Platform::start(vec![spec("a"), spec("a")]),
            Err(PlatformError::DuplicateFunction(_))
        ));
        assert!(matches!(
            Platform::start(vec![spec("zero").max_concurrency(0)]),
            Err(PlatformError::InvalidSpec { .. })
        ));
        let missing = Platform::start(vec![
            latency_platform::FunctionSpec::new("missing", "/nonexistent/bootstrap").unthrottled(),
        ])
        .expect("platform");
        assert!(matches!(
            missing.invoke("missing", json(json!({}))).await,
            Err(PlatformError::Spawn { .. })
        ));
        platform.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_throttles_instead_of_queueing() {
    guarded(async {
        let platform =
            Platform::start(vec![spec("reserved").reserved_concurrency(1)]).expect("platform");
        let release = release_file("reserved");
        let handle = platform.handle();
        let file = release.display().to_string();
        let busy = tokio::spawn(async move {
            handle
                .invoke(
                    "reserved",
                    json(json!({"op": "wait", "file": file, "max_ms": 20_000})),
                )
                .await
        });
        wait_until("the first invocation holds the only instance", || {
            platform
                .instances("reserved")
                .iter()
                .any(|instance| !instance.idle)
        })
        .await;
        let throttled = platform
            .invoke("reserved", json(json!({"op": "echo"})))
            .await;
        assert!(
            matches!(
                throttled,
                Err(latency_platform::PlatformError::Throttled { limit: 1, .. })
            ),
            "{throttled:?}"
        );
        assert_eq!(platform.queued("reserved"), 0, "nothing waits");
        std::fs::write(&release, b"go").expect("release");
        let first = busy.await.expect("task").expect("invoke");
        assert_eq!(body(&first)["released"], true);
        // Free again: the next invocation is served.
        let next = platform
            .invoke("reserved", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        body(&next);
        let _ = std::fs::remove_file(&release);
        platform.shutdown().await;
    })
    .await;
}
