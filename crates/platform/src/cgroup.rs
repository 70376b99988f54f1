//! CPU and memory budgets through cgroups (v1 or v2), so that local processes get the share
//! of a machine the cloud would give them.
//!
//! Lambda gives a function CPU in proportion to its memory: 1,769 MB buys one vCPU
//! ("Lambda allocates CPU power in proportion to the amount of memory configured … at
//! 1,769 MB, a function has the equivalent of one vCPU",
//! <https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>). It enforces
//! that share over a **20 ms** period: the public measurement
//! <https://github.com/pwrdrvr/lambda-throttling> shows a 128 MB function running for
//! about 1.4 ms out of every 20 ms. A Fargate task gets a fixed vCPU share and a Kubernetes
//! pod a millicore limit, both over the kernel's (and Kubernetes') default 100 ms period.
//! All of them are a CFS bandwidth quota underneath; this module writes the same quota
//! (v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, v2 `cpu.max`) and memory limit (v1
//! `memory.limit_in_bytes`, v2 `memory.max`) for local processes. A quota is never below
//! the kernel's minimum of 1 ms per period.
//!
//! Layout: one [`CgroupParent`] per owner (a platform, a lab row), created with a unique
//! name `<prefix>-<pid>-<n>` *under the cgroup the current process already lives in* (so
//! the caller's own limits still apply), and one [`Cgroup`] per process below it. A child
//! keeps its parent alive, so the parent directory is removed only after every child's,
//! whatever order the owner drops them in. Directories left by a run that was killed
//! (its pid is gone) are removed by the next [`CgroupParent::create`] in any process, which
//! says so in one log line.
//!
//! On cgroup v2 the parent must be able to hand `cpu` and `memory` to its children: as
//! root that is the case below the root; as a normal user it needs a delegated subtree
//! (`systemd-run --user -p Delegate=yes …`). A delegated cgroup holds the delegating
//! process itself, and v2 forbids processes in a cgroup that distributes controllers, so
//! the process first moves itself into a leaf `latency-self-<pid>` and moves back when
//! its last parent is dropped.
//!
//! Where none of this works, [`CgroupParent::create`] fails with a [`CgroupError`] whose
//! text says why and names the command that fixes it; callers run unthrottled and report
//! [`Throttling::Unavailable`].

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Lambda's memory size that buys exactly one vCPU. Source and date:
/// `crates/platform/data/lambda-cpu.toml` (a test keeps the two equal), as for every
/// Lambda CPU figure here.
pub const LAMBDA_MB_PER_VCPU: f64 = 1769.0;

/// The CPU an on-demand Lambda instance may use during init (spawn to its first `/next`),
/// whatever its memory: one full vCPU (see [`FunctionSpec::init_cpu_burst`](crate::FunctionSpec::init_cpu_burst)).
pub const LAMBDA_INIT_BURST_VCPU: f64 = 1.0;

/// The CFS period used when none is given: the Linux, Docker and Kubernetes default.
pub const DEFAULT_CFS_PERIOD_US: u64 = 100_000;

/// The smallest quota the kernel accepts (1 ms).
pub const MIN_CFS_QUOTA_US: u64 = 1_000;

/// The period over which Lambda enforces a function's CPU share: 20 ms. See the module
/// docs for the sources.
pub const LAMBDA_CFS_PERIOD: Duration = Duration::from_millis(20);

/// The kernel's bounds on a CFS period: 1 ms to 1 s.
const CFS_PERIOD_RANGE_US: std::ops::RangeInclusive<u64> = 1_000..=1_000_000;

