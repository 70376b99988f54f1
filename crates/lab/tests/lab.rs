//! The lab crate on its own: its catalogue, and its runner and launcher with real
//! processes (the workspace's `latency` binary serves the server rows; build it with
//! `cargo build --bin latency`).

use std::path::PathBuf;

use latency_arch::ArchitectureId;
use latency_bench::render::Row;
use latency_cost::{BuiltinSheet, PriceSheet};
use latency_lab::{
    Deployment, EndpointTools, LabConfig, LabEvent, Language, RowSelector, catalogue, select,
};

#[test]
fn every_architecture_has_a_row_and_every_row_a_unique_name() {
    let rows = catalogue();
    for id in ArchitectureId::ALL {
        assert!(rows.iter().any(|row| row.id == *id), "no row for {id}");
    }
    let mut selectors: Vec<String> = rows.iter().map(|row| row.selector()).collect();
    let mut stems: Vec<String> = rows.iter().map(|row| row.file_stem()).collect();
    selectors.sort();
    selectors.dedup();
    stems.sort();
    stems.dedup();
    assert_eq!(selectors.len(), rows.len(), "selectors must be unique");
    assert_eq!(stems.len(), rows.len(), "file stems must be unique");
}

#[test]
fn each_rows_selector_selects_exactly_that_row() {
    for (position, row) in catalogue().iter().enumerate() {
        let selector: RowSelector = row.selector().parse().expect("a valid selector");
        let selected = select(&[selector]);
        assert_eq!(selected.len(), 1, "{}", row.selector());
        assert_eq!(selected[0].0, position, "keyed by catalogue position");
    }
}

#[test]
fn an_id_alone_selects_the_atomic_row_and_bad_selectors_are_clear() {
    let plain: RowSelector = "lambda-dynamodb".parse().expect("an id");
    let atomic: RowSelector = "lambda-dynamodb?mode=atomic".parse().expect("an id");
    assert_eq!(plain, atomic);
    let rmw: RowSelector = "lambda-dynamodb?mode=read-modify-write"
        .parse()
        .expect("an id");
    let rows = select(&[plain, rmw]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1.title, "Lambda + DynamoDB");
    assert_eq!(rows[1].1.title, "Lambda + DynamoDB, read-modify-write");
    let err = "lambda-dynamodb?mode=eventual"
        .parse::<RowSelector>()
        .expect_err("not a mode");
    assert!(err.to_string().contains("mode=read-modify-write"), "{err}");
    let err = "lambda-cobol"
        .parse::<RowSelector>()
        .expect_err("not an id");
    assert!(err.to_string().contains("lambda-dynamodb"), "{err}");
}

#[test]
fn the_default_selection_leaves_out_only_the_rows_marked_so() {
    let defaults = select(&[]);
    let all = catalogue();
    assert_eq!(defaults.len(), all.iter().filter(|row| row.default).count());
    assert!(
        all.iter()
            .filter(|row| !row.default)
            .all(|row| matches!(row.deployment, Deployment::NotBuilt { .. }))
    );
}

/// The workspace's `latency` binary (the server rows run `latency serve`).
fn latency_exe() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let exe = target.join("debug/latency");
    assert!(
        exe.is_file(),
        "{} is missing; build it with: cargo build --bin latency",
        exe.display()
    );
    exe
}

