//! `latency platform`: any Lambda function, run locally behind the API Gateway front and
//! the Invoke API, with Lambda's environment, CPU budget, timeout and concurrency.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use latency_platform::{
    FunctionSpec, GatewayOptions, InstanceEvent, InstanceObserver, InvocationObserver,
    InvocationOutcome, Platform, PlatformConfig,
};

const PLATFORM_HELP: &str = "\
What runs:
  Either a command (after --), or --code DIR|ZIP whose `bootstrap` is run, as the
  provided.al2023 runtime does. --code with a command runs the command in that
  directory. The function's own .venv/bin, venv/bin and node_modules/.bin come first
  on its PATH, so a Python venv or node_modules function needs no wrapper script.

The function's environment (as Lambda's, documented at
docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html):
  AWS_LAMBDA_RUNTIME_API, _HANDLER (--handler), AWS_EXECUTION_ENV
  (AWS_Lambda_<--runtime>, not for provided.*), LAMBDA_TASK_ROOT (the code directory),
  LAMBDA_RUNTIME_DIR, AWS_LAMBDA_FUNCTION_NAME/_MEMORY_SIZE/_VERSION, log group and
  stream, AWS_REGION, TZ, LANG, PATH; AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
  AWS_SESSION_TOKEN are passed through from this process, as Lambda passes the
  execution role's; then every --env KEY=VALUE.

Endpoints (one listener):
  POST /2015-03-31/functions/NAME/invocations   Lambda's Invoke API (aws-sdk, AWS CLI
                                                 with --endpoint-url); LogType=Tail
  anything else                                  an API Gateway HTTP API (payload 2.0)

The CPU budget is MEMORY/1769 of a vCPU per 20 ms CFS period, as Lambda applies it,
through cgroup v1 or v2 (as root, or in a delegated subtree:
systemd-run --user --scope -p Delegate=yes -- latency platform ...). Where that is not
possible the function runs unthrottled and a warning says why.

Output:
  stdout gets exactly one line, `listening on http://ADDR:PORT`, once bound; logs go to
  stderr. --logs adds each invocation's output and REPORT line on stderr.
  SIGINT or SIGTERM stops every instance and removes its cgroups and the extracted
  --code; instances die with this process even on SIGKILL: a small reaper process
  (`latency platform --reap`, started with it) then kills every process the functions
  started, removes the cgroups and the extracted --code.

Limits: a request must send its head within --header-read-timeout and its body within
--body-read-timeout; a connection idle past --idle-timeout is closed. A --code zip may
hold at most 10,000 entries and expand to at most 1 GiB. A function's output line is
cut into 256 KiB pieces (CloudWatch Logs' event size limit). Event invocations wait in
a queue of 10,000 and are retried as Lambda retries them.

Exit codes: 0 after SIGINT/SIGTERM, 1 on an error (bad flags, nothing to run, a port in
use), 2 on a usage error.

Examples:
  latency platform --code ./target/lambda/hits/ --listen 127.0.0.1:9000
  latency platform --code fn/ --runtime python3.12 --handler app.handler \\
      -- .venv/bin/python -m awslambdaric app.handler
  latency platform --code fn.zip --memory 512 --timeout 10s --reserved-concurrency 4
  curl http://127.0.0.1:9000/hits
  aws lambda invoke --endpoint-url http://127.0.0.1:9000 --function-name function out.json";

/// The variables Lambda sets from the execution role, passed through from this process.
const CREDENTIAL_VARS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Flags of `latency platform`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = PLATFORM_HELP)]
pub(crate) struct PlatformArgs {
    #[command(flatten)]
    pub(crate) log: crate::logging::LogFormat,

    /// The function's code: a directory or a .zip (extracted to a temporary directory).
    /// Without a command, its `bootstrap` is run.
    #[arg(long, value_name = "DIR|ZIP")]
    code: Option<PathBuf>,

    /// The function's name in Invoke API paths and ARNs.
    #[arg(long, default_value = "function")]
    name: String,

    /// `_HANDLER`, e.g. app.handler (default: the executable's file name).
    #[arg(long)]
    handler: Option<String>,

