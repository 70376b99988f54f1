//! Standing up one row on this machine: its store, its processes (with the cloud's CPU
//! budget), its front door; and reading back what the function platform measured.
//!
//! ("Deploy" means Terraform and Kubernetes elsewhere in the project; launching is local.)

use std::net::SocketAddr;
use std::path::PathBuf;

use latency_balancer::Balancer;
use latency_bench::FunctionFigures;
use latency_platform::cgroup::{Cgroup, CgroupParent, CpuQuota, Limits};
use latency_platform::{FrontServer, FunctionSpec, Platform};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::catalogue::{Architecture, Budget, Deployment, Language};
use crate::endpoints::{Endpoints, LOCAL_AWS_CREDENTIALS};
use crate::error::Skip;
use crate::process::Supervised;
use crate::{LabConfig, LabError};

/// The function's name on the platform.
const FUNCTION: &str = "hits";

/// How the function rows of one language are run: the data the platform needs to start
/// an instance. The Rust row runs the `latency-lambda` binary; other languages name an
/// interpreter, its arguments and the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRuntime {
    /// The language whose rows this runs.
    pub language: Language,
    /// The program each instance runs.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The handler (`_HANDLER`), for runtimes that load one.
    pub handler: Option<String>,
    /// Extra environment for every instance (the store URL and local credentials are
    /// added by the lab).
    pub env: Vec<(String, String)>,
}

impl FunctionRuntime {
    /// The Rust row's runtime: the `latency-lambda` binary at `exe`, run as is.
    pub fn rust(exe: impl Into<PathBuf>) -> FunctionRuntime {
        FunctionRuntime {
            language: Language::Rust,
            command: exe.into(),
            args: Vec::new(),
            handler: None,
            env: Vec::new(),
        }
    }
}

/// A server program other than `latency serve` (the study's FastAPI server): the lab
/// runs `command args… --listen 127.0.0.1:0` with `env` and the counter file in
/// `LATENCY_COUNTER_FILE`, and waits for its `listening on http://ADDR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProgram {
    /// The executable.
    pub command: PathBuf,
    /// Its arguments, before `--listen`.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// A row that is up: where to send requests, and what to stop afterwards. One variant
/// per kind of row, so that queue rows and worker pools become new variants.
pub(crate) enum Running {
    /// Server processes, behind the lab's load balancer or not.
    Servers(ServerPool),
    /// A handler on the local function platform, behind its API Gateway front.
    Function(FunctionHost),
}

/// Server processes, their cgroups and their optional balancer.
pub(crate) struct ServerPool {
    base_url: String,
    notes: Vec<String>,
    servers: Vec<Supervised>,
    balancer: Option<oneshot::Sender<()>>,
    cgroups: Option<RowCgroups>,
}

/// A row's cgroups. Field order is drop order: the children must go before their parent,
/// or the parent's removal fails ("still busy") and it is left behind.
struct RowCgroups {
    children: Vec<Cgroup>,
    parent: CgroupParent,
}

impl RowCgroups {
    /// Removes the children, then the parent (the order the kernel requires).
    fn remove(self) {
        let RowCgroups { children, parent } = self;
        drop(children);
        drop(parent);
    }
}

/// The function platform and its front for one row.
pub(crate) struct FunctionHost {
    base_url: String,
    notes: Vec<String>,
    platform: Platform,
    front: FrontServer,
}

/// What the function platform measured since the last call, for one run.
pub(crate) struct FunctionRun {
    pub(crate) figures: FunctionFigures,
    /// Every invocation's billed duration, ms, for the cost model.
    pub(crate) billed_ms: Vec<f64>,
}

impl Running {
    /// The URL requests go to (`…/hits` is appended by the runner).
    pub(crate) fn base_url(&self) -> &str {
        match self {
            Running::Servers(pool) => &pool.base_url,
            Running::Function(host) => &host.base_url,
        }
    }

    /// Lines for every Report of this row (the CPU budget applied, or why not).
    pub(crate) fn notes(&self) -> &[String] {
        match self {
            Running::Servers(pool) => &pool.notes,
            Running::Function(host) => &host.notes,
        }
    }

    /// Function rows: starts idle instances up to `count` before a concurrent run, so
    /// that it measures warm instances rather than this machine starting `count`
    /// runtimes at once on its few cores (Lambda would initialise each on its own share
    /// of a host). Returns a note for the run's Report; `None` for server rows.
    ///
    /// # Errors
    /// [`LabError::StartFailed`] when an instance cannot start or fails its init.
    pub(crate) async fn prewarm(&self, count: usize) -> Result<Option<String>, LabError> {
        let Running::Function(host) = self else {
            return Ok(None);
        };
        let parallel = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let started = std::time::Instant::now();
        let new = host
            .platform
            .prewarm(FUNCTION, count, parallel)
            .await
            .map_err(|err| start_failed("prewarmed function instances", err))?;
        Ok(Some(format!(
            "function: {new} instances prewarmed ({} live, {parallel} initialising at a time, \
             {:.1} s) before this run, so it measures warm instances; cold starts are \
             measured in the sequential run",
            host.platform.instances(FUNCTION).len(),
            started.elapsed().as_secs_f64()
        )))
    }

