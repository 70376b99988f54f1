//! `latency bench` through the built binary, against `latency serve` and a broken counter.

mod common;

use std::net::TcpListener;
use std::process::Output;

use common::{Server, latency};

fn bench(args: &[&str]) -> Output {
    latency()
        .arg("bench")
        .args(args)
        .args(["--timeout", "5s"])
        .output()
        .expect("run latency bench")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `13.02ms`: digits, a point, exactly two decimals, `ms`.
fn is_original_mean_line(line: &str) -> bool {
    let Some(num) = line.strip_suffix("ms") else {
        return false;
    };
    let Some((int, frac)) = num.split_once('.') else {
        return false;
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn bench_against_serve_prints_the_original_mean_then_the_distribution() {
    let server = Server::start("memory://", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let url = format!("{}/hits", server.base_url);
    let out = bench(&[
        &url,
        "200",
        "--label",
        "server + VM",
        "--json",
        json.to_str().expect("utf8"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let first = stdout.lines().next().unwrap_or_default();
    assert!(is_original_mean_line(first), "first line {first:?}");
    for needle in [
        "min",
        "stdev",
        "p50",
        "p90",
        "p99.9",
        "max",
        "cold start",
        "req/s",
        "200: 200",
        "errors       none",
        "counter      pass",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing:\n{stdout}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("json");
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["target"]["label"], "server + VM");
    assert_eq!(report["results"]["requests"], 200);
    assert_eq!(report["results"]["counter"]["verdict"], "pass");
    assert_eq!(report["results"]["counter"]["first"], 1);
    assert_eq!(report["results"]["counter"]["last"], 200);
    let mean = report["results"]["mean_all_ms"].as_f64().expect("mean");
    assert_eq!(
        first,
        format!("{mean:.2}ms"),
        "the first line is the Report's mean"
    );
}

#[test]
fn concurrent_and_open_loop_runs_against_serve_pass_the_counter_check() {
    let server = Server::start("memory://", &[]);
    let url = format!("{}/hits", server.base_url);
    let closed = bench(&[&url, "400", "-c", "4"]);
    assert_eq!(closed.status.code(), Some(0), "{}", text(&closed.stderr));
    assert!(text(&closed.stdout).contains("closed loop, 4 connections"));
    let open = bench(&[&url, "--rate", "200", "-c", "2", "--duration", "1s"]);
    let stdout = text(&open.stdout);
    assert_eq!(
        open.status.code(),
        Some(0),
        "{stdout}{}",
        text(&open.stderr)
    );
    assert!(
        stdout.contains("uncorrected") && stdout.contains("target 200 req/s"),
        "{stdout}"
    );
    assert!(stdout.contains("counter      pass"), "{stdout}");
}

#[test]
fn failed_requests_above_the_allowed_rate_exit_1() {
    let server = Server::start("memory://", &[]);
    let url = format!("{}/no-such-page", server.base_url);
    let out = bench(&[&url, "20"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("20 of 20 requests failed") && stderr.contains("--max-error-rate"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("http_4xx: 20"));
    let tolerated = bench(&[&url, "20", "--max-error-rate", "100%"]);
    assert_eq!(
        tolerated.status.code(),
        Some(0),
        "{}",
        text(&tolerated.stderr)
    );
}

#[test]
fn a_counter_that_repeats_values_exits_1() {
    // A "counter" that always answers 7.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = axum::Router::new().route("/hits", axum::routing::get(|| async { "7" }));
            let _ = axum::serve(listener, app).await;
        });
    });
    let out = bench(&[&format!("http://{addr}/hits"), "10"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("counter check failed") && stderr.contains("9 duplicate values"),
        "{stderr}"
    );
    let off = bench(&[&format!("http://{addr}/hits"), "10", "--no-counter-check"]);
    assert_eq!(off.status.code(), Some(0));
}

#[test]
fn an_unreachable_url_is_one_line_naming_it_and_exit_1() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/hits");
    let out = bench(&[&url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot connect to ") && stderr.contains(&url),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_malformed_url_or_flag_is_a_usage_error_exit_2() {
    for url in ["localhost:8000/hits", "ftp://127.0.0.1/x", "http://"] {
        let out = bench(&[url]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(url), "{stderr}");
    }
    let out = bench(&["http://127.0.0.1:1/hits", "-c", "many"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench(&["http://127.0.0.1:1/hits", "-c", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("connections"));
}

#[test]
fn csv_is_a_header_and_one_row() {
    let server = Server::start("memory://", &[]);
    let out = bench(&[&format!("{}/hits", server.base_url), "50", "--csv"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("label,url,mode,connections,rate,requests"));
    assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    assert!(lines[1].contains(",closed,1,,50,"), "{}", lines[1]);
    // Rounded: latencies to 4 decimals of ms, never a float's noise.
    let header: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    for (name, value) in header.iter().zip(&row) {
        if name.ends_with("_ms") && !value.is_empty() {
            let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
            assert_eq!(decimals, 4, "{name} = {value}");
        }
    }
    let out = bench(&[
        &format!("{}/hits", server.base_url),
        "5",
        "--csv",
        "--no-header",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains(",closed,1,,5,"), "{stdout}");
    let without_csv = bench(&[&format!("{}/hits", server.base_url), "5", "--no-header"]);
    assert_eq!(
        without_csv.status.code(),
        Some(2),
        "--no-header needs --csv"
    );
}

#[test]
fn the_summary_has_a_percentile_ladder_in_scaled_units() {
    let server = Server::start("memory://", &[]);
    let out = bench(&[&format!("{}/hits", server.base_url), "300"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let ladder = stdout
        .lines()
        .position(|l| l.trim_start().starts_with("percentiles"))
        .unwrap_or_else(|| panic!("no ladder:\n{stdout}"));
    let names: Vec<&str> = stdout
        .lines()
        .nth(ladder)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(names.len(), 9, "a heading and 8 steps: {names:?}");
    assert_eq!(
        (names[0], names[1], names[8]),
        ("percentiles", "50%", "100%"),
        "{names:?}"
    );
    let values: Vec<&str> = stdout
        .lines()
        .nth(ladder + 1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(values.len(), 8, "{stdout}");
    for v in values {
        assert!(
            ["µs", "ms", "s"].iter().any(|u| v.ends_with(u)),
            "{v} has no unit:\n{stdout}"
        );
    }
}

#[test]
fn thresholds_exit_1_when_crossed_and_0_when_held() {
    let server = Server::start("memory://", &[]);
    let url = format!("{}/hits", server.base_url);
    // No answer from a local server takes 1 ns, nor 60 s.
    let crossed = bench(&[&url, "50", "--max-p99", "1ns"]);
    let stderr = text(&crossed.stderr);
    assert_eq!(crossed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("above --max-p99"), "{stderr}");
    let held = bench(&[&url, "50", "--max-p99", "60s", "--max-error-rate", "0.1%"]);
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stderr));
    let bad = bench(&[&url, "50", "--max-p99", "5"]);
    assert_eq!(bad.status.code(), Some(2), "a threshold needs a unit");
    assert!(text(&bad.stderr).contains("needs a unit"));
    let errors = bench(&[
        &format!("{}/no-such-page", server.base_url),
        "50",
        "--max-error-rate",
        "0.5",
    ]);
    assert_eq!(
        errors.status.code(),
        Some(1),
        "a fraction works like a percentage"
    );
}

#[test]
fn help_teaches_the_load_models_output_and_exit_codes() {
    let out = latency().args(["bench", "--help"]).output().expect("help");
    let help = text(&out.stdout);
    for needle in [
        "TOTAL",
        "not per connection",
        "coordinated omission",
        "13.02ms",
        "cold start",
        "Exit codes",
        "--max-error-rate",
        "--warmup",
        "--no-keepalive",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from --help");
    }
}

#[test]
fn json_dash_writes_the_report_to_stdout_and_the_summary_to_stderr() {
    let server = Server::start("memory://", &[]);
    let url = format!("{}/hits", server.base_url);
    // The vocabulary of issue 9: -n and --concurrency (and the old --connections).
    for flags in [
        ["-n", "30", "--concurrency", "3"],
        ["-n", "30", "--connections", "3"],
    ] {
        let out = bench(&[&url, flags[0], flags[1], flags[2], flags[3], "--json", "-"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON Report");
        assert_eq!(report["results"]["requests"], 30);
        assert_eq!(report["plan"]["connections"], 3);
        assert!(
            text(&out.stderr).contains("closed loop, 3 connections"),
            "{}",
            text(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("-n.json");
    let out = bench(&[&url, "-n", "5", "--json", file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("5 measured requests"));
    assert!(
        std::fs::read_to_string(&file)
            .expect("file")
            .contains("\"requests\": 5")
    );
    let both = bench(&[&url, "5", "-n", "5"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "N and -n together are a usage error"
    );
}

#[test]
fn a_password_in_the_url_is_never_printed_nor_written() {
    const SECRET: &str = "pw-8e1f2c";
    let server = Server::start("memory://", &[]);
    let with_pw = server
        .base_url
        .replacen("http://", &format!("http://ann:{SECRET}@"), 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("run.json");
    let json_arg = json.to_str().expect("utf8");
    let free = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let runs = [
        bench(&[&format!("{with_pw}/hits"), "20", "--json", json_arg]),
        bench(&[&format!("{with_pw}/hits"), "20", "--csv"]),
        bench(&[&format!("{with_pw}/hits"), "5", "--json", "-"]),
        // Errors: unreachable, and rejected before any request.
        bench(&[&format!("http://ann:{SECRET}@127.0.0.1:{free}/hits"), "5"]),
        bench(&[&format!("ftp://ann:{SECRET}@127.0.0.1:{free}/hits"), "5"]),
    ];
    for (i, out) in runs.iter().enumerate() {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !all.contains(SECRET),
            "run {i} printed the password:\n{all}"
        );
        assert!(
            all.contains("ann:***@"),
            "run {i} names the URL redacted:\n{all}"
        );
    }
    assert_eq!(runs[0].status.code(), Some(0));
    let written = std::fs::read_to_string(&json).expect("report written");
    assert!(!written.contains(SECRET), "{written}");
    assert!(written.contains("http://ann:***@127.0.0.1"), "{written}");
}