/// Checks that `period` is a CFS period the kernel accepts (1 ms to 1 s).
///
/// # Errors
/// [`CgroupError::InvalidPeriod`] naming the period.
pub fn check_period(period: Duration) -> Result<(), CgroupError> {
    let us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
    if CFS_PERIOD_RANGE_US.contains(&us) {
        Ok(())
    } else {
        Err(CgroupError::InvalidPeriod { period })
    }
}

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
            Throttling::Applied => f.write_str("applied (cgroup cpu + memory)"),
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
        CpuQuota::from_vcpu_with_period(vcpu, Duration::from_micros(DEFAULT_CFS_PERIOD_US))
    }

    /// As [`CpuQuota::from_vcpu`], with an explicit period (whole microseconds; see
    /// [`check_period`] for the kernel's range).
    pub fn from_vcpu_with_period(vcpu: f64, period: Duration) -> CpuQuota {
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        let raw = (vcpu.max(0.0) * period_us as f64).round() as u64;
        CpuQuota {
            quota_us: raw.max(MIN_CFS_QUOTA_US),
            period_us,
        }
    }

    /// Lambda's share for a function of `memory_mb`: `memory_mb / 1769` vCPU over
    /// Lambda's 20 ms period.
    pub fn for_lambda_memory(memory_mb: u32) -> CpuQuota {
        CpuQuota::from_vcpu_with_period(lambda_vcpu(memory_mb), LAMBDA_CFS_PERIOD)
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
    /// A CFS period outside the kernel's range of 1 ms to 1 s.
    #[error("a CPU period of {period:?} is outside the kernel's range of 1 ms to 1 s")]
    InvalidPeriod {
        /// The period asked for.
        period: Duration,
    },
    /// Neither a cgroup v1 hierarchy for a controller nor a cgroup v2 hierarchy is mounted.
    #[error(
        "the `{controller}` cgroup controller is not mounted (neither cgroup v1 nor v2); mount cgroup2 on /sys/fs/cgroup"
    )]
    NotMounted {
        /// The controller, `cpu` or `memory`.
        controller: &'static str,
    },
    /// cgroup v2: this process's cgroup cannot hand `cpu`/`memory` to children.
    #[error(
        "cgroup v2: {dir} does not offer the {missing} controller to its children; run as root, or through a delegated subtree: systemd-run --user --scope -p Delegate=yes -- <command>"
    )]
    NotDelegated {
        /// This process's cgroup directory.
        dir: PathBuf,
        /// The missing controller(s).
        missing: String,
    },
    /// A cgroup file or directory could not be read, created or written.
    #[error(
        "cannot {action} {path}: {source} (run as root, or on cgroup v2 through a delegated subtree: systemd-run --user --scope -p Delegate=yes -- <command>)"
    )]
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

/// Which cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`cpu.cfs_quota_us`, `memory.limit_in_bytes`).
    V1,
    /// The unified hierarchy (`cpu.max`, `memory.max`).
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "cgroup v1",
            CgroupVersion::V2 => "cgroup v2",
        })
    }
}

/// Where new cgroups are created: this process's own cgroup, per controller (v1) or in
/// the unified hierarchy (v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupRoot {
    /// cgroup v1: the process's directories in the `cpu` and `memory` hierarchies.
    V1 {
        /// The `cpu` directory.
        cpu: PathBuf,
        /// The `memory` directory.
        memory: PathBuf,
    },
    /// cgroup v2: the process's directory in the unified hierarchy.
    V2 {
        /// The directory.
        dir: PathBuf,
    },
}

impl CgroupRoot {
    /// This process's cgroup, from `/proc/self/mountinfo` and `/proc/self/cgroup`. v1 is
    /// used when both its `cpu` and `memory` hierarchies are mounted (hybrid hosts mount an
    /// empty v2 hierarchy beside them), v2 otherwise.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when /proc cannot be read, [`CgroupError::NotMounted`].
    pub fn detect() -> Result<CgroupRoot, CgroupError> {
        let mountinfo_path = Path::new("/proc/self/mountinfo");
        let mountinfo =
            fs::read_to_string(mountinfo_path).map_err(io_err("read", mountinfo_path))?;
        let cgroup_path = Path::new("/proc/self/cgroup");
        let membership = fs::read_to_string(cgroup_path).map_err(io_err("read", cgroup_path))?;
        CgroupRoot::parse(&mountinfo, &membership)
    }

    /// [`CgroupRoot::detect`] on given mountinfo and /proc/self/cgroup text.
    ///
    /// # Errors
    /// [`CgroupError::NotMounted`].
    pub fn parse(mountinfo: &str, membership: &str) -> Result<CgroupRoot, CgroupError> {
        let v1 = (
            controller_dir(mountinfo, membership, "cpu"),
            controller_dir(mountinfo, membership, "memory"),
        );
        if let (Some(cpu), Some(memory)) = v1 {
            return Ok(CgroupRoot::V1 { cpu, memory });
        }
        unified_dir(mountinfo, membership)
            .map(|dir| CgroupRoot::V2 { dir })
            .ok_or(CgroupError::NotMounted { controller: "cpu" })
    }

    /// The interface this root speaks.
    pub fn version(&self) -> CgroupVersion {
        match self {
            CgroupRoot::V1 { .. } => CgroupVersion::V1,
            CgroupRoot::V2 { .. } => CgroupVersion::V2,
        }
    }

