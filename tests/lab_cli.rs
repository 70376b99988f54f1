//! `latency lab` end to end through the built binary: real processes, real stores, the
//! real function platform. The Lambda rows need dynalite, which `scripts/services
//! install` puts under `.cache/` (the test command runs it first).

mod common;

use std::path::Path;

use common::latency;

struct LabRun {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl LabRun {
    fn assert_success(&self) {
        assert_eq!(
            self.status,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

fn lab(args: &[&str], out: &Path) -> LabRun {
    let output = latency()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lab", "--quick", "--out"])
        .arg(out)
        .args(args)
        .output()
        .expect("run latency lab");
    LabRun {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `--json` outcome's row named `title`: `{"measured": Report}` or
/// `{"skipped": {…}}`. The terminal table is laid out for people (wrapped, in two
/// tables); tests read the same rows from the JSON.
fn outcome_row(outcome: &serde_json::Value, title: &str) -> serde_json::Value {
    outcome["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| {
            row["measured"]["target"]["label"] == title || row["skipped"]["architecture"] == title
        })
        .cloned()
        .unwrap_or_else(|| panic!("no row {title:?} in {outcome}"))
}

/// Whether the terminal table (aligned text) shows a row starting with `title`.
fn table_shows(stdout: &str, title: &str) -> bool {
    stdout
        .lines()
        .any(|line| line.trim_start_matches('|').trim_start().starts_with(title))
}

fn report(out: &Path, name: &str) -> serde_json::Value {
    let path = out.join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).expect("a JSON Report")
}

#[test]
fn list_names_every_row() {
    let output = latency().args(["lab", "--list"]).output().expect("run");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for id in [
        "ec2",
        "fargate-efs",
        "k8s",
        "lambda-s3",
        "lambda-dynamodb?mode=read-modify-write",
        "lambda-sqs",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing:\n{text}"
        );
    }
}

#[test]
fn an_unknown_row_is_a_usage_error_naming_the_known_ones() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(&["--only", "ec2,mainframe"], out.path());
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("`mainframe`"), "{}", run.stderr);
    assert!(run.stderr.contains("fargate-efs"), "{}", run.stderr);
}

#[test]
fn server_rows_are_measured_checked_priced_and_written() {
    let out = tempfile::tempdir().expect("temp dir");
    let json = out.path().join("outcome.json");
    let json_arg = json.to_str().expect("a UTF-8 temp path");
    let run = lab(
        &["--only", "ec2,fargate-efs,k8s-eks", "--json", json_arg],
        out.path(),
    );
    run.assert_success();
    assert!(
        table_shows(&run.stdout, "Server + VM (EC2)"),
        "{}",
        run.stdout
    );
    let outcome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("outcome JSON")).expect("JSON");

    let ec2 = &outcome_row(&outcome, "Server + VM (EC2)")["measured"];
    let monthly = ec2["cost"]["monthly_usd"]
        .as_f64()
        .expect("EC2 has a monthly cost");
    assert!(
        monthly > 5.0 && monthly < 50.0,
        "EC2 monthly cost {monthly}"
    );
    assert_eq!(ec2["results"]["counter"]["verdict"], "pass", "{ec2}");
    let fargate = &outcome_row(&outcome, "Fargate + EFS, 32 concurrent")["measured"];
    assert_eq!(
        fargate["results"]["counter"]["verdict"], "pass",
        "{fargate}"
    );
    let eks = outcome_row(&outcome, "Kubernetes on EKS");
    assert!(eks["skipped"]["reason"].is_string(), "{eks}");
    assert!(
        run.stderr.contains("locally identical to k8s"),
        "skip reason missing"
    );

    let sequential = report(out.path(), "ec2-sequential.json");
    assert_eq!(sequential["results"]["requests"], 100);
    assert_eq!(sequential["plan"]["connections"], 1);
    assert_eq!(sequential["results"]["counter"]["verdict"], "pass");
    let concurrent = report(out.path(), "fargate-efs-concurrent.json");
    assert_eq!(concurrent["results"]["requests"], 200);
    assert_eq!(concurrent["plan"]["connections"], 32);

    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(
        html.contains("Cost against traffic") && html.contains("<svg"),
        "no chart"
    );
    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    // The title cell may carry the busy mark (`†`) on a loaded machine.
    assert!(
        markdown
            .lines()
            .any(|l| l.starts_with("| Server + VM (EC2) ") && !l.contains("concurrent")),
        "{markdown}"
    );
}

