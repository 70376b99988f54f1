//! `latency lab` ended by SIGINT, SIGTERM and SIGKILL: real processes, real signals, the
//! machine's Redis and cgroups. After each, nothing of that lab run may remain: no
//! process it started, no cgroup directory, no Redis key. SIGINT and SIGTERM also write
//! what was measured.
//!
//! Needs Redis on 127.0.0.1:6379 and, for the function row, dynalite under `.cache/`
//! (`scripts/services install`; the test command runs it).

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::lab::{cgroups_of, redis_keys_of};
use common::latency;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the lab may take to get a row going (dynalite and the function's first
/// instance start on a busy machine).
const DEADLINE: Duration = Duration::from_secs(90);

/// How long a dead lab's leftovers may take to go.
const LEFTOVER_DEADLINE: Duration = Duration::from_secs(30);

/// One lab at a time: every lab run also sweeps what dead runs left, so a second lab
/// running beside the one under test would clean up for it and hide a failure.
static ONE_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The lab, killed (SIGKILL) if a test fails before it ends.
struct Lab {
    child: Child,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lab {
    /// `latency lab` on `rows` with `n` requests per sequential run; the test ends it
    /// with a signal.
    fn start(rows: &str, n: u64, out: &Path) -> Lab {
        let child = latency()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["lab", "-c", "4", "--only", rows, "-n"])
            .arg(n.to_string())
            .arg("--out")
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latency lab");
        Lab { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("signal the lab");
    }

    /// Waits (bounded) for the lab to exit; returns its exit code (`None` if killed) and
    /// its stderr.
    fn wait(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the lab did not exit after the signal"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code(), stderr)
    }
}

/// Polls `condition` every 50 ms until it holds or `deadline` passes.
fn eventually(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `(pid, ppid, state)` of every process.
fn processes() -> Vec<(u32, u32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid, state))
        })
        .collect()
}

/// Every live descendant of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            all.iter()
                .filter(|(_, ppid, state)| *ppid == parent && *state != 'Z')
                .map(|(pid, _, _)| *pid),
        );
        index += 1;
    }
    found.remove(0);
    found
}

fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

fn alive(pid: u32) -> bool {
    processes()
        .iter()
        .any(|(p, _, state)| *p == pid && *state != 'Z')
}

/// Runs a lab on `rows` with `n` requests per run, waits until `busy(lab pid, its
/// descendants)` says it is measuring, sends `signal`, and checks that nothing of it
/// remains. Returns its exit code and stderr.
fn end_lab_with(
    signal: Signal,
    rows: &str,
    n: u64,
    busy: impl Fn(u32, &[u32]) -> bool,
    out: &Path,
) -> (Option<i32>, String) {
    let _one_lab = ONE_LAB
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lab = Lab::start(rows, n, out);
    let pid = lab.pid();
    let mut children = Vec::new();
    eventually("the lab to be measuring its row", DEADLINE, || {
        children = descendants(pid);
        busy(pid, &children)
    });
    assert!(
        !cgroups_of(pid).is_empty(),
        "the row should run in cgroups while it is measured"
    );
    lab.signal(signal);
    let (code, stderr) = lab.wait();
    eventually(
        "every process the lab started to exit",
        LEFTOVER_DEADLINE,
        || children.iter().all(|child| !alive(*child)),
    );
    eventually("the lab's cgroups to be removed", LEFTOVER_DEADLINE, || {
        cgroups_of(pid).is_empty()
    });
    eventually(
        "the lab's Redis keys to be deleted",
        LEFTOVER_DEADLINE,
        || redis_keys_of(pid).is_empty(),
    );
    (code, stderr)
}

/// The k8s row is measuring: three `latency serve` replicas are up and the shared Redis
/// counter has been counted.
fn k8s_busy(lab: u32, children: &[u32]) -> bool {
    children
        .iter()
        .filter(|pid| command_line(**pid).contains(" serve "))
        .count()
        >= 3
        && !redis_keys_of(lab).is_empty()
}

/// A function row is measuring: an instance of the Lambda binary runs.
fn function_busy(_lab: u32, children: &[u32]) -> bool {
    children
        .iter()
        .any(|pid| command_line(*pid).contains("latency-lambda"))
}

fn assert_interrupted_and_written(code: Option<i32>, stderr: &str, out: &Path) {
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md written");
    assert!(
        markdown.contains("interrupted before it finished"),
        "{markdown}"
    );
    assert!(out.join("report.html").is_file());
}

/// ec2 runs to the end (3,000 + 6,000 requests) before k8s starts; SIGINT arrives
/// while k8s is measuring. The finished row's Reports are written, the interrupted row
/// is listed as such, and nothing of the run remains.
#[test]
fn sigint_stops_every_child_and_writes_the_finished_rows() {
    let out = tempfile::tempdir().expect("temp dir");
    let (code, stderr) = end_lab_with(Signal::SIGINT, "ec2,k8s", 3000, k8s_busy, out.path());
    assert_interrupted_and_written(code, &stderr, out.path());
    assert!(out.path().join("ec2-sequential.json").is_file(), "{stderr}");
    assert!(out.path().join("ec2-concurrent.json").is_file(), "{stderr}");
    assert!(!out.path().join("k8s-sequential.json").exists());
}

/// More requests than a run will finish before the test's signal ends it.
const UNFINISHED: u64 = 100_000_000;

/// [`end_lab_with`] on the lambda-dynamodb row (dynalite and function instances).
fn end_function_row_with(signal: Signal, out: &Path) -> (Option<i32>, String) {
    end_lab_with(signal, "lambda-dynamodb", UNFINISHED, function_busy, out)
}

#[test]
fn sigterm_stops_a_function_row_and_its_store() {
    let out = tempfile::tempdir().expect("temp dir");
    let (code, stderr) = end_function_row_with(Signal::SIGTERM, out.path());
    assert_interrupted_and_written(code, &stderr, out.path());
}

/// SIGKILL runs no handler: the children die with the lab (PR_SET_PDEATHSIG), and the
/// lab's reaper removes its cgroups and Redis keys.
#[test]
fn sigkill_leaves_no_server_cgroup_or_redis_key() {
    let out = tempfile::tempdir().expect("temp dir");
    let (code, _) = end_lab_with(Signal::SIGKILL, "k8s", UNFINISHED, k8s_busy, out.path());
    assert_eq!(code, None, "killed by a signal");
}

/// A frozen function instance ignores its parent's death until thawed; the reaper kills
/// what is left in the dead lab's cgroups.
#[test]
fn sigkill_leaves_no_function_instance_or_store() {
    let out = tempfile::tempdir().expect("temp dir");
    let (code, _) = end_function_row_with(Signal::SIGKILL, out.path());
    assert_eq!(code, None, "killed by a signal");
}
