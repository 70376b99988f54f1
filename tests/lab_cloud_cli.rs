//! `latency lab --cloud`, `--client-rtt` and `--repeat` through the built binary: the
//! usage errors, and one server row predicted for eu-west-2 end to end.

mod common;

use std::path::Path;

use common::latency;

fn lab(args: &[&str], out: &Path) -> std::process::Output {
    latency()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lab", "--quick", "--out"])
        .arg(out)
        .args(args)
        .output()
        .expect("run latency lab")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_profile_is_a_usage_error_listing_the_built_in_ones() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(&["--only", "ec2", "--cloud", "mars-north-1"], out.path());
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(text.contains("`mars-north-1`"), "{text}");
    assert!(
        text.contains("local") && text.contains("eu-west-2"),
        "{text}"
    );
}

#[test]
fn a_bad_profile_file_is_a_usage_error_naming_the_file_and_the_problem() {
    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\nregion = \"x\"\ndescription = \"x\"\n[hops.s3]\nwhat = \"x\"\np50_ms = 9.0\np99_ms = 3.0\nsource = \"x\"\ndate = \"2026-11-29\"\nconfidence = \"documented\"\n",
    )
    .expect("write");
    let run = lab(
        &["--only", "ec2", "--cloud", file.to_str().expect("UTF-8")],
        out.path(),
    );
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(text.contains("bad.toml"), "{text}");
    assert!(text.contains("below p50_ms"), "{text}");
}

#[test]
fn a_bad_client_rtt_is_a_usage_error() {
    let out = tempfile::tempdir().expect("temp dir");
    for (value, says) in [
        ("twelve", "not a number of milliseconds"),
        ("-3", "not a round trip"),
        ("inf", "not a round trip"),
    ] {
        let arg = format!("--client-rtt={value}");
        let run = lab(&["--only", "ec2", "--cloud", "eu-west-2", &arg], out.path());
        let text = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{value}: {text}");
        assert!(text.contains(says), "{value}: {text}");
    }
    let run = lab(&["--only", "ec2", "--client-rtt", "12"], out.path());
    let text = stderr(&run);
    assert_eq!(
        run.status.code(),
        Some(2),
        "--client-rtt needs --cloud: {text}"
    );
    assert!(text.contains("--cloud"), "{text}");
    let run = lab(&["--only", "ec2", "--repeat", "0"], out.path());
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
}

fn report(out: &Path, name: &str) -> latency_bench::Report {
    latency_bench::Report::read(&out.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The EC2 row predicted for eu-west-2 with a 20 ms client round trip, twice: the table
/// is labelled, every cloud request took at least the round trip (a lower bound only),
/// the local Reports are written beside the cloud's, each repeat is written, and the
/// score names the study's EC2 figure.
#[test]
fn the_ec2_row_predicted_for_eu_west_2_is_labelled_scored_and_at_least_the_round_trip_slower() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(
        &[
            "--only",
            "ec2",
            "--cloud",
            "eu-west-2",
            "--client-rtt",
            "20",
            "--repeat",
            "2",
            "-n",
            "30",
        ],
        out.path(),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{}", stderr(&run));
    assert!(
        stdout.starts_with("predicted for eu-west-2, client RTT 20 ms\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Score against the original study"),
        "{stdout}"
    );
    let ec2_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ec2 "))
        .unwrap_or_else(|| panic!("a score line for ec2:\n{stdout}"));
    assert!(
        ec2_line.contains("13.00ms"),
        "the study's figure: {ec2_line}"
    );
    assert!(stdout.contains("mean absolute error"), "{stdout}");

    let cloud = report(out.path(), "ec2-sequential.json");
    let min = cloud.results.latency.as_ref().expect("latencies").min_ms;
    assert!(
        min >= 20.0,
        "a cloud request took {min} ms, under the 20 ms RTT"
    );
    let notes = cloud.notes.join("\n");
    assert!(notes.contains("client RTT 20 ms"), "{notes}");
    assert!(notes.contains("median of 2 runs"), "{notes}");
    for name in [
        "ec2-sequential.run-1.json",
        "ec2-sequential.run-2.json",
        "ec2-concurrent.json",
        "ec2-local-sequential.json",
        "ec2-local-concurrent.run-2.json",
    ] {
        report(out.path(), name);
    }
    let local = report(out.path(), "ec2-local-sequential.json");
    assert!(local.notes.iter().any(|n| n.contains("no cloud delays")));
    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(markdown.contains("## Local figures"), "{markdown}");
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("Score against the original study"));
    assert!(html.contains("no cloud delays"));
}