    /// The directories new parents are created in.
    fn dirs(&self) -> Vec<&Path> {
        match self {
            CgroupRoot::V1 { cpu, memory } => vec![cpu, memory],
            CgroupRoot::V2 { dir } => vec![dir],
        }
    }
}

/// Splits a mountinfo line into (root, mount point, fstype, super options).
fn mount_fields(line: &str) -> Option<(&str, &str, &str, &str)> {
    // id parent maj:min root mount-point opts ... - fstype source super-opts
    let (left, right) = line.split_once(" - ")?;
    let mut right = right.split_whitespace();
    let fstype = right.next()?;
    let super_opts = right.nth(1)?;
    let mut left = left.split_whitespace();
    let root = left.nth(3)?;
    let mount_point = left.next()?;
    Some((root, mount_point, fstype, super_opts))
}

/// `mount_point/own_path`, with the mount's own root stripped (inside a container the
/// mount's root may already be the process's own group).
fn join_own(root: &str, mount_point: &str, own: &str) -> PathBuf {
    let relative = own
        .strip_prefix(root)
        .unwrap_or(own)
        .trim_start_matches('/');
    Path::new(mount_point).join(relative)
}

/// The directory of this process's cgroup for the v1 `controller`, if that hierarchy is
/// mounted.
fn controller_dir(mountinfo: &str, membership: &str, controller: &str) -> Option<PathBuf> {
    let (root, mount_point) = mountinfo.lines().find_map(|line| {
        let (root, mount_point, fstype, super_opts) = mount_fields(line)?;
        (fstype == "cgroup" && super_opts.split(',').any(|opt| opt == controller))
            .then_some((root, mount_point))
    })?;
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
                .then_some(path)
        })
        .unwrap_or("/");
    Some(join_own(root, mount_point, own))
}

/// The directory of this process's cgroup in the v2 hierarchy, if mounted.
fn unified_dir(mountinfo: &str, membership: &str) -> Option<PathBuf> {
    let (root, mount_point) = mountinfo.lines().find_map(|line| {
        let (root, mount_point, fstype, _) = mount_fields(line)?;
        (fstype == "cgroup2").then_some((root, mount_point))
    })?;
    let own = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or("/");
    Some(join_own(root, mount_point, own))
}

/// The parent's directories; removed when the last [`Cgroup`] below it and the
/// [`CgroupParent`] itself are gone.
#[derive(Debug)]
struct ParentDirs {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
    /// v2 only: this parent holds a reference on the process's `latency-self` leaf.
    holds_leaf: bool,
    /// Live children; the parent's CPU weight follows it (see [`ParentDirs::reweigh`]).
    children: Mutex<usize>,
}

impl ParentDirs {
    /// Adds `delta` to the child count and sets the parent's CPU weight to one default
    /// process's weight per child (v1 `cpu.shares` 1024 each, v2 `cpu.weight` 100 each).
    ///
    /// Without this the whole group, however many processes it holds, competes with the
    /// rest of the machine as **one** process: 32 function instances then share one
    /// process's slice of a busy machine and each gets a fraction of its quota, which no
    /// cloud does (every Lambda instance, every pod, every task gets its own share).
    /// Best effort: a weight that cannot be written leaves the default.
    fn reweigh(&self, delta: isize) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        *children = children.saturating_add_signed(delta);
        let n = (*children).max(1) as u64;
        let (file, value) = match self.version {
            CgroupVersion::V1 => ("cpu.shares", (1024 * n).clamp(2, 262_144)),
            CgroupVersion::V2 => ("cpu.weight", (100 * n).clamp(1, 10_000)),
        };
        if let Some(dir) = self.dirs.first() {
            let _ = write_file(&dir.join(file), value);
        }
    }
}

impl Drop for ParentDirs {
    fn drop(&mut self) {
        for dir in &self.dirs {
            remove_cgroup_dir(dir);
        }
        if self.holds_leaf {
            release_self_leaf();
        }
    }
}

/// A group of cgroups owned by one platform or lab row; the per-process [`Cgroup`]s are
/// created below it. Removed, best effort, once it and every child are dropped.
#[derive(Debug)]
pub struct CgroupParent {
    dirs: Arc<ParentDirs>,
    next_child: AtomicU64,
}

static PARENT_SEQ: AtomicU64 = AtomicU64::new(0);

