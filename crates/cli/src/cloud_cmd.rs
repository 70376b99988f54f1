//! `latency cloud`: deploy rows on a real account with Terraform, measure them with the
//! same engine as `latency bench` and the lab, set the figures beside the lab's prediction
//! and the study's, and tear everything down.
//!
//! Terraform is driven by `latency-terraform` (one workspace per architecture id); the
//! cost guard prices with `latency-cost`; the bench is `latency-bench` (and, with
//! `--via-lambda`, the bench Lambda through [`crate::fanout`]).

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use latency_arch::ArchitectureId;
use latency_bench::{BenchConfig, CounterCheckMode, Report, Stop, Verdict};
use latency_cost::{Options, RowCost, Workload, catalogue_row, price};
use latency_terraform::{Hooks, Plan, Terraform, TerraformConfig, Vars, shell_quote};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::json_out::JsonOut;

mod compare;

use compare::{CloudResult, Predicted, RowResult, Side, read_prediction, render};

const CLOUD_HELP: &str = "\
Deploy, measure and tear down rows on a real AWS account, one Terraform workspace per
architecture id (deploying a second row never touches the first):

  latency cloud run --only lambda-dynamodb,fargate-efs --region eu-west-2

  plan   what `up` would create for each row, and its hourly and monthly cost; creates nothing
  up     terraform plan, the cost guard, terraform apply, then wait until each row's `url`
         output answers GET /healthz (queue rows: until their front door answers at all)
  bench  measure each deployed row from this machine (the study's \"from outside\", over
         HTTPS), and with --via-lambda also from inside the region through the bench Lambda
  down   terraform destroy (--only IDS, --all, or --expired); a row that cannot be destroyed
         is listed with the command that finishes the job
  run    up, bench, down. It ALWAYS destroys: after a failed apply, a failed bench, Ctrl-C or
         SIGTERM too (a second Ctrl-C abandons the destroy and prints the commands)
  ls     what is still deployed: resources, run id, region, expiry; EXPIRED rows flagged

Cost guard: before anything is created, `up` and `run` print what each row creates (from
terraform's plan) and what it costs an hour and a month (the cost model of `latency cost`,
--sheet current by default), and ask on a terminal. --yes confirms for scripts; with no
terminal and no --yes they refuse. Every resource is tagged with project, architecture,
run_id and expires_at (now + --max-hours); `ls` flags what has expired.