    /// Lambda's runtime identifier, e.g. python3.12, nodejs20.x, provided.al2023: sets
    /// AWS_EXECUTION_ENV for managed runtimes.
    #[arg(long)]
    runtime: Option<String>,

    /// Memory size in MB (128 to 10240); the CPU budget is MEMORY/1769 of a vCPU.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(128..=10240))]
    memory: u32,

    /// Per-invocation timeout (e.g. 3s, 500ms, 15m; at most 15m, Lambda's limit).
    #[arg(long, default_value = "3s", value_parser = parse_function_timeout)]
    timeout: Duration,

    /// Lambda's reserved concurrency: at most N instances, and invocations beyond them are
    /// throttled at once (Invoke: 429 TooManyRequestsException; API Gateway: 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10000))]
    reserved_concurrency: Option<u64>,

    /// Without --reserved-concurrency: at most N instances, and further invocations wait
    /// in line instead of being throttled (for load tests of the function itself).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10000))]
    max_instances: u64,

    /// An environment variable for the function, KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Address to listen on. Port 0 picks a free port; the bound address is printed.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,

    /// Print each invocation's stdout/stderr and REPORT line on stderr.
    #[arg(long)]
    logs: bool,

    /// Run without the CPU and memory budget.
    #[arg(long)]
    no_cpu_limits: bool,

    /// The CFS period of the CPU budget (Lambda: 20ms; Kubernetes and Docker: 100ms).
    #[arg(long, default_value = "20ms", value_parser = parse_positive_duration)]
    cpu_period: Duration,

    /// AWS_REGION for the function and the region in ARNs.
    #[arg(long, default_value = "eu-west-2")]
    region: String,

    /// Close a connection that has not sent a complete request head within this time.
    #[arg(long, default_value = "10s", value_parser = parse_limit_duration)]
    header_read_timeout: Duration,

    /// Close a keep-alive connection idle for this long after its last answer.
    #[arg(long, default_value = "75s", value_parser = parse_limit_duration)]
    idle_timeout: Duration,

    /// Answer 408 to a request whose body has not arrived within this time.
    #[arg(long, default_value = "30s", value_parser = parse_limit_duration)]
    body_read_timeout: Duration,

    /// Internal: the reaper of a `latency platform` (see --help).
    #[arg(long, hide = true)]
    reap: bool,

    /// The command (and its arguments) that runs the Runtime API loop.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if duration.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(duration)
}

/// Lambda's limit on a function's timeout: 900 s
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html>).
fn parse_function_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_positive_duration(text)?;
    if duration > Duration::from_secs(900) {
        return Err(format!("must be at most 15m (Lambda's limit), not {text}"));
    }
    Ok(duration)
}

/// A connection limit: more than zero, at most an hour.
fn parse_limit_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_positive_duration(text)?;
    if duration > Duration::from_secs(3600) {
        return Err(format!("must be at most 1h, not {text}"));
    }
    Ok(duration)
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

pub(crate) fn run(args: PlatformArgs) -> anyhow::Result<ExitCode> {
    if args.reap {
        return reap();
    }
    // Read here, not in the library: the CLI is the one place that reads the environment.
    let credentials: Vec<(String, String)> = CREDENTIAL_VARS
        .iter()
        .filter_map(|key| std::env::var(key).ok().map(|v| ((*key).to_owned(), v)))
        .collect();
    crate::runtime::block_on(serve(args, credentials))
}

/// The function's code directory, extracting a zip into `scratch` first.
fn code_dir(
    code: &Path,
    scratch: &mut Option<tempfile::TempDir>,
    reaper: Option<&Reaper>,
) -> anyhow::Result<PathBuf> {
    if code.is_dir() {
        return std::path::absolute(code).context("cannot resolve --code");
    }
    if !code.is_file() {
        bail!("--code {}: no such directory or zip file", code.display());
    }
    check_zip(code)?;
    let dir = tempfile::Builder::new()
        .prefix(CODE_DIR_PREFIX)
        .tempdir()
        .context("cannot create a directory to extract --code into")?;
    if let Some(reaper) = reaper {
        reaper.tell(&format!("code {}", dir.path().display()));
    }
    // unzip keeps the archive's file modes (an executable `bootstrap` stays executable),
    // which is what Lambda does with a deployment package.
    let status = std::process::Command::new("unzip")
        .arg("-q")
        .arg(code)
        .arg("-d")
        .arg(dir.path())
        .status()
        .context("cannot run unzip to extract --code (install it: apt-get install unzip)")?;
    if !status.success() {
        bail!(
            "--code {}: unzip failed ({status}); is it a zip file?",
            code.display()
        );
    }
    let path = dir.path().to_path_buf();
    *scratch = Some(dir);
    Ok(path)
}