fn config(only: &str, out: &std::path::Path) -> LabConfig {
    let tools = EndpointTools {
        cache_dir: out.join("no-cache"),
        services_script: None,
    };
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
    let mut config = LabConfig::new(latency_exe(), tools, out.to_owned(), sheet).with_requests(40);
    config.only = only
        .split(',')
        .map(|s| s.parse().expect("a selector"))
        .collect();
    config.concurrency = 4;
    config
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// ec2 is launched (a real `latency serve`), measured twice, checked, priced and
/// written; a function row without a runtime is skipped with the command that builds
/// one; the table keeps catalogue order.
#[test]
fn the_runner_measures_a_server_row_and_skips_a_row_without_a_runtime() {
    let out = tempfile::tempdir().expect("temp dir");
    let config = config("lambda-s3,ec2", out.path());
    let mut finished = Vec::new();
    let mut skipped = Vec::new();
    let outcome = block_on(latency_lab::run(&config, |event| match event {
        LabEvent::Finished { row, function, .. } => {
            assert!(function.is_none(), "a server row has no function figures");
            finished.push(row.selector());
        }
        LabEvent::Skipped { row, skip } => skipped.push((row.selector(), skip.clone())),
        _ => {}
    }))
    .expect("the lab runs");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert!(!outcome.interrupted);
    assert_eq!(finished, ["ec2"]);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, "lambda-s3");
    assert_eq!(skipped[0].1, Language::Rust.missing_runtime());
    assert!(skipped[0].1.enable.contains("cargo build"));

    // Catalogue order: ec2 (position 0) before lambda-s3.
    let kinds: Vec<&str> = outcome
        .comparison
        .rows
        .iter()
        .map(|row| match row {
            Row::Measured(_) => "measured",
            Row::Skipped { .. } => "skipped",
        })
        .collect();
    assert_eq!(kinds, ["measured", "measured", "skipped"]);
    for phase in ["sequential", "concurrent"] {
        let path = out.path().join(format!("ec2-{phase}.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("Report written"))
                .expect("JSON");
        assert_eq!(report["results"]["counter"]["verdict"], "pass");
        assert!(report["cost"]["monthly_usd"].as_f64().expect("priced") > 0.0);
    }
    assert!(out.path().join("report.md").is_file());
}

/// An interrupt before the first row: nothing is measured, the rows are listed as
/// interrupted or skipped, and the report is still written.
#[test]
fn an_interrupted_run_writes_what_it_has() {
    let out = tempfile::tempdir().expect("temp dir");
    let config = config("ec2,fargate-efs", out.path());
    let outcome = block_on(latency_lab::run_until(
        &config,
        |_| {},
        std::future::ready(()),
    ))
    .expect("the lab runs");
    assert!(outcome.interrupted);
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(markdown.contains("interrupted"), "{markdown}");
    assert!(!out.path().join("ec2-sequential.json").exists());
}

/// A memory sweep through the library, as `latency lab --memory 128,256 --only
/// lambda-dynamodb` runs it: the function row is measured and priced at both sizes (the
/// second with twice the first's CPU), the choices name measured sizes, the table's row
/// is the first size, and the hello-world's cold starts are the floor at both sizes. Needs
/// the debug `latency-lambda` and `latency-hello` binaries and dynalite under `.cache/`
/// (`scripts/services start`).
#[test]
fn a_memory_sweep_measures_both_sizes_of_a_function_row() {
    let out = tempfile::tempdir().expect("temp dir");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = latency_exe().with_file_name("latency-lambda");
    let hello = latency_exe().with_file_name("latency-hello");
    assert!(
        bin.is_file() && hello.is_file(),
        "build them: cargo build -p latency-lambda -p latency-lambda-hello"
    );
    let mut config = config("lambda-dynamodb", out.path()).with_requests(10);
    config.concurrency = 2;
    config.tools = EndpointTools {
        cache_dir: root.join(".cache"),
        services_script: Some(root.join("scripts/services")),
    };
    config.runtimes = vec![latency_lab::FunctionRuntime::rust(bin)];
    config.memory_sizes = vec![128, 256];
    config.hello_exe = Some(hello);
    let outcome = block_on(latency_lab::run(&config, |_| {})).expect("the lab runs");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);

    let sweep = outcome.memory_sweep.expect("a sweep");
    assert_eq!(sweep.rows.len(), 1);
    let row = &sweep.rows[0];
    let sizes: Vec<u32> = row.points.iter().map(|p| p.memory_mb).collect();
    assert_eq!(sizes, [128, 256]);
    for p in &row.points {
        assert_eq!(p.problem, None);
        for (name, figure) in [
            ("cold start", p.cold_start_ms),
            ("p50", p.p50_ms),
            ("p99", p.p99_ms),
            ("billed", p.billed_ms),
            ("cost", p.per_million_usd),
        ] {
            assert!(
                figure.is_some_and(|v| v > 0.0),
                "{name} at {} MB: {p:?}",
                p.memory_mb
            );
        }
    }
    assert!((row.points[1].vcpu / row.points[0].vcpu - 2.0).abs() < 1e-9);
    let choices = row.choices.expect("choices");
    for mb in [choices.cheapest_mb, choices.fastest_mb, choices.balanced_mb] {
        assert!(mb == 128 || mb == 256, "{choices:?}");
    }
    let report = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.path().join(name)).expect(name))
            .expect("JSON")
    };
    assert_eq!(
        report("lambda-dynamodb-sequential.json")["function"]["memory_size_mb"],
        128
    );
    assert_eq!(
        report("lambda-dynamodb-256mb-sequential.json")["function"]["memory_size_mb"],
        256
    );

    let floor = outcome.cold_start_floor.expect("a floor");
    assert_eq!(floor.problem, None);
    let floor_sizes: Vec<u32> = floor.points.iter().map(|p| p.memory_mb).collect();
    assert_eq!(floor_sizes, [128, 256]);
    assert!(
        floor
            .points
            .iter()
            .all(|p| p.init_p50_ms > 0.0 && p.ratio.is_some())
    );

    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=\"memory-sweep\"") && html.contains(">256 MB</text>"));
    assert!(html.contains("id=\"cold-start-floor\""));
}

