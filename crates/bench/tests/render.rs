//! The renderers on the committed fixture Reports (real runs against `latency serve`).

use std::path::Path;

use latency_bench::Report;
use latency_bench::render::{self, Comparison, Row};

fn fixture(name: &str) -> Report {
    Report::read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

#[test]
fn the_summary_starts_with_the_original_mean_line_then_the_full_picture() {
    let report = fixture("server-vm.json");
    let text = render::summary(&report);
    let mut lines = text.lines();
    let first = lines.next().expect("line");
    assert_eq!(
        first,
        format!("{:.2}ms", report.results.mean_all_ms.expect("mean"))
    );
    for needle in [
        "p50",
        "p99.9",
        "stdev",
        "cold start",
        "throughput",
        "status",
        "errors",
        "counter",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let open = render::summary(&fixture("fargate-efs-open.json"));
    assert!(
        open.contains("corrected") && open.contains("uncorrected"),
        "{open}"
    );
}

#[test]
fn the_csv_row_has_a_cell_per_header_column() {
    let report = fixture("fargate-efs.json");
    let row = render::csv_row(&report);
    // The label has a comma, so it is quoted.
    assert!(
        row.starts_with("\"Fargate + EFS (file://), c=8\","),
        "{row}"
    );
    let cells = row.replace("\"Fargate + EFS (file://), c=8\"", "label");
    assert_eq!(
        cells.split(',').count(),
        render::CSV_HEADER.split(',').count()
    );
}

#[test]
fn the_markdown_table_has_the_original_columns_first_and_a_row_per_run() {
    let mut cmp = Comparison::new([fixture("server-vm.json"), fixture("fargate-efs.json")]);
    cmp.skip(
        "Lambda + S3",
        "needs python3 -m venv; run: scripts/services start moto",
    );
    let md = cmp.markdown();
    let mut lines = md.lines();
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("| Architecture | Average latency (ms) | Monthly cost ($) | Cost per million calls ($) | p50 (ms) | p99 (ms)"),
        "{header}"
    );
    assert!(header.contains("Throughput (req/s)") && header.contains("Counter check"));
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).skip(1).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0].starts_with("| server + VM (memory://) | 0.16 |"),
        "{}",
        rows[0]
    );
    assert!(
        rows[2].starts_with("| Lambda + S3 | skipped |"),
        "{}",
        rows[2]
    );
    assert!(md.contains("Lambda + S3: skipped — needs python3"), "{md}");
    assert!(md.contains("Measured on "), "{md}");
}

#[test]
fn a_failed_counter_check_is_flagged_in_the_table() {
    let mut report = fixture("server-vm.json");
    report.results.counter.verdict = latency_bench::Verdict::Fail;
    report.results.counter.duplicates = 12;
    report.results.counter.note = "12 duplicate values".into();
    let cmp = Comparison::new([report]);
    assert!(cmp.markdown().contains("FAIL (12 dup, 0 gaps)"));
    assert!(
        cmp.html()
            .contains("<td class=\"fail\">FAIL (12 dup, 0 gaps)</td>")
    );
}

#[test]
fn the_html_page_is_self_contained_with_a_chart_per_run() {
    let reports = [
        fixture("server-vm.json"),
        fixture("fargate-efs.json"),
        fixture("fargate-efs-open.json"),
    ];
    let mut cmp = Comparison::new(reports);
    cmp.title = "Run <1> & \"friends\"".into();
    let html = cmp.html();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("<title>Run &lt;1&gt; &amp; &quot;friends&quot;</title>"),
        "title escaped"
    );
    for forbidden in ["<script", "<link", "src=", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "{forbidden} makes the page depend on something else"
        );
    }
    assert_eq!(html.matches("<polyline class=\"series\"").count(), 3);
    assert_eq!(html.matches("class=\"histogram\"").count(), 3);
    assert!(matches!(cmp.rows[0], Row::Measured(_)));
}

#[test]
fn two_reports_get_a_relative_line_per_percentile_and_three_do_not() {
    let vm = fixture("server-vm.json");
    let efs = fixture("fargate-efs.json");
    let line = Comparison::new([efs.clone(), vm.clone()])
        .relative()
        .expect("a relative line for two Reports");
    let ratio = |s: fn(&latency_bench::Summary) -> f64| {
        let (v, e) = (
            vm.results.latency.as_ref().expect("latency"),
            efs.results.latency.as_ref().expect("latency"),
        );
        s(e) / s(v)
    };
    assert!(
        line.starts_with(&format!(
            "server + VM (memory://) is {:.2}× faster than Fargate + EFS (file://), c=8 at p50",
            ratio(|s| s.p50_ms)
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!("{:.2}× faster", ratio(|s| s.p99_ms))),
        "{line}"
    );
    assert!(line.contains("at p99"), "{line}");
    assert_eq!(Comparison::new([vm.clone(), efs, vm]).relative(), None);
}