impl CgroupParent {
    /// Creates `<prefix>-<pid>-<n>` under this process's own cgroup
    /// ([`CgroupRoot::detect`]). The name is unique per process and call, so several
    /// owners never collide. The first call in a process also removes what killed runs
    /// left behind ([`remove_stale`]).
    ///
    /// # Errors
    /// [`CgroupError::NotMounted`] when no usable hierarchy is mounted,
    /// [`CgroupError::NotDelegated`] on a v2 cgroup without the controllers, and
    /// [`CgroupError::Io`] when a directory cannot be created (no permission).
    pub fn create(prefix: &str) -> Result<CgroupParent, CgroupError> {
        let root = CgroupRoot::detect()?;
        static STALE: OnceLock<()> = OnceLock::new();
        STALE.get_or_init(|| {
            if let Some(line) = stale_message(&remove_stale(&root)) {
                tracing::warn!("{line}");
            }
        });
        CgroupParent::create_in(&root, prefix)
    }

    /// As [`CgroupParent::create`], under an explicit root (e.g. a scratch directory in
    /// tests, which checks the file formats without a kernel).
    ///
    /// # Errors
    /// As [`CgroupParent::create`].
    pub fn create_in(root: &CgroupRoot, prefix: &str) -> Result<CgroupParent, CgroupError> {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            PARENT_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let holds_leaf = match root {
            CgroupRoot::V1 { .. } => false,
            CgroupRoot::V2 { dir } => enable_v2_controllers(dir)?,
        };
        let mut dirs = ParentDirs {
            version: root.version(),
            dirs: Vec::new(),
            holds_leaf,
            children: Mutex::new(0),
        };
        for base in root.dirs() {
            let dir = base.join(&name);
            // On failure `dirs` drops and removes what was created so far.
            fs::create_dir(&dir).map_err(io_err("create", &dir))?;
            dirs.dirs.push(dir);
        }
        if let CgroupRoot::V2 { .. } = root {
            write_file(&dirs.dirs[0].join("cgroup.subtree_control"), "+cpu +memory")?;
        }
        Ok(CgroupParent {
            dirs: Arc::new(dirs),
            next_child: AtomicU64::new(0),
        })
    }

    /// The interface in use.
    pub fn version(&self) -> CgroupVersion {
        self.dirs.version
    }

    /// The parent's directories: `[cpu, memory]` on v1, `[dir]` on v2.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs.dirs
    }

    /// Creates a child cgroup named `<name>-<n>` with `limits` written.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when a directory cannot be created or a limit cannot be written;
    /// nothing is left behind in that case.
    pub fn child(&self, name: &str, limits: &Limits) -> Result<Cgroup, CgroupError> {
        let name = format!("{name}-{}", self.next_child.fetch_add(1, Ordering::Relaxed));
        let mut group = Cgroup {
            version: self.dirs.version,
            dirs: Vec::new(),
            counted: false,
            _parent: self.dirs.clone(),
        };
        for base in &self.dirs.dirs {
            let dir = base.join(&name);
            fs::create_dir(&dir).map_err(io_err("create", &dir))?;
            group.dirs.push(dir);
        }
        group.write_limits(limits)?;
        self.dirs.reweigh(1);
        group.counted = true;
        Ok(group)
    }
}

/// One process's cgroup. Removed, best effort, when dropped (any process still in it is
/// killed first); its parent goes once its last child has.
#[derive(Debug)]
pub struct Cgroup {
    version: CgroupVersion,
    /// `[cpu, memory]` on v1, `[dir]` on v2.
    dirs: Vec<PathBuf>,
    /// Counted in the parent's weight (set once fully created).
    counted: bool,
    _parent: Arc<ParentDirs>,
}

impl Cgroup {
    fn cpu_dir(&self) -> &Path {
        &self.dirs[0]
    }

    fn memory_dir(&self) -> &Path {
        self.dirs.last().map_or(self.cpu_dir(), PathBuf::as_path)
    }