/// The queue rows on real parts: `latency worker` processes on the machine's RabbitMQ, and
/// the `latency-calc` function behind the platform's SQS event source on the lab's own
/// moto (installed under the repository's `.cache` by `scripts/services` if missing), both
/// counting in Redis. Each measures its run, passes the exactly-once check, is priced,
/// and lands in the "Queue workloads" table and its JSON file. Needs `scripts/services
/// start` (RabbitMQ, Redis) and `cargo build --bin latency -p latency-lambda-calc`.
#[test]
fn the_queue_rows_measure_real_queues_and_count_every_job_once() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut config = config("workers-rabbitmq,lambda-sqs", out.path());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    config.tools = EndpointTools {
        cache_dir: root.join(".cache"),
        services_script: Some(root.join("scripts/services")),
    };
    let calc = latency_exe().with_file_name("latency-calc");
    assert!(
        calc.is_file(),
        "{} is missing; build it with: cargo build -p latency-lambda-calc",
        calc.display()
    );
    config.queue.calc_function = Some(calc);
    config.queue.jobs = 20;
    config.queue.max_x = 0.2;
    config.queue.timeout = std::time::Duration::from_secs(120);
    let mut skipped = Vec::new();
    let outcome = block_on(latency_lab::run(&config, |event| {
        if let LabEvent::Skipped { row, skip } = event {
            skipped.push(format!("{}: {skip}", row.selector()));
        }
    }))
    .expect("the lab runs");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let selectors: Vec<&str> = outcome
        .queue_rows
        .iter()
        .map(|row| row.selector.as_str())
        .collect();
    assert_eq!(
        selectors,
        ["lambda-sqs", "workers-rabbitmq"],
        "catalogue order"
    );
    for row in &outcome.queue_rows {
        let results = &row.report.results;
        let check = results.exactly_once.expect("checked");
        assert!(check.passed(), "{}: {}", row.selector, check.describe());
        assert_eq!((check.expected, check.counted), (20, 20));
        assert_eq!(results.submitted_without_done, 0);
        // No job is done before it is sent and has run for its x.
        assert!(results.ideal_seconds > 0.0 && results.total_seconds > 0.0);
        assert!(results.ratio_to_ideal >= 0.99, "{}", results.ratio_to_ideal);
        assert!(results.latency_p99_seconds >= results.latency_p50_seconds);
        assert!(results.throughput_per_second > 0.0);
        let cost = row.cost.as_ref().expect("priced");
        let per_job = row.selector == "lambda-sqs";
        assert_eq!(cost.per_million_calls_usd.is_some(), per_job, "{cost:?}");
        assert_eq!(cost.monthly_usd.is_some(), !per_job, "{cost:?}");
        let path = out.path().join(format!("{}-queue.json", row.selector));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("written")).expect("JSON");
        assert_eq!(written["results"]["exactly_once"]["counted"], 20);
    }
    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(markdown.contains("## Queue workloads"), "{markdown}");
    assert!(markdown.contains("20 of 20, once each"), "{markdown}");
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("Queue workloads"));
}

