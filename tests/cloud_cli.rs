//! `latency cloud` end to end, through the built binary and the real `terraform`, against
//! deploy/terraform-local: a configuration with the same variables and outputs as
//! deploy/terraform that uses only Terraform's built-in provider (no download, no account)
//! and "deploys" a row by starting a local `latency serve --listen 127.0.0.1:0`. Every pid
//! it starts is appended to RUN_DIR/pids.log, so each test can check by pid that nothing
//! is left running, and reads the workspaces' state files to check that none still holds
//! a resource.
//!
//! Where `terraform` is not on the PATH these tests print that they skip, and why.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const LATENCY: &str = env!("CARGO_BIN_EXE_latency");

/// The lab's title of the ec2 row (crates/lab's catalogue): what a lab Report's label is.
const EC2_LAB_TITLE: &str = "Server + VM (EC2)";

fn terraform_missing() -> bool {
    let missing = Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err();
    if missing {
        eprintln!(
            "skipped: `terraform` is not on the PATH, and these tests drive the real binary \
             (install Terraform >= 1.6; its built-in provider needs no download)"
        );
    }
    missing
}

/// One test's directories: Terraform state, the rows' processes, results.
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("run")).expect("run dir");
        Self { tmp }
    }

    fn run_dir(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// `latency cloud SUB ARGS… --terraform-dir deploy/terraform-local --state-dir …`,
    /// with the stand-in's own variables for the subcommands that deploy.
    fn cloud(&self, sub: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(LATENCY);
        cmd.arg("cloud").arg(sub).args(args);
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/terraform-local");
        cmd.arg("--terraform-dir").arg(config);
        cmd.arg("--state-dir").arg(self.state());
        if matches!(sub, "run" | "up" | "plan") {
            cmd.arg("--var")
                .arg(format!("latency_bin={LATENCY}"))
                .arg("--var")
                .arg(format!("run_dir={}", self.run_dir().display()));
        }
        // No CLI configuration: no mirror, no credentials; nothing may be fetched.
        cmd.env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env_remove("LATENCY_CLOUD_STATE")
            .env_remove("TF_WORKSPACE")
            .env_remove("TF_DATA_DIR")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        cmd
    }

    fn output(&self, sub: &str, args: &[&str]) -> Output {
        self.cloud(sub, args).output().expect("latency runs")
    }

    /// Every (row, pid) the stand-in ever started.
    fn pids(&self) -> Vec<(String, i32)> {
        let Ok(text) = std::fs::read_to_string(self.run_dir().join("pids.log")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let (row, pid) = line.split_once(' ')?;
                Some((row.to_owned(), pid.trim().parse().ok()?))
            })
            .collect()
    }

    fn assert_nothing_running(&self) {
        for (row, pid) in self.pids() {
            assert!(!alive(pid), "{row}'s server (pid {pid}) is still running");
        }
    }

    /// Workspaces whose state file still lists a resource.
    fn non_empty_workspaces(&self) -> Vec<String> {
        let dir = self.state().join("terraform-local/workspaces");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut left = Vec::new();
        for entry in entries.flatten() {
            let file = entry.path().join("terraform.tfstate");
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let state: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
            if state["resources"].as_array().is_some_and(|r| !r.is_empty()) {
                left.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        left.sort();
        left
    }

    fn assert_all_destroyed(&self) {
        self.assert_nothing_running();
        assert_eq!(self.non_empty_workspaces(), Vec::<String>::new());
        let ls = self.ls(&[]);
        assert_eq!(ls["deployed"], serde_json::json!([]), "{ls}");
    }

    /// `latency cloud ls --json -`.
    fn ls(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json", "-"];
        all.extend_from_slice(args);
        let out = self.output("ls", &all);
        assert!(out.status.success(), "ls: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("ls --json is JSON")
    }
}

/// Kills `pid` if the test has not dropped this guard within two minutes, so that a
/// `latency` that hangs after a signal fails the test instead of hanging it.
struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    fn new(pid: u32) -> Self {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if wait.recv_timeout(std::time::Duration::from_secs(120))
                == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            {
                eprintln!("watchdog: latency (pid {pid}) still running after 120 s; killing it");
                let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid"));
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        Self { done: Some(done) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// A test that fails half-way must not leave its servers behind: whatever the stand-in
/// started and is still alive is killed when the test's `Env` goes (after its checks).
impl Drop for Env {
    fn drop(&mut self) {
        for (_, pid) in self.pids() {
            if alive(pid) {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// Whether `pid` is a live process (a zombie, exited but not reaped by this container's
/// init, is not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => !status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn run_deploys_measures_and_destroys_every_row() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let out = env.out();
    let result_file = env.tmp.path().join("result.json");
    let output = env.output(
        "run",
        &[
            "--only",
            "ec2,lambda-dynamodb,ec2",
            "--yes",
            "-n",
            "200",
            "--out",
            out.to_str().expect("utf-8"),
            "--json",
            result_file.to_str().expect("utf-8"),
        ],
    );
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The cost guard named what it would create and what it costs, before creating.
    assert!(stderr.contains("To create in eu-west-2"), "{stderr}");
    assert!(stderr.contains("terraform_data"), "{stderr}");
    assert!(stderr.contains("a month"), "{stderr}");

    let result = read_json(&result_file);
    assert_eq!(result["schema"], "latency-cloud-result/v1");
    let rows = result["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "an id given twice is one row");
    for row in rows {
        let id = row["architecture"].as_str().expect("id");
        let outside = &row["outside"];
        assert_eq!(outside["requests"], 200, "{row}");
        assert_eq!(outside["error_rate"], 0.0, "{row}");
        assert_eq!(outside["counter"], "pass", "{row}");
        assert!(
            row["url"]
                .as_str()
                .expect("url")
                .starts_with("http://127.0.0.1:")
        );
        // The Report is the bench's own, readable by `latency report`.
        let report =
            latency_bench::Report::read(Path::new(outside["report"].as_str().expect("path")))
                .expect("a valid Report");
        assert_eq!(report.results.requests, 200);
        assert_eq!(
            report.results.counter.last,
            Some(200),
            "a fresh counter per row"
        );
        // Every resource carried the tags (the stand-in's apply prints them).
        let log = std::fs::read_to_string(out.join(format!("{id}-apply.log"))).expect("log");
        let run_id = result["run_id"].as_str().expect("run id");
        assert!(log.contains(&format!("\"run_id\" = \"{run_id}\"")), "{log}");
        assert!(log.contains("\"expires_at\" = \"20"), "{log}");
        assert!(out.join(format!("{id}-destroy.log")).is_file());
    }
    assert_eq!(rows[0]["study_ms"], 13.0, "ec2's figure in the study");
    assert_eq!(result["left_deployed"], serde_json::json!([]));
    assert!(out.join("report.md").is_file() && out.join("cloud.json").is_file());
    assert_eq!(env.pids().len(), 2, "one server per row");
    env.assert_all_destroyed();
}

#[test]
fn up_bench_and_down_keep_rows_apart_and_set_the_lab_beside_the_cloud() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    for id in ["ec2", "lambda-dynamodb"] {
        let out = env.output("up", &["--only", id, "--yes", "--max-hours", "2"]);
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("{id}\thttp://127.0.0.1:")));
    }
    let pids = env.pids();
    assert_eq!(pids.len(), 2);
    assert!(
        pids.iter().all(|&(_, pid)| alive(pid)),
        "deploying the second row left the first running"
    );
    assert_eq!(env.non_empty_workspaces(), ["ec2", "lambda-dynamodb"]);

    // ls: both, with their own run ids, expiring in two hours: not yet, but by 2100.
    let ls = env.ls(&[]);
    let deployed = ls["deployed"].as_array().expect("deployed");
    assert_eq!(deployed.len(), 2, "{ls}");
    assert_ne!(deployed[0]["run_id"], deployed[1]["run_id"]);
    assert!(deployed.iter().all(|d| d["expired"] == false), "{ls}");
    let later = "2100-01-01T00:00:00Z";
    let ls_later = env.ls(&["--at", later]);
    assert!(
        ls_later["deployed"]
            .as_array()
            .expect("deployed")
            .iter()
            .all(|d| d["expired"] == true),
        "{ls_later}"
    );
    let human = env.output("ls", &["--at", later]);
    assert!(
        text(&human.stdout).contains("EXPIRED"),
        "{}",
        text(&human.stdout)
    );

    // bench, then a lab file predicting twice the measured mean for ec2, then bench again
    // with it: the prediction and its error sit beside the measurement.
    let first = env.tmp.path().join("first");
    let out = env.output(
        "bench",
        &[
            "--only",
            "ec2",
            "-n",
            "50",
            "--out",
            first.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut report = read_json(&first.join("ec2-outside.json"));
    let measured = report["results"]["mean_all_ms"].as_f64().expect("mean");
    report["target"]["label"] = serde_json::json!(EC2_LAB_TITLE);
    report["results"]["mean_all_ms"] = serde_json::json!(2.0 * measured);
    let lab = serde_json::json!({
        "cloud": {"profile": "eu-west-2", "client_rtt_ms": 12.0},
        "rows": [{"measured": report}, {"skipped": {"architecture": "k8s", "reason": "no cluster"}}],
    });
    let lab_file = env.tmp.path().join("lab.json");
    std::fs::write(&lab_file, lab.to_string()).expect("lab file");
    let second = env.tmp.path().join("second");
    let out = env.output(
        "bench",
        &[
            "--only",
            "ec2,lambda-dynamodb",
            "-n",
            "50",
            "--prediction",
            lab_file.to_str().expect("utf-8"),
            "--out",
            second.to_str().expect("utf-8"),
            "--json",
            "-",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let ec2 = &result["rows"][0];
    assert_eq!(ec2["architecture"], "ec2");
    assert_eq!(ec2["prediction"]["ms"].as_f64(), Some(2.0 * measured));
    assert_eq!(ec2["prediction"]["lab_row"], "ec2");
    assert_eq!(ec2["prediction"]["profile"], "eu-west-2");
    let now = ec2["outside"]["mean_all_ms"].as_f64().expect("measured");
    let error = ec2["prediction"]["error_pct"].as_f64().expect("error");
    assert!(
        ((2.0 * measured - now) / now * 100.0 - error).abs() < 1e-9,
        "{ec2}"
    );
    assert_eq!(ec2["study_ms"], 13.0);
    // No lab row for lambda-dynamodb: no prediction, and a note says so.
    assert!(result["rows"][1]["prediction"].is_null());
    let notes = result["notes"].to_string();
    assert!(notes.contains("lambda-dynamodb"), "{notes}");
    // The counter kept counting across the two benches: the row stayed up in between.
    let again = latency_bench::Report::read(&second.join("ec2-outside.json")).expect("Report");
    assert_eq!(again.results.counter.first, Some(51));
    let table = std::fs::read_to_string(second.join("report.md")).expect("report.md");
    assert!(
        table.contains("lab predicts") && table.contains("| ec2 |"),
        "{table}"
    );

    // down one row: the other keeps running.
    let out = env.output("down", &["--only", "ec2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let by_row = |row: &str| {
        env.pids()
            .into_iter()
            .find(|(r, _)| r == row)
            .expect("pid")
            .1
    };
    assert!(!alive(by_row("ec2")));
    assert!(alive(by_row("lambda-dynamodb")));
    assert_eq!(env.non_empty_workspaces(), ["lambda-dynamodb"]);
    // --expired: nothing has, yet; by 2100 everything has.
    let out = env.output("down", &["--expired"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing deployed has expired"));
    assert!(alive(by_row("lambda-dynamodb")));
    let out = env.output("down", &["--expired", "--at", later]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("lambda-dynamodb: destroyed"));
    env.assert_all_destroyed();
    // --all with nothing left is a no-op that says so.
    let out = env.output("down", &["--all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing is deployed"));
}

/// `--via-lambda`: the row's `bench_function` output names the real bench Lambda
/// (`latency-lambda-bench`), served by the local function platform's Invoke API.
#[tokio::test(flavor = "multi_thread")]
async fn via_lambda_measures_from_the_bench_function_with_the_shared_fanout() {
    if terraform_missing() {
        return;
    }
    let exe = Path::new(LATENCY).with_file_name("latency-lambda-bench");
    assert!(
        exe.is_file(),
        "{} is missing; build it with: cargo build -p latency-lambda-bench",
        exe.display()
    );
    let spec = latency_platform::FunctionSpec::new("bench", exe)
        .unthrottled()
        .memory_mb(1769)
        .max_concurrency(4)
        .timeout(std::time::Duration::from_secs(60));
    let platform = latency_platform::Platform::start(vec![spec]).expect("platform");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let front = platform
        .serve_invoke_api(listener)
        .await
        .expect("invoke front");
    let endpoint = front.url();
    let env = Env::new();
    let out_dir = env.out();
    let output = {
        let mut cmd = env.cloud(
            "run",
            &[
                "--only",
                "ec2",
                "--yes",
                "-n",
                "100",
                "--via-lambda",
                "--fanout",
                "2",
                "--lambda-endpoint",
                &endpoint,
                "--var",
                "bench_function=bench",
                "--out",
                out_dir.to_str().expect("utf-8"),
            ],
        );
        // The platform checks no credentials; the SDK wants some.
        cmd.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE");
        tokio::task::spawn_blocking(move || cmd.output().expect("latency runs"))
            .await
            .expect("join")
    };
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("through the bench Lambda `bench` (fanout 2)"),
        "{stderr}"
    );
    let result = read_json(&out_dir.join("cloud.json"));
    let row = &result["rows"][0];
    assert_eq!(row["outside"]["requests"], 100, "{row}");
    assert_eq!(row["inside"]["requests"], 100, "{row}");
    assert_eq!(row["inside"]["counter"], "pass", "{row}");
    let inside = latency_bench::Report::read(&out_dir.join("ec2-inside.json")).expect("Report");
    // The same counter, after the 100 calls from outside: the bench Lambda hit the row.
    assert_eq!(inside.results.counter.first, Some(101));
    assert!(
        inside.notes.iter().any(|n| n.contains("2 invocations")),
        "{:?}",
        inside.notes
    );
    let table = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    assert!(table.contains("| inside the region |"), "{table}");
    // Two invocations of the bench Lambda ran.
    let invocations = platform
        .drain_reports()
        .iter()
        .filter(|r| r.function == "bench")
        .count();
    assert_eq!(invocations, 2);
    env.assert_all_destroyed();
    front.shutdown().await;
    platform.shutdown().await;
}

#[test]
fn an_apply_that_fails_halfway_is_destroyed() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let out = env.output(
        "run",
        &["--only", "ec2", "--yes", "--var", "fail_halfway=true"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apply failed"), "{stderr}");
    assert!(
        stderr.contains("failing halfway"),
        "terraform's stderr tail: {stderr}"
    );
    assert!(stderr.contains("ec2: destroyed"), "{stderr}");
    assert!(!stderr.contains("NOT destroyed"), "{stderr}");
    // The first half had started a server; the destroy stopped it.
    assert_eq!(env.pids().len(), 1);
    env.assert_all_destroyed();
}

#[test]
fn a_destroy_that_fails_is_listed_with_the_command_that_finishes_it() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    // The stand-in's destroy fails while this file exists.
    let refuse = env.run_dir().join("refuse-destroy");
    std::fs::write(&refuse, "").expect("refuse-destroy");
    let out = env.output("run", &["--only", "ec2", "--yes", "-n", "10"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("NOT destroyed"), "{stderr}");
    assert!(
        stderr.contains("refusing to destroy"),
        "terraform's stderr tail: {stderr}"
    );
    let finish = |prefix: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {stderr}"))
            .to_owned()
    };
    assert!(
        finish("finish with:").starts_with("latency cloud down --only ec2 --terraform-dir "),
        "{stderr}"
    );
    let direct = finish("or directly:");
    // It is still there, and listed.
    let (_, pid) = env.pids()[0];
    assert!(alive(pid));
    assert_eq!(env.non_empty_workspaces(), ["ec2"]);
    assert_eq!(env.ls(&[])["deployed"][0]["architecture"], "ec2");
    // The printed command, run as printed, finishes the job.
    std::fs::remove_file(&refuse).expect("allow the destroy");
    let status = Command::new("sh")
        .args(["-c", &direct])
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .expect("sh");
    assert!(status.success(), "{direct}");
    env.assert_all_destroyed();
}

#[test]
fn a_failing_bench_still_destroys() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let out_dir = env.out();
    // A counter at u64::MAX: /healthz answers, every GET /hits fails in the store.
    let out = env.output(
        "run",
        &[
            "--only",
            "lambda-s3",
            "--yes",
            "-n",
            "20",
            "--var",
            "counter_start=18446744073709551615",
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("20 of 20 requests failed"), "{stderr}");
    let result = read_json(&out_dir.join("cloud.json"));
    assert_eq!(result["rows"][0]["outside"]["error_rate"], 1.0, "{result}");
    assert!(stderr.contains("lambda-s3: destroyed"), "{stderr}");
    assert_eq!(env.pids().len(), 1);
    env.assert_all_destroyed();
}

#[test]
fn an_interrupt_mid_run_destroys_and_exits_130() {
    if terraform_missing() {
        return;
    }
    // Ctrl-C, and what `timeout` and service managers send.
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        interrupt_mid_run(signal);
    }
}

fn interrupt_mid_run(signal: nix::sys::signal::Signal) {
    let env = Env::new();
    let mut child = env
        .cloud("run", &["--only", "ec2", "--yes", "-n", "100000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _watchdog = Watchdog::new(child.id());
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    // Interrupt once the bench has begun: the row is up and under load.
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        let measuring = line.contains("measuring");
        seen.push(line);
        if measuring {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("measuring")),
        "the run ended before its bench: {seen:#?}"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, signal).expect("signal");
    // The rest of stderr, until the process closes it by exiting.
    seen.extend(lines.map(|l| l.expect("stderr line")));
    let status = child.wait().expect("wait");
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{signal}: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("ec2: destroyed"), "{stderr}");
    assert_eq!(env.pids().len(), 1);
    env.assert_all_destroyed();
}

#[test]
fn an_interrupt_during_apply_stops_terraform_and_destroys_what_it_made() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let mut child = env
        .cloud(
            "run",
            &["--only", "ec2", "--yes", "--var", "hold_apply=true"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _watchdog = Watchdog::new(child.id());
    // The stand-in's apply writes this once its server is up and it starts to hang.
    // Bounded: 600 looks 0.1 s apart (60 s), and the run must still be going.
    let holding = env.run_dir().join("ec2.holding");
    let mut looks = 0;
    while !holding.exists() {
        assert!(looks < 600, "the apply never reached its hanging half");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the run ended before its apply hung"
        );
        looks += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("ec2: destroyed"), "{stderr}");
    // The server and the hanging provisioner: both recorded, both gone.
    let rows: Vec<String> = env.pids().into_iter().map(|(row, _)| row).collect();
    assert_eq!(rows, ["ec2", "ec2-hold"]);
    env.assert_all_destroyed();
}

#[test]
fn plan_prints_what_would_be_created_and_its_cost_and_creates_nothing() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let out = env.output(
        "plan",
        &[
            "--only",
            "fargate-efs,lambda-dynamodb",
            "--sheet",
            "original-era",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("To create in eu-west-2"), "{stdout}");
    assert!(stdout.contains("sheet `original-era`"), "{stdout}");
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no {id} line in {stdout}"))
            .to_owned()
    };
    assert!(
        line("fargate-efs").contains("1 resource to create: terraform_data"),
        "{stdout}"
    );
    // The cost model's rows: a monthly floor for Fargate, per call for Lambda.
    assert!(stdout.contains("a month while deployed"), "{stdout}");
    assert!(stdout.contains("no charge while idle"), "{stdout}");
    assert!(env.pids().is_empty());
    assert!(env.non_empty_workspaces().is_empty());
}

/// The cost guard on a terminal: `script` (util-linux) gives `latency` a pseudo-terminal
/// whose input is the answer written to `script`'s stdin.
#[test]
fn on_a_terminal_the_cost_guard_asks_and_creates_only_on_yes() {
    if terraform_missing() {
        return;
    }
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux) is missing: apt-get install bsdutils"
    );
    let env = Env::new();
    let answer = |reply: &str| {
        let cmd = env.cloud("up", &["--only", "ec2"]);
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
            .collect();
        let mut script = Command::new("script");
        script
            .args(["-qec", &line.join(" "), "/dev/null"])
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .current_dir(env.tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = script.spawn().expect("script");
        std::io::Write::write_all(
            child.stdin.as_mut().expect("stdin"),
            format!("{reply}\n").as_bytes(),
        )
        .expect("answer");
        let out = child.wait_with_output().expect("wait");
        (out.status.code(), text(&out.stdout))
    };
    let (code, screen) = answer("n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("Create 1 row now? [y/N]"), "{screen}");
    assert!(screen.contains("nothing was created"), "{screen}");
    assert!(env.pids().is_empty());
    assert!(env.non_empty_workspaces().is_empty());
    let (code, screen) = answer("y");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("ec2: up at http://127.0.0.1:"), "{screen}");
    assert_eq!(env.non_empty_workspaces(), ["ec2"]);
    let out = env.output("down", &["--only", "ec2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.assert_all_destroyed();
}

#[test]
fn without_a_terminal_or_yes_nothing_is_created() {
    if terraform_missing() {
        return;
    }
    let env = Env::new();
    let out = env.output("run", &["--only", "ec2"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--yes") && stderr.contains("no terminal"),
        "{stderr}"
    );
    // The cost was shown first, and nothing was started or recorded in a state.
    assert!(stderr.contains("To create in eu-west-2"), "{stderr}");
    assert!(env.pids().is_empty());
    assert!(env.non_empty_workspaces().is_empty());
}

#[test]
fn only_takes_deployable_architecture_ids() {
    // Parsing comes before Terraform: no terraform needed.
    let env = Env::new();
    let out = env.output("run", &["--only", "ec2,kubernetes-kops", "--yes"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kubernetes-kops") && stderr.contains("fargate-efs"),
        "{stderr}"
    );
    let out = env.output(
        "up",
        &["--only", "lambda-s3?mode=read-modify-write", "--yes"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a deployable row"), "{stderr}");
    assert!(env.pids().is_empty());
}

#[test]
fn an_unreadable_lab_file_fails_before_anything_is_created() {
    let env = Env::new();
    let missing = env.tmp.path().join("no-such-lab.json");
    let out = env.output(
        "run",
        &[
            "--only",
            "ec2",
            "--yes",
            "--prediction",
            missing.to_str().expect("utf-8"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-lab.json"), "{stderr}");
    assert!(!stderr.contains("To create"), "no plan was made: {stderr}");
    assert!(env.pids().is_empty());
    assert!(!env.state().exists(), "terraform was not even initialised");
}

#[test]
fn help_teaches_with_an_example_and_says_where_state_lives() {
    let out = Command::new(LATENCY)
        .args(["cloud", "--help"])
        .output()
        .expect("help");
    let help = text(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "latency cloud run --only lambda-dynamodb,fargate-efs --region eu-west-2",
        "~/.local/state/latency/cloud",
        "--yes",
        "Exit codes:",
    ] {
        assert!(help.contains(needle), "`{needle}` missing from:\n{help}");
    }
}
