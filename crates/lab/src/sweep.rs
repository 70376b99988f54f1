//! Removing what earlier lab runs left behind when they were killed before they could
//! clean up (SIGKILL runs no handler): the processes still in their cgroups (a frozen
//! function instance, say), the cgroup directories and the Redis keys. A
//! resource is the lab's when its name carries a pid (`latency-lab-<pid>-…`, and the
//! platform's `latency-platform-<pid>-…` created inside the lab); it is removed only when
//! that process is gone, so labs running side by side never touch each other's.

use std::path::Path;

use latency_platform::cgroup::CgroupParent;

use crate::endpoints::sweep_dead_redis_keys;
use crate::launch::CGROUP_PREFIX;
use crate::process::{is_alive, owner_pid};

/// The cgroup prefixes of the lab and of the function platform it hosts.
const CGROUP_PREFIXES: [&str; 2] = [CGROUP_PREFIX, "latency-platform"];

/// Removes dead runs' processes, cgroups and Redis keys, and says so in one line when
/// there were any. Runs at the start of every lab run, and in the lab's reaper (see
/// [`crate::run_until`]) once the lab has exited, however it exited.
pub async fn remove_leftovers_of_dead_runs() {
    let cgroups = tokio::task::spawn_blocking(remove_dead_cgroups)
        .await
        .unwrap_or(0);
    let keys = sweep_dead_redis_keys().await;
    if cgroups + keys > 0 {
        tracing::info!(
            "removed what earlier, killed lab runs left: {cgroups} cgroup directories, {keys} Redis keys"
        );
    }
}

/// Removes the dead runs' cgroup directories beside this process's own (where
/// [`CgroupParent::create`] puts them), children first; returns how many top-level
/// directories went. Without writable cgroups there is nothing to remove.
pub(crate) fn remove_dead_cgroups() -> usize {
    // A throw-away parent shows where the lab's cgroups live in each hierarchy.
    let Ok(probe) = CgroupParent::create(CGROUP_PREFIX) else {
        return 0;
    };
    let roots: Vec<_> = probe
        .dirs()
        .iter()
        .filter_map(|path| path.parent().map(Path::to_path_buf))
        .collect();
    drop(probe);
    let mut removed = 0;
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dead = CGROUP_PREFIXES.iter().any(|prefix| {
                owner_pid(&name, &format!("{prefix}-")).is_some_and(|pid| !is_alive(pid))
            });
            if dead && entry.path().is_dir() && remove_cgroup_tree(&entry.path()) {
                removed += 1;
            }
        }
    }
    removed
}

/// Kills the processes in a cgroup directory and the cgroups below it, then removes them,
/// deepest first (a cgroup's control files go with its directory; only sub-directories
/// must be removed first).
fn remove_cgroup_tree(dir: &Path) -> bool {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs
        .lines()
        .filter_map(|line| line.trim().parse::<i32>().ok())
    {
        // SIGKILL also ends a stopped (frozen) process.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // A killed process leaves its cgroup a moment later: retry, bounded.
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return false,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    false
}
