//! `latency platform`: any Lambda function, run locally behind the API Gateway front and
//! the Invoke API, with Lambda's environment, CPU budget, timeout and concurrency.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use latency_platform::{
    FunctionSpec, GatewayOptions, InvocationObserver, InvocationOutcome, Platform, PlatformConfig,
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
  SIGINT or SIGTERM stops every instance and removes its cgroups; instances die with
  this process even on SIGKILL.

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

    /// Per-invocation timeout (e.g. 3s, 500ms, 15m).
    #[arg(long, default_value = "3s", value_parser = parse_positive_duration)]
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

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

pub(crate) fn run(args: PlatformArgs) -> anyhow::Result<ExitCode> {
    // Read here, not in the library: the CLI is the one place that reads the environment.
    let credentials: Vec<(String, String)> = CREDENTIAL_VARS
        .iter()
        .filter_map(|key| std::env::var(key).ok().map(|v| ((*key).to_owned(), v)))
        .collect();
    crate::runtime::block_on(serve(args, credentials))
}

/// The function's code directory, extracting a zip into `scratch` first.
fn code_dir(code: &Path, scratch: &mut Option<tempfile::TempDir>) -> anyhow::Result<PathBuf> {
    if code.is_dir() {
        return std::path::absolute(code).context("cannot resolve --code");
    }
    if !code.is_file() {
        bail!("--code {}: no such directory or zip file", code.display());
    }
    let dir = tempfile::Builder::new()
        .prefix("latency-platform-code-")
        .tempdir()
        .context("cannot create a directory to extract --code into")?;
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
    let mut scratch = None;
    let code = args
        .code
        .as_deref()
        .map(|code| code_dir(code, &mut scratch))
        .transpose()?;
    let spec = function_spec(&args, code.as_deref(), credentials)?;
    let config = PlatformConfig {
        region: args.region.clone(),
        observer: args
            .logs
            .then(|| InvocationObserver(std::sync::Arc::new(print_logs))),
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
        .serve_gateway_with(&args.name, listener, GatewayOptions::default())
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
    // Instances first: a request in flight then ends at once (its instance is gone)
    // instead of holding the front open.
    let totals = platform.totals(&args.name).unwrap_or_default();
    platform.shutdown().await;
    front.shutdown().await;
    tracing::info!("{}: {}", args.name, totals.summary_line());
    drop(scratch);
    Ok(ExitCode::SUCCESS)
}
