//! `latency cost --from REPORT.json` prices a Lambda row from the billed duration and
//! memory size the lab measured, exactly as the same figures given by hand.

mod common;

use common::latency;

/// A lab-style Report: the bench crate's committed fixture plus function figures.
fn report_with_function(billed_ms: f64, memory_mb: u32) -> serde_json::Value {
    let text = include_str!("../crates/bench/tests/fixtures/server-vm.json");
    let mut report: serde_json::Value = serde_json::from_str(text).expect("fixture");
    report["function"] = serde_json::json!({
        "invocations": 100,
        "cold_starts": 1,
        "init_duration_ms": 25.0,
        "duration_ms": billed_ms - 0.4,
        "billed_duration_ms": billed_ms,
        "max_memory_used_mb": 14.0,
        "memory_size_mb": memory_mb,
    });
    report
}

fn per_million(args: &[&str]) -> f64 {
    let output = latency()
        .args(["cost", "--json", "--only", "lambda-dynamodb"])
        .args(args)
        .output()
        .expect("run latency cost");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    json["rows"][0]["per_million"]
        .as_f64()
        .expect("per_million")
}

#[test]
fn a_measured_report_prices_like_the_same_figures_given_by_hand() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lambda-dynamodb-sequential.json");
    std::fs::write(&path, report_with_function(37.0, 256).to_string()).expect("write");
    let from = format!("lambda-dynamodb={}", path.display());

    let measured = per_million(&["--from", &from]);
    let by_hand = per_million(&["--duration-ms", "37", "--memory-mb", "256"]);
    let default = per_million(&[]);
    assert!((measured - by_hand).abs() < 1e-9, "{measured} vs {by_hand}");
    assert!(
        measured > default,
        "37 ms at 256 MB must cost more than the 1 ms default"
    );
}

#[test]
fn a_report_without_function_figures_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("server.json");
    std::fs::write(
        &path,
        include_str!("../crates/bench/tests/fixtures/server-vm.json"),
    )
    .expect("write");
    let output = latency()
        .args(["cost", "--from"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has no function figures"), "{stderr}");
    assert!(stderr.contains("server.json"), "{stderr}");
}

#[test]
fn from_and_duration_ms_together_are_a_usage_error() {
    let output = latency()
        .args(["cost", "--from", "x.json", "--duration-ms", "5"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn cost_json_goes_to_stdout_with_a_dash_or_no_value_and_to_a_file_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cost.json");
    let to_file = latency()
        .args([
            "cost",
            "--only",
            "ec2",
            "--json",
            file.to_str().expect("utf8"),
        ])
        .output()
        .expect("run latency cost");
    assert!(to_file.status.success());
    assert!(
        to_file.stdout.is_empty(),
        "nothing on stdout with --json FILE"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    for argv in [
        &["cost", "--only", "ec2", "--json", "-"][..],
        &["cost", "--json", "--only", "ec2"],
    ] {
        let out = latency().args(argv).output().expect("run latency cost");
        assert!(out.status.success(), "{argv:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["rows"], written["rows"], "{argv:?}");
    }
}

#[test]
fn a_sheet_whose_totals_overflow_is_rejected_before_any_chart_is_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sheet = dir.path().join("huge.toml");
    let original = include_str!("../crates/cost/sheets/original-era.toml");
    // 1e307 dollars an hour is a finite figure; times the hours of a month it is not.
    let huge = original.replacen("value = 0.0132\n", "value = 1e307\n", 1);
    assert_ne!(huge, original, "the fixture's EC2 price moved");
    std::fs::write(&sheet, huge).expect("write sheet");
    let svg = dir.path().join("chart.svg");
    let out = latency()
        .args(["cost", "--sheet", sheet.to_str().expect("utf8"), "--svg"])
        .arg(&svg)
        .output()
        .expect("run latency cost");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("non-finite") && stderr.contains("ec2"),
        "{stderr}"
    );
    assert!(!svg.exists(), "no chart of infinite costs");
}

#[test]
fn infracost_usage_comes_from_a_reports_billed_duration_or_its_mean_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with_function = dir.path().join("lambda.json");
    std::fs::write(&with_function, report_with_function(12.3, 128).to_string()).expect("write");
    let usage = dir.path().join("usage.yml");
    let out = latency()
        .args(["cost", "--calls-per-month", "5M,1e8", "--infracost-usage"])
        .arg(&usage)
        .arg("--usage-report")
        .arg(&with_function)
        .output()
        .expect("run latency cost");
    succeeded(out);
    let yaml = std::fs::read_to_string(&usage).expect("usage file written");
    assert!(yaml.contains("\nversion: 0.1\n"), "{yaml}");
    assert!(
        yaml.contains(
            "  aws_lambda_function:\n    monthly_requests: 5000000\n    request_duration_ms: 13\n"
        ),
        "{yaml}"
    );
    assert!(yaml.contains("mean billed duration"), "{yaml}");

    // A bench Report without function figures: its mean warm latency, said to be so.
    let text = include_str!("../crates/bench/tests/fixtures/server-vm.json");
    let plain: serde_json::Value = serde_json::from_str(text).expect("fixture");
    let mean = plain["results"]["latency"]["mean_ms"]
        .as_f64()
        .expect("mean");
    let bench_only = dir.path().join("bench.json");
    std::fs::write(&bench_only, text).expect("write");
    let out = latency()
        .args(["cost", "--infracost-usage", "-", "--usage-report"])
        .arg(&bench_only)
        .output()
        .expect("run latency cost");
    let out = succeeded(out);
    let yaml = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        yaml.starts_with("# Infracost usage file"),
        "stdout is only the file: {yaml}"
    );
    assert!(
        yaml.contains(&format!("request_duration_ms: {}\n", mean.ceil())),
        "{yaml}"
    );
    assert!(
        yaml.contains("monthly_requests: 1000000\n") && yaml.contains("upper bound"),
        "{yaml}"
    );

    let alone = latency()
        .args(["cost", "--infracost-usage", "-"])
        .output()
        .expect("run latency cost");
    assert_eq!(alone.status.code(), Some(2), "needs --usage-report");
}

/// `out`, after checking that its command exited 0 (else its stderr is the message).
fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