    /// The platform's one-line summary of every invocation so far (invocations, cold
    /// starts, mean init, mean billed duration, max memory); `None` for server rows.
    pub(crate) fn function_summary(&self) -> Option<String> {
        let Running::Function(host) = self else {
            return None;
        };
        host.platform.totals(FUNCTION).map(|t| t.summary_line())
    }

    /// The platform's REPORT figures since the last call; `None` for server rows.
    pub(crate) fn take_function_run(&self) -> Option<FunctionRun> {
        let Running::Function(host) = self else {
            return None;
        };
        let reports = host.platform.drain_reports();
        let mean = |values: Vec<f64>| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let billed_ms: Vec<f64> = reports
            .iter()
            .map(|r| r.billed_duration_ms as f64)
            .collect();
        let figures = FunctionFigures {
            invocations: reports.len() as u64,
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

    /// Stops everything this row started: front doors first (no new work), then the
    /// processes, then their cgroups, children before parents.
    pub(crate) async fn stop(self) {
        match self {
            Running::Servers(pool) => {
                if let Some(stop) = pool.balancer {
                    let _ = stop.send(());
                }
                for server in pool.servers {
                    server.stop().await;
                }
                if let Some(cgroups) = pool.cgroups {
                    cgroups.remove();
                }
            }
            Running::Function(host) => {
                host.front.shutdown().await;
                host.platform.shutdown().await;
            }
        }
    }
}

/// What launching a row came to.
pub(crate) enum Launched {
    Up(Running),
    /// Not measured: why, and the command that enables it.
    Skipped(Skip),
}

/// Starts `row`; the caller measures it and then calls [`Running::stop`].
pub(crate) async fn launch(
    row: &Architecture,
    config: &LabConfig,
    endpoints: &mut Endpoints,
) -> Result<Launched, LabError> {
    let running = match &row.deployment {
        Deployment::NotBuilt { skip } => return Ok(Launched::Skipped(skip.clone())),
        // The runner runs queue rows itself (`queue_rows`): they have no front door.
        Deployment::Queue(_) => {
            return Ok(Launched::Skipped(Skip::new(
                "a queue row is not served over HTTP",
                "latency lab --only lambda-sqs,workers-rabbitmq",
            )));
        }
        Deployment::Servers {
            replicas,
            balanced,
            counter,
        } => {
            let store = match endpoints.store_url(row, *counter).await {
                Ok(url) => url,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            launch_servers(row, config, &store, *replicas, *balanced).await?
        }
        Deployment::Program { counter } => {
            let program = match config.server_programs.iter().find(|(id, _)| *id == row.id) {
                Some((_, Ok(program))) => program,
                Some((_, Err(skip))) => return Ok(Launched::Skipped(skip.clone())),
                None => {
                    return Ok(Launched::Skipped(Skip::new(
                        format!("no program was prepared for {}", row.id),
                        "run `latency lab` from the repository (it prepares variants/)",
                    )));
                }
            };
            let store = match endpoints.store_url(row, *counter).await {
                Ok(url) => url,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            launch_program(row, config, program, &store).await?
        }
        Deployment::Function { language, counter } => {
            let Some(runtime) = config.runtimes.iter().find(|r| r.language == *language) else {
                let skip = config
                    .runtime_skips
                    .iter()
                    .find(|(l, _)| l == language)
                    .map_or_else(|| language.missing_runtime(), |(_, skip)| skip.clone());
                return Ok(Launched::Skipped(skip));
            };
            let store = match endpoints.store_url(row, *counter).await {
                Ok(url) => url,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            launch_function(config, runtime, &store).await?
        }
    };
    Ok(Launched::Up(running))
}

async fn launch_function(
    config: &LabConfig,
    runtime: &FunctionRuntime,
    store: &str,
) -> Result<Running, LabError> {
    let mut spec = FunctionSpec::new(FUNCTION, &runtime.command)
        .memory_mb(config.function_memory_mb)
        .max_concurrency(config.concurrency.max(1));
    spec.args = runtime.args.clone();
    spec.handler = runtime.handler.clone();
    // Python's runtime client imports boto3 before it asks for the first event: about a
    // second of CPU, which init gets at a full vCPU as on Lambda, but this machine may
    // be shared and busy. 60 s bounds a hung instance without failing a slow start.
    spec.init_timeout = std::time::Duration::from_secs(60);
    let env = runtime
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("LATENCY_STORE", store)]);
    for (key, value) in env {
        spec = spec.env(key, value);
    }
    let platform = start_platform(config, spec)?;
    let listener = bind().await?;
    let front = platform
        .serve_gateway_with(
            FUNCTION,
            listener,
            latency_platform::GatewayOptions {
                // The study served its page from S3 through the API; the lab's rows do
                // the same at `GET /`.
                index_page: Some(latency_app::PAGE.into()),
                ..Default::default()
            },
        )
        .await
        .map_err(|err| start_failed("API Gateway front", err))?;
    // The platform names the budget it applies (CPU quota per CFS period, memory
    // limit) or why it applies none.
    let notes = if config.cpu_limits {
        platform.budget_note(FUNCTION).into_iter().collect()
    } else {
        vec!["function: CPU budget off (--no-cpu-limits)".to_owned()]
    };
    Ok(Running::Function(FunctionHost {
        base_url: front.url(),
        notes,
        platform,
        front,
    }))
}

async fn launch_servers(
    row: &Architecture,
    config: &LabConfig,
    store: &str,
    replicas: usize,
    balanced: bool,
) -> Result<Running, LabError> {
    let args = ["serve", "--listen", "127.0.0.1:0", "--store", store].map(str::to_owned);
    let mut servers = Vec::with_capacity(replicas);
    for replica in 1..=replicas.max(1) {
        let what = format!("{} server #{replica}", row.selector());
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
    Ok(Running::Servers(ServerPool {
        base_url,
        notes: vec![note],
        servers,
        balancer,
        cgroups,
    }))
}

async fn launch_program(
    row: &Architecture,
    config: &LabConfig,
    program: &ServerProgram,
    store: &str,
) -> Result<Running, LabError> {
    let mut args = program.args.clone();
    args.extend(["--listen", "127.0.0.1:0"].map(str::to_owned));
    let mut env = program.env.clone();
    // The program takes a counter file, not a store URL.
    let file = store.strip_prefix("file://").unwrap_or(store);
    env.push(("LATENCY_COUNTER_FILE".to_owned(), file.to_owned()));
    let what = format!("{} server", row.selector());
    let server = Supervised::start(&what, &program.command, &args, &env, false).await?;
    let (cgroups, note) =
        apply_budget(row.budget, config.cpu_limits, std::slice::from_ref(&server));
    Ok(Running::Servers(ServerPool {
        base_url: server.base_url.clone(),
        notes: vec![note],
        servers: vec![server],
        balancer: None,
        cgroups,
    }))
}

/// The prefix of the lab's cgroup directories (`latency-lab-<pid>-<n>`).
pub(crate) const CGROUP_PREFIX: &str = "latency-lab";

/// Puts each server in a cgroup with the row's CPU and memory budget. Where cgroups are
/// not writable the servers run unthrottled, and the note says so.
fn apply_budget(
    budget: Option<Budget>,
    enabled: bool,
    servers: &[Supervised],
) -> (Option<RowCgroups>, String) {
    let Some(budget) = budget else {
        return (None, "no CPU budget for this row".to_owned());
    };
    if !enabled {
        return (None, "CPU budget off (--no-cpu-limits)".to_owned());
    }
    let parent = match CgroupParent::create(CGROUP_PREFIX) {
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
    let mut children = Vec::new();
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
            Ok(group) => children.push(group),
            Err(reason) => {
                // The servers already moved stay in their groups until they are stopped;
                // the groups go with this row.
                RowCgroups { children, parent }.remove();
                return (None, format!("unthrottled: {reason}"));
            }
        }
    }
    let note = format!(
        "{} × {} vCPU, {} MB each (cgroup v1 quota, as the cloud's instance or task size)",
        servers.len(),
        budget.vcpu,
        budget.memory_mb
    );
    (Some(RowCgroups { children, parent }), note)
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

/// Starts the function platform for one lab function: `spec` gains the local endpoints'
/// AWS credentials and, with `--no-cpu-limits`, loses its CPU budget. Shared by the
/// function rows and the Lambda + SQS row.
pub(crate) fn start_platform(config: &LabConfig, spec: FunctionSpec) -> Result<Platform, LabError> {
    let mut spec = spec;
    for (key, value) in LOCAL_AWS_CREDENTIALS {
        spec = spec.env(key, value);
    }
    if !config.cpu_limits {
        spec = spec.unthrottled();
    }
    Platform::start(vec![spec]).map_err(|err| start_failed("function platform", err))
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