    fn write_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        for (file, value) in limit_files(self.version, limits) {
            let dir = if file.starts_with("memory.") {
                self.memory_dir()
            } else {
                self.cpu_dir()
            };
            match write_file(&dir.join(file), value) {
                // Without swap accounting the file does not exist, and there is no swap
                // to turn off.
                Err(CgroupError::Io { source, .. })
                    if file == "memory.swap.max" && source.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Replaces this cgroup's CPU quota (`None`: no limit), e.g. to end a start-up burst.
    /// The memory limit is left as it is.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when a file cannot be written.
    pub fn set_cpu(&self, cpu: Option<CpuQuota>) -> Result<(), CgroupError> {
        match cpu {
            Some(quota) => self.write_limits(&Limits {
                cpu: Some(quota),
                memory_bytes: None,
            }),
            None => match self.version {
                CgroupVersion::V1 => write_file(&self.cpu_dir().join("cpu.cfs_quota_us"), -1),
                CgroupVersion::V2 => write_file(&self.cpu_dir().join("cpu.max"), "max"),
            },
        }
    }

    /// Moves process `pid` (all its threads) into this cgroup.
    ///
    /// # Errors
    /// [`CgroupError::Io`] when `cgroup.procs` cannot be written (e.g. the process is gone).
    pub fn add_process(&self, pid: u32) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            write_file(&dir.join("cgroup.procs"), pid)?;
        }
        Ok(())
    }

    /// Makes the process `command` spawns join this cgroup between `fork` and `exec`, so
    /// that everything it runs, its start-up included, is under the limits. If joining
    /// fails the spawn fails with that error.
    #[allow(unsafe_code)]
    pub fn join_before_exec(&self, command: &mut std::process::Command) {
        let files: Vec<CString> = self
            .dirs
            .iter()
            .filter_map(|dir| CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok())
            .collect();
        // SAFETY: the closure runs in the forked child before exec. It uses only open,
        // write and close on paths prepared before the fork, builds io::Errors from raw
        // errnos, and allocates nothing: all async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                use nix::libc;
                for file in &files {
                    let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // "0" is the writing process itself, in v1 and v2 alike.
                    let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let error = io::Error::last_os_error();
                    libc::close(fd);
                    if written != 1 {
                        return Err(error);
                    }
                }
                Ok(())
            });
        }
    }

    /// The files holding this cgroup's limits and what they say, e.g.
    /// `[("…/cpu.max", "1447 20000"), ("…/memory.max", "134217728")]`; for tests and
    /// reports.
    pub fn limit_files(&self) -> Vec<(PathBuf, String)> {
        let names: &[&str] = match self.version {
            CgroupVersion::V1 => &[
                "cpu.cfs_period_us",
                "cpu.cfs_quota_us",
                "memory.limit_in_bytes",
            ],
            CgroupVersion::V2 => &["cpu.max", "memory.max"],
        };
        names
            .iter()
            .map(|name| {
                let dir = if name.starts_with("memory.") {
                    self.memory_dir()
                } else {
                    self.cpu_dir()
                };
                let path = dir.join(name);
                let text = fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                (path, text)
            })
            .collect()
    }

    /// The peak memory use of the processes in this cgroup, in bytes (v1
    /// `memory.max_usage_in_bytes`, v2 `memory.peak`), or `None` when it cannot be read.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
            CgroupVersion::V2 => "memory.peak",
        };
        fs::read_to_string(self.memory_dir().join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many processes the memory controller killed for exceeding the limit
    /// (`oom_kill` in v1 `memory.oom_control` or v2 `memory.events`; 0 when unknown).
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            CgroupVersion::V1 => "memory.oom_control",
            CgroupVersion::V2 => "memory.events",
        };
        fs::read_to_string(self.memory_dir().join(file))
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
        for dir in &self.dirs {
            remove_cgroup_dir(dir);
        }
        if self.counted {
            self._parent.reweigh(-1);
        }
        // `_parent` drops after this, removing the parent if this was its last child.
    }
}

/// The files and values that express `limits` in `version`, in the order they must be
/// written (v1: the period before the quota, which the kernel checks against it).
pub fn limit_files(version: CgroupVersion, limits: &Limits) -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    match version {
        CgroupVersion::V1 => {
            if let Some(quota) = limits.cpu {
                files.push(("cpu.cfs_period_us", quota.period_us.to_string()));
                files.push(("cpu.cfs_quota_us", quota.quota_us.to_string()));
            }
            if let Some(bytes) = limits.memory_bytes {
                files.push(("memory.limit_in_bytes", bytes.to_string()));
            }
        }
        CgroupVersion::V2 => {
            if let Some(quota) = limits.cpu {
                files.push(("cpu.max", format!("{} {}", quota.quota_us, quota.period_us)));
            }
            if let Some(bytes) = limits.memory_bytes {
                files.push(("memory.max", bytes.to_string()));
                // Lambda has no swap: without this the limit would only push pages out.
                files.push(("memory.swap.max", "0".to_owned()));
            }
        }
    }
    files
}

