//! The runner with a cloud profile, on real processes (the workspace's `latency` binary
//! serves the server rows; build it with `cargo build --bin latency`): a row measured
//! with the eu-west-2 profile is slower than its local run by at least the profile's
//! lower bound on its path. No assertion on the machine's speed: lower bounds only.

use std::path::PathBuf;

use latency_bench::Report;
use latency_cost::{BuiltinSheet, PriceSheet};
use latency_lab::{CloudSetup, EndpointTools, LabConfig};

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

fn read(dir: &std::path::Path, name: &str) -> Report {
    Report::read(&dir.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// EC2 (the client's round trip only) and Fargate + EFS (the round trip, the ALB and
/// four EFS operations folded into the front): every cloud request takes at least the
/// constant round trip, which is the only hard lower bound (the log-normal hops have
/// none); the local runs of the same rows are written beside them.
#[test]
fn a_row_with_the_eu_west_2_profile_is_slower_than_local_by_at_least_the_round_trip() {
    const RTT_MS: f64 = 15.0;
    let out = tempfile::tempdir().expect("temp dir");
    let tools = EndpointTools {
        cache_dir: out.path().join("no-cache"),
        services_script: None,
    };
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
    let mut config =
        LabConfig::new(latency_exe(), tools, out.path().to_owned(), sheet).with_requests(25);
    config.only = vec![
        "ec2".parse().expect("id"),
        "fargate-efs".parse().expect("id"),
    ];
    config.concurrency = 4;
    config.cloud = Some(CloudSetup {
        profile: latency_cloud::CloudProfile::load("eu-west-2").expect("built-in"),
        client_rtt_ms: RTT_MS,
    });
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(latency_lab::run(&config, |_| {}))
        .expect("the lab runs");
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
