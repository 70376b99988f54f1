//! CPU and memory budgets through cgroup v1, so that local processes get the share of a
//! machine the cloud would give them.
//!
//! Lambda gives a function CPU in proportion to its memory (1,769 MB buys one vCPU), a
//! Fargate task a fixed vCPU share and a Kubernetes pod a millicore limit. All of them are
//! a CFS bandwidth quota underneath; this module writes the same quota
//! (`cpu.cfs_quota_us` / `cpu.cfs_period_us`) and memory limit
//! (`memory.limit_in_bytes`) for local processes.
//!
//! Layout: one [`CgroupParent`] per owner (a platform, a lab row), created with a unique name
//! *under the cgroup the current process already lives in* (so the caller's own limits
//! still apply), and one [`Cgroup`] per process below it. Both are removed when dropped.
//!
//! Where the controllers are not mounted or not writable, [`CgroupParent::create`] fails with
//! a [`CgroupError`] whose text says why; callers run unthrottled and report
//! [`Throttling::Unavailable`].

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Lambda's memory size that buys exactly one vCPU.
pub const LAMBDA_MB_PER_VCPU: f64 = 1769.0;

/// The CFS period used when none is given: the Linux, Docker and Kubernetes default.
pub const DEFAULT_CFS_PERIOD_US: u64 = 100_000;

/// The smallest quota the kernel accepts (1 ms).
const MIN_CFS_QUOTA_US: u64 = 1_000;

/// Whether CPU and memory budgets are being enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttling {
    /// Budgets are written to cgroups and enforced by the kernel.
    Applied,
    /// Processes run unthrottled; the text says why (for the report).
    Unavailable(String),
}

impl Throttling {
    /// `true` when budgets are enforced.
    pub fn is_applied(&self) -> bool {
        matches!(self, Throttling::Applied)
    }
}

impl fmt::Display for Throttling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Throttling::Applied => f.write_str("applied (cgroup v1 cpu + memory)"),
            Throttling::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

/// A CFS bandwidth limit: `quota_us` of CPU time per `period_us` of wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    /// CPU time allowed per period, in microseconds (at least 1,000).
    pub quota_us: u64,
    /// Period length in microseconds.
    pub period_us: u64,
}

impl CpuQuota {
    /// The quota for `vcpu` CPUs (0.25 for a Fargate 0.25 vCPU task, 0.25 for a `250m`
    /// Kubernetes limit) over the default 100 ms period. Values below the kernel's minimum
    /// of 1 ms per period are raised to it.
    pub fn from_vcpu(vcpu: f64) -> CpuQuota {
        CpuQuota::from_vcpu_with_period(vcpu, DEFAULT_CFS_PERIOD_US)
    }

    /// As [`CpuQuota::from_vcpu`], with an explicit period.
    pub fn from_vcpu_with_period(vcpu: f64, period_us: u64) -> CpuQuota {
        let raw = (vcpu.max(0.0) * period_us as f64).round() as u64;
        CpuQuota {
            quota_us: raw.max(MIN_CFS_QUOTA_US),
            period_us,
        }
    }

    /// Lambda's share for a function of `memory_mb`: `memory_mb / 1769` vCPU.
    pub fn for_lambda_memory(memory_mb: u32) -> CpuQuota {
        CpuQuota::from_vcpu(lambda_vcpu(memory_mb))
    }

    /// The share of one CPU this quota grants.
    pub fn vcpu(&self) -> f64 {
        self.quota_us as f64 / self.period_us as f64
    }
}

/// The vCPU share Lambda gives a function of `memory_mb` (1,769 MB = 1 vCPU).
pub fn lambda_vcpu(memory_mb: u32) -> f64 {
    f64::from(memory_mb) / LAMBDA_MB_PER_VCPU
}

/// The limits written for one cgroup. `None` leaves that controller unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The CPU quota, or `None` for no CPU limit.
    pub cpu: Option<CpuQuota>,
    /// The memory limit in bytes, or `None` for no memory limit.
    pub memory_bytes: Option<u64>,
}

/// Why a cgroup could not be created, configured or removed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The cgroup v1 hierarchy for a controller is not mounted (e.g. a cgroup v2-only host).
    #[error("the cgroup v1 `{controller}` controller is not mounted")]
    NotMounted {
        /// The controller, `cpu` or `memory`.
        controller: &'static str,
    },
    /// A cgroup file or directory could not be read, created or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Where the `cpu` and `memory` controllers of the current process live.
