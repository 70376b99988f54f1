//! What the platform runs: function specs and platform-wide settings.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::outcome::InvocationOutcome;

use crate::cgroup::{CpuQuota, LAMBDA_CFS_PERIOD, lambda_vcpu};

/// How much CPU an instance of a function may use.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CpuBudget {
    /// Lambda's rule: `memory_mb / 1769` of one vCPU (128 MB gets about 7.2 %).
    #[default]
    FromMemory,
    /// A fixed share of one CPU, e.g. `0.25`.
    Vcpu(f64),
    /// No CPU limit (the memory limit still applies unless
    /// [`FunctionSpec::enforce_memory`] is off).
    Unlimited,
}

impl CpuBudget {
    /// The vCPU share this budget grants a function of `memory_mb`, or `None` when
    /// unlimited.
    pub fn vcpu(&self, memory_mb: u32) -> Option<f64> {
        match *self {
            CpuBudget::FromMemory => Some(lambda_vcpu(memory_mb)),
            CpuBudget::Vcpu(vcpu) => Some(vcpu),
            CpuBudget::Unlimited => None,
        }
    }

    /// The CFS quota for this budget over `period`, or `None` when unlimited.
    pub fn quota(&self, memory_mb: u32, period: Duration) -> Option<CpuQuota> {
        self.vcpu(memory_mb)
            .map(|vcpu| CpuQuota::from_vcpu_with_period(vcpu, period))
    }
}

/// One function: the executable that implements the Lambda runtime loop, and the
/// settings Lambda would have for it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function name (what Invoke and the API Gateway front address).
    pub name: String,
    /// The executable: a `bootstrap`-style binary, or an interpreter.
    pub command: PathBuf,
    /// Arguments for `command`.
    pub args: Vec<String>,
    /// Extra environment. Instances start with Lambda's clean environment (the standard
    /// `AWS_*` / `_HANDLER` / `LAMBDA_TASK_ROOT` / `TZ` / `PATH` variables) plus these.
    pub env: Vec<(String, String)>,
    /// `_HANDLER`; `None` uses the executable's file name, as `provided.al2` does.
    pub handler: Option<String>,
    /// The function's code directory: `LAMBDA_TASK_ROOT` and the working directory.
    /// `None` uses the command's directory (or the current directory for a bare command
    /// name such as `python3`).
    pub task_root: Option<PathBuf>,
    /// Lambda's runtime identifier, e.g. `python3.12`, `nodejs20.x`, `provided.al2023`.
    /// Managed runtimes get `AWS_EXECUTION_ENV=AWS_Lambda_<runtime>`, which runtime
    /// clients and SDKs read to know they run on Lambda. `None` sets nothing, as
    /// `provided.*` does.
    pub runtime: Option<String>,
    /// The configured memory size in MB (Lambda: 128 to 10,240). Default 128.
    pub memory_mb: u32,
    /// The per-invocation timeout. Default 3 s, like Lambda.
    pub timeout: Duration,
    /// The limit on init (spawn to the first `/next`). Default 10 s, like Lambda.
    pub init_timeout: Duration,
    /// At most this many instances at once; further invocations queue in arrival order
    /// (unless [`FunctionSpec::throttle_at_limit`]).
    pub max_concurrency: usize,
    /// Reserved concurrency as Lambda applies it: an invocation that finds
    /// `max_concurrency` instances busy fails at once with
    /// [`PlatformError::Throttled`](crate::PlatformError::Throttled) (Invoke answers 429
    /// `TooManyRequestsException`) instead of waiting. Default `false` (queue).
    pub throttle_at_limit: bool,
    /// An instance idle for this long is killed.
    pub idle_timeout: Duration,
    /// Freeze idle instances with SIGSTOP (thawed with SIGCONT for the next event), as
    /// Lambda does. Default `true`.
    pub freeze_idle: bool,
    /// The CPU budget. Default [`CpuBudget::FromMemory`].
    pub cpu_budget: CpuBudget,
    /// Let init (spawn to the first `/next`) use a full vCPU, or the budget if that is
    /// larger, then apply [`FunctionSpec::cpu_budget`]. Lambda does this for on-demand
    /// instances: "On-demand Lambda functions use a full vCPU (non-throttled) but is
    /// limited to 10 seconds during its initialization phase … For provisioned
    /// concurrency, there is no cpu burst"
    /// (<https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting>,
    /// AWS, read 2026-11-29; also "up to 10 seconds for function initialization with
    /// burst CPU", <https://awslabs.github.io/aws-lambda-web-adapter/configuration/async-init.html>).
    /// Without it a Python or Node.js runtime that imports an AWS SDK needs tens of
    /// seconds of init at 128 MB, where Lambda reports a few hundred milliseconds.
    /// Default `true`.
    pub init_cpu_burst: bool,
    /// The CFS period over which the CPU budget is enforced. Default
    /// [`LAMBDA_CFS_PERIOD`] (20 ms), as Lambda throttles; see [`crate::cgroup`].
    pub cpu_period: Duration,
    /// Limit each instance's memory to `memory_mb`, as Lambda does. Default `true`.
    pub enforce_memory: bool,
}

