//! `latency lab`: every architecture's local analogue, measured side by side.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use latency_arch::ArchitectureId;
use latency_bench::render::Row as TableRow;
use latency_lab::{
    Deployment, EndpointTools, FunctionRuntime, LabConfig, LabEvent, LabOutcome, Language, Phase,
    RowSelector, ServerProgram, Skip, catalogue,
};

use crate::logging::ColorChoice;

const LAB_HELP: &str = "\
What it does, for each architecture (see --list):
  1. starts its local analogue from the architecture's description
     (deploy/architectures/<id>.json, the file Terraform deploys): a server process,
     replicas behind a load balancer, or the function on the local function platform,
     its counter created as the deploy creates it;
  2. measures it: a sequential run (N requests over one connection, like the original
     study's latency.py) and a concurrent run (2×N requests over --concurrency
     connections), each ending at its count or --time-limit, whichever comes first;
  3. checks the counter: every value distinct and contiguous (the read-modify-write
     rows are expected to lose updates under concurrency: that is their point);
  4. stops it.
Then it prints the comparison table and writes results/<timestamp>/: one JSON Report per
run, report.md and report.html.

A row that needs something missing is not dropped: it shows as skipped, with the reason
and the command that enables it.

The queue rows (lambda-sqs, workers-rabbitmq) run calc(x) jobs instead: 200 jobs (50 with
--quick), x uniform in [0, 0.5] s, 100 at once, sent through a fresh queue (moto SQS to
the calc function on the function platform; RabbitMQ to 2 `latency worker`s), counted in
Redis. They get their own table (makespan, throughput, p50/p99 enqueue->done, ideal bound
and ratio, cost, exactly-once check) and ROW-queue.json; a job lost or counted twice is a
problem (exit 1).

The Python, JavaScript and C++ rows run the study's handlers from the repository's
variants/ (found above the latency binary or the current directory). The first run
installs their packages into .cache/variants (minutes, once); a missing toolchain skips
the row with the apt-get command that installs it.

Findings (stderr): what the runs showed about an architecture under this load, such as
the read-modify-write rows' lost updates, or requests that failed (Lambda's 3 s timeout
reached while S3 conditional writes contend for one object, say).

Interrupting (Ctrl-C, SIGINT or SIGTERM) stops the row in progress and every process the
lab started, removes its cgroups and Redis keys, and writes what was measured so far
(exit status 130). Its children die with it even on SIGKILL, and its reaper then removes
what is left (cgroups, Redis keys); each run also removes what earlier, dead runs left,
and says so in one line.

Output: the table of the study's columns (average latency, costs) on stdout, aligned to
120 columns (every column, the notes and the break-even matrix in report.md; the
break-even chart and matrix in report.html); on stderr one
line per row (a progress bar on a terminal) and, for function rows, invocations, cold
starts, mean billed duration and max memory. The platform's per-invocation REPORT lines
are hidden: RUST_LOG=info,latency_platform=debug shows them. --color and NO_COLOR apply
to the logs and the bar.

