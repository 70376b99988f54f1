//! `latency report`'s stdout through the built binary: aligned text tables on request,
//! Markdown when piped (as in `latency report … > report.md`).

mod common;

use common::latency;

fn report(extra: &[&str]) -> String {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/bench/tests/fixtures");
    let out = latency()
        .arg("report")
        .args(
            [
                "server-vm.json",
                "fargate-efs.json",
                "fargate-efs-open.json",
            ]
            .map(|f| format!("{fixtures}/{f}")),
        )
        .args(extra)
        .output()
        .expect("run latency report");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

#[test]
fn text_output_is_two_aligned_tables_within_120_columns_with_scaled_units() {
    let text = report(&["--format", "text"]);
    assert_eq!(text.matches("| Architecture ").count(), 2, "{text}");
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 120, "{widest} columns:\n{text}");
    // server-vm's warm p50 is about 0.14 ms: shown in µs; no header says "(ms)".
    assert!(text.contains("µs") && !text.contains("(ms)"), "{text}");

    let wide = report(&["--format", "text", "--wide"]);
    assert_eq!(wide.matches("| Architecture ").count(), 1, "{wide}");
    let header = wide.lines().next().unwrap_or_default();
    assert!(header.contains("Average latency") && header.contains("Counter check"));
}

#[test]
fn piped_stdout_is_the_markdown_table_in_milliseconds() {
    let md = report(&[]);
    assert!(
        md.starts_with("| Architecture | Average latency (ms) | Monthly cost ($) |"),
        "{md}"
    );
    assert_eq!(md, report(&["--format", "markdown"]));
}