/// A one-line description of `limits` for reports, e.g. `0.072 vCPU as 1447 µs per 20 ms
/// CFS period, memory limit 128 MB (cgroup v1)`.
pub fn describe_limits(version: CgroupVersion, limits: &Limits) -> String {
    let cpu = match limits.cpu {
        Some(quota) => format!(
            "{:.3} vCPU as {} µs per {} ms CFS period",
            quota.vcpu(),
            quota.quota_us,
            quota.period_us as f64 / 1e3
        ),
        None => "no CPU limit".to_owned(),
    };
    let memory = match limits.memory_bytes {
        Some(bytes) => format!("memory limit {} MB", bytes / (1024 * 1024)),
        None => "no memory limit".to_owned(),
    };
    format!("{cpu}, {memory} ({version})")
}

/// The process's `latency-self-<pid>` leaf on v2, and how many parents use it.
struct SelfLeaf {
    /// The cgroup the process lived in (where the parents are created).
    home: PathBuf,
    leaf: PathBuf,
    users: usize,
}

static SELF_LEAF: Mutex<Option<SelfLeaf>> = Mutex::new(None);

/// Makes `dir` (this process's v2 cgroup) hand `cpu` and `memory` to its children.
/// Returns `true` when that needed moving the process into its `latency-self-<pid>`
/// leaf (see the module docs); the caller then holds a reference on the leaf.
fn enable_v2_controllers(dir: &Path) -> Result<bool, CgroupError> {
    let controllers_file = dir.join("cgroup.controllers");
    let available =
        fs::read_to_string(&controllers_file).map_err(io_err("read", &controllers_file))?;
    let missing: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|c| !available.split_whitespace().any(|a| a == *c))
        .collect();
    if !missing.is_empty() {
        return Err(CgroupError::NotDelegated {
            dir: dir.to_path_buf(),
            missing: missing.join(" and "),
        });
    }
    let mut guard = crate::util::lock(&SELF_LEAF);
    if let Some(leaf) = guard.as_mut().filter(|leaf| leaf.home == dir) {
        leaf.users += 1;
        return Ok(true);
    }
    let subtree = dir.join("cgroup.subtree_control");
    let enabled = |text: &str| {
        ["cpu", "memory"]
            .iter()
            .all(|c| text.split_whitespace().any(|e| e == *c))
    };
    if enabled(&fs::read_to_string(&subtree).unwrap_or_default()) {
        return Ok(false);
    }
    match fs::write(&subtree, "+cpu +memory") {
        Ok(()) => Ok(false),
        // EBUSY: the cgroup has processes of its own (ours), which v2 forbids in a cgroup
        // that distributes controllers. Move out of the way into a leaf, then enable.
        Err(err) if err.raw_os_error() == Some(nix::libc::EBUSY) => {
            let leaf = dir.join(format!("latency-self-{}", std::process::id()));
            fs::create_dir(&leaf).map_err(io_err("create", &leaf))?;
            write_file(&leaf.join("cgroup.procs"), std::process::id())?;
            write_file(&subtree, "+cpu +memory")?;
            *guard = Some(SelfLeaf {
                home: dir.to_path_buf(),
                leaf,
                users: 1,
            });
            Ok(true)
        }
        Err(source) => Err(CgroupError::Io {
            action: "write",
            path: subtree,
            source,
        }),
    }
}

/// Drops one reference on the `latency-self` leaf; the last one turns the controllers
/// off again, moves the process home and removes the leaf.
fn release_self_leaf() {
    let mut guard = crate::util::lock(&SELF_LEAF);
    let Some(leaf) = guard.as_mut() else { return };
    leaf.users = leaf.users.saturating_sub(1);
    if leaf.users > 0 {
        return;
    }
    if let Some(leaf) = guard.take() {
        let _ = fs::write(leaf.home.join("cgroup.subtree_control"), "-cpu -memory");
        let _ = fs::write(
            leaf.home.join("cgroup.procs"),
            std::process::id().to_string(),
        );
        remove_cgroup_dir(&leaf.leaf);
    }
}

/// The owning pid in a name this module creates: `<prefix>-<pid>-<n>` or
/// `latency-self-<pid>`.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("latency-")?;
    if let Some(pid) = rest.strip_prefix("self-") {
        return pid.parse().ok();
    }
    let mut parts = rest.rsplitn(3, '-');
    let _seq: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next()?;
    Some(pid)
}