fn function_spec(
    args: &PlatformArgs,
    code: Option<&Path>,
    credentials: Vec<(String, String)>,
) -> anyhow::Result<FunctionSpec> {
    let (command, rest) = match (args.command.split_first(), code) {
        (Some((command, rest)), _) => (PathBuf::from(command), rest.to_vec()),
        (None, Some(dir)) => {
            let bootstrap = dir.join("bootstrap");
            if !bootstrap.is_file() {
                bail!(
                    "{} has no `bootstrap`: give the command after --, e.g. `-- python3 -m awslambdaric app.handler`",
                    dir.display()
                );
            }
            (bootstrap, Vec::new())
        }
        (None, None) => {
            bail!("nothing to run: give --code DIR|ZIP with a `bootstrap`, or a command after --")
        }
    };
    // A relative command path is resolved where it was meant: inside the code directory
    // with --code (`.venv/bin/python`), as the function runs there; without it, in the
    // caller's directory (`target/release/latency-lambda`), since the function then runs
    // in a scratch task root.
    let is_relative_path = command.components().count() > 1 && command.is_relative();
    let command = match code {
        Some(dir) if is_relative_path => dir.join(command),
        None if is_relative_path => std::path::absolute(&command)
            .with_context(|| format!("cannot resolve {}", command.display()))?,
        _ => command,
    };
    let mut spec = FunctionSpec::new(&args.name, command)
        .args(rest)
        .memory_mb(args.memory)
        .timeout(args.timeout)
        .cpu_period(args.cpu_period);
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    spec = match args.reserved_concurrency {
        Some(limit) => spec.reserved_concurrency(count(limit)),
        None => spec.max_concurrency(count(args.max_instances)),
    };
    if let Some(dir) = code {
        spec = spec.task_root(dir);
    }
    if let Some(handler) = &args.handler {
        spec = spec.handler(handler);
    }
    if let Some(runtime) = &args.runtime {
        spec = spec.runtime(runtime);
    }
    for (key, value) in credentials.into_iter().chain(args.env.iter().cloned()) {
        spec = spec.env(key, value);
    }
    if args.no_cpu_limits {
        spec = spec.unthrottled();
    }
    Ok(spec)
}

/// Prints one invocation's output and REPORT line on stderr, as CloudWatch would show it.
fn print_logs(outcome: &InvocationOutcome) {
    let mut stderr = std::io::stderr().lock();
    let id = outcome.request_id();
    let _ = writeln!(stderr, "START RequestId: {id} Version: $LATEST");
    let _ = stderr.write_all(&outcome.logs);
    if let Err(err) = &outcome.result {
        let _ = writeln!(stderr, "{err}");
    }
    let _ = writeln!(stderr, "END RequestId: {id}");
    let _ = writeln!(stderr, "{}", outcome.report.line());
}