/// The original study's bug, side by side with the fix: under 32 concurrent calls the
/// read-modify-write DynamoDB row loses updates, the atomic one does not, and both
/// report cold starts and billed durations from the function platform.
#[test]
fn lambda_rows_show_lost_updates_only_in_read_modify_write_mode() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(
        &[
            "--only",
            "lambda-dynamodb,lambda-dynamodb?mode=read-modify-write",
        ],
        out.path(),
    );
    run.assert_success();

    let atomic = report(out.path(), "lambda-dynamodb-concurrent.json");
    assert_eq!(
        atomic["results"]["counter"]["verdict"], "pass",
        "{}",
        atomic["results"]["counter"]
    );
    let rmw = report(out.path(), "lambda-dynamodb-rmw-concurrent.json");
    let counter = &rmw["results"]["counter"];
    assert_eq!(counter["verdict"], "fail", "{counter}");
    assert!(
        counter["duplicates"].as_u64().expect("duplicates") > 0,
        "{counter}"
    );

    let sequential = report(out.path(), "lambda-dynamodb-sequential.json");
    let function = &sequential["function"];
    assert_eq!(function["cold_starts"], 1, "{function}");
    assert!(
        function["init_duration_ms"]
            .as_f64()
            .expect("init duration")
            > 0.0
    );
    assert!(function["billed_duration_ms"].as_f64().expect("billed") >= 1.0);
    assert!(
        sequential["cost"]["per_million_calls_usd"]
            .as_f64()
            .expect("cost")
            > 0.0
    );
}

/// Issue 11: a default non-TTY `latency lab --quick` is quiet. Every default row runs
/// (Lambda rows included), and stdout and stderr together stay under 80 lines: no
/// per-invocation REPORT lines, one line per row, with a summary for function rows. Then
/// no cgroup or Redis key of the run remains.
#[test]
fn a_default_quick_run_prints_under_80_lines_and_leaves_nothing_behind() {
    let out = tempfile::tempdir().expect("temp dir");
    let child = latency()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lab", "--quick", "--out"])
        .arg(out.path())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run latency lab");
    let pid = child.id();
    let output = child.wait_with_output().expect("lab output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = stdout.lines().count() + stderr.lines().count();
    assert!(
        lines < 80,
        "{lines} lines:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("REPORT RequestId"), "{stderr}");
    // One summary line per function row that ran.
    let summaries = stderr
        .lines()
        .filter(|l| l.contains("invocations,") && l.contains("cold starts"))
        .count();
    // The four Rust rows always run; the other languages' rows run when their
    // toolchain is installed, and then also print one.
    // Function rows name their memory size ("lab: lambda-s3 at 128 MB: measured in");
    // the queue rows (lambda-sqs) print no function summary.
    let finished_functions = stderr
        .lines()
        .filter(|l| l.starts_with("lab: lambda-") && l.contains(" MB: measured in"))
        .count();
    assert!(summaries >= 4, "{stderr}");
    assert_eq!(summaries, finished_functions, "{stderr}");
    assert!(table_shows(&stdout, "Server + VM (EC2)"), "{stdout}");

    assert_eq!(common::lab::cgroups_of(pid), Vec::<String>::new());
    assert!(
        !stderr.contains("cgroup left behind"),
        "a cgroup could not be removed:\n{stderr}"
    );
    let keys = common::lab::redis_keys_of(pid);
    assert!(keys.is_empty(), "Redis keys left behind: {keys:?}");
}

/// `--json -` puts the whole outcome on stdout (and only it); `--sheet` picks the prices
/// and the closing line of a table run names the sheet.
#[test]
fn json_to_stdout_and_the_sheet_used() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(
        &[
            "--only",
            "ec2,k8s-eks",
            "-n",
            "20",
            "--json",
            "-",
            "--sheet",
            "current",
        ],
        out.path(),
    );
    run.assert_success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(json["sheet"], "current");
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "ec2 twice, k8s-eks skipped: {json}");
    assert_eq!(rows[0]["measured"]["results"]["requests"], 20);
    assert!(
        rows[2]["skipped"]["reason"]
            .as_str()
            .expect("a reason")
            .contains("to enable:")
    );

    let table = lab(&["--only", "ec2", "-n", "20"], out.path());
    table.assert_success();
    assert!(
        table.stdout.contains("`original-era` price sheet"),
        "the default sheet is cost's: {}",
        table.stdout
    );
}