fn read(dir: &std::path::Path, name: &str) -> latency_bench::Report {
    latency_bench::Report::read(&dir.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}
/// EC2 (the client's round trip only) and Fargate + EFS (the round trip, the ALB and
/// four EFS operations folded into the front): every cloud request takes at least the
/// constant round trip, which is the only hard lower bound (the log-normal hops have
/// none); the local runs of the same rows are written beside them.
#[test]
fn a_row_with_the_eu_west_2_profile_is_slower_than_local_by_at_least_the_round_trip() {
    const RTT_MS: f64 = 15.0;
    let out = tempfile::tempdir().expect("temp dir");
    let mut config = config("ec2,fargate-efs", out.path()).with_requests(25);
    config.cloud = Some(latency_lab::CloudSetup {
        profile: latency_cloud::CloudProfile::load("eu-west-2").expect("built-in"),
        client_rtt_ms: RTT_MS,
    });
    let outcome = block_on(latency_lab::run(&config, |_| {})).expect("the lab runs");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert!(
        outcome
            .comparison
            .title
            .contains("predicted for eu-west-2, client RTT 15 ms")
    );

    for stem in ["ec2", "fargate-efs"] {
        for phase in ["sequential", "concurrent"] {
            let cloud = read(out.path(), &format!("{stem}-{phase}.json"));
            let local = read(out.path(), &format!("{stem}-local-{phase}.json"));
            let cloud_min = cloud.results.latency.as_ref().expect("latencies").min_ms;
            assert!(
                cloud_min >= RTT_MS,
                "{stem} {phase}: a cloud request took {cloud_min} ms, under the {RTT_MS} ms round trip"
            );
            // A cloud request is the row's own work (what the local run measures) plus
            // at least the round trip; how long the work takes depends on the machine,
            // so only the added lower bound is asserted.
            let cloud_mean = cloud.results.mean_all_ms.expect("mean");
            assert!(cloud_mean >= RTT_MS, "{stem} {phase}: mean {cloud_mean}");
            assert!(
                local.notes.iter().any(|n| n.contains("no cloud delays")),
                "{:?}",
                local.notes
            );
            assert!(
                cloud.notes.iter().any(|n| n.contains("client RTT 15 ms")),
                "{:?}",
                cloud.notes
            );
        }
    }
    let fargate = read(out.path(), "fargate-efs-sequential.json");
    assert!(
        fargate.notes.iter().any(|n| n.contains("efs: folded")),
        "{:?}",
        fargate.notes
    );
    let score = outcome.score.expect("a score with --cloud");
    let ids: Vec<&str> = score.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ec2", "fargate-efs"], "the study's rows that ran");
}

/// Each phase ends at its count or its time limit, whichever comes first, and its Report
/// says which: a million requests against a real server end at the limit, with a note.
#[test]
fn a_phase_ends_at_its_time_limit_and_says_so() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut config = config("ec2", out.path()).with_requests(1_000_000);
    config.phase_time_limit = Some(std::time::Duration::from_millis(500));
    let outcome = block_on(latency_lab::run(&config, |_| {})).expect("the lab runs");
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    for phase in ["sequential", "concurrent"] {
        let report = read(out.path(), &format!("ec2-{phase}.json"));
        assert_eq!(
            report.plan.ended_by,
            Some(latency_bench::EndedBy::TimeLimit),
            "{phase}"
        );
        assert!(report.results.requests < 1_000_000, "{phase}");
        assert!(
            report
                .notes
                .iter()
                .any(|note| note.starts_with("ended by the time limit")),
            "{phase}: {:?}",
            report.notes
        );
    }
}