#[derive(Debug, Clone)]
struct Hierarchy {
    cpu: PathBuf,
    memory: PathBuf,
}

impl Hierarchy {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup` to find, for each controller, the
    /// directory of the cgroup this process belongs to.
    fn detect() -> Result<Hierarchy, CgroupError> {
        let mountinfo_path = Path::new("/proc/self/mountinfo");
        let mountinfo =
            fs::read_to_string(mountinfo_path).map_err(io_err("read", mountinfo_path))?;
        let cgroup_path = Path::new("/proc/self/cgroup");
        let membership = fs::read_to_string(cgroup_path).map_err(io_err("read", cgroup_path))?;
        Ok(Hierarchy {
            cpu: controller_dir(&mountinfo, &membership, "cpu")?,
            memory: controller_dir(&mountinfo, &membership, "memory")?,
        })
    }
}

/// The directory of this process's cgroup for `controller`, from mountinfo and
/// /proc/self/cgroup text.
fn controller_dir(
    mountinfo: &str,
    membership: &str,
    controller: &'static str,
) -> Result<PathBuf, CgroupError> {
    // mountinfo: id parent maj:min root mount-point opts ... - fstype source super-opts
    let (root, mount_point) = mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split_whitespace();
            if right.next()? != "cgroup" {
                return None;
            }
            let super_opts = right.nth(1)?;
            if !super_opts.split(',').any(|opt| opt == controller) {
                return None;
            }
            let mut left = left.split_whitespace();
            let root = left.nth(3)?;
            let mount_point = left.next()?;
            Some((root.to_owned(), PathBuf::from(mount_point)))
        })
        .ok_or(CgroupError::NotMounted { controller })?;
    // /proc/self/cgroup: hierarchy-id:controller-list:path
    let own = membership
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_owned())
        })
        .unwrap_or_else(|| "/".to_owned());
    // Inside a container the mount's root may already be the process's own group.
    let relative = own
        .strip_prefix(root.as_str())
        .unwrap_or(own.as_str())
        .trim_start_matches('/');
    Ok(mount_point.join(relative))
}

/// A group of cgroups (one per controller) owned by one platform or lab row; the
/// per-process [`Cgroup`]s are created below it. Removed, best effort, when dropped.
#[derive(Debug)]
pub struct CgroupParent {
    cpu: PathBuf,
    memory: PathBuf,
    next_child: AtomicU64,
}

static PARENT_SEQ: AtomicU64 = AtomicU64::new(0);

impl CgroupParent {
    /// Creates `<prefix>-<pid>-<n>` under this process's own `cpu` and `memory` cgroups.
    /// The name is unique per process and call, so several owners never collide.
    ///
    /// # Errors
    /// [`CgroupError::NotMounted`] when a controller is missing, [`CgroupError::Io`] when the
    /// directory cannot be created (read-only hierarchy, no permission).
    pub fn create(prefix: &str) -> Result<CgroupParent, CgroupError> {
        let hierarchy = Hierarchy::detect()?;
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            PARENT_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let cpu = hierarchy.cpu.join(&name);
        fs::create_dir(&cpu).map_err(io_err("create", &cpu))?;
        let memory = hierarchy.memory.join(&name);
        if let Err(err) = fs::create_dir(&memory) {
            let _ = fs::remove_dir(&cpu);
            return Err(io_err("create", &memory)(err));
        }
        Ok(CgroupParent {
            cpu,
            memory,
            next_child: AtomicU64::new(0),
        })
    }

    /// The parent's directories, `(cpu, memory)`.
    pub fn paths(&self) -> (&Path, &Path) {
        (&self.cpu, &self.memory)
    }

    /// Creates a child cgroup named `<name>-<n>` with `limits` written.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when a directory cannot be created or a limit cannot be written;
    /// nothing is left behind in that case.
    pub fn child(&self, name: &str, limits: &Limits) -> Result<Cgroup, CgroupError> {
        let name = format!("{name}-{}", self.next_child.fetch_add(1, Ordering::Relaxed));
        let cpu = self.cpu.join(&name);
        fs::create_dir(&cpu).map_err(io_err("create", &cpu))?;
        let memory = self.memory.join(&name);
        if let Err(err) = fs::create_dir(&memory) {
            let _ = fs::remove_dir(&cpu);
            return Err(io_err("create", &memory)(err));
        }
        let group = Cgroup { cpu, memory };
        group.write_limits(limits)?;
        Ok(group)
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        remove_dir_retrying(&self.cpu);
        remove_dir_retrying(&self.memory);
    }
}

/// One process's cgroup in the `cpu` and `memory` hierarchies. Removed, best effort, when
/// dropped; removal succeeds once every process in it has exited.
#[derive(Debug)]
pub struct Cgroup {
    cpu: PathBuf,
    memory: PathBuf,
}

impl Cgroup {
    fn write_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        if let Some(quota) = limits.cpu {
            // The period first: a quota is validated against the current period.
            write_file(&self.cpu.join("cpu.cfs_period_us"), quota.period_us)?;
            write_file(&self.cpu.join("cpu.cfs_quota_us"), quota.quota_us)?;
        }
        if let Some(bytes) = limits.memory_bytes {
            write_file(&self.memory.join("memory.limit_in_bytes"), bytes)?;
        }
        Ok(())
    }

    /// Moves process `pid` (all its threads) into this cgroup.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when `cgroup.procs` cannot be written (e.g. the process is gone).
    pub fn add_process(&self, pid: u32) -> Result<(), CgroupError> {
        write_file(&self.cpu.join("cgroup.procs"), pid)?;
        write_file(&self.memory.join("cgroup.procs"), pid)
    }

    /// The `cpu.cfs_quota_us` file of this cgroup.
    pub fn cpu_quota_file(&self) -> PathBuf {
        self.cpu.join("cpu.cfs_quota_us")
    }

    /// The `cpu.cfs_period_us` file of this cgroup.
    pub fn cpu_period_file(&self) -> PathBuf {
        self.cpu.join("cpu.cfs_period_us")
    }

    /// The `memory.limit_in_bytes` file of this cgroup.
    pub fn memory_limit_file(&self) -> PathBuf {
        self.memory.join("memory.limit_in_bytes")
    }

    /// The peak memory use of the processes in this cgroup, in bytes
    /// (`memory.max_usage_in_bytes`), or `None` when it cannot be read.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        fs::read_to_string(self.memory.join("memory.max_usage_in_bytes"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many processes the memory controller killed for exceeding the limit
    /// (`oom_kill` in `memory.oom_control`; 0 when unknown).
    pub fn oom_kills(&self) -> u64 {
        fs::read_to_string(self.memory.join("memory.oom_control"))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    line.strip_prefix("oom_kill ")
                        .and_then(|n| n.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        remove_dir_retrying(&self.cpu);
        remove_dir_retrying(&self.memory);
    }
}

fn write_file(path: &Path, value: impl fmt::Display) -> Result<(), CgroupError> {
    fs::write(path, value.to_string()).map_err(io_err("write", path))
}

/// Removes a cgroup directory. A just-killed process may still be leaving the group, in
/// which case the kernel answers EBUSY for a moment: retry a bounded number of times.
fn remove_dir_retrying(path: &Path) {
    for _ in 0..50 {
        match fs::remove_dir(path) {
            Ok(()) => return,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    tracing::warn!(path = %path.display(), "cgroup left behind: still busy");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_128_mb_gets_about_seven_percent() {
        let quota = CpuQuota::for_lambda_memory(128);
        assert_eq!(quota.period_us, 100_000);
        assert_eq!(quota.quota_us, 7_236);
        assert_eq!(CpuQuota::for_lambda_memory(1769).quota_us, 100_000);
        assert_eq!(CpuQuota::from_vcpu(0.25).quota_us, 25_000);
        assert_eq!(CpuQuota::from_vcpu(0.0001).quota_us, 1_000);
    }

    #[test]
    fn controller_dir_joins_mount_and_membership() {
        let mountinfo = "\
35 30 0:31 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
36 30 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw";
        let membership = "4:memory:/process_api/abc\n1:cpu:/\n0::/";
        assert_eq!(
            controller_dir(mountinfo, membership, "cpu").ok(),
            Some(PathBuf::from("/sys/fs/cgroup/cpu"))
        );
        assert_eq!(
            controller_dir(mountinfo, membership, "memory").ok(),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
        );
        let combined = "35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct";
        assert_eq!(
            controller_dir(combined, "3:cpu,cpuacct:/x", "cpu").ok(),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/x"))
        );
        assert!(matches!(
            controller_dir(combined, "", "memory"),
            Err(CgroupError::NotMounted { .. })
        ));
    }
}
