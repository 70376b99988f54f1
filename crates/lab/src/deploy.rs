//! Standing up one architecture: its store, its processes (with the cloud's CPU budget),
//! its front door; and reading back what the function platform measured.

use std::net::SocketAddr;

use latency_balancer::Balancer;
use latency_bench::FunctionFigures;
use latency_platform::cgroup::{CgroupParent, CpuQuota, Limits};
use latency_platform::{FrontServer, FunctionSpec, Platform, Throttling};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::catalogue::{Architecture, Budget, Deployment};
use crate::endpoints::{Endpoints, LOCAL_AWS_CREDENTIALS};
use crate::process::Supervised;
use crate::{LabConfig, LabError};

/// The function's name on the platform.
const FUNCTION: &str = "hits";

/// A row that is up: where to send requests, and what to stop afterwards.
pub(crate) struct Running {
    /// The URL requests go to (`…/hits` is appended by the runner).
    pub(crate) base_url: String,
    /// Lines for every Report of this row (the CPU budget applied, or why not).
    pub(crate) notes: Vec<String>,
    servers: Vec<Supervised>,
    balancer: Option<oneshot::Sender<()>>,
    function: Option<(Platform, FrontServer)>,
    // Dropped after the servers are stopped, so the directories can be removed.
    _cgroups: Option<(CgroupParent, Vec<latency_platform::cgroup::Cgroup>)>,
}

/// What the function platform measured since the last call, for one run.
pub(crate) struct FunctionRun {
    pub(crate) figures: FunctionFigures,
    /// Every invocation's billed duration, ms, for the cost model.
    pub(crate) billed_ms: Vec<f64>,
}

impl Running {
    /// The platform's REPORT figures since the last call; `None` for server rows.
    pub(crate) fn take_function_run(&self) -> Option<FunctionRun> {
        let (platform, _) = self.function.as_ref()?;
        let reports = platform.drain_reports();
        let count = reports.len();
        let mean = |values: Vec<f64>| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let billed_ms: Vec<f64> = reports
            .iter()
            .map(|r| r.billed_duration_ms as f64)
            .collect();
        let figures = FunctionFigures {
            invocations: count as u64,
            cold_starts: reports.iter().filter(|r| r.cold_start).count() as u64,
            init_duration_ms: mean(
                reports
                    .iter()
                    .filter_map(|r| r.init_duration.map(ms))
                    .collect(),
            ),
            duration_ms: mean(reports.iter().map(|r| ms(r.duration)).collect()),
            billed_duration_ms: mean(billed_ms.clone()),
            max_memory_used_mb: reports
                .iter()
                .filter_map(|r| r.max_memory_used_mb)
                .max()
                .map(|mb| mb as f64),
            memory_size_mb: reports.first().map(|r| r.memory_size_mb),
        };
        Some(FunctionRun { figures, billed_ms })
    }

    /// Stops everything this row started.
    pub(crate) async fn stop(self) {
        if let Some(stop) = self.balancer {
            let _ = stop.send(());
        }
        if let Some((platform, front)) = self.function {
            front.shutdown().await;
            platform.shutdown().await;
        }
        for server in self.servers {
            server.stop().await;
        }
    }
}

/// What deploying a row came to.
pub(crate) enum Deployed {
    Running(Box<Running>),
    /// Not measured: why, and the command that enables it.
    Skipped(String),
}

/// Starts `row`; the caller measures it and then calls [`Running::stop`].
pub(crate) async fn deploy(
    row: &Architecture,
    config: &LabConfig,
    endpoints: &mut Endpoints,
) -> Result<Deployed, LabError> {
    let (counter, shape) = match &row.deployment {
        Deployment::NotBuilt { reason } => return Ok(Deployed::Skipped((*reason).to_owned())),
        Deployment::Server { counter } => (*counter, Shape::Servers(1, false)),
        Deployment::Balanced { replicas, counter } => (*counter, Shape::Servers(*replicas, true)),
        Deployment::Function { counter } => match &config.lambda_exe {
            Some(exe) => (*counter, Shape::Function(exe)),
            None => {
                return Ok(Deployed::Skipped(
                    "the Lambda binary is missing; build it with: cargo build --release -p latency-lambda"
                        .to_owned(),
                ));
            }
        },
    };
    let store = match endpoints.store_url(row, counter).await {
        Ok(url) => url,
        Err(reason) => return Ok(Deployed::Skipped(reason)),
    };
    match shape {
        Shape::Function(exe) => deploy_function(config, exe, &store).await,
        Shape::Servers(replicas, balanced) => {
            deploy_servers(row, config, &store, replicas, balanced).await
        }
    }
}

/// What runs a row: server processes (how many, behind a balancer or not), or the
/// function platform with this binary.
enum Shape<'a> {
    Servers(usize, bool),
    Function(&'a std::path::Path),
}