/// Removes the `latency-*` cgroups under `root` whose owning process is gone (a run
/// killed before it could clean up), children first, killing any process still inside
/// (an orphan of that run). Returns the directories removed.
pub fn remove_stale(root: &CgroupRoot) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for base in root.dirs() {
        let Ok(entries) = fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(owner_pid) else {
                continue;
            };
            let path = entry.path();
            if path.is_dir() && !crate::process::is_alive(pid) && remove_tree(&path, 0) {
                removed.push(path);
            }
        }
    }
    removed
}

/// The one line that reports what [`remove_stale`] removed, or `None` if nothing.
pub fn stale_message(removed: &[PathBuf]) -> Option<String> {
    (!removed.is_empty()).then(|| {
        let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        format!(
            "removed {} cgroup(s) left behind by earlier runs that were killed: {}",
            removed.len(),
            names.join(", ")
        )
    })
}

/// Removes a cgroup directory and its sub-cgroups, depth first; bounded depth.
fn remove_tree(dir: &Path, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path(), depth + 1);
            }
        }
    }
    remove_cgroup_dir(dir)
}

fn write_file(path: &Path, value: impl fmt::Display) -> Result<(), CgroupError> {
    fs::write(path, value.to_string()).map_err(io_err("write", path))
}

/// SIGKILLs every process listed in the cgroup's `cgroup.procs`.
fn kill_members(dir: &Path) {
    let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Removes a cgroup directory; `true` when it is gone. A just-killed process may still be
/// leaving the group, in which case the kernel answers EBUSY for a moment: kill what is
/// left inside (nothing in an owned cgroup may outlive it) and retry a bounded number of
/// times.
fn remove_cgroup_dir(path: &Path) -> bool {
    for attempt in 0..100 {
        match fs::remove_dir(path) {
            Ok(()) => return true,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return true,
            Err(_) => {
                if attempt % 10 == 0 {
                    kill_members(path);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    tracing::warn!(path = %path.display(), "cgroup left behind: still busy");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_quota_is_memory_over_1769_per_20_ms() {
        let quota = CpuQuota::for_lambda_memory(128);
        assert_eq!(quota.period_us, 20_000);
        // 128 / 1769 × 20,000 µs = 1,447.2 µs.
        assert_eq!(quota.quota_us, 1_447);
        assert_eq!(CpuQuota::for_lambda_memory(1769).quota_us, 20_000);
        assert_eq!(CpuQuota::for_lambda_memory(3538).quota_us, 40_000);
        // Server rows keep the 100 ms default.
        assert_eq!(
            CpuQuota::from_vcpu(0.25),
            CpuQuota {
                quota_us: 25_000,
                period_us: 100_000
            }
        );
    }

    #[test]
    fn quota_never_goes_below_the_kernels_1_ms() {
        // 64 MB over 20 ms would be 723 µs: raised to 1 ms.
        let quota = CpuQuota::from_vcpu_with_period(lambda_vcpu(64), LAMBDA_CFS_PERIOD);
        assert_eq!(quota.quota_us, MIN_CFS_QUOTA_US);
        assert_eq!(CpuQuota::from_vcpu(0.0001).quota_us, 1_000);
        assert!(check_period(Duration::from_micros(999)).is_err());
        assert!(check_period(Duration::from_secs(2)).is_err());
        assert!(check_period(LAMBDA_CFS_PERIOD).is_ok());
    }

    #[test]
    fn limit_files_in_v1_and_v2_formats() {
        let limits = Limits {
            cpu: Some(CpuQuota::for_lambda_memory(128)),
            memory_bytes: Some(128 << 20),
        };
        assert_eq!(
            limit_files(CgroupVersion::V1, &limits),
            vec![
                ("cpu.cfs_period_us", "20000".to_owned()),
                ("cpu.cfs_quota_us", "1447".to_owned()),
                ("memory.limit_in_bytes", "134217728".to_owned()),
            ]
        );
        assert_eq!(
            limit_files(CgroupVersion::V2, &limits),
            vec![
                ("cpu.max", "1447 20000".to_owned()),
                ("memory.max", "134217728".to_owned()),
                ("memory.swap.max", "0".to_owned()),
            ]
        );
        assert!(limit_files(CgroupVersion::V2, &Limits::default()).is_empty());
        assert_eq!(
            describe_limits(CgroupVersion::V2, &limits),
            "0.072 vCPU as 1447 µs per 20 ms CFS period, memory limit 128 MB (cgroup v2)"
        );
    }

    #[test]
    fn v2_parent_and_child_on_a_scratch_dir() {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let root_dir = scratch.path().join("user.slice");
        fs::create_dir(&root_dir).expect("root");
        fs::write(
            root_dir.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .expect("controllers");
        fs::write(root_dir.join("cgroup.subtree_control"), "").expect("subtree");
        let root = CgroupRoot::V2 {
            dir: root_dir.clone(),
        };
        let parent = CgroupParent::create_in(&root, "latency-test").expect("parent");
        assert_eq!(parent.version(), CgroupVersion::V2);
        // A regular file takes the write as is: the parent asked for both controllers in
        // its own cgroup and in the parent it created.
        assert_eq!(
            fs::read_to_string(root_dir.join("cgroup.subtree_control")).expect("read"),
            "+cpu +memory"
        );
        let parent_dir = parent.dirs()[0].clone();
        assert_eq!(
            fs::read_to_string(parent_dir.join("cgroup.subtree_control")).expect("read"),
            "+cpu +memory"
        );
        let child = parent
            .child(
                "fn",
                &Limits {
                    cpu: Some(CpuQuota::for_lambda_memory(128)),
                    memory_bytes: Some(128 << 20),
                },
            )
            .expect("child");
        let files: Vec<String> = child.limit_files().into_iter().map(|(_, v)| v).collect();
        assert_eq!(files, vec!["1447 20000".to_owned(), "134217728".to_owned()]);
        child.add_process(4242).expect("procs");
        assert_eq!(
            fs::read_to_string(parent_dir.join("fn-0/cgroup.procs")).expect("read"),
            "4242"
        );
    }

    #[test]
    fn v2_without_delegated_controllers_names_the_fix() {
        let scratch = tempfile::tempdir().expect("scratch dir");
        fs::write(scratch.path().join("cgroup.controllers"), "pids\n").expect("controllers");
        let root = CgroupRoot::V2 {
            dir: scratch.path().to_path_buf(),
        };
        let err = CgroupParent::create_in(&root, "latency-test").expect_err("not delegated");
        let text = err.to_string();
        assert!(text.contains("cpu and memory"), "{text}");
        assert!(
            text.contains("systemd-run --user --scope -p Delegate=yes"),
            "{text}"
        );
    }

    #[test]
    fn roots_from_mountinfo() {
        let v1 = "\
35 30 0:31 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
36 30 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 30 0:33 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw";
        let membership = "4:memory:/process_api/abc\n1:cpu:/\n0::/";
        assert_eq!(
            CgroupRoot::parse(v1, membership).expect("v1"),
            CgroupRoot::V1 {
                cpu: PathBuf::from("/sys/fs/cgroup/cpu"),
                memory: PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"),
            }
        );
        let combined = "35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        assert_eq!(
            CgroupRoot::parse(combined, "3:cpu,cpuacct:/x\n4:memory:/x").expect("v1"),
            CgroupRoot::V1 {
                cpu: PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/x"),
                memory: PathBuf::from("/sys/fs/cgroup/memory/x"),
            }
        );
        let v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(
            CgroupRoot::parse(
                v2,
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope"
            )
            .expect("v2"),
            CgroupRoot::V2 {
                dir: PathBuf::from(
                    "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope"
                ),
            }
        );
        assert!(matches!(
            CgroupRoot::parse("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw", "0::/"),
            Err(CgroupError::NotMounted { .. })
        ));
    }

    #[test]
    fn stale_cgroups_are_reported_in_one_line() {
        assert_eq!(stale_message(&[]), None);
        let line = stale_message(&[
            PathBuf::from("/sys/fs/cgroup/cpu/latency-platform-1-0"),
            PathBuf::from("/sys/fs/cgroup/memory/latency-platform-1-0"),
        ])
        .expect("a line");
        assert_eq!(
            line,
            "removed 2 cgroup(s) left behind by earlier runs that were killed: /sys/fs/cgroup/cpu/latency-platform-1-0, /sys/fs/cgroup/memory/latency-platform-1-0"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn owner_pids_from_names() {
        assert_eq!(owner_pid("latency-platform-123-0"), Some(123));
        assert_eq!(owner_pid("latency-lab-77-12"), Some(77));
        assert_eq!(owner_pid("latency-self-9"), Some(9));
        assert_eq!(owner_pid("latency-platform"), None);
        assert_eq!(owner_pid("other-1-2"), None);
    }
}
