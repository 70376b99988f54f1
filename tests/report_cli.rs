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
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