async fn deploy_function(
    config: &LabConfig,
    lambda_exe: &std::path::Path,
    store: &str,
) -> Result<Deployed, LabError> {
    let mut spec = FunctionSpec::new(FUNCTION, lambda_exe)
        .env("LATENCY_STORE", store)
        .memory_mb(config.function_memory_mb)
        .max_concurrency(config.concurrency.max(1));
    for (key, value) in LOCAL_AWS_CREDENTIALS {
        spec = spec.env(key, value);
    }
    if !config.cpu_limits {
        spec = spec.unthrottled();
    }
    let platform =
        Platform::start(vec![spec]).map_err(|err| start_failed("function platform", err))?;
    let listener = bind().await?;
    let front = platform
        .serve_gateway(FUNCTION, listener)
        .await
        .map_err(|err| start_failed("API Gateway front", err))?;
    let notes = vec![match platform.throttling() {
        Throttling::Applied if config.cpu_limits => format!(
            "function: {} MB, CPU budget {:.3} vCPU per instance (cgroup v1 quota, as Lambda scales CPU with memory)",
            config.function_memory_mb,
            latency_platform::cgroup::lambda_vcpu(config.function_memory_mb)
        ),
        Throttling::Applied => "function: CPU budget off (--no-cpu-limits)".to_owned(),
        Throttling::Unavailable(reason) => format!("function: unthrottled, {reason}"),
    }];
    Ok(Deployed::Running(Box::new(Running {
        base_url: front.url(),
        notes,
        servers: Vec::new(),
        balancer: None,
        function: Some((platform, front)),
        _cgroups: None,
    })))
}

async fn deploy_servers(
    row: &Architecture,
    config: &LabConfig,
    store: &str,
    replicas: usize,
    balanced: bool,
) -> Result<Deployed, LabError> {
    let args = ["serve", "--listen", "127.0.0.1:0", "--store", store].map(str::to_owned);
    let mut servers = Vec::with_capacity(replicas);
    for replica in 1..=replicas {
        let what = format!("{} server #{replica}", row.id);
        servers.push(Supervised::start(&what, &config.latency_exe, &args, &[], false).await?);
    }
    let (cgroups, note) = apply_budget(row.budget, config.cpu_limits, &servers);
    let (base_url, balancer) = if balanced {
        let backends = servers
            .iter()
            .map(|s| socket_address(&s.base_url))
            .collect::<Result<Vec<_>, _>>()?;
        let (url, stop) = start_balancer(backends).await?;
        (url, Some(stop))
    } else {
        (servers[0].base_url.clone(), None)
    };
    Ok(Deployed::Running(Box::new(Running {
        base_url,
        notes: vec![note],
        servers,
        balancer,
        function: None,
        _cgroups: cgroups,
    })))
}

type Cgroups = Option<(CgroupParent, Vec<latency_platform::cgroup::Cgroup>)>;

/// Puts each server in a cgroup with the row's CPU and memory budget. Where cgroups are
/// not writable the servers run unthrottled, and the note says so.
fn apply_budget(
    budget: Option<Budget>,
    enabled: bool,
    servers: &[Supervised],
) -> (Cgroups, String) {
    let Some(budget) = budget else {
        return (None, "no CPU budget for this row".to_owned());
    };
    if !enabled {
        return (None, "CPU budget off (--no-cpu-limits)".to_owned());
    }
    let parent = match CgroupParent::create("latency-lab") {
        Ok(parent) => parent,
        Err(err) => {
            return (
                None,
                format!("unthrottled: cgroups are not writable here ({err})"),
            );
        }
    };
    let limits = Limits {
        cpu: Some(CpuQuota::from_vcpu(budget.vcpu)),
        memory_bytes: Some(u64::from(budget.memory_mb) * 1024 * 1024),
    };
    let mut groups = Vec::new();
    for (index, server) in servers.iter().enumerate() {
        let applied = server
            .pid()
            .ok_or_else(|| "process already exited".to_owned())
            .and_then(|pid| {
                let group = parent
                    .child(&format!("server{index}"), &limits)
                    .map_err(|err| err.to_string())?;
                group.add_process(pid).map_err(|err| err.to_string())?;
                Ok(group)
            });
        match applied {
            Ok(group) => groups.push(group),
            Err(reason) => return (None, format!("unthrottled: {reason}")),
        }
    }
    let note = format!(
        "{} × {} vCPU, {} MB each (cgroup v1 quota, as the cloud's instance or task size)",
        servers.len(),
        budget.vcpu,
        budget.memory_mb
    );
    (Some((parent, groups)), note)
}

async fn bind() -> Result<TcpListener, LabError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(LabError::Socket)
}

async fn start_balancer(
    backends: Vec<SocketAddr>,
) -> Result<(String, oneshot::Sender<()>), LabError> {
    let listener = bind().await?;
    let address = listener.local_addr().map_err(LabError::Socket)?;
    let balancer = Balancer::new(backends).map_err(|err| start_failed("load balancer", err))?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(balancer.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok((format!("http://{address}"), stop))
}

fn start_failed(what: &str, err: impl std::fmt::Display) -> LabError {
    LabError::StartFailed {
        what: what.to_owned(),
        detail: err.to_string(),
    }
}

fn socket_address(base_url: &str) -> Result<SocketAddr, LabError> {
    base_url
        .trim_start_matches("http://")
        .parse()
        .map_err(|_| LabError::StartFailed {
            what: "server".to_owned(),
            detail: format!("printed an address that is not IP:port: {base_url}"),
        })
}
