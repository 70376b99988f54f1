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

use std::collections::BTreeMap;

use crate::catalogue::{Architecture, Budget, Deployment, Language, Mode};
use crate::endpoints::{Endpoints, LOCAL_AWS_CREDENTIALS, Provisioned, ServerValues};
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

/// A server program other than `latency serve` (the study's FastAPI server), as prepared
/// here: the lab runs `command` with the arguments and environment of the row's
/// description (`instance.command` after its program, `instance.environment`), a
/// relative file argument resolved in the directory of `args[0]` (the app's script), plus
/// `env`, and waits for its `listening on http://ADDR` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProgram {
    /// The executable.
    pub command: PathBuf,
    /// Its script (`args[0]`), whose directory is the app's; the arguments themselves
    /// come from the description.
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
            replicas, balanced, ..
        } => {
            let values = match endpoints.server_values(row).await {
                Ok(values) => values,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            let args = server_args(row, &values, endpoints)?;
            launch_servers(row, config, &args, *replicas, *balanced).await?
        }
        Deployment::Program { .. } => {
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
            let values = match endpoints.server_values(row).await {
                Ok(values) => values,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            launch_program(row, config, program, &values).await?
        }
        Deployment::Function { language, .. } => {
            let Some(runtime) = config.runtimes.iter().find(|r| r.language == *language) else {
                let skip = config
                    .runtime_skips
                    .iter()
                    .find(|(l, _)| l == language)
                    .map_or_else(|| language.missing_runtime(), |(_, skip)| skip.clone());
                return Ok(Launched::Skipped(skip));
            };
            let provisioned = match endpoints.provision(row).await {
                Ok(provisioned) => provisioned,
                Err(skip) => return Ok(Launched::Skipped(skip)),
            };
            launch_function(row, config, runtime, &provisioned).await?
        }
    };
    Ok(Launched::Up(running))
}

/// The part of `row`'s description its deployment needs, or an error naming the file.
fn described<'a, T>(
    row: &Architecture,
    part: Option<&'a T>,
    name: &str,
) -> Result<&'a T, LabError> {
    part.ok_or_else(|| LabError::StartFailed {
        what: format!("{}'s description", row.id),
        detail: format!("{} has no {name}", row.description.file()),
    })
}

/// A description's template rendered with the lab's values; an error names the file.
fn render(
    row: &Architecture,
    template: &str,
    values: &BTreeMap<&str, String>,
) -> Result<String, LabError> {
    latency_description::render(template, values).map_err(|err| LabError::StartFailed {
        what: format!("{}'s description", row.id),
        detail: format!("{}: {err}", row.description.file()),
    })
}

/// The function's environment from its description: each template rendered with the
/// counter's fresh name, the local endpoint added to AWS URLs, and the row's store mode
/// on `LATENCY_STORE` (the read-modify-write rows are the lab's own, not deployed).
fn function_environment(
    row: &Architecture,
    function: &latency_description::Function,
    provisioned: &Provisioned,
) -> Result<Vec<(String, String)>, LabError> {
    let mut env = Vec::with_capacity(function.environment.len());
    for (name, template) in &function.environment {
        let mut value = render(row, template, &provisioned.values)?;
        if let Some(endpoint) = &provisioned.endpoint {
            value = latency_description::with_endpoint(&value, endpoint);
        }
        if name == "LATENCY_STORE" && row.mode() == Mode::ReadModifyWrite {
            let separator = if value.contains('?') { '&' } else { '?' };
            value.push(separator);
            value.push_str("mode=read-modify-write");
        }
        env.push((name.clone(), value));
    }
    Ok(env)
}

