//! `latency report` through the built binary, on two JSON runs of `latency bench`.

mod common;

use common::{Server, latency};

#[test]
fn two_runs_become_a_markdown_table_and_an_html_page() {
    let server = Server::start("memory://", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("{}/hits", server.base_url);
    let mut files = Vec::new();
    for (label, extra) in [
        ("sequential", vec![]),
        ("four connections", vec!["-c", "4"]),
    ] {
        let file = dir.path().join(format!("{}.json", label.replace(' ', "-")));
        let out = latency()
            .args([
                "bench",
                &url,
                "200",
                "--label",
                label,
                "--json",
                file.to_str().expect("utf8"),
            ])
            .args(extra)
            .output()
            .expect("bench");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files.push(file);
    }
    let html = dir.path().join("report.html");
    let md = dir.path().join("report.md");
    let out = latency()
        .arg("report")
        .args(&files)
        .args(["--html", html.to_str().expect("utf8")])
        .output()
        .expect("report");
    exited_0(&out);
    let table = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("| Architecture | Average latency (ms) | Monthly cost ($) | Cost per million calls ($) |"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("| sequential | ") && lines[2].contains("| sequential | 0 | pass |"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("| four connections | ")
            && lines[3].contains("closed loop, 4 connections"),
        "{table}"
    );

    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(
        page.matches("<polyline class=\"series\"").count(),
        2,
        "a CDF line per run"
    );
    assert_eq!(
        page.matches("class=\"histogram\"").count(),
        2,
        "a histogram per run"
    );
    assert!(
        !page.contains("<script") && !page.contains("<link"),
        "self-contained"
    );

    // --markdown writes the same table to a file instead of stdout.
    let out = latency()
        .arg("report")
        .args(&files)
        .args(["--markdown", md.to_str().expect("utf8")])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&md).expect("md"), table);

    // --json - puts the Reports on stdout as one array; the table moves to stderr.
    let out = latency()
        .arg("report")
        .args(&files)
        .args(["--json", "-"])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(0));
    let reports: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("stdout is a JSON array");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["target"]["label"], "four connections");
    assert_eq!(String::from_utf8_lossy(&out.stderr), table);
}

#[test]
fn a_file_that_is_not_a_report_is_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("notes.json");
    std::fs::write(&bad, "{\"schema_version\": 9}").expect("write");
    let out = latency()
        .args(["report", bad.to_str().expect("utf8")])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("notes.json") && stderr.contains("schema version 9"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.json");
    let out = latency()
        .args(["report", missing.to_str().expect("utf8")])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));

    let out = latency().arg("report").output().expect("report");
    assert_eq!(out.status.code(), Some(2), "no files is a usage error");
}

/// A Report from a short real run, as JSON to tamper with.
fn one_report() -> serde_json::Value {
    let server = Server::start("memory://", &[]);
    let out = latency()
        .args([
            "bench",
            &format!("{}/hits", server.base_url),
            "20",
            "--json",
            "-",
        ])
        .output()
        .expect("bench");
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("a Report")
}

fn report_of(files: &[&std::path::Path]) -> std::process::Output {
    latency()
        .arg("report")
        .args(files)
        .output()
        .expect("report")
}

#[test]
fn oversized_reports_are_refused_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = one_report();
    let mut cases: Vec<(&str, serde_json::Value, &str)> = Vec::new();
    let mut long_label = report.clone();
    long_label["target"]["label"] = "x".repeat(100_000).into();
    cases.push(("label", long_label, "label is 100000 characters long"));
    let mut many_bins = report.clone();
    let bin = serde_json::json!({"from_ms": 1.0, "to_ms": 2.0, "count": 1});
    many_bins["results"]["distribution"]["bins"] = vec![bin; 50_000].into();
    cases.push(("bins", many_bins, "50000 histogram bins"));
    for (name, value, needle) in cases {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, value.to_string()).expect("write");
        let out = report_of(&[&file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{name}.json")) && stderr.contains(needle),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    // A file past the size limit is refused before it is parsed.
    let huge = dir.path().join("huge.json");
    let mut padded = report.to_string();
    padded.push_str(&" ".repeat(latency_bench::MAX_REPORT_BYTES));
    std::fs::write(&huge, padded).expect("write");
    let out = report_of(&[&huge]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("huge.json") && stderr.contains("at most"),
        "{stderr}"
    );
}

#[test]
fn a_newline_in_a_label_does_not_break_the_markdown_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut report = one_report();
    report["target"]["label"] = "two\nlines | and\r\na pipe".into();
    let file = dir.path().join("newline.json");
    std::fs::write(&file, report.to_string()).expect("write");
    let out = report_of(&[&file]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[2].starts_with("| two<br>lines \\| and<br>a pipe | "),
        "{table}"
    );
    let columns = |line: &str| line.matches(" | ").count();
    assert_eq!(columns(lines[2]), columns(lines[0]), "{table}");
}

#[test]
fn merge_adds_two_reports_into_one_with_the_same_percentiles_and_twice_the_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = one_report();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&a, report.to_string()).expect("write");
    std::fs::write(&b, report.to_string()).expect("write");
    let out = latency()
        .args(["report", "--merge"])
        .args([&a, &b])
        .args(["--json", "-"])
        .output()
        .expect("report");
    exited_0(&out);
    let merged: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one Report");
    let (m, r) = (&merged["results"], &report["results"]);
    assert_eq!(m["requests"], 40);
    assert_eq!(
        m["latency"]["count"],
        r["latency"]["count"].as_u64().expect("count") * 2
    );
    // The same data twice: every percentile, the min and the max are unchanged.
    for field in ["min_ms", "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms"] {
        assert_eq!(m["latency"][field], r["latency"][field], "{field}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with('|')).count(),
        3,
        "header, rule and one row: {stderr}"
    );
    // The same counter values twice are 20 duplicates across the "shards".
    assert_eq!(m["counter"]["verdict"], "fail");
    assert_eq!(m["counter"]["duplicates"], 20);

    // A version-1 Report has no histogram: refused by --merge, with the file named.
    let mut old = report.clone();
    old["schema_version"] = 1.into();
    old["results"]
        .as_object_mut()
        .expect("object")
        .remove("latency_histogram");
    let v1 = dir.path().join("v1.json");
    std::fs::write(&v1, old.to_string()).expect("write");
    let shown = latency().arg("report").arg(&v1).output().expect("report");
    assert_eq!(shown.status.code(), Some(0), "version 1 is still read");
    let out = latency()
        .args(["report", "--merge"])
        .args([&a, &v1])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("v1.json") && stderr.contains("no latency histogram"),
        "{stderr}"
    );
}

/// Checks that a command exited 0; else its stderr is the message.
fn exited_0(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