async fn serve(args: PlatformArgs, credentials: Vec<(String, String)>) -> anyhow::Result<ExitCode> {
    // Started first: from here on, whatever this process leaves behind if it is killed
    // (instances and what they started, cgroups, extracted code) has someone to remove it.
    let reaper = match Reaper::start() {
        Ok(reaper) => Some(std::sync::Arc::new(reaper)),
        Err(err) => {
            tracing::warn!(
                "no reaper: if this process is killed with SIGKILL, processes the functions started may survive it: {err:#}"
            );
            None
        }
    };
    let mut scratch = None;
    let code = args
        .code
        .as_deref()
        .map(|code| code_dir(code, &mut scratch, reaper.as_deref()))
        .transpose()?;
    let spec = function_spec(&args, code.as_deref(), credentials)?;
    let instance_observer = reaper.clone().map(|reaper| {
        InstanceObserver(std::sync::Arc::new(move |event| match event {
            InstanceEvent::Started(pid) => reaper.tell(&format!("pg {pid}")),
            InstanceEvent::Reaped(pid) => reaper.tell(&format!("end {pid}")),
        }))
    });
    let config = PlatformConfig {
        region: args.region.clone(),
        observer: args
            .logs
            .then(|| InvocationObserver(std::sync::Arc::new(print_logs))),
        instance_observer,
        ..PlatformConfig::default()
    };
    let platform = Platform::start_with(config, vec![spec]).context("invalid function settings")?;
    if !platform.throttling().is_applied() && !args.no_cpu_limits {
        tracing::warn!(
            "the CPU and memory budget is not applied: {}",
            platform.throttling()
        );
    }
    // Listen for SIGINT and SIGTERM before anyone can learn the address: a signal sent
    // as soon as the address line appears must still stop every instance and remove the
    // cgroups, which the default action (exit at once) would not.
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let listener = crate::serve_cmd::bind(args.listen).await?;
    let front = platform
        .serve_gateway_with(
            &args.name,
            listener,
            GatewayOptions {
                body_read_timeout: args.body_read_timeout,
                server: latency_app::ServerConfig {
                    header_read_timeout: args.header_read_timeout,
                    idle_timeout: args.idle_timeout,
                    ..latency_app::ServerConfig::default()
                },
                ..GatewayOptions::default()
            },
        )
        .await
        .context("cannot start the API Gateway front")?;
    if let Some(note) = platform.budget_note(&args.name) {
        tracing::info!("{note}");
    }
    println!("listening on {}", front.url());

    tokio::select! {
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
    tracing::info!("shutting down: stopping every instance");
    let pending = platform.async_pending();
    if pending > 0 {
        tracing::warn!("{pending} queued Event invocation(s) are dropped unrun");
    }
    // Instances first: a request in flight then ends at once (its instance is gone)
    // instead of holding the front open.
    let totals = platform.totals(&args.name).unwrap_or_default();
    platform.shutdown().await;
    front.shutdown().await;
    tracing::info!("{}: {}", args.name, totals.summary_line());
    drop(scratch);
    if let Some(reaper) = reaper {
        reaper.finish();
    }
    Ok(ExitCode::SUCCESS)
}

/// The prefix of the directory a --code zip is extracted into; the reaper removes only
/// directories named so.
const CODE_DIR_PREFIX: &str = "latency-platform-code-";

/// Most entries a --code zip may hold (Lambda's own limit is on size, 250 MB unzipped,
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>; a zip of
/// millions of empty files is as much a bomb).
const MAX_ZIP_ENTRIES: u64 = 10_000;

/// Most bytes a --code zip may expand to: 1 GiB, four times Lambda's 250 MB limit on a
/// function's unzipped code (container images may be 10 GB; those are not zips).
const MAX_ZIP_EXPANDED_BYTES: u64 = 1 << 30;

/// Refuses a zip that would expand past [`MAX_ZIP_EXPANDED_BYTES`] or hold more than
/// [`MAX_ZIP_ENTRIES`] entries, from its central directory as `unzip -Zl` lists it, before
/// anything is extracted. (`unzip` itself checks each entry's data against the sizes
/// listed there, so a lying header fails the extraction instead of filling the disk.)
fn check_zip(code: &Path) -> anyhow::Result<()> {
    let output = std::process::Command::new("unzip")
        .arg("-Zl")
        .arg(code)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run unzip to read --code (install it: apt-get install unzip)")?;
    if !output.status.success() {
        bail!(
            "--code {}: not a readable zip file (unzip -Zl: {})",
            code.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let listing = String::from_utf8_lossy(&output.stdout);
    let Some((entries, expanded)) = zip_totals(&listing) else {
        bail!(
            "--code {}: cannot read the zip's size from its listing (empty zip?)",
            code.display()
        );
    };
    if entries > MAX_ZIP_ENTRIES {
        bail!(
            "--code {}: {entries} entries, more than the limit of {MAX_ZIP_ENTRIES}",
            code.display()
        );
    }
    if expanded > MAX_ZIP_EXPANDED_BYTES {
        bail!(
            "--code {}: expands to {expanded} bytes, more than the limit of {MAX_ZIP_EXPANDED_BYTES} bytes (1 GiB)",
            code.display()
        );
    }
    Ok(())
}

/// Entries and total uncompressed bytes from `unzip -Zl` output: its trailer line,
/// `3 files, 5 bytes uncompressed, 5 bytes compressed:  0.0%` (`1 file, …` for one).
fn zip_totals(listing: &str) -> Option<(u64, u64)> {
    listing.lines().rev().find_map(|line| {
        let (files, rest) = line.trim().split_once(", ")?;
        let files = files
            .strip_suffix(" files")
            .or_else(|| files.strip_suffix(" file"))?;
        let (bytes, _) = rest.split_once(" bytes uncompressed")?;
        Some((files.trim().parse().ok()?, bytes.trim().parse().ok()?))
    })
}

/// The other end of `latency platform --reap`: a process that outlives this one by a
/// moment. It is told (one line each on its stdin) every instance's process group and
/// the extracted code directory; when its stdin closes without `clean` (this process
/// died, however: SIGKILL included, since the kernel closes a dead process's pipes), it
/// kills those process groups, removes the cgroups of dead runs (killing any process
/// still in them: the functions' own children included) and the code directory.
///
/// Why a process: `PR_SET_PDEATHSIG` kills an instance's runtime with this process, but
/// not what the runtime started (a plain child is not told), and nothing in a killed
/// process can remove its cgroups.
struct Reaper {
    child: std::sync::Mutex<std::process::Child>,
    lifeline: std::sync::Mutex<Option<std::process::ChildStdin>>,
}

impl Reaper {
    fn start() -> anyhow::Result<Reaper> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new(exe)
            .args(["platform", "--reap"])
            .stdin(std::process::Stdio::piped())
            // Not the platform's stdout and stderr: whoever reads those to their end must
            // not wait for the reaper, which outlives the platform by a moment.
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Its own group: a terminal's Ctrl-C must not end it before its work starts.
            .process_group(0)
            .spawn()
            .context("cannot start the reaper")?;
        let lifeline = child.stdin.take();
        Ok(Reaper {
            child: std::sync::Mutex::new(child),
            lifeline: std::sync::Mutex::new(lifeline),
        })
    }

    /// Sends one line. A reaper that is gone is not fatal: it only matters on SIGKILL.
    fn tell(&self, line: &str) {
        let mut lifeline = self.lifeline.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pipe) = lifeline.as_mut()
            && writeln!(pipe, "{line}").is_err()
        {
            *lifeline = None;
        }
    }

    /// Tells the reaper everything is cleaned up, and waits for it (at most 5 s).
    fn finish(&self) {
        self.tell("clean");
        self.lifeline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..250 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `latency platform --reap`: see [`Reaper`].
fn reap() -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    // The platform that started this process; read now, before it can die and this
    // process be given to another parent.
    let platform = std::os::unix::process::parent_id();
    let mut groups = std::collections::BTreeSet::new();
    let mut code_dirs = Vec::new();
    let mut clean = false;
    // Ends at EOF: when the platform exits or dies.
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.split_once(' ') {
            Some(("pg", pid)) => {
                if let Ok(pid) = pid.parse::<u32>() {
                    groups.insert(pid);
                }
            }
            Some(("end", pid)) => {
                if let Ok(pid) = pid.parse::<u32>() {
                    groups.remove(&pid);
                }
            }
            Some(("code", dir)) => code_dirs.push(PathBuf::from(dir)),
            _ if line == "clean" => clean = true,
            _ => {}
        }
    }
    if clean {
        return Ok(ExitCode::SUCCESS);
    }
    for pid in groups {
        latency_platform::process::kill_group(pid);
    }
    // A killed process closes its pipes before it is gone for good, and the sweep below
    // removes only the cgroups of runs whose process is gone: wait for that (at most
    // 5 s, checked every 10 ms).
    for _ in 0..500 {
        if !latency_platform::process::is_alive(platform) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Ok(root) = latency_platform::cgroup::CgroupRoot::detect() {
        latency_platform::cgroup::remove_stale(&root);
    }
    for dir in code_dirs {
        let named_ours = dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(CODE_DIR_PREFIX));
        if named_ours {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(ExitCode::SUCCESS)
}
