//! CPU and memory budgets through cgroups, checked from outside on this machine's real
//! hierarchy (cgroup v1 here; the v2 file formats are unit-tested on a scratch directory
//! in `src/cgroup.rs`): the process's own /proc/<pid>/cgroup names the group, whose files
//! hold the quota and limit.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use latency_platform::cgroup::{CgroupParent, CgroupRoot, CpuQuota, Limits, remove_stale};
use latency_platform::{CpuBudget, FunctionSpec, Platform, PlatformConfig, Throttling};
use serde_json::json;
use support::*;

/// The per-invocation timeout of the throttled functions here: they run on their real
/// CPU budgets, which a loaded machine can stretch past Lambda's 3 s default.
const LOADED_MACHINE_TIMEOUT: Duration = Duration::from_secs(30);

/// The directory of `pid`'s cgroup for `controller`, assuming the usual
/// `/sys/fs/cgroup/<controller>` mount.
fn cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("/proc/pid/cgroup");
    let path = text
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _ = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_owned())
        })
        .expect("controller listed");
    PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"))
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_written_to_the_instance_cgroup() {
    guarded(async {
        // The budgets are real (0.072 vCPU for lambda128), so on a loaded CI machine an
        // invocation can outlast Lambda's default 3 s timeout (seen once: the 16 MB alloc
        // timed out while other builds ran). This test checks the cgroup files, not speed.
        let platform = Platform::start(vec![
            FunctionSpec::new("lambda128", TEST_FUNCTION).timeout(LOADED_MACHINE_TIMEOUT),
            FunctionSpec::new("fargate", TEST_FUNCTION)
                .timeout(LOADED_MACHINE_TIMEOUT)
                .memory_mb(512)
                .cpu_budget(CpuBudget::Vcpu(0.25))
                .cpu_period(Duration::from_millis(100)),
        ])
        .expect("platform");
        match platform.throttling().clone() {
            Throttling::Unavailable(reason) => {
                eprintln!("cgroups unavailable here ({reason}); checking that functions still run");
                let outcome = platform
                    .invoke("lambda128", json(json!({"op": "echo"})))
                    .await
                    .expect("invoke");
                body(&outcome);
                platform.shutdown().await;
                return;
            }
            Throttling::Applied => {}
        }
        let dirs = platform.cgroup_dirs().expect("cgroup dirs");
        let [cpu_parent, memory_parent] = dirs.as_slice() else {
            panic!("this machine runs cgroup v1: two parent dirs, got {dirs:?}");
        };
        let note = platform.budget_note("lambda128").expect("note");
        assert_eq!(
            note,
            "lambda128: 128 MB, 0.072 vCPU as 1447 µs per 20 ms CFS period, memory limit 128 MB (cgroup v1)"
        );

        let outcome = platform
            .invoke("lambda128", json(json!({"op": "alloc", "mb": 16})))
            .await
            .expect("invoke");
        let pid = pid_of(&outcome);
        let cpu = cgroup_dir(pid, "cpu");
        let memory = cgroup_dir(pid, "memory");
        assert!(
            cpu.starts_with(cpu_parent),
            "{} in {}",
            cpu.display(),
            cpu_parent.display()
        );
        assert!(memory.starts_with(memory_parent));
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "20000", "Lambda's 20 ms");
        assert_eq!(
            read(cpu.join("cpu.cfs_quota_us")),
            "1447",
            "128 MB / 1769 MB of a vCPU, per 20 ms"
        );
        assert_eq!(
            read(memory.join("memory.limit_in_bytes")),
            (128u64 << 20).to_string()
        );

        let outcome = platform
            .invoke("fargate", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        let cpu = cgroup_dir(pid_of(&outcome), "cpu");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "25000");

        platform.shutdown().await;
        assert!(!cpu_parent.exists(), "cpu cgroup removed");
        assert!(!memory_parent.exists(), "memory cgroup removed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgroups_can_be_turned_off() {
    guarded(async {
        let config = PlatformConfig {
            use_cgroups: false,
            ..PlatformConfig::default()
        };
        let platform = Platform::start_with(config, vec![FunctionSpec::new("free", TEST_FUNCTION)])
            .expect("platform");
        assert_eq!(
            platform.throttling(),
            &Throttling::Unavailable("turned off".into())
        );
        assert!(platform.cgroup_dirs().is_none());
        let outcome = platform
            .invoke("free", json(json!({"op": "echo"})))
            .await
            .expect("invoke");
        body(&outcome);
        platform.shutdown().await;
    })
    .await;
}

/// A pid that belonged to a process which has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn children_outlive_a_dropped_parent_and_the_parent_goes_last() {
    let root = CgroupRoot::detect().expect("cgroups on this machine");
    let parent = match CgroupParent::create("latency-test") {
        Ok(parent) => parent,
        Err(err) => panic!("cgroups must be writable for this test (run as root): {err}"),
    };
    let dirs = parent.dirs().to_vec();
    let limits = Limits {
        cpu: Some(CpuQuota::for_lambda_memory(128)),
        memory_bytes: Some(64 << 20),
    };
    let child = parent.child("c", &limits).expect("child");
    let child_files: Vec<PathBuf> = child.limit_files().into_iter().map(|(p, _)| p).collect();
    // The owner drops the parent first (the order that used to leave both behind).
    drop(parent);
    assert!(
        dirs.iter().all(|d| d.exists()),
        "the parent waits for its child"
    );
    drop(child);
    assert!(child_files.iter().all(|f| !f.exists()));
    assert!(dirs.iter().all(|d| !d.exists()), "both removed: {dirs:?}");
    drop(root);
}

#[test]
fn a_later_run_removes_what_a_killed_run_left() {
    let root = CgroupRoot::detect().expect("cgroups on this machine");
    let dead = dead_pid();
    let bases: Vec<PathBuf> = match &root {
        CgroupRoot::V1 { cpu, memory } => vec![cpu.clone(), memory.clone()],
        CgroupRoot::V2 { dir } => vec![dir.clone()],
    };
    let mut left = Vec::new();
    for base in &bases {
        let dir = base.join(format!("latency-platform-{dead}-0"));
        std::fs::create_dir(&dir).expect("create a stale parent");
        std::fs::create_dir(dir.join("fn-0")).expect("and a child below it");
        left.push(dir);
    }
    // One of our own, alive: must stay.
    let mine = CgroupParent::create("latency-test").expect("own parent");
    // Another test in this binary may run its first CgroupParent::create (which removes
    // stale cgroups too) at the same moment: what matters is that they are gone.
    let removed = remove_stale(&root);
    for dir in &left {
        assert!(!dir.exists(), "{} removed ({removed:?})", dir.display());
    }
    assert!(
        mine.dirs().iter().all(|d| d.exists()),
        "a live owner's cgroups stay"
    );
}

/// Regression (issue 13, Python and JavaScript rows timing out at 32 connections): every
/// instance competes with the rest of the machine as one process would. Before, the
/// platform's parent cgroup kept the default weight, so 32 instances together weighed as
/// one process and each got a sliver of a busy machine, far below its quota. Also checks
/// that prewarmed instances serve the next invocations warm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_weighs_as_one_process_and_prewarmed_instances_start_warm() {
    guarded(async {
        let platform = Platform::start(vec![
            FunctionSpec::new("weigh", TEST_FUNCTION)
                .timeout(LOADED_MACHINE_TIMEOUT)
                .max_concurrency(3),
        ])
        .expect("platform");
        if let Throttling::Unavailable(reason) = platform.throttling().clone() {
            eprintln!("cgroups unavailable here ({reason}); nothing to weigh");
            return;
        }
        let dirs = platform.cgroup_dirs().expect("cgroup dirs");
        let shares = dirs[0].join("cpu.shares");

        let started = platform.prewarm("weigh", 5, 2).await.expect("prewarm");
        assert_eq!(started, 3, "at most the concurrency limit");
        let instances = platform.instances("weigh");
        assert_eq!(instances.len(), 3);
        assert!(instances.iter().all(|i| i.idle), "{instances:?}");
        assert_eq!(platform.cold_starts("weigh"), 3);
        assert_eq!(read(shares.clone()), "3072", "3 instances × 1024");
        assert_eq!(
            platform
                .prewarm("weigh", 3, 2)
                .await
                .expect("prewarm again"),
            0,
            "already warm"
        );

        let release = release_file("weigh");
        let payload = json(json!({"op": "wait", "file": release, "max_ms": 30_000}));
        let calls: Vec<_> = (0..3)
            .map(|_| {
                let (handle, payload) = (platform.handle(), payload.clone());
                tokio::spawn(async move { handle.invoke("weigh", payload).await })
            })
            .collect();
        wait_until("3 invocations in flight", || {
            platform.instances("weigh").iter().all(|i| !i.idle)
        })
        .await;
        std::fs::write(&release, b"go").expect("release");
        for call in calls {
            let outcome = call.await.expect("join").expect("invoke");
            body(&outcome);
            assert!(!outcome.report.cold_start, "served by a prewarmed instance");
        }
        assert_eq!(platform.cold_starts("weigh"), 3, "no further cold start");
        let _ = std::fs::remove_file(&release);
        platform.shutdown().await;
    })
    .await;
}
