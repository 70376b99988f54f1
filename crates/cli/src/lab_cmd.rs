//! `latency lab`: every architecture's local analogue, measured side by side.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use latency_lab::{EndpointTools, LabConfig, LabEvent, Phase, catalogue};

const LAB_HELP: &str = "\
What it does, for each architecture (see --list):
  1. starts its local analogue (a server process, replicas behind a load balancer,
     or the Lambda binary on the local function platform, with its store endpoint);
  2. measures it: a sequential run (N requests over one connection, like the original
     study's latency.py) and a concurrent run (2×N requests over --concurrency
     connections);
  3. checks the counter: every value distinct and contiguous (the read-modify-write
     rows are expected to lose updates under concurrency: that is their point);
  4. stops it.
Then it prints the comparison table and writes results/<timestamp>/: one JSON Report per
run, report.md and report.html.

A row that needs something missing is not dropped: it shows as skipped, with the reason
and the command that enables it.

Findings (stderr): what the runs showed about an architecture under this load, such as
the read-modify-write rows' lost updates, or requests that failed (Lambda's 3 s timeout
reached while S3 conditional writes contend for one object, say).

Exit status: 0 when every measured row is sound; 1 when an atomic store lost or repeated
an update, a row could not be started or measured, or every request of a run failed
(the problems are listed on stderr).

Examples:
  latency lab
  latency lab --quick
  latency lab --only ec2,fargate-efs --n 5000";

/// Flags of `latency lab`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = LAB_HELP)]
pub(crate) struct LabArgs {
    /// Run only these architectures (ids from --list), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    only: Vec<String>,

    /// A first look: 100 sequential and 200 concurrent requests per row.
    #[arg(long)]
    quick: bool,

    /// Requests in each sequential run [default: 1000, or 100 with --quick]; the
    /// concurrent run sends twice as many.
    #[arg(long, value_name = "N")]
    n: Option<u64>,

    /// Connections in each concurrent run.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,

    /// Directory for the Reports and report.md/report.html [default: results/<timestamp>].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// The Lambda rows' memory size in MB; their CPU budget follows from it as on Lambda
    /// (1,769 MB = one vCPU, so 128 MB gets about 7% of one).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(128..=10240))]
    memory_mb: u32,

    /// Run every process unthrottled instead of applying the cloud's CPU and memory
    /// budgets through cgroups (1 vCPU for EC2, 0.25 for Fargate, 250m per pod, and
    /// memory/1769 vCPU per Lambda instance).
    #[arg(long)]
    no_cpu_limits: bool,

    /// List the architectures and exit.
    #[arg(long)]
    list: bool,
}

pub(crate) fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        for row in catalogue() {
            println!("{:<24} {:<42} {}", row.id, row.title, row.analogue);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let known: Vec<&str> = catalogue().iter().map(|row| row.id).collect();
    if let Some(unknown) = args.only.iter().find(|id| !known.contains(&id.as_str())) {
        eprintln!(
            "error: unknown architecture `{unknown}` in --only; known: {}",
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let latency_exe = std::env::current_exe().context("cannot find the latency binary")?;
    let out_dir = args.out.unwrap_or_else(default_out_dir);
    let tools = EndpointTools {
        cache_dir: PathBuf::from(".cache"),
        services_script: Some(PathBuf::from("scripts/services")).filter(|p| p.is_file()),
    };
    let lambda_exe = lambda_binary(&latency_exe);
    let mut config = LabConfig::new(latency_exe, tools, out_dir);
    config.lambda_exe = lambda_exe;
    config.function_memory_mb = args.memory_mb;
    config.cpu_limits = !args.no_cpu_limits;
    if args.quick {
        config = config.quick();
    }
    if let Some(n) = args.n {
        anyhow::ensure!(n > 0, "--n must be at least 1");
        config.sequential_requests = n;
    }
    config.concurrent_requests = config.sequential_requests * 2;
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    config.concurrency = args.concurrency;
    config.only = args.only;

    let display = Display::new();
    let outcome = crate::runtime::block_on(async {
        latency_lab::run(&config, |event| display.show(&event))
            .await
            .map_err(anyhow::Error::from)
    })?;
    display.finish();

    println!("{}", outcome.comparison.markdown());
    println!("{}", outcome.cost_note);
    println!(
        "Reports, report.md and report.html: {}",
        outcome.out_dir.display()
    );
    if !outcome.findings.is_empty() {
        eprintln!("\nfindings:");
        for finding in &outcome.findings {
            eprintln!("  - {finding}");
        }
    }
    if outcome.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("\nproblems:");
    for problem in &outcome.problems {
        eprintln!("  - {problem}");
    }
    Ok(ExitCode::FAILURE)
}

/// The Lambda binary the function rows run: `latency-lambda` beside this binary (same
/// cargo profile). Inside the repository a missing one is built once, in the same profile;
/// elsewhere the rows are skipped with the command that builds it.
fn lambda_binary(latency_exe: &Path) -> Option<PathBuf> {
    const NAME: &str = "latency-lambda";
    let profile_dir = latency_exe.parent()?;
    let beside = profile_dir.join(NAME);
    if beside.is_file() {
        return Some(beside);
    }
    if !Path::new("crates/lambda/Cargo.toml").is_file() {
        return None;
    }
    let target_dir = profile_dir.parent()?;
    let release = profile_dir
        .file_name()
        .is_some_and(|name| name == "release");
    let mut args = vec!["build", "--locked", "-p", NAME];
    if release {
        args.push("--release");
    }
    eprintln!(
        "lab: building the Lambda function (first run only): cargo {}",
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
            eprintln!("lab: building {NAME} failed ({status}); the Lambda rows will be skipped");
            None
        }
        Err(err) => {
            eprintln!("lab: cannot run cargo ({err}); the Lambda rows will be skipped");
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

/// Progress on stderr: a bar on a terminal, one line per phase otherwise.
struct Display {
    bar: Option<indicatif::ProgressBar>,
}

impl Display {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix:>28} {bar:30.cyan/blue} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    fn show(&self, event: &LabEvent<'_>) {
        match (event, &self.bar) {
            (
                LabEvent::Phase {
                    row,
                    phase,
                    requests,
                },
                Some(bar),
            ) => {
                bar.set_prefix(row.id);
                bar.set_length(requests.unwrap_or(0));
                bar.set_position(0);
                bar.set_message(phase_name(*phase));
            }
            (
                LabEvent::Phase {
                    row,
                    phase,
                    requests,
                },
                None,
            ) => match requests {
                Some(n) => eprintln!("lab: {}: {} ({n} requests)", row.id, phase_name(*phase)),
                None => eprintln!("lab: {}: {}", row.id, phase_name(*phase)),
            },
            (LabEvent::Progress(progress), Some(bar)) => bar.set_position(progress.completed),
            (LabEvent::Progress(_), None) => {}
            (LabEvent::Skipped { row, reason }, Some(bar)) => {
                bar.println(format!("skipped {}: {reason}", row.id));
            }
            (LabEvent::Skipped { row, reason }, None) => {
                eprintln!("lab: {}: skipped: {reason}", row.id);
            }
            (LabEvent::Finished { row }, Some(bar)) => bar.println(format!("measured {}", row.id)),
            (LabEvent::Finished { row }, None) => eprintln!("lab: {}: done", row.id),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Starting => "starting",
        Phase::Sequential => "sequential run",
        Phase::Concurrent => "concurrent run",
    }
}
