//! Removing what earlier lab runs left behind when they were killed before they could
//! clean up (SIGKILL runs no handler): the processes still in their cgroups (a frozen
//! function instance, say), the cgroup directories and the Redis keys. A
//! resource is the lab's when its name carries a pid (`latency-lab-<pid>-…`, and the
//! platform's `latency-platform-<pid>-…` created inside the lab); it is removed only when
//! that process is gone, so labs running side by side never touch each other's.

use latency_platform::cgroup;

use crate::endpoints::sweep_dead_redis_keys;

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

/// Removes the dead runs' cgroup directories beside this process's own (the lab's
/// `latency-lab-<pid>-<n>` and the platform's `latency-platform-<pid>-<n>`, whose owners
/// are gone), killing what still runs inside, children first; returns how many top-level
/// directories went. Without cgroups there is nothing to remove.
pub(crate) fn remove_dead_cgroups() -> usize {
    cgroup::CgroupRoot::detect().map_or(0, |root| cgroup::remove_stale(&root).len())
}