Cloud predictions (--cloud PROFILE): every row runs with the cloud's latency added on
each of its hops, as real delays, by small TCP delay proxies the lab starts and stops:
client → front door (--client-rtt plus API Gateway for Lambda rows, an ALB for Fargate,
a LoadBalancer Service for Kubernetes, nothing for EC2), Lambda's invoke path (folded
into the front's delay), and compute → store (DynamoDB, S3 and Redis endpoints; EFS's
file operations are folded into the front's delay). Profiles are data with a source and
a date per figure: `eu-west-2` (the study's region), `local` (nothing added: with
--client-rtt 0 it measures the proxies' own cost), or a TOML file's path. The table then
shows the predicted figures under a `predicted for PROFILE, client RTT X ms` line, the
local figures (measured in the same run) go to report.md and report.html, and a score
against the original study's table (its test set) is printed: the study's figure, the
prediction and the error per row it has, and the mean absolute error. Calibrate
--client-rtt on the EC2 row alone: client RTT = 13 ms (the study's EC2 figure) minus
the EC2 row's average with --client-rtt 0 (docs/lab.md, `Calibrating --client-rtt`).

Noise: each run samples the machine's CPU; a run measured while other processes used
more than a quarter of the cores is marked † in the table and says so in its Report's
notes. --repeat K measures every row K times; the table shows the median average with
its min–max spread, `2.31ms (2.20ms–2.60ms)`, and every run is written
(ID-sequential.run-N.json).

Exit status: 0 when every measured row is sound; 1 when an atomic store lost or repeated
an update, a row could not be started or measured, or every request of a run failed
(the problems are listed on stderr); 2 on a usage error; 130 when interrupted.

Memory sweep (--memory 128,256,512,1024,1769): every function row runs once per size,
with the CPU budget Lambda gives that size (server rows run once); the table shows the
first size, and a sweep table follows it: per size the cold start (init duration), p50
and p99 of the sequential run, mean billed duration and cost per million calls, and per
row the cheapest, the fastest and a balanced size (the lowest cost/min cost × p50/min
p50). report.html charts cost against p50 across the sizes. Sizes must be 128 to 10240
MB, as on Lambda. Percentiles, not Power Tuning's trimmed mean.

Cold-start floor: when a function row was measured, the hello-world Rust function
(latency-hello: the Runtime API, no SDK) is started cold 5 times at each size the
function rows ran at, and its median init duration is set against lambda-perf's
published figure for a Rust hello-world at that size (the ratio; docs/fidelity.md).

Examples:
  latency lab
  latency lab --memory 128,256,512,1024,1769 --only lambda-dynamodb,lambda-python-dynamodb
  latency lab --quick
  latency lab --only ec2,fargate-efs -n 5000
  latency lab --only 'lambda-dynamodb?mode=read-modify-write' --sheet current
  latency lab --quick --json - > lab.json
  latency lab --quick --cloud eu-west-2 --client-rtt 12
  latency lab --only ec2 --cloud local --client-rtt 0 --repeat 3";

/// Flags of `latency lab`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = LAB_HELP)]
pub(crate) struct LabArgs {
    #[command(flatten)]
    pub(crate) log: crate::logging::LogFormat,

    /// Run only these rows, comma-separated, as --list names them: an architecture id,
    /// with ?mode=read-modify-write for the original study's read-then-write variant
    /// (an id alone is the atomic row).
    #[arg(long, value_delimiter = ',', value_name = "ID[?mode=MODE],...")]
    only: Vec<RowSelector>,

    /// A first look: 100 sequential and 200 concurrent requests per row.
    #[arg(long)]
    quick: bool,

    /// Requests in each sequential run [default: 1000, or 100 with --quick]; the
    /// concurrent run sends twice as many.
    #[arg(short = 'n', long, alias = "n", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,

    /// Connections in each concurrent run.
    #[arg(short = 'c', long, default_value_t = LabConfig::DEFAULT_CONCURRENCY,
          value_parser = parse_concurrency)]
    concurrency: usize,

    /// Each run also ends after this long, whichever comes first with its request count
    /// (like `oha -n N -z T`); each Report notes which bound ended it. `0` lifts the
    /// limit [default: 8s, or 3s with --quick].
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    time_limit: Option<std::time::Duration>,

    /// Directory for the Reports and report.md/report.html [default: results/<timestamp>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Prices for the cost columns: `original-era`, `current`, or a TOML sheet's path;
    /// the same sheets, and the same default, as `latency cost --sheet`.
    #[arg(long, value_name = "NAME|PATH", default_value = crate::cost_cmd::DEFAULT_SHEET)]
    sheet: String,

    /// Also write the outcome as JSON (every Report, skipped rows with their reasons,
    /// problems and findings) to FILE, or to stdout with `-` or no value (then the table
    /// is not printed).
    #[arg(long, value_name = "FILE|-", num_args = 0..=1, default_missing_value = "-")]
    json: Option<PathBuf>,

    /// The Lambda rows' memory size in MB; their CPU budget follows from it as on Lambda
    /// (1,769 MB = one vCPU, so 128 MB gets about 7% of one).
    #[arg(long, default_value_t = LabConfig::DEFAULT_MEMORY_MB,
          value_parser = clap::value_parser!(u32).range(128..=10240))]
    memory_mb: u32,

    /// Sweep the function rows over these memory sizes in MB, comma-separated (128 to
    /// 10240 each): every function row runs once per size with that size's CPU budget;
    /// the table shows the first size, a sweep table all of them (see below).
    #[arg(long, value_name = "MB,...", value_parser = parse_memory_list,
          conflicts_with = "memory_mb")]
    memory: Option<MemoryList>,

    /// Run every process unthrottled instead of applying the cloud's CPU and memory
    /// budgets through cgroups (1 vCPU for EC2, 0.25 for Fargate, 250m per pod, and
    /// memory/1769 vCPU per Lambda instance).
    #[arg(long)]
    no_cpu_limits: bool,

    /// Predict the cloud: add a cloud profile's per-hop latencies to every row as real
    /// delays (built-in `eu-west-2` or `local`, or a profile file's path). The table
    /// shows the predicted figures and their score against the original study.
    #[arg(long, value_name = "PROFILE|PATH", value_parser = parse_profile)]
    cloud: Option<latency_cloud::CloudProfile>,

    /// The client's round trip to the region in ms, added to every request with --cloud
    /// (it cannot be known: calibrate it on the EC2 row, see docs/lab.md).
    #[arg(long, value_name = "MS", requires = "cloud", default_value_t = 0.0,
          value_parser = parse_client_rtt)]
    client_rtt: f64,

    /// Measure every row K times; the table shows the median average latency with its
    /// min–max spread.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    repeat: u16,

    /// List the rows and exit.
    #[arg(long)]
    list: bool,

    /// Internal: the lab's reaper. Waits for stdin to close (the lab that started it has
    /// exited, even by SIGKILL), then removes what dead lab runs left.
    #[arg(long, hide = true, exclusive = true)]
    reap: bool,
}