impl FunctionSpec {
    /// A spec with Lambda's defaults: 128 MB, 3 s timeout, CPU from memory (a full vCPU
    /// during init), freezing on, a concurrency limit of 10 and a 10-minute idle timeout.
    pub fn new(name: impl Into<String>, command: impl Into<PathBuf>) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: Vec::new(),
            handler: None,
            task_root: None,
            runtime: None,
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            max_concurrency: 10,
            throttle_at_limit: false,
            idle_timeout: Duration::from_secs(600),
            freeze_idle: true,
            cpu_budget: CpuBudget::FromMemory,
            init_cpu_burst: true,
            cpu_period: LAMBDA_CFS_PERIOD,
            enforce_memory: true,
        }
    }

    /// Sets the arguments passed to the command.
    pub fn args<I, S>(mut self, args: I) -> FunctionSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `_HANDLER`.
    pub fn handler(mut self, handler: impl Into<String>) -> FunctionSpec {
        self.handler = Some(handler.into());
        self
    }

    /// Sets the function's code directory (`LAMBDA_TASK_ROOT`, working directory).
    pub fn task_root(mut self, dir: impl Into<PathBuf>) -> FunctionSpec {
        self.task_root = Some(dir.into());
        self
    }

    /// Sets Lambda's runtime identifier (see [`FunctionSpec::runtime`]).
    pub fn runtime(mut self, runtime: impl Into<String>) -> FunctionSpec {
        self.runtime = Some(runtime.into());
        self
    }

    /// Sets the CFS period of the CPU budget.
    pub fn cpu_period(mut self, period: Duration) -> FunctionSpec {
        self.cpu_period = period;
        self
    }

    /// The directory the function runs in and `LAMBDA_TASK_ROOT` names: the configured
    /// task root, else the command's directory, else `.`.
    pub fn resolved_task_root(&self) -> PathBuf {
        let dir = self.task_root.clone().unwrap_or_else(|| {
            self.command
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
        });
        // Absolute, as Lambda's `/var/task`: runtime clients put it on their module path.
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> FunctionSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the memory size in MB.
    pub fn memory_mb(mut self, memory_mb: u32) -> FunctionSpec {
        self.memory_mb = memory_mb;
        self
    }

    /// Sets the per-invocation timeout.
    pub fn timeout(mut self, timeout: Duration) -> FunctionSpec {
        self.timeout = timeout;
        self
    }

    /// Sets the concurrency limit.
    pub fn max_concurrency(mut self, max_concurrency: usize) -> FunctionSpec {
        self.max_concurrency = max_concurrency;
        self
    }

    /// Lambda's reserved concurrency: at most `limit` instances, and invocations beyond
    /// it are throttled rather than queued (see [`FunctionSpec::throttle_at_limit`]).
    pub fn reserved_concurrency(mut self, limit: usize) -> FunctionSpec {
        self.max_concurrency = limit;
        self.throttle_at_limit = true;
        self
    }

    /// Sets the idle timeout after which an idle instance is killed.
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> FunctionSpec {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Turns freezing of idle instances on or off.
    pub fn freeze_idle(mut self, freeze_idle: bool) -> FunctionSpec {
        self.freeze_idle = freeze_idle;
        self
    }

    /// Sets the CPU budget.
    pub fn cpu_budget(mut self, cpu_budget: CpuBudget) -> FunctionSpec {
        self.cpu_budget = cpu_budget;
        self
    }

    /// Turns the init CPU burst on or off (see [`FunctionSpec::init_cpu_burst`]).
    pub fn init_cpu_burst(mut self, burst: bool) -> FunctionSpec {
        self.init_cpu_burst = burst;
        self
    }

    /// Turns the memory limit on or off.
    pub fn enforce_memory(mut self, enforce_memory: bool) -> FunctionSpec {
        self.enforce_memory = enforce_memory;
        self
    }

    /// Turns both budgets off: no CPU quota, no memory limit.
    pub fn unthrottled(self) -> FunctionSpec {
        self.cpu_budget(CpuBudget::Unlimited).enforce_memory(false)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("the name must be non-empty letters, digits, '-' or '_'".into());
        }
        if self.max_concurrency == 0 {
            return Err("max_concurrency must be at least 1".into());
        }
        if self.memory_mb == 0 {
            return Err("memory_mb must be at least 1".into());
        }
        if self.timeout.is_zero() || self.init_timeout.is_zero() {
            return Err("timeouts must be positive".into());
        }
        if let Err(reason) = crate::cgroup::check_period(self.cpu_period) {
            return Err(reason.to_string());
        }
        if let CpuBudget::Vcpu(vcpu) = self.cpu_budget
            && (!vcpu.is_finite() || vcpu <= 0.0)
        {
            return Err("a vCPU budget must be positive".into());
        }
        Ok(())
    }
}

