//! CPU and memory budgets through cgroup v1, checked from outside: the process's own
//! /proc/<pid>/cgroup names the group, whose files hold the quota and limit.

mod support;

use std::path::PathBuf;

use latency_platform::{CpuBudget, FunctionSpec, Platform, PlatformConfig, Throttling};
use serde_json::json;
use support::*;

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
        let platform = Platform::start(vec![
            FunctionSpec::new("lambda128", TEST_FUNCTION),
            FunctionSpec::new("fargate", TEST_FUNCTION)
                .memory_mb(512)
                .cpu_budget(CpuBudget::Vcpu(0.25)),
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
        let (cpu_parent, memory_parent) = platform.cgroup_dirs().expect("cgroup dirs");

        let outcome = platform
            .invoke("lambda128", json(json!({"op": "alloc", "mb": 16})))
            .await
            .expect("invoke");
        let pid = pid_of(&outcome);
        let cpu = cgroup_dir(pid, "cpu");
        let memory = cgroup_dir(pid, "memory");
        assert!(
            cpu.starts_with(&cpu_parent),
            "{} in {}",
            cpu.display(),
            cpu_parent.display()
        );
        assert!(memory.starts_with(&memory_parent));
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(
            read(cpu.join("cpu.cfs_quota_us")),
            "7236",
            "128 MB / 1769 MB of a vCPU"
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