fn parse_profile(text: &str) -> Result<latency_cloud::CloudProfile, String> {
    latency_cloud::CloudProfile::load(text).map_err(|err| err.to_string())
}

fn parse_client_rtt(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ms) if ms.is_finite() && (0.0..=10_000.0).contains(&ms) => Ok(ms),
        Ok(ms) => Err(format!(
            "{ms} is not a round trip: give milliseconds from 0 to 10000"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a number of milliseconds (e.g. 12 or 12.5)"
        )),
    }
}

/// `--memory`'s sizes, ascending.
#[derive(Debug, Clone)]
struct MemoryList(Vec<u32>);

fn parse_memory_list(text: &str) -> Result<MemoryList, String> {
    latency_lab::memory_sweep::parse_memory_sizes(text)
        .map(MemoryList)
        .map_err(|err| err.to_string())
}

/// `--time-limit`: a humantime duration of at most an hour (`0` for none).
fn parse_time_limit(text: &str) -> Result<std::time::Duration, String> {
    let limit = humantime::parse_duration(text)
        .map_err(|err| format!("`{text}` is not a duration such as 8s or 1m ({err})"))?;
    if limit > std::time::Duration::from_secs(3600) {
        return Err(format!("`{text}` is more than the limit of 1h per run"));
    }
    Ok(limit)
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// Exit status when a signal interrupted the run (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

pub(crate) fn run(args: LabArgs, color: ColorChoice) -> anyhow::Result<ExitCode> {
    if args.reap {
        debug_assert_eq!(latency_lab::REAPER_ARGS, ["lab", "--reap"]);
        // Returns at EOF, or with an error once the lab's end of the pipe is gone.
        let mut said = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut said);
        if said == latency_lab::REAPER_ALL_CLEAN {
            return Ok(ExitCode::SUCCESS);
        }
        crate::runtime::block_on(async {
            latency_lab::remove_leftovers_of_dead_runs().await;
            Ok(())
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.list {
        for row in catalogue() {
            println!("{:<42} {:<38} {}", row.selector(), row.title, row.analogue);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sheet = crate::cost_cmd::load_sheet(&args.sheet)?;
    let latency_exe = std::env::current_exe().context("cannot find the latency binary")?;
    let out_dir = args.out.unwrap_or_else(default_out_dir);
    // The repository's .cache and scripts, wherever the lab is run from (the variants
    // are found the same way); outside a checkout, the current directory's.
    let root = repo_root(&latency_exe).unwrap_or_default();
    let tools = EndpointTools {
        cache_dir: root.join(".cache"),
        services_script: Some(root.join("scripts/services")).filter(|p| p.is_file()),
    };
    let mut runtimes: Vec<FunctionRuntime> = function_binary(&latency_exe, LAMBDA)
        .map(FunctionRuntime::rust)
        .into_iter()
        .collect();
    let variants = crate::runtime::block_on(prepare_variants(&latency_exe, &args.only))?;
    runtimes.extend(variants.runtimes);
    let mut config = LabConfig::new(latency_exe, tools, out_dir, sheet);
    if args.quick {
        config = config.quick();
    }
    if let Some(limit) = args.time_limit {
        config.phase_time_limit = (!limit.is_zero()).then_some(limit);
    }
    if let Some(n) = args.requests {
        config = config.with_requests(n);
    }
    config.runtimes = runtimes;
    config.runtime_skips = variants.runtime_skips;
    config.server_programs = variants.server_programs;
    config.function_memory_mb = args.memory_mb;
    if let Some(MemoryList(sizes)) = args.memory {
        config.function_memory_mb = sizes[0];
        config.memory_sizes = sizes;
    }
    let functions_selected = latency_lab::select(&args.only)
        .iter()
        .any(|(_, row)| matches!(row.deployment, Deployment::Function { .. }));
    if functions_selected {
        config.hello_exe = function_binary(&config.latency_exe, HELLO);
    }
    config.cpu_limits = !args.no_cpu_limits;
    config.concurrency = args.concurrency;
    config.only = args.only;
    config.repeat = usize::from(args.repeat);
    config.cloud = args.cloud.map(|profile| latency_lab::CloudSetup {
        profile,
        client_rtt_ms: args.client_rtt,
    });
    // Built (once) only when the Lambda + SQS row runs.
    if config.only.is_empty()
        || config
            .only
            .iter()
            .any(|s| s.id == ArchitectureId::LambdaSqs)
    {
        config.queue.calc_function = function_binary(&config.latency_exe, CALC);
    }

    let display = Display::new(color);
    let outcome = crate::runtime::block_on(async {
        let interrupt = crate::runtime::shutdown_signal()?;
        latency_lab::run_until(&config, |event| display.show(&event), interrupt)
            .await
            .map_err(anyhow::Error::from)
    })?;
    display.finish();

    let to_stdout = args.json.as_deref() == Some(Path::new("-"));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&outcome_json(&outcome, &config))?;
        if to_stdout {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if !to_stdout {
        // The table only: its notes and the break-even points are in report.md.
        // The study's columns only (average latency and cost), aligned to 120 columns:
        // with every default row, the second table (percentiles, cold start, req/s,
        // errors, counter check) and the notes would take a default run past the 80
        // lines it promises; they are in report.md, and failures are findings below.
        let text = outcome
            .comparison
            .text(&latency_bench::render::TextOptions::default());
        let study_table = text.split("\n\n").next().unwrap_or_default();
        if let Some(setup) = &config.cloud {
            println!("{}", setup.headline());
        }
        // The answer first, as report.md and report.html open with it.
        let comparison = &outcome.comparison;
        println!(
            "{}",
            comparison.conclusion(comparison.costs.as_ref()).text()
        );
        println!("{}", study_table.trim_end());
        print_busy_footnote(&outcome);
        if let (Some(score), Some(setup)) = (&outcome.score, &config.cloud) {
            for line in latency_lab::score_lines(score, &setup.headline()) {
                println!("{line}");
            }
            println!("Local figures (this machine, no cloud delays): report.md and report.html");
        }
        if !outcome.queue_rows.is_empty() {
            println!(
                "\n{}",
                latency_lab::queue_text_table(&outcome.queue_rows).trim_end()
            );
        }
        if let Some(sweep) = &outcome.memory_sweep {
            println!();
            print!("{}", sweep.text());
        }
        if let Some(floor) = &outcome.cold_start_floor {
            print!("{}", floor.text());
        }
        println!(
            "p50, p99, cold start, req/s, errors and counter checks per row: report.md (or --json)"
        );
        println!(
            "Costs: `{}` price sheet ({}, as of {}); notes and break-even points in report.md",
            config.sheet.name, config.sheet.region, config.sheet.as_of
        );
        println!(
            "Reports, report.md and report.html: {}",
            outcome.out_dir.display()
        );
    }
    if !outcome.findings.is_empty() {
        eprintln!("findings:");
        for finding in &outcome.findings {
            eprintln!("  - {finding}");
        }
    }
    if !outcome.problems.is_empty() {
        eprintln!("problems:");
        for problem in &outcome.problems {
            eprintln!("  - {problem}");
        }
    }
    if outcome.interrupted {
        eprintln!("lab: interrupted; the rows finished before it are written");
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(if outcome.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The table's † footnote: which runs were measured on a busy machine.
fn print_busy_footnote(outcome: &LabOutcome) {
    let busy: Vec<&str> = outcome
        .comparison
        .rows
        .iter()
        .filter_map(|row| match row {
            TableRow::Measured(report) if latency_bench::render::measured_busy(report) => {
                Some(report.name())
            }
            _ => None,
        })
        .collect();
    if !busy.is_empty() {
        println!(
            "{} measured while other processes used more than {:.0}% of the CPUs (figures may be inflated; details in each Report's notes): {}",
            latency_bench::render::BUSY_MARK,
            latency_lab::BUSY_SHARE * 100.0,
            busy.join(", ")
        );
    }
}

/// `--json`: the outcome as one document.
fn outcome_json(outcome: &LabOutcome, config: &LabConfig) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = outcome
        .comparison
        .rows
        .iter()
        .map(|row| match row {
            TableRow::Measured(report) => serde_json::json!({ "measured": report }),
            TableRow::Skipped {
                architecture,
                reason,
            } => serde_json::json!({
                "skipped": { "architecture": architecture, "reason": reason }
            }),
        })
        .collect();
    let score = outcome.score.as_ref().map(|score| {
        serde_json::json!({
            "rows": score.rows.iter().map(|row| serde_json::json!({
                "id": row.id,
                "study_ms": row.study_ms,
                "predicted_ms": row.predicted_ms,
                "error_pct": row.error_pct,
            })).collect::<Vec<_>>(),
            "mean_abs_error_pct": score.mean_abs_error_pct,
            "max_abs_error_pct": score.max_abs_error_pct,
        })
    });
    serde_json::json!({
        "cloud": config.cloud.as_ref().map(|setup| serde_json::json!({
            "profile": setup.profile.name,
            "client_rtt_ms": setup.client_rtt_ms,
        })),
        "score": score,
        "sheet": config.sheet.name,
        "out_dir": outcome.out_dir,
        "rows": rows,
        "queue_rows": outcome.queue_rows.iter().map(|row| serde_json::json!({
            "architecture": row.title,
            "selector": row.selector,
            "report": row.report,
            "cost": row.cost,
        })).collect::<Vec<_>>(),
        "findings": outcome.findings,
        "problems": outcome.problems,
        "interrupted": outcome.interrupted,
        "memory_sweep": outcome.memory_sweep,
        "cold_start_floor": outcome.cold_start_floor,
    })
}

/// What `latency lab` prepares from the repository's `variants/`.
#[derive(Default)]
struct Variants {
    runtimes: Vec<FunctionRuntime>,
    runtime_skips: Vec<(Language, Skip)>,
    server_programs: Vec<(ArchitectureId, Result<ServerProgram, Skip>)>,
}

/// The other languages' function runtimes and the server programs of the selected rows,
/// each prepared from its variant under the repository's `variants/` (dependencies
/// installed into `.cache/variants` on first use). Only what a selected row needs is
/// prepared. What cannot be prepared (no toolchain, no `variants/` directory, a failed
/// install) gets a [`Skip`] that names the fix; its rows show it in the table.
async fn prepare_variants(latency_exe: &Path, only: &[RowSelector]) -> anyhow::Result<Variants> {
    // One variant per language: the Python runtime serves both Python rows (the handler
    // reads its store from LATENCY_STORE).
    const RUNTIMES: [(Language, &str); 3] = [
        (Language::Python, "lambda-python-dynamodb"),
        (Language::NodeJs, "lambda-js-dynamodb"),
        (Language::Cpp, "lambda-cpp-dynamodb"),
    ];
    let selected = latency_lab::select(only);
    let languages: Vec<Language> = selected
        .iter()
        .filter_map(|(_, row)| match row.deployment {
            Deployment::Function { language, .. } => Some(language),
            _ => None,
        })
        .collect();
    let programs: Vec<ArchitectureId> = selected
        .iter()
        .filter(|(_, row)| matches!(row.deployment, Deployment::Program { .. }))
        .map(|(_, row)| row.id)
        .collect();
    let root = repo_root(latency_exe);
    let mut out = Variants::default();
    for (language, id) in RUNTIMES {
        if !languages.contains(&language) {
            continue;
        }
        match prepare_variant(root.as_deref(), id).await? {
            Ok(latency_variants::Prepared::Function {
                command,
                args,
                handler,
                env,
                ..
            }) => out.runtimes.push(FunctionRuntime {
                language,
                command,
                args,
                handler,
                env,
            }),
            Ok(latency_variants::Prepared::Server { .. }) => {
                anyhow::bail!("variant {id} is a server, not a function")
            }
            Err(skip) => out.runtime_skips.push((language, skip)),
        }
    }
    for id in programs {
        let program = match prepare_variant(root.as_deref(), id.as_str()).await? {
            Ok(latency_variants::Prepared::Server { command, args, env }) => {
                Ok(ServerProgram { command, args, env })
            }
            Ok(latency_variants::Prepared::Function { .. }) => {
                anyhow::bail!("variant {id} is a function, not a server")
            }
            Err(skip) => Err(skip),
        };
        out.server_programs.push((id, program));
    }
    Ok(out)
}

/// Prepares the variant `id` (on a blocking thread: it may run pip, npm or make, and
/// prints their progress as lab lines); what stops it is a [`Skip`] naming the fix.
async fn prepare_variant(
    root: Option<&Path>,
    id: &str,
) -> anyhow::Result<Result<latency_variants::Prepared, Skip>> {
    let Some(root) = root.map(Path::to_path_buf) else {
        return Ok(Err(Skip::new(
            "the repository's variants/ directory was not found (looked above the latency binary and the current directory)",
            "run `latency lab` from a checkout of the repository",
        )));
    };
    let variant = latency_variants::find(id).with_context(|| format!("no variant named {id}"))?;
    let cache = root.join(".cache");
    let prepare = |root: PathBuf, cache: PathBuf| {
        tokio::task::spawn_blocking(move || {
            latency_variants::prepare(variant, &root, &cache, &mut |line| {
                eprintln!("lab: {line}");
            })
        })
    };
    let mut prepared = prepare(root.clone(), cache.clone())
        .await
        .context("preparing a language variant panicked")?;
    // A missing toolchain is installed by the lab itself, once, so that the first run
    // measures every row. These are system packages, because no package registry ships
    // them ready to link: the C++ handler links the system's libcurl and OpenSSL (headers
    // and all), and aws-lambda-ric builds its native client with cmake and autotools.
    // scripts/setup never prompts: without root or passwordless sudo it fails, and the row
    // is skipped with the command to run.
    if matches!(
        prepared,
        Err(latency_variants::VariantError::ToolchainMissing { .. })
    ) && install_toolchains(&root).await
    {
        prepared = prepare(root, cache)
            .await
            .context("preparing a language variant panicked")?;
    }
    Ok(prepared.map_err(|err| match err {
        latency_variants::VariantError::ToolchainMissing { tool, install } => {
            Skip::new(format!("{tool} is not installed"), install)
        }
        err => Skip::new(
            err.to_string(),
            "fix the error above, then rerun (installs are cached under .cache/variants)",
        ),
    }))
}

/// Runs `scripts/setup --variants` once per process; whether it succeeded.
async fn install_toolchains(root: &Path) -> bool {
    static TRIED: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    let script = root.join("scripts/setup");
    *TRIED
        .get_or_init(|| async move {
            if !script.is_file() {
                return false;
            }
            eprintln!(
                "lab: installing the language variants' toolchains with scripts/setup --variants (first run only)"
            );
            match tokio::process::Command::new(&script)
                .arg("--variants")
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
            {
                Ok(status) if status.success() => true,
                Ok(status) => {
                    eprintln!("lab: scripts/setup --variants failed ({status}); the rows that need it are skipped");
                    false
                }
                Err(err) => {
                    eprintln!("lab: cannot run {}: {err}", script.display());
                    false
                }
            }
        })
        .await
}

/// The repository checkout: the first directory holding `variants/` above the `latency`
/// binary (`<root>/target/<profile>/latency`) or above the current directory.
fn repo_root(latency_exe: &Path) -> Option<PathBuf> {
    let current = std::env::current_dir().ok();
    let candidates = latency_exe
        .parent()
        .into_iter()
        .flat_map(Path::ancestors)
        .chain(current.iter().flat_map(|dir| dir.ancestors()));
    candidates
        .into_iter()
        .find(|dir| dir.join("variants").is_dir())
        .map(Path::to_path_buf)
}

/// A function binary the lab runs, and the package that builds it.
struct FunctionBinary {
    /// The binary's name.
    name: &'static str,
    /// Its cargo package.
    package: &'static str,
    /// The package's manifest, relative to the repository.
    manifest: &'static str,
}

/// The function rows' Lambda binary.
const LAMBDA: FunctionBinary = FunctionBinary {
    name: "latency-lambda",
    package: "latency-lambda",
    manifest: "crates/lambda/Cargo.toml",
};

/// The cold-start floor's hello-world function.
const HELLO: FunctionBinary = FunctionBinary {
    name: "latency-hello",
    package: "latency-lambda-hello",
    manifest: "crates/lambda-hello/Cargo.toml",
};

/// The Lambda + SQS row's `calc` function.
const CALC: FunctionBinary = FunctionBinary {
    name: "latency-calc",
    package: "latency-lambda-calc",
    manifest: "crates/lambda-calc/Cargo.toml",
};

/// The workspace binary beside the `latency` binary (same cargo profile). Inside the
/// repository a missing one is built once, in the same profile; elsewhere `None` (what
/// needs it is skipped with the command that builds it).
fn function_binary(latency_exe: &Path, binary: FunctionBinary) -> Option<PathBuf> {
    let FunctionBinary {
        name,
        package,
        manifest,
    } = binary;
    let profile_dir = latency_exe.parent()?;
    let beside = profile_dir.join(name);
    if beside.is_file() {
        return Some(beside);
    }
    if !Path::new(manifest).is_file() {
        return None;
    }
    let target_dir = profile_dir.parent()?;
    let release = profile_dir.file_name().is_some_and(|dir| dir == "release");
    let mut args = vec!["build", "--locked", "-p", package, "--bin", name];
    if release {
        args.push("--release");
    }
    eprintln!(
        "lab: building {name} (first run only): cargo {}",
        args.join(" ")
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(&args)
        .env("CARGO_TARGET_DIR", target_dir)
        .status();
    match built {
        Ok(status) if status.success() && beside.is_file() => Some(beside),
        Ok(status) => {
            eprintln!("lab: building {name} failed ({status}); what needs it will be skipped");
            None
        }
        Err(err) => {
            eprintln!("lab: cannot run cargo ({err}); what needs {name} will be skipped");
            None
        }
    }
}

fn default_out_dir() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "-");
    PathBuf::from("results").join(stamp)
}

/// Progress on stderr: a bar on a terminal (log lines are written around it), one line
/// per row otherwise.
struct Display {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    row_started: std::sync::Mutex<Instant>,
}

impl Display {
    fn new(color: ColorChoice) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let template = if color.enabled() {
                "{prefix} {bar:24.cyan/blue} {pos}/{len} {msg} [phase ETA {eta}]"
            } else {
                "{prefix} {bar:24} {pos}/{len} {msg} [phase ETA {eta}]"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            crate::logging::show_bar(&bar);
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            row_started: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// A line above the bar (or on stderr without one).
    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn show(&self, event: &LabEvent<'_>) {
        match event {
            LabEvent::Phase {
                row,
                index,
                rows,
                phase,
                requests,
            } => {
                if *phase == Phase::Starting {
                    *self
                        .row_started
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
                }
                if let Some(bar) = &self.bar {
                    let elapsed = self.started.elapsed();
                    bar.set_prefix(format!(
                        "row {index} of {rows} {} ({} elapsed{})",
                        row.selector(),
                        humantime::format_duration(Duration::from_secs(elapsed.as_secs())),
                        lab_eta(elapsed, *index, *rows)
                            .map(|eta| format!(
                                ", lab ETA ~{}",
                                humantime::format_duration(Duration::from_secs(eta.as_secs()))
                            ))
                            .unwrap_or_default()
                    ));
                    bar.set_length(requests.unwrap_or(0));
                    bar.set_position(0);
                    bar.reset_eta();
                    bar.set_message(phase_name(*phase));
                }
            }
            LabEvent::Progress(progress) => {
                if let Some(bar) = &self.bar {
                    bar.set_position(progress.completed);
                    let secs = progress.elapsed.as_secs_f64();
                    if secs > 0.0 {
                        bar.set_message(progress_message(progress, secs));
                    }
                }
            }
            LabEvent::Skipped { row, skip } => {
                self.line(format!("lab: {}: skipped: {skip}", row.selector()));
            }
            LabEvent::Failed { row, error } => {
                self.line(format!("lab: {}: failed: {error}", row.selector()));
            }
            LabEvent::Finished {
                row,
                summary,
                function,
            } => {
                let took = self
                    .row_started
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .elapsed();
                // A memory sweep finishes a function row once per size.
                let size = function
                    .and_then(|f| f.memory_size_mb)
                    .map(|mb| format!(" at {mb} MB"))
                    .unwrap_or_default();
                let mut text = format!(
                    "lab: {}{size}: measured in {:.1} s",
                    row.selector(),
                    took.as_secs_f64()
                );
                if let Some(summary) = summary {
                    text.push_str("; ");
                    text.push_str(summary);
                }
                self.line(text);
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            crate::logging::hide_bar();
            bar.finish_and_clear();
        }
    }
}

/// Time left for the whole lab, from the mean time of the rows done so far (`index` is
/// the 1-based row starting now); `None` before the first row has finished.
fn lab_eta(elapsed: Duration, index: usize, rows: usize) -> Option<Duration> {
    let done = u32::try_from(index.checked_sub(1)?)
        .ok()
        .filter(|&d| d > 0)?;
    let left = u32::try_from(rows.saturating_sub(index) + 1).ok()?;
    Some(elapsed / done * left)
}

/// The live part of the progress line: throughput, the p99 so far, errors.
fn progress_message(progress: &latency_bench::Progress, secs: f64) -> String {
    #[allow(clippy::cast_precision_loss)] // request counts far below 2^52
    let rate = progress.completed as f64 / secs;
    let p99 = progress.p99.map_or_else(String::new, |d| {
        format!(
            ", p99 {}",
            latency_bench::units::duration_ms(d.as_secs_f64() * 1e3)
        )
    });
    format!("{rate:.0} req/s{p99}, {} errors", progress.errors)
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Starting => "starting",
        Phase::Sequential => "sequential run",
        Phase::Concurrent => "concurrent run",
        Phase::Queue => "queue run",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_eta_follows_the_rows_done() {
        assert_eq!(
            lab_eta(Duration::from_secs(5), 1, 10),
            None,
            "no row done yet"
        );
        // Two rows in 40 s: 20 s a row, and rows 3 to 10 (eight) are left.
        assert_eq!(
            lab_eta(Duration::from_secs(40), 3, 10),
            Some(Duration::from_secs(160))
        );
        assert_eq!(
            lab_eta(Duration::from_secs(90), 10, 10),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn the_progress_message_shows_rate_p99_and_errors() {
        let progress = latency_bench::Progress {
            warmup_completed: 0,
            completed: 500,
            total: Some(1000),
            errors: 2,
            elapsed: Duration::from_secs(2),
            planned: None,
            since_start: Duration::from_secs(2),
            warmup_planned: None,
            p99: Some(Duration::from_micros(1250)),
        };
        assert_eq!(
            progress_message(&progress, 2.0),
            "250 req/s, p99 1.25ms, 2 errors"
        );
        let early = latency_bench::Progress {
            p99: None,
            ..progress
        };
        assert_eq!(progress_message(&early, 2.0), "250 req/s, 2 errors");
    }
}