/// Platform-wide settings.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// `AWS_REGION` for instances and the region in ARNs. Default `eu-west-2`.
    pub region: String,
    /// The account id in ARNs. Default `000000000000`.
    pub account_id: String,
    /// Try to apply CPU and memory budgets through cgroups. Default `true`; when `false`
    /// (or when cgroups are not writable) everything runs unthrottled and
    /// [`Platform::throttling`](crate::Platform::throttling) says so.
    pub use_cgroups: bool,
    /// How many invocation reports [`Platform::drain_reports`](crate::Platform::drain_reports)
    /// keeps before dropping the oldest. Default 100,000.
    pub report_capacity: usize,
    /// Called with every finished invocation (result, REPORT figures, the function's
    /// output), e.g. to show each invocation's logs. Default none.
    pub observer: Option<InvocationObserver>,
    /// Told when an instance's process starts and when it has been reaped, e.g. to keep
    /// a record outside this process of which process groups to kill should this
    /// process die without cleaning up (`latency platform`'s reaper). Default none.
    pub instance_observer: Option<InstanceObserver>,
    /// How many asynchronous (`Event`) invocations may wait in the queue at once; more
    /// are refused (Invoke: 429). Default 10,000.
    pub async_queue_capacity: usize,
    /// How queued asynchronous invocations are retried. Default: Lambda's figures.
    pub async_retry: crate::platform::AsyncRetry,
}

/// A callback for every finished invocation; see [`PlatformConfig::observer`]. It runs on
/// the invocation's task, so it should be quick (print, count, send to a channel).
#[derive(Clone)]
pub struct InvocationObserver(pub Arc<dyn Fn(&InvocationOutcome) + Send + Sync>);

impl fmt::Debug for InvocationObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvocationObserver(..)")
    }
}

/// An instance's process, as told to an [`InstanceObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceEvent {
    /// The process `pid` started, leading its own process group `pid`.
    Started(u32),
    /// The process `pid` has exited and been reaped.
    Reaped(u32),
}

/// A callback for instance processes; see [`PlatformConfig::instance_observer`]. It runs
/// on the platform's tasks: it must be quick and must not block.
#[derive(Clone)]
pub struct InstanceObserver(pub Arc<dyn Fn(InstanceEvent) + Send + Sync>);

impl fmt::Debug for InstanceObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InstanceObserver(..)")
    }
}

impl Default for PlatformConfig {
    fn default() -> PlatformConfig {
        PlatformConfig {
            region: "eu-west-2".into(),
            account_id: "000000000000".into(),
            use_cgroups: true,
            report_capacity: 100_000,
            observer: None,
            instance_observer: None,
            async_queue_capacity: 10_000,
            async_retry: crate::platform::AsyncRetry::default(),
        }
    }
}