Terraform state: kept outside the repository, in --state-dir/CONFIG (CONFIG is the
configuration directory's name, e.g. `terraform`):
  default --state-dir   $LATENCY_CLOUD_STATE, else $XDG_STATE_HOME/latency/cloud,
                        else ~/.local/state/latency/cloud
  CONFIG/workspaces/ID/terraform.tfstate   each row's state
  CONFIG/data/          terraform's data directory (providers, modules)
  CONFIG/runs/ID.json   the run id, region, expiry and variables each row was created with
Keep it: it is how `down` finds what `up` created. The configuration must declare
`backend \"local\" {}` (deploy/terraform does).

Results: results/cloud/RUN_ID/ (or --out): ID-outside.json and ID-inside.json (Reports for
`latency report`), ID-apply.log and ID-destroy.log (terraform's output), report.md and
cloud.json (the comparison; also --json). The comparison sets, per row, the measured mean
(the study's latency.py figure: every request, one after another) beside the lab's
prediction for the same row (--prediction FILE, written by `latency lab --cloud REGION
--json FILE`), with the prediction's error, and the study's own figure.

Examples:
  latency cloud plan --only lambda-dynamodb
  latency cloud run --only lambda-dynamodb,fargate-efs --region eu-west-2 \\
      --prediction results/lab-eu-west-2.json
  latency cloud up --only ec2 --max-hours 4 --yes
  latency cloud bench --only ec2 -n 1000 --via-lambda --fanout 4
  latency cloud ls
  latency cloud down --all";

/// Flags of `latency cloud`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = CLOUD_HELP)]
pub(crate) struct CloudArgs {
    #[command(subcommand)]
    command: CloudCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CloudCommand {
    /// Show what `up` would create for each row and what it costs; creates nothing.
    Plan(PlanArgs),
    /// Create the rows (after the cost guard) and wait until each one answers.
    Up(UpArgs),
    /// Measure deployed rows from here (and from the region with --via-lambda).
    Bench(BenchOnlyArgs),
    /// Destroy rows.
    Down(DownArgs),
    /// up, bench, down: always destroys, also after a failure, Ctrl-C or SIGTERM.
    Run(RunArgs),
    /// List what is still deployed, with run id and expiry; flag what has expired.
    Ls(LsArgs),
}

/// Which configuration, which terraform, and where its state lives.
#[derive(Debug, Clone, clap::Args)]
struct Where {
    /// The Terraform configuration to deploy (deploy/terraform-local is a stand-in that
    /// starts local processes and needs no account).
    #[arg(long, value_name = "DIR", default_value = "deploy/terraform")]
    terraform_dir: PathBuf,

    /// Where Terraform's state is kept, outside the repository: DIR/CONFIG/workspaces/ID/
    /// per row, CONFIG being the configuration directory's name [default:
    /// $XDG_STATE_HOME/latency/cloud or ~/.local/state/latency/cloud].
    #[arg(long, value_name = "DIR", env = "LATENCY_CLOUD_STATE")]
    state_dir: Option<PathBuf>,

    /// The terraform program.
    #[arg(long, value_name = "PATH", default_value = "terraform")]
    terraform: PathBuf,
}

/// The long help's tail of each `latency cloud` subcommand: where the whole story is, and
/// the exit codes (the same for every subcommand).
fn sub_help() -> String {
    format!(
        "Cost guard, where state lives, results and examples: `latency cloud --help`.\n\n{}",
        crate::exit_codes("cloud")
    )
}

/// `--only`.
#[derive(Debug, Clone, clap::Args)]
struct Only {
    /// Rows to act on: architecture ids, comma-separated (`latency lab --list` shows them).
    #[arg(long, value_name = "IDS", value_delimiter = ',', required = true, value_parser = parse_row)]
    only: Vec<ArchitectureId>,
}

impl Only {
    /// The ids in the order given, each once (a row has one workspace).
    fn ids(&self) -> Vec<ArchitectureId> {
        unique(&self.only)
    }
}

fn unique(ids: &[ArchitectureId]) -> Vec<ArchitectureId> {
    let mut seen = std::collections::BTreeSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// What `plan`, `up` and `run` pass to Terraform.
#[derive(Debug, Clone, clap::Args)]
struct Deploy {
    /// The AWS region (the study's was eu-west-2, London).
    #[arg(long, value_name = "REGION", default_value = "eu-west-2")]
    region: String,

    /// Tag every resource to expire this many hours from now; `ls` flags it afterwards.
    #[arg(long, value_name = "HOURS", default_value_t = 2.0, value_parser = parse_hours)]
    max_hours: f64,

    /// Another Terraform variable, NAME=VALUE (repeatable), e.g.
    /// container_image=REGISTRY/latency:0.1.0. A row's own settings (memory, runtime,
    /// CPU architecture, sizes) are its description's: deploy/architectures/<id>.json.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,

    /// The account's Lambda concurrency limit (Service Quotas: "Concurrent executions");
    /// what the descriptions reserve must leave 100 of it unreserved, and nothing is
    /// created when it would not. New accounts may start at 10.
    #[arg(long, value_name = "N", default_value_t = latency_description::limits::DEFAULT_ACCOUNT_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    account_concurrency: u32,

    /// Prices for the cost guard: `current`, `original-era`, or a TOML sheet's path.
    #[arg(long, value_name = "NAME|PATH", default_value = "current")]
    sheet: String,
}

/// The cost guard's confirmation and the wait for readiness.
#[derive(Debug, Clone, clap::Args)]
struct Confirm {
    /// Create without asking (scripts); without it, `up` and `run` ask on a terminal and
    /// refuse when there is none.
    #[arg(long)]
    yes: bool,

    /// How long each row may take to answer after its apply.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    ready_timeout: Duration,
}

/// How `bench` and `run` measure.
#[derive(Debug, clap::Args)]
struct Measure {
    /// Measured requests per row (1000, one after another, is the study's latency.py).
    #[arg(
        short = 'n',
        long = "requests",
        value_name = "N",
        default_value_t = 1000
    )]
    requests: u64,

    /// Concurrent connections.
    #[arg(
        short = 'c',
        long = "concurrency",
        value_name = "C",
        default_value_t = 1
    )]
    concurrency: usize,

    /// Per-request timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// A row fails when more than this share of its requests fail (0.01 or 1%).
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_fraction)]
    max_error_rate: f64,

    /// Also measure from inside the region: invoke the row's bench Lambda (its
    /// `bench_function` output), which runs the same engine and returns its Report.
    #[arg(long)]
    via_lambda: bool,

    /// With --via-lambda: K invocations at once, each with 1/K of the load; Reports merged.
    #[arg(long, value_name = "K", default_value_t = 1, requires = "via_lambda")]
    fanout: usize,

    /// With --via-lambda: the Lambda API endpoint (a local function platform's).
    #[arg(long, value_name = "URL", requires = "via_lambda")]
    lambda_endpoint: Option<String>,

    /// The lab's prediction to compare with: the JSON `latency lab --cloud REGION --json
    /// FILE` wrote.
    #[arg(long, value_name = "FILE")]
    prediction: Option<PathBuf>,

    /// Directory for the Reports, logs and report.md [default: results/cloud/RUN_ID].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    #[command(flatten)]
    json: crate::json_out::JsonArg,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct PlanArgs {
    #[command(flatten)]
    only: Only,
    #[command(flatten)]
    deploy: Deploy,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct UpArgs {
    #[command(flatten)]
    only: Only,
    #[command(flatten)]
    deploy: Deploy,
    #[command(flatten)]
    confirm: Confirm,
    /// Directory for the apply logs [default: results/cloud/RUN_ID].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct BenchOnlyArgs {
    #[command(flatten)]
    only: Only,
    #[command(flatten)]
    measure: Measure,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct DownArgs {
    /// Rows to destroy, comma-separated.
    #[arg(long, value_name = "IDS", value_delimiter = ',', value_parser = parse_row,
          required_unless_present_any = ["all", "expired"], conflicts_with_all = ["all", "expired"])]
    only: Vec<ArchitectureId>,
    /// Destroy every row that still has resources.
    #[arg(long, conflicts_with = "expired")]
    all: bool,
    /// Destroy the rows whose expiry (`--max-hours` at `up`) has passed, as `ls` flags them.
    #[arg(long)]
    expired: bool,
    /// With --expired: judge expiry at this time (RFC 3339) instead of now, e.g. to clear
    /// tonight what would expire by the morning.
    #[arg(long, value_name = "TIME", requires = "expired", value_parser = humantime::parse_rfc3339_weak)]
    at: Option<SystemTime>,
    /// The region, for a row whose record is lost (otherwise the record's is used).
    #[arg(long, value_name = "REGION", default_value = "eu-west-2")]
    region: String,
    /// Another Terraform variable, NAME=VALUE, over the ones the row was created with.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct RunArgs {
    #[command(flatten)]
    only: Only,
    #[command(flatten)]
    deploy: Deploy,
    #[command(flatten)]
    confirm: Confirm,
    #[command(flatten)]
    measure: Measure,
    #[command(flatten)]
    place: Where,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = sub_help())]
struct LsArgs {
    /// Judge expiry at this time (RFC 3339) instead of now, e.g. to see what will have
    /// expired by tomorrow morning.
    #[arg(long, value_name = "TIME", value_parser = humantime::parse_rfc3339_weak)]
    at: Option<SystemTime>,
    #[command(flatten)]
    json: crate::json_out::JsonArg,
    #[command(flatten)]
    place: Where,
}

/// An `--only` entry: an id `ArchitectureId` parses. The lab's `?mode=` selectors are
/// store modes of a local row, not something Terraform deploys.
fn parse_row(text: &str) -> Result<ArchitectureId, String> {
    if let Some((id, mode)) = text.split_once('?') {
        return Err(format!(
            "`{text}` is a lab selector (`{mode}` is a store mode the lab runs locally), not a \
             deployable row; deploy `{id}`. Valid ids: {}",
            ArchitectureId::valid_ids()
        ));
    }
    text.parse::<ArchitectureId>().map_err(|e| e.to_string())
}

fn parse_hours(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(h) if h > 0.0 && h <= 24.0 * 7.0 => Ok(h),
        _ => Err(format!(
            "`{text}` is not a number of hours above 0 and at most 168 (a week)"
        )),
    }
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    let reserved = ["architecture", "region", "run_id", "expires_at"];
    if reserved.contains(&name) {
        return Err(format!(
            "`{name}` is set by `latency cloud` itself (--only, --region, the run id, --max-hours)"
        ));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!("`{name}` is not a Terraform variable name"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a fraction (0.01) or a percentage (1%)"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is not between 0 and 100%"))
    }
}

/// What `latency cloud` records beside the state for each row it creates: what `down`
/// needs to destroy it (the variables) and what `ls` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RowRecord {
    architecture: String,
    run_id: String,
    region: String,
    expires_at: String,
    /// The other `--var`s the row was created with.
    #[serde(default)]
    vars: BTreeMap<String, String>,
}