async fn launch_function(
    row: &Architecture,
    config: &LabConfig,
    runtime: &FunctionRuntime,
    provisioned: &Provisioned,
) -> Result<Running, LabError> {
    let function = described(row, row.description.function.as_ref(), "function")?;
    let mut spec = FunctionSpec::new(FUNCTION, &runtime.command)
        .memory_mb(config.function_memory_mb)
        .timeout(std::time::Duration::from_secs(u64::from(
            function.timeout_s,
        )))
        .max_concurrency(config.concurrency.max(1));
    spec.args = runtime.args.clone();
    // The handler Lambda is configured with, for runtimes that load one (a `provided.*`
    // runtime runs its `bootstrap` and reads no handler).
    spec.handler = runtime.handler.as_ref().map(|_| function.handler.clone());
    // Python's runtime client imports boto3 before it asks for the first event: about a
    // second of CPU, which init gets at a full vCPU as on Lambda, but this machine may
    // be shared and busy. 60 s bounds a hung instance without failing a slow start.
    spec.init_timeout = std::time::Duration::from_secs(60);
    let env = runtime
        .env
        .iter()
        .cloned()
        .chain(function_environment(row, function, provisioned)?);
    for (key, value) in env {
        spec = spec.env(&key, &value);
    }
    let platform = start_platform(config, spec)?;
    let listener = bind().await?;
    let front = platform
        // As deploy/terraform's HTTP API: every route, `GET /` included, goes to the
        // function, which serves the page itself.
        .serve_gateway_with(
            FUNCTION,
            listener,
            latency_platform::GatewayOptions::default(),
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

/// The server's arguments from its description (the container's arguments to
/// `latency`, or the instance's command after the program), rendered with the lab's
/// values; a listen address on every interface becomes loopback, and every Redis key
/// gets the row's fresh prefix (tracked for deletion).
fn server_args(
    row: &Architecture,
    values: &ServerValues,
    endpoints: &mut Endpoints,
) -> Result<Vec<String>, LabError> {
    let templates: Vec<String> = match (&row.description.container, &row.description.instance) {
        (Some(container), _) => container.args.clone(),
        (None, Some(instance)) => instance.command.iter().skip(1).cloned().collect(),
        (None, None) => Vec::new(),
    };
    let mut args = Vec::with_capacity(templates.len());
    for template in &templates {
        let arg = local_arg(&render(row, template, &values.values)?);
        args.push(prefix_redis_key(&arg, &values.key_prefix, endpoints));
    }
    Ok(args)
}

/// Binds loopback where the cloud binds every interface: the lab serves nobody else.
fn local_arg(arg: &str) -> String {
    arg.replace("0.0.0.0:", "127.0.0.1:")
}

/// `redis://…?key=K` → `…?key=PREFIX-K`, and the key is deleted when the run ends.
fn prefix_redis_key(arg: &str, prefix: &str, endpoints: &mut Endpoints) -> String {
    if !arg.starts_with("redis://") {
        return arg.to_owned();
    }
    let Some((base, key)) = arg.split_once("key=") else {
        return arg.to_owned();
    };
    let (key, rest) = key.split_once('&').map_or((key, ""), |(k, r)| (k, r));
    let prefixed = format!("{prefix}{key}");
    endpoints.track_redis_key(prefixed.clone());
    if rest.is_empty() {
        format!("{base}key={prefixed}")
    } else {
        format!("{base}key={prefixed}&{rest}")
    }
}

async fn launch_servers(
    row: &Architecture,
    config: &LabConfig,
    args: &[String],
    replicas: usize,
    balanced: bool,
) -> Result<Running, LabError> {
    let mut servers = Vec::with_capacity(replicas);
    for replica in 1..=replicas.max(1) {
        let what = format!("{} server #{replica}", row.selector());
        servers.push(Supervised::start(&what, &config.latency_exe, args, &[], false).await?);
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
    values: &ServerValues,
) -> Result<Running, LabError> {
    let instance = described(row, row.description.instance.as_ref(), "instance")?;
    // The description's command runs in the app's directory (the instance's
    // WorkingDirectory); here that is the directory of the prepared program's script.
    let app_dir = program
        .args
        .first()
        .and_then(|script| std::path::Path::new(script).parent())
        .map(std::path::Path::to_path_buf);
    let mut args = Vec::new();
    for template in instance.command.iter().skip(1) {
        let arg = local_arg(&render(row, template, &values.values)?);
        let in_app = app_dir.as_ref().map(|dir| dir.join(&arg));
        args.push(match in_app {
            Some(path) if !arg.starts_with('-') && path.is_file() => path.display().to_string(),
            _ => arg,
        });
    }
    let mut env = program.env.clone();
    for (name, template) in &instance.environment {
        env.push((name.clone(), render(row, template, &values.values)?));
    }
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

/// One row stood up alone, from its description, exactly as `latency lab` stands it up
/// (the same counter creation, environment, arguments and budget), for a caller that
/// talks to it itself: the test that runs the HTTP contract against every description.
pub struct StoodUp {
    running: Running,
    endpoints: Endpoints,
}

impl StoodUp {
    /// The row's base URL (`GET {base}/hits`).
    pub fn base_url(&self) -> &str {
        self.running.base_url()
    }

    /// Stops the row and the endpoints it started, and deletes its Redis keys.
    pub async fn stop(self) {
        self.running.stop().await;
        self.endpoints.stop().await;
    }
}

/// Stands `row` up with `config`'s runtimes, programs, tools and budgets; its state goes
/// under `config.out_dir`. `Ok(Err(skip))` when the row cannot run here (a missing
/// runtime or endpoint), with the command that fixes it.
///
/// # Errors
/// [`LabError::StartFailed`] when a process does not start or a description does not
/// render.
pub async fn stand_up(
    row: &Architecture,
    config: &LabConfig,
) -> Result<Result<StoodUp, Skip>, LabError> {
    let state_dir =
        std::path::absolute(config.out_dir.join("state")).map_err(|source| LabError::Write {
            path: config.out_dir.join("state"),
            source,
        })?;
    std::fs::create_dir_all(&state_dir).map_err(|source| LabError::Write {
        path: state_dir.clone(),
        source,
    })?;
    let run_id = format!("up{}", std::process::id());
    let mut endpoints = Endpoints::new(run_id, state_dir, config.tools.clone());
    match launch(row, config, &mut endpoints).await {
        Ok(Launched::Up(running)) => Ok(Ok(StoodUp { running, endpoints })),
        Ok(Launched::Skipped(skip)) => {
            endpoints.stop().await;
            Ok(Err(skip))
        }
        Err(err) => {
            endpoints.stop().await;
            Err(err)
        }
    }
}