/// `--color` applies to log lines: always forces ANSI colour, never (and the default, on
/// a pipe) leaves it out.
#[test]
fn color_flag_applies_to_logs() {
    let first_log_line = |color: &str| {
        let mut child = latency()
            .args(["--color", color, "serve", "--listen", "127.0.0.1:0"])
            .args(["--store", "memory://"])
            .env_remove("NO_COLOR")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line)
            .expect("a log line");
        let _ = child.kill();
        let _ = child.wait();
        line
    };
    assert!(first_log_line("always").contains('\u{1b}'));
    assert!(!first_log_line("never").contains('\u{1b}'));
    assert!(
        !first_log_line("auto").contains('\u{1b}'),
        "stderr is a pipe"
    );
}

/// `--memory 128,256`: the function row runs at both sizes with each size's CPU budget,
/// each size measured and priced (a bigger size costs more per GB-second, so the same
/// work is priced by its own size), the choices name measured sizes, the table shows the
/// first size, and the hello-world function's cold starts are the floor at both sizes.
#[test]
fn a_memory_sweep_measures_every_size_of_a_function_row() {
    let out = tempfile::tempdir().expect("temp dir");
    let json = out.path().join("outcome.json");
    let run = lab(
        &[
            "--only",
            "lambda-dynamodb",
            "--memory",
            "256,128",
            "-n",
            "10",
            "-c",
            "2",
            "--json",
            json.to_str().expect("a UTF-8 path"),
        ],
        out.path(),
    );
    run.assert_success();
    let outcome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("--json written"))
            .expect("JSON");
    let sweep = &outcome["memory_sweep"];
    assert_eq!(sweep["sizes"], serde_json::json!([128, 256]), "{sweep}");
    let rows = sweep["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{sweep}");
    assert_eq!(rows[0]["row"], "lambda-dynamodb");
    let points = rows[0]["points"].as_array().expect("points");
    let sizes: Vec<u64> = points
        .iter()
        .map(|p| p["memory_mb"].as_u64().expect("memory_mb"))
        .collect();
    assert_eq!(sizes, [128, 256]);
    for point in points {
        assert!(point["problem"].is_null(), "{point}");
        for figure in [
            "cold_start_ms",
            "p50_ms",
            "p99_ms",
            "billed_ms",
            "per_million_usd",
        ] {
            let value = point[figure].as_f64().unwrap_or(0.0);
            assert!(value > 0.0, "{figure} measured: {point}");
        }
        assert!(
            point["p99_ms"].as_f64() >= point["p50_ms"].as_f64(),
            "{point}"
        );
    }
    let vcpu: Vec<f64> = points
        .iter()
        .map(|p| p["vcpu"].as_f64().expect("vcpu"))
        .collect();
    assert!(
        (vcpu[1] / vcpu[0] - 2.0).abs() < 1e-9,
        "256 MB gets twice 128's CPU"
    );
    let choices = &rows[0]["choices"];
    for choice in ["cheapest_mb", "fastest_mb", "balanced_mb"] {
        let mb = choices[choice].as_u64().expect("a choice");
        assert!(mb == 128 || mb == 256, "{choices}");
    }
    // The table's row is the first size; the second size's Reports are written beside it.
    let sequential = report(out.path(), "lambda-dynamodb-sequential.json");
    assert_eq!(sequential["function"]["memory_size_mb"], 128);
    let bigger = report(out.path(), "lambda-dynamodb-256mb-sequential.json");
    assert_eq!(bigger["function"]["memory_size_mb"], 256);
    // The cold-start floor, at both sizes, with the published figure's ratio.
    let floor = &outcome["cold_start_floor"];
    let floor_points = floor["points"].as_array().expect("floor points");
    assert_eq!(floor_points.len(), 2, "{floor}");
    assert!(
        floor["published_source"]
            .as_str()
            .expect("source")
            .contains("lambda-perf")
    );
    for point in floor_points {
        assert!(
            point["init_p50_ms"].as_f64().expect("init") > 0.0,
            "{point}"
        );
        assert!(
            point["ratio"].as_f64().expect("a published size") > 0.0,
            "{point}"
        );
    }
    // report.md and report.html carry the sweep.
    let markdown = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(markdown.contains("## Memory sweep"), "{markdown}");
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=\"memory-sweep\"") && html.contains(">256 MB</text>"));
}

#[test]
fn a_memory_size_lambda_does_not_offer_is_refused_by_name() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = lab(&["--memory", "128,64"], out.path());
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("64 MB is outside Lambda's memory range of 128 to 10240 MB"),
        "{}",
        run.stderr
    );
}