impl RowRecord {
    fn terraform_vars(&self) -> Vars {
        let mut vars = self.vars.clone();
        vars.insert("architecture".into(), self.architecture.clone());
        vars.insert("region".into(), self.region.clone());
        vars.insert("run_id".into(), self.run_id.clone());
        vars.insert("expires_at".into(), self.expires_at.clone());
        vars
    }
}

/// The configuration, terraform, and the state directory of one invocation.
struct Cloud {
    tf: Terraform,
    state: PathBuf,
}

impl Cloud {
    fn new(place: &Where) -> anyhow::Result<Self> {
        let config_dir = std::fs::canonicalize(&place.terraform_dir).with_context(|| {
            format!(
                "no Terraform configuration at {} (run from the repository's root, or pass \
                 --terraform-dir)",
                place.terraform_dir.display()
            )
        })?;
        let name = config_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config".to_owned());
        let root = match &place.state_dir {
            Some(dir) => absolute(dir)?,
            None => default_state_root()?,
        };
        let state = root.join(name);
        let mut config = TerraformConfig::new(config_dir, &state);
        config.program.clone_from(&place.terraform);
        Ok(Self {
            tf: Terraform::new(config),
            state,
        })
    }

    fn record_path(&self, id: ArchitectureId) -> PathBuf {
        self.state.join("runs").join(format!("{id}.json"))
    }

    fn read_record(&self, id: ArchitectureId) -> Option<RowRecord> {
        let text = std::fs::read_to_string(self.record_path(id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write_record(&self, id: ArchitectureId, record: &RowRecord) -> anyhow::Result<()> {
        let path = self.record_path(id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(record)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// `terraform version` (a clear error when it is missing) and `terraform init`.
    async fn init(&self, stop: &Signals) -> anyhow::Result<()> {
        let version = self.tf.version().await?;
        let spinner = Spinner::new(format!("terraform {version}: init"));
        let mut on_line = |line: &str| spinner.line(line);
        let hooks = Hooks {
            on_line: Some(&mut on_line),
            interrupt: Some(stop.stop.clone()),
            log: Some(self.state.join("init.log")),
        };
        let outcome = self.tf.init(hooks).await;
        spinner.done();
        outcome.map_err(anyhow::Error::from)
    }

    /// The shell commands that finish destroying `id`.
    fn finish_commands(&self, id: ArchitectureId, vars: &Vars) -> Vec<String> {
        vec![
            format!(
                "latency cloud down --only {id} --terraform-dir {} --state-dir {}",
                shell_quote(&self.tf.config().config_dir.display().to_string()),
                shell_quote(
                    &self
                        .state
                        .parent()
                        .unwrap_or(&self.state)
                        .display()
                        .to_string()
                )
            ),
            self.tf.destroy_command(id.as_str(), vars),
        ]
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

fn default_state_root() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("latency/cloud"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither XDG_STATE_HOME nor HOME is set: pass --state-dir")?;
    Ok(PathBuf::from(home).join(".local/state/latency/cloud"))
}

/// Ctrl-C and SIGTERM: the first asks to stop (an apply is interrupted, a bench dropped;
/// `run` then destroys), the second abandons a destroy in progress.
struct Signals {
    stop: watch::Receiver<bool>,
    abandon: watch::Receiver<bool>,
}

impl Signals {
    /// Installs the handlers; `on_stop` is printed at the first signal (what happens next).
    fn install(on_stop: &'static str) -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt =
            signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        let mut terminate =
            signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let (stop_tx, stop) = watch::channel(false);
        let (abandon_tx, abandon) = watch::channel(false);
        tokio::spawn(async move {
            for count in 0..2 {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                if count == 0 {
                    eprintln!("\ninterrupted: {on_stop}");
                    let _ = stop_tx.send(true);
                } else {
                    eprintln!("\ninterrupted again: abandoning the destroy");
                    let _ = abandon_tx.send(true);
                }
            }
            // Later signals are received and ignored here, so they cannot kill the
            // process while it prints what is left.
            loop {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
        });
        Ok(Self { stop, abandon })
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    async fn wait_stop(&self) {
        let mut rx = self.stop.clone();
        if rx.wait_for(|&s| s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A spinner on a terminal; one line per step on stderr otherwise.
struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    fn new(message: String) -> Self {
        if !std::io::stderr().is_terminal() {
            eprintln!("{message}");
            return Self { bar: None };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.set_prefix(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar: Some(bar) }
    }

    fn line(&self, line: &str) {
        if let Some(bar) = &self.bar {
            let line = line.trim();
            if !line.is_empty() {
                bar.set_message(line.to_owned());
            }
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub(crate) fn run(args: CloudArgs) -> anyhow::Result<ExitCode> {
    let outcome = crate::runtime::block_on(async move {
        match args.command {
            CloudCommand::Plan(a) => plan_cmd(a).await,
            CloudCommand::Up(a) => up_cmd(a).await,
            CloudCommand::Bench(a) => bench_cmd(a).await,
            CloudCommand::Down(a) => down_cmd(a).await,
            CloudCommand::Run(a) => run_cmd(a).await,
            CloudCommand::Ls(a) => ls_cmd(a).await,
        }
    });
    match outcome {
        Err(err) if err.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(2))
        }
        // Interrupted before anything was applied (init, plan): nothing to clean up.
        Err(err)
            if matches!(
                err.downcast_ref::<latency_terraform::TerraformError>(),
                Some(latency_terraform::TerraformError::Interrupted { .. })
            ) =>
        {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        other => other,
    }
}

/// An error that is the caller's to fix (exit 2), like clap's.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

const STOP_NOTHING_CREATED: &str = "stopping";
const STOP_UP: &str = "stopping once terraform has saved its state; what was created stays \
                       until `latency cloud down`";
const STOP_DOWN: &str = "the destroy goes on (interrupt again to abandon it)";
const STOP_RUN: &str =
    "stopping; what was created will be destroyed (interrupt again to abandon the destroy)";

/// The region shown for a row whose record (written by `up`) is missing; the bench
/// Lambda is then looked for in the standard AWS configuration's region.
const UNKNOWN_REGION: &str = "unknown region";

/// Exit status after an interrupt that was cleaned up after: 128 + SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

fn new_run_id() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    // 20261207200618 -> 20261207-200618-xxxx
    let (date, time) = digits.split_at(digits.len().min(8));
    format!("{date}-{time}-{:04x}", fastrand::u16(..))
}

fn expiry(max_hours: f64) -> String {
    let at = SystemTime::now() + Duration::from_secs_f64(max_hours * 3600.0);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The rows of one `up`, planned.
struct Planned {
    id: ArchitectureId,
    record: RowRecord,
    plan: Plan,
}

async fn plan_rows(
    cloud: &Cloud,
    ids: &[ArchitectureId],
    deploy: &Deploy,
    run_id: &str,
    stop: &Signals,
) -> anyhow::Result<Vec<Planned>> {
    check_reservations(ids, deploy)?;
    cloud.init(stop).await?;
    let expires_at = expiry(deploy.max_hours);
    let mut planned = Vec::new();
    for &id in ids {
        if stop.stopped() {
            break;
        }
        cloud.tf.ensure_workspace(id.as_str()).await?;
        let record = RowRecord {
            architecture: id.to_string(),
            run_id: run_id.to_owned(),
            region: deploy.region.clone(),
            expires_at: expires_at.clone(),
            vars: deploy.vars.iter().cloned().collect(),
        };
        let spinner = Spinner::new(format!("{id}: terraform plan"));
        let mut on_line = |line: &str| spinner.line(line);
        let hooks = Hooks {
            on_line: Some(&mut on_line),
            interrupt: Some(stop.stop.clone()),
            log: Some(cloud.state.join(format!("plans/{id}.log"))),
        };
        let plan = cloud
            .tf
            .plan(id.as_str(), &record.terraform_vars(), hooks)
            .await;
        spinner.done();
        planned.push(Planned {
            id,
            record,
            plan: plan?,
        });
    }
    Ok(planned)
}

/// Refuses, before anything is planned, rows whose descriptions (with the bench function,
/// unless `--var deploy_bench_lambda=false`) reserve more concurrency than the account
/// allows; the error names each reserving setting (crates/description/src/limits.rs).
fn check_reservations(ids: &[ArchitectureId], deploy: &Deploy) -> anyhow::Result<()> {
    let descriptions = ids
        .iter()
        .map(|id| latency_description::Description::of(*id))
        .collect::<Result<Vec<_>, _>>()?;
    let with_bench = !deploy
        .vars
        .iter()
        .any(|(name, value)| name == "deploy_bench_lambda" && value == "false");
    let bench = if with_bench {
        Some(latency_description::Description::bench_function()?)
    } else {
        None
    };
    let rows: Vec<&latency_description::Description> = descriptions.iter().collect();
    latency_description::limits::check_reserved_concurrency(
        &rows,
        bench.as_ref(),
        deploy.account_concurrency,
    )
    .map_err(|err| UsageError(err.to_string()))?;
    Ok(())
}

/// The cost guard's text: per row, what is created and what it costs.
fn cost_guard(
    planned: &[Planned],
    deploy: &Deploy,
    requests: Option<u64>,
) -> anyhow::Result<String> {
    let sheet = crate::cost_cmd::load_sheet(&deploy.sheet)?;
    let rows: Vec<_> = planned.iter().map(|p| catalogue_row(p.id)).collect();
    // The rows deploy/terraform gives a load balancer (Fargate, Kubernetes) get one here.
    let options = Options {
        with_load_balancer: true,
        ..Options::default()
    };
    let report = price(&sheet, &rows, &options)?;
    let mut text = format!(
        "To create in {} (run {}, tagged to expire {}; prices: sheet `{}`):\n",
        deploy.region,
        planned.first().map_or("", |p| p.record.run_id.as_str()),
        planned.first().map_or("", |p| p.record.expires_at.as_str()),
        sheet.name
    );
    let (mut hourly, mut monthly) = (0.0, 0.0);
    for p in planned {
        let cost = report
            .rows
            .iter()
            .find(|r| r.id == p.id.as_str())
            .context("the cost model has no row for this id")?;
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for change in p.plan.creates() {
            *kinds.entry(change.kind.as_str()).or_default() += 1;
        }
        let created: usize = kinds.values().sum();
        let listed: Vec<String> = kinds
            .iter()
            .map(|(kind, n)| {
                if *n == 1 {
                    (*kind).to_owned()
                } else {
                    format!("{kind} ×{n}")
                }
            })
            .collect();
        text.push_str(&format!(
            "  {:<24} {} resource{} to create{}: {}\n",
            p.id.as_str(),
            created,
            if created == 1 { "" } else { "s" },
            match p.plan.deletes().count() {
                0 => String::new(),
                n => format!(", {n} to destroy"),
            },
            if listed.is_empty() {
                "nothing".to_owned()
            } else {
                listed.join(", ")
            }
        ));
        text.push_str(&format!("  {:<24} {}\n", "", cost_line(cost, requests)));
        hourly += cost.monthly / HOURS_PER_MONTH;
        monthly += cost.monthly;
    }
    text.push_str(&format!(
        "  total while deployed: ${hourly:.4} an hour (${monthly:.2} a month), plus what is billed per call\n"
    ));
    Ok(text)
}

/// Hours in the month the cost model prices (365 × 24 / 12).
const HOURS_PER_MONTH: f64 = 730.0;

fn cost_line(cost: &RowCost, requests: Option<u64>) -> String {
    let fixed = if cost.monthly > 0.0 {
        format!(
            "${:.4} an hour, ${:.2} a month while deployed",
            cost.monthly / HOURS_PER_MONTH,
            cost.monthly
        )
    } else {
        "no charge while idle".to_owned()
    };
    let per_call = if cost.per_million > 0.0 {
        let bench = requests.map_or_else(String::new, |n| {
            format!(
                "; this bench's {n} calls: ${:.4}",
                cost.per_million * n as f64 / 1e6
            )
        });
        format!("; ${:.2} per million calls{bench}", cost.per_million)
    } else {
        String::new()
    };
    format!("{fixed}{per_call}")
}

/// Asks on a terminal; refuses without one unless `--yes`.
fn confirm(yes: bool, question: &str) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(UsageError(
            "refusing to create cloud resources without a confirmation: there is no terminal \
             to ask on. Read the cost above and pass --yes to confirm in a script."
                .to_owned(),
        )
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// One row's fate in `up`.
#[derive(Debug, Default)]
struct UpOutcome {
    /// Rows applied and answering, with their base URL.
    ready: Vec<(ArchitectureId, String)>,
    /// Rows whose apply or readiness failed, with why.
    failed: Vec<(ArchitectureId, String)>,
    /// Rows an apply was started for (their workspace may hold resources).
    touched: Vec<ArchitectureId>,
    /// The user declined the cost guard.
    declined: bool,
}

/// The cost guard's question, then an apply per row and the wait for it to answer.
/// Returns an error only before the first apply (no confirmation, no results directory);
/// after that every failure is in the outcome, and `touched` names every row an apply was
/// started for, which is what `run` destroys.
async fn up_rows(
    cloud: &Cloud,
    planned: &[Planned],
    confirm_args: &Confirm,
    out: &Path,
    stop: &Signals,
) -> anyhow::Result<UpOutcome> {
    let mut outcome = UpOutcome::default();
    let question = format!(
        "Create {} row{} now?",
        planned.len(),
        if planned.len() == 1 { "" } else { "s" }
    );
    if !confirm(confirm_args.yes, &question)? {
        eprintln!("nothing was created");
        outcome.declined = true;
        return Ok(outcome);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // From the first apply on, nothing returns early: `run` must learn every row it has to
    // destroy, so a failure is recorded in the outcome and the next row goes on.
    for p in planned {
        if stop.stopped() {
            break;
        }
        let id = p.id;
        if let Err(err) = cloud.write_record(id, &p.record) {
            eprintln!("{id}: not applied: {err:#}");
            outcome.failed.push((id, format!("not applied: {err:#}")));
            continue;
        }
        outcome.touched.push(id);
        let spinner = Spinner::new(format!("{id}: terraform apply"));
        let mut on_line = |line: &str| spinner.line(line);
        let hooks = Hooks {
            on_line: Some(&mut on_line),
            interrupt: Some(stop.stop.clone()),
            log: Some(out.join(format!("{id}-apply.log"))),
        };
        let applied = cloud.tf.apply_plan(id.as_str(), &p.plan, hooks).await;
        spinner.done();
        if let Err(err) = applied {
            eprintln!("{id}: apply failed: {err}");
            outcome.failed.push((id, format!("apply failed: {err}")));
            continue;
        }
        match wait_ready(cloud, id, confirm_args.ready_timeout, stop).await {
            Ok(url) => {
                eprintln!("{id}: up at {url}");
                outcome.ready.push((id, url));
            }
            Err(err) => {
                eprintln!("{id}: {err:#}");
                outcome.failed.push((id, format!("{err:#}")));
            }
        }
    }
    Ok(outcome)
}

/// The row's base URL from its `url` output, once it answers: `GET /healthz` with 200
/// for a web row; any answer below 500 for a queue row, whose front door (API Gateway's
/// `POST /calc` only, or the producer) need not route /healthz. Bounded by `timeout`.
async fn wait_ready(
    cloud: &Cloud,
    id: ArchitectureId,
    timeout: Duration,
    stop: &Signals,
) -> anyhow::Result<String> {
    let outputs = cloud.tf.outputs(id.as_str()).await?;
    let url = outputs
        .get("url")
        .and_then(|v| v.as_str())
        .filter(|u| !u.is_empty())
        .with_context(|| format!("the configuration gave {id} no `url` output"))?
        .trim_end_matches('/')
        .to_owned();
    let queue = catalogue_row(id).workload == Workload::CalcJobs;
    let probe_url = format!("{url}/healthz");
    let spinner = Spinner::new(format!("{id}: waiting for {probe_url} to answer"));
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut last: String;
    // Bounded by the deadline; one probe every 2 s (each probe has its own 10 s timeout).
    let outcome = loop {
        match probe(&probe_url).await {
            Ok(status) if status == 200 || (queue && status < 500) => break Ok(url),
            Ok(status) => last = format!("HTTP {status}"),
            Err(err) => last = err,
        }
        spinner.line(&last);
        if tokio::time::Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "{probe_url} did not answer {} within {} (last: {last})",
                if queue { "below 500" } else { "200" },
                humantime::format_duration(timeout)
            ));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = stop.wait_stop() => break Err(anyhow::anyhow!("interrupted while waiting for {probe_url}")),
        }
    };
    spinner.done();
    outcome
}

/// One GET with the bench engine (so https:// and its trust store are the bench's own).
async fn probe(url: &str) -> Result<u16, String> {
    let mut config = BenchConfig::new(url).map_err(|e| e.to_string())?;
    config.stop = Stop::Requests(1);
    config.counter_check = CounterCheckMode::Off;
    config.timeout = Duration::from_secs(10);
    let report = latency_bench::run(config)
        .await
        .map_err(|e| e.to_string())?;
    let first = report.results.cold_start.as_ref();
    match (
        first.and_then(|c| c.status),
        first.and_then(|c| c.error.clone()),
    ) {
        (Some(status), _) => Ok(status),
        (None, Some(kind)) => Err(kind),
        (None, None) => Err("no answer".to_owned()),
    }
}

/// What one row's destroy left.
struct Left {
    id: ArchitectureId,
    reason: String,
    commands: Vec<String>,
}

/// Destroys each row, then checks its state is empty. A second interrupt abandons.
async fn down_rows(
    cloud: &Cloud,
    ids: &[ArchitectureId],
    region: &str,
    extra: &[(String, String)],
    logs: Option<&Path>,
    stop: &Signals,
) -> Vec<Left> {
    let mut left = Vec::new();
    for &id in ids {
        let mut record = cloud.read_record(id).unwrap_or_else(|| RowRecord {
            architecture: id.to_string(),
            run_id: "unknown".to_owned(),
            region: region.to_owned(),
            expires_at: String::new(),
            vars: BTreeMap::new(),
        });
        record.vars.extend(extra.iter().cloned());
        let vars = record.terraform_vars();
        if *stop.abandon.borrow() {
            left.push(Left {
                id,
                reason: "abandoned by a second interrupt".to_owned(),
                commands: cloud.finish_commands(id, &vars),
            });
            continue;
        }
        let spinner = Spinner::new(format!("{id}: terraform destroy"));
        let mut on_line = |line: &str| spinner.line(line);
        let hooks = Hooks {
            on_line: Some(&mut on_line),
            interrupt: Some(stop.abandon.clone()),
            log: Some(match logs {
                Some(dir) => dir.join(format!("{id}-destroy.log")),
                None => cloud.state.join(format!("runs/{id}-destroy.log")),
            }),
        };
        let destroyed = cloud.tf.destroy(id.as_str(), &vars, hooks).await;
        spinner.done();
        // The state is the truth: what it still lists was not destroyed.
        let remaining = cloud.tf.resources(id.as_str()).await;
        match (destroyed, remaining) {
            (Ok(()), Ok(r)) if r.is_empty() => {
                eprintln!("{id}: destroyed");
                let _ = std::fs::remove_file(cloud.record_path(id));
                let _ = std::fs::remove_file(cloud.state.join(format!("plans/{id}.tfplan")));
                if let Err(err) = cloud.tf.delete_workspace(id.as_str()).await {
                    tracing::warn!("{id}: the empty workspace was not deleted: {err}");
                }
            }
            (destroyed, remaining) => {
                let reason = match (destroyed, remaining) {
                    (Err(err), _) => err.to_string(),
                    (Ok(()), Ok(r)) => format!("{} resources remain in its state", r.len()),
                    (Ok(()), Err(err)) => format!("its state cannot be read: {err}"),
                };
                left.push(Left {
                    id,
                    reason,
                    commands: cloud.finish_commands(id, &vars),
                });
            }
        }
    }
    left
}

fn print_left(left: &[Left]) {
    if left.is_empty() {
        return;
    }
    eprintln!("\nNOT destroyed (still costing money):");
    for l in left {
        eprintln!("  {}: {}", l.id, l.reason);
        eprintln!("    finish with:  {}", l.commands[0]);
        if let Some(raw) = l.commands.get(1) {
            eprintln!("    or directly:  {raw}");
        }
    }
}

async fn plan_cmd(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_NOTHING_CREATED)?;
    let cloud = Cloud::new(&args.place)?;
    let planned = plan_rows(&cloud, &args.only.ids(), &args.deploy, &new_run_id(), &stop).await?;
    print!("{}", cost_guard(&planned, &args.deploy, None)?);
    Ok(ExitCode::SUCCESS)
}

async fn up_cmd(args: UpArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_UP)?;
    let cloud = Cloud::new(&args.place)?;
    let run_id = new_run_id();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/cloud").join(&run_id));
    let planned = plan_rows(&cloud, &args.only.ids(), &args.deploy, &run_id, &stop).await?;
    eprint!("{}", cost_guard(&planned, &args.deploy, None)?);
    let outcome = up_rows(&cloud, &planned, &args.confirm, &out, &stop).await?;
    for (id, url) in &outcome.ready {
        println!("{id}\t{url}");
    }
    if outcome.declined {
        return Ok(ExitCode::FAILURE);
    }
    for (id, why) in &outcome.failed {
        eprintln!("{id}: {why}\n  what was created stays until `latency cloud down --only {id}`");
    }
    if stop.stopped() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(if outcome.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn down_cmd(args: DownArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_DOWN)?;
    let cloud = Cloud::new(&args.place)?;
    cloud.init(&stop).await?;
    let ids = if args.all || args.expired {
        let now = args.at.unwrap_or_else(SystemTime::now);
        let mut ids = Vec::new();
        for (id, _) in deployed(&cloud).await? {
            if args.all || listing(&cloud, id).await.expired_at(now) == Some(true) {
                ids.push(id);
            }
        }
        ids
    } else {
        unique(&args.only)
    };
    if ids.is_empty() {
        eprintln!(
            "{}",
            if args.expired {
                "nothing deployed has expired"
            } else {
                "nothing is deployed"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let left = down_rows(&cloud, &ids, &args.region, &args.vars, None, &stop).await;
    print_left(&left);
    Ok(if left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Workspaces whose state holds resources, with how many.
async fn deployed(cloud: &Cloud) -> anyhow::Result<Vec<(ArchitectureId, usize)>> {
    let mut rows = Vec::new();
    for ws in cloud.tf.workspaces().await? {
        let Ok(id) = ws.parse::<ArchitectureId>() else {
            continue;
        };
        let n = cloud.tf.resources(&ws).await?.len();
        if n > 0 {
            rows.push((id, n));
        }
    }
    Ok(rows)
}

/// What `ls` shows of a deployed row: from its outputs, else from the record `up` wrote.
struct Listing {
    run_id: String,
    region: Option<String>,
    expires_at: String,
    url: serde_json::Value,
}

impl Listing {
    /// Whether the row's expiry is at or before `at`; `None` when it has none.
    fn expired_at(&self, at: SystemTime) -> Option<bool> {
        humantime::parse_rfc3339_weak(&self.expires_at)
            .map(|t| t <= at)
            .ok()
    }
}

async fn listing(cloud: &Cloud, id: ArchitectureId) -> Listing {
    let outputs = cloud.tf.outputs(id.as_str()).await.unwrap_or_default();
    let record = cloud.read_record(id);
    let text = |key: &str, fallback: Option<&str>| {
        outputs
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .or(fallback)
            .unwrap_or("")
            .to_owned()
    };
    Listing {
        run_id: text("run_id", record.as_ref().map(|r| r.run_id.as_str())),
        region: record.as_ref().map(|r| r.region.clone()),
        expires_at: text("expires_at", record.as_ref().map(|r| r.expires_at.as_str())),
        url: outputs
            .get("url")
            .cloned()
            .unwrap_or(serde_json::Value::Null),
    }
}

async fn ls_cmd(args: LsArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_NOTHING_CREATED)?;
    let cloud = Cloud::new(&args.place)?;
    let at = args.at.unwrap_or_else(SystemTime::now);
    let mut listed = Vec::new();
    if cloud.state.join("workspaces").is_dir() {
        cloud.init(&stop).await?;
        for (id, resources) in deployed(&cloud).await? {
            let row = listing(&cloud, id).await;
            listed.push(serde_json::json!({
                "architecture": id.as_str(),
                "resources": resources,
                "run_id": row.run_id,
                "region": row.region,
                "expires_at": row.expires_at,
                "expired": row.expired_at(at),
                "url": row.url,
            }));
        }
    }
    let doc = serde_json::json!({
        "state_dir": cloud.state,
        "at": humantime::format_rfc3339_seconds(at).to_string(),
        "deployed": listed,
    });
    let mut human = String::new();
    if listed.is_empty() {
        human.push_str(&format!(
            "nothing deployed (state: {})\n",
            cloud.state.display()
        ));
    } else {
        human.push_str(&format!(
            "{:<24} {:>9}  {:<22} {:<10} {:<22} {}\n",
            "row", "resources", "run id", "region", "expires", "status"
        ));
        for row in &listed {
            let status = match row["expired"].as_bool() {
                Some(true) => "EXPIRED: destroy it",
                Some(false) => "ok",
                None => "no expiry recorded",
            };
            human.push_str(&format!(
                "{:<24} {:>9}  {:<22} {:<10} {:<22} {}\n",
                row["architecture"].as_str().unwrap_or(""),
                row["resources"],
                row["run_id"].as_str().unwrap_or(""),
                row["region"].as_str().unwrap_or("?"),
                row["expires_at"].as_str().unwrap_or(""),
                status
            ));
        }
    }
    emit(&args.json.json, &human, &doc)?;
    Ok(ExitCode::SUCCESS)
}

/// The human text to stdout (stderr when the JSON takes stdout), and the JSON.
fn emit(json: &Option<JsonOut>, human: &str, doc: &serde_json::Value) -> anyhow::Result<()> {
    if json.as_ref().is_some_and(JsonOut::is_stdout) {
        eprint!("{human}");
    } else {
        print!("{human}");
    }
    if let Some(out) = json {
        out.write(&(serde_json::to_string_pretty(doc)? + "\n"))?;
    }
    Ok(())
}

async fn bench_cmd(args: BenchOnlyArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_NOTHING_CREATED)?;
    let cloud = Cloud::new(&args.place)?;
    cloud.init(&stop).await?;
    let mut rows = Vec::new();
    for id in args.only.ids() {
        let outputs = cloud.tf.outputs(id.as_str()).await?;
        let url = outputs
            .get("url")
            .and_then(|v| v.as_str())
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned());
        match url {
            Some(url) => rows.push((id, url)),
            None => {
                return Err(UsageError(format!(
                    "{id} is not deployed (its workspace has no `url` output): `latency cloud up --only {id}` first"
                ))
                .into());
            }
        }
    }
    let first = args.only.only.first().and_then(|&id| cloud.read_record(id));
    let run_id = first.as_ref().map_or_else(new_run_id, |r| r.run_id.clone());
    let region = first.map_or_else(|| UNKNOWN_REGION.to_owned(), |r| r.region);
    let result = bench_rows(&cloud, &rows, &args.measure, &run_id, &region, &stop).await?;
    finish_result(&result, &args.measure, &[], stop.stopped())
}

async fn run_cmd(args: RunArgs) -> anyhow::Result<ExitCode> {
    let stop = Signals::install(STOP_RUN)?;
    let cloud = Cloud::new(&args.place)?;
    let run_id = new_run_id();
    let out = out_dir(&args.measure, &run_id);
    // A lab file that cannot be read fails now, not after paying for the deployment.
    if let Some(path) = &args.measure.prediction {
        compare::read_prediction(path, &args.deploy.region)?;
    }
    // A failed plan returns here: plans create nothing, so there is nothing to destroy.
    let planned = plan_rows(&cloud, &args.only.ids(), &args.deploy, &run_id, &stop).await?;
    eprint!(
        "{}",
        cost_guard(&planned, &args.deploy, Some(args.measure.requests))?
    );
    let up = up_rows(&cloud, &planned, &args.confirm, &out, &stop).await;
    let (ready, touched, mut problems) = match up {
        Ok(up) if up.declined => return Ok(ExitCode::FAILURE),
        Ok(up) => (
            up.ready,
            up.touched,
            up.failed
                .into_iter()
                .map(|(id, why)| format!("{id}: {why}"))
                .collect::<Vec<_>>(),
        ),
        Err(err) => {
            // Declined (no terminal) or a failure before any apply: nothing to destroy.
            return Err(err);
        }
    };
    let result = if ready.is_empty() || stop.stopped() {
        None
    } else {
        match bench_rows(
            &cloud,
            &ready,
            &args.measure,
            &run_id,
            &args.deploy.region,
            &stop,
        )
        .await
        {
            Ok(result) => Some(result),
            Err(err) => {
                problems.push(format!("bench: {err:#}"));
                None
            }
        }
    };
    // Always: every row an apply was started for is destroyed, whatever happened above.
    let left = down_rows(
        &cloud,
        &touched,
        &args.deploy.region,
        &[],
        Some(&out),
        &stop,
    )
    .await;
    print_left(&left);
    let left_json: Vec<serde_json::Value> = left
        .iter()
        .map(|l| serde_json::json!({"architecture": l.id.as_str(), "reason": l.reason, "commands": l.commands}))
        .collect();
    let code = match &result {
        Some(result) => finish_result(result, &args.measure, &left_json, stop.stopped())?,
        None => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            if stop.stopped() {
                ExitCode::from(EXIT_INTERRUPTED)
            } else {
                ExitCode::FAILURE
            }
        }
    };
    if result.is_some() {
        for p in &problems {
            eprintln!("error: {p}");
        }
    }
    Ok(if stop.stopped() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if !left.is_empty() || !problems.is_empty() {
        ExitCode::FAILURE
    } else {
        code
    })
}

fn out_dir(measure: &Measure, run_id: &str) -> PathBuf {
    measure
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/cloud").join(run_id))
}

async fn bench_rows(
    cloud: &Cloud,
    rows: &[(ArchitectureId, String)],
    measure: &Measure,
    run_id: &str,
    region: &str,
    stop: &Signals,
) -> anyhow::Result<CloudResult> {
    let out = out_dir(measure, run_id);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (predictions, mut notes) = match &measure.prediction {
        Some(path) => read_prediction(path, region)?,
        None => (BTreeMap::new(), Vec::new()),
    };
    let study = latency_cloud::score::study_averages();
    let mut results = Vec::new();
    for (id, url) in rows {
        let id = *id;
        let mut row = RowResult {
            architecture: id.to_string(),
            url: url.clone(),
            outside: None,
            inside: None,
            prediction: None,
            study_ms: study.get(id.as_str()).copied(),
            skipped: None,
            problems: Vec::new(),
        };
        if stop.stopped() {
            row.skipped = Some("interrupted before its bench".to_owned());
            results.push(row);
            continue;
        }
        if catalogue_row(id).workload == Workload::CalcJobs {
            row.skipped = Some(
                "a queue row: its jobs are measured with `latency queue`, not by this bench"
                    .to_owned(),
            );
            results.push(row);
            continue;
        }
        let mut config = BenchConfig::new(&format!("{url}/hits"))?;
        config.stop = Stop::Requests(measure.requests);
        config.connections = measure.concurrency;
        config.timeout = measure.timeout;
        config.label = Some(format!("{id} (cloud, {region})"));
        config.validate()?;
        eprintln!(
            "{id}: measuring {} from this machine ({} requests, {})",
            latency_bench::redact_url(&config.url),
            measure.requests,
            config.load_description()
        );
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| crate::bench_cmd::progress_bar(&config));
        let on_progress = |p: &latency_bench::Progress| {
            if let Some(bar) = &bar {
                crate::bench_cmd::update_bar(bar, p);
            }
        };
        let outcome = tokio::select! {
            r = latency_bench::run_with_progress(config.clone(), on_progress) => Some(r),
            () = stop.wait_stop() => None,
        };
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        match outcome {
            None => {
                row.skipped = Some("interrupted during its bench".to_owned());
                results.push(row);
                continue;
            }
            Some(Err(err)) => row.problems.push(format!("bench from outside: {err}")),
            Some(Ok(mut report)) => {
                report.notes.push(format!(
                    "measured from outside the region by `latency cloud` (run {run_id}, {region})"
                ));
                let path = out.join(format!("{id}-outside.json"));
                write_report(&path, &report)?;
                row.problems
                    .extend(checks(&report, measure.max_error_rate, "from outside"));
                row.outside = Some(Side::of(&report, path));
            }
        }
        if measure.via_lambda && !stop.stopped() {
            match via_lambda(cloud, id, &config, measure, region).await {
                Ok(mut report) => {
                    report.notes.push(format!(
                        "measured from inside the region by `latency cloud --via-lambda` (run {run_id}, {region})"
                    ));
                    let path = out.join(format!("{id}-inside.json"));
                    write_report(&path, &report)?;
                    row.problems
                        .extend(checks(&report, measure.max_error_rate, "from inside"));
                    row.inside = Some(Side::of(&report, path));
                }
                Err(err) => row.problems.push(format!("bench from inside: {err:#}")),
            }
        }
        row.prediction = predictions
            .get(&id)
            .map(|(ms, lab_row, profile)| Predicted {
                ms: *ms,
                lab_row: lab_row.clone(),
                profile: profile.clone(),
                error_pct: row
                    .outside
                    .as_ref()
                    .and_then(|s| s.mean_all_ms)
                    .filter(|m| *m > 0.0)
                    .map(|m| (ms - m) / m * 100.0),
            });
        results.push(row);
    }
    if measure.prediction.is_some() {
        for row in &results {
            if row.prediction.is_none() && row.skipped.is_none() {
                notes.push(format!(
                    "{}: the lab file has no measured row for it",
                    row.architecture
                ));
            }
        }
    }
    Ok(CloudResult {
        schema: compare::SCHEMA,
        run_id: run_id.to_owned(),
        region: region.to_owned(),
        out_dir: out,
        prediction_file: measure.prediction.clone(),
        notes,
        rows: results,
    })
}

fn write_report(path: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::write(path, report.to_json())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Why a Report fails: errors above the limit, a failed counter check.
fn checks(report: &Report, max_error_rate: f64, side: &str) -> Vec<String> {
    let r = &report.results;
    let mut problems = Vec::new();
    if r.error_rate > max_error_rate {
        let kinds: Vec<String> = r.errors.iter().map(|(k, n)| format!("{n} {k}")).collect();
        problems.push(format!(
            "{side}: {} of {} requests failed ({}), above --max-error-rate {}%",
            r.error_count(),
            r.requests,
            kinds.join(", "),
            max_error_rate * 100.0
        ));
    }
    if r.counter.verdict == Verdict::Fail {
        problems.push(format!("{side}: counter check failed: {}", r.counter.note));
    }
    problems
}

#[cfg(feature = "lambda-bench")]
async fn via_lambda(
    cloud: &Cloud,
    id: ArchitectureId,
    config: &BenchConfig,
    measure: &Measure,
    region: &str,
) -> anyhow::Result<Report> {
    let outputs = cloud.tf.outputs(id.as_str()).await?;
    let function = outputs
        .get("bench_function")
        .and_then(|v| v.as_str())
        .filter(|f| !f.is_empty())
        .with_context(|| {
            format!(
                "{id} has no `bench_function` output: the configuration deployed no bench Lambda \
                 (deploy/terraform: deploy_bench_lambda = true)"
            )
        })?;
    eprintln!(
        "{id}: measuring from inside {region} through the bench Lambda `{function}` (fanout {})",
        measure.fanout
    );
    let via = crate::fanout::Via {
        function: function.to_owned(),
        fanout: measure.fanout,
        endpoint: measure.lambda_endpoint.clone(),
        region: (region != UNKNOWN_REGION).then(|| region.to_owned()),
    };
    crate::fanout::run(config, &via).await
}

#[cfg(not(feature = "lambda-bench"))]
async fn via_lambda(
    _: &Cloud,
    _: ArchitectureId,
    _: &BenchConfig,
    _: &Measure,
    _: &str,
) -> anyhow::Result<Report> {
    anyhow::bail!("--via-lambda needs the `lambda-bench` cargo feature (on in the released binary)")
}

/// Writes report.md and cloud.json, prints the table, and gives the exit code.
fn finish_result(
    result: &CloudResult,
    measure: &Measure,
    left: &[serde_json::Value],
    interrupted: bool,
) -> anyhow::Result<ExitCode> {
    let table = render(result);
    let mut doc = serde_json::to_value(result)?;
    doc["left_deployed"] = serde_json::Value::Array(left.to_vec());
    doc["interrupted"] = serde_json::Value::Bool(interrupted);
    let md = result.out_dir.join("report.md");
    std::fs::write(&md, &table).with_context(|| format!("cannot write {}", md.display()))?;
    let json_path = result.out_dir.join("cloud.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    emit(&measure.json.json, &table, &doc)?;
    eprintln!("wrote {} and {}", md.display(), json_path.display());
    let failed = result
        .rows
        .iter()
        .any(|r| !r.problems.is_empty() || (r.outside.is_none() && r.skipped.is_none()));
    for row in &result.rows {
        for p in &row.problems {
            eprintln!("error: {}: {p}", row.architecture);
        }
    }
    Ok(if interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_architecture_ids_and_lab_selectors_are_refused() {
        assert_eq!(parse_row("ec2"), Ok(ArchitectureId::Ec2));
        let err = parse_row("nope").expect_err("unknown");
        assert!(err.contains("fargate-efs"), "{err}");
        let err = parse_row("lambda-s3?mode=read-modify-write").expect_err("selector");
        assert!(
            err.contains("not a deployable row") && err.contains("`lambda-s3`"),
            "{err}"
        );
    }

    #[test]
    fn vars_cannot_override_what_the_command_sets() {
        assert_eq!(
            parse_var("lambda_memory_mb=512"),
            Ok(("lambda_memory_mb".to_owned(), "512".to_owned()))
        );
        assert!(parse_var("run_id=x").is_err());
        assert!(parse_var("noequals").is_err());
        assert!(parse_var("a b=c").is_err());
    }

    #[test]
    fn hours_are_bounded() {
        assert_eq!(parse_hours("2"), Ok(2.0));
        for bad in ["0", "-1", "169", "soon"] {
            assert!(parse_hours(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_ids_pass_the_terraform_validation() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261207-200618-abcd".len(), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(humantime::parse_rfc3339(&expiry(2.0)).is_ok());
    }

    #[test]
    fn the_cost_line_names_hourly_monthly_and_per_call_costs() {
        let sheet = latency_cost::PriceSheet::builtin(latency_cost::BuiltinSheet::OriginalEra)
            .expect("sheet");
        let rows = vec![
            catalogue_row(ArchitectureId::Ec2),
            catalogue_row(ArchitectureId::LambdaDynamoDb),
        ];
        let report = price(&sheet, &rows, &Options::default()).expect("priced");
        let ec2 = cost_line(report.row("ec2").expect("ec2"), Some(1000));
        assert!(ec2.contains("an hour") && ec2.contains("a month"), "{ec2}");
        let lambda = cost_line(report.row("lambda-dynamodb").expect("row"), Some(1000));
        assert!(
            lambda.contains("no charge while idle") && lambda.contains("per million"),
            "{lambda}"
        );
    }
}
