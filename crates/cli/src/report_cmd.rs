//! `latency report`: JSON Reports in, the comparison table and an HTML page out.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::json_out::JsonOut;
use anyhow::Context as _;
use latency_bench::Report;
use latency_bench::render::Comparison;

const REPORT_HELP: &str = "\
The table has the original study's columns (Architecture, Average latency (ms), Monthly
cost ($), Cost per million calls ($)) followed by p50, p99, cold start, throughput,
load, errors and the counter check. A row's name is its --label, else its URL. Average
latency is the mean of every answered measured request, cold start included, as the
original reported it. Cost columns show N/A where not applicable and – where no cost
was attached to the Report (`latency lab` attaches them).

The HTML page is self-contained (no scripts, no external resources): the table, a
latency CDF of every run, a histogram per run, and each run's details (URL, load,
machine, time).

Exit codes:
  0  written;
  1  a file cannot be read, is not a Report, or is too large (one line names the file and
     the problem), or an output cannot be written;
  2  usage error, such as no file given.

Examples:
  latency bench http://127.0.0.1:8000/hits --label 'server + VM' --json a.json
  latency bench http://127.0.0.1:8001/hits --label 'Fargate + EFS' --json b.json
  latency report a.json b.json --html report.html > report.md";

/// Flags of `latency report`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = REPORT_HELP)]
pub(crate) struct ReportArgs {
    /// Report files written by `latency bench --json` (or `latency lab`), one row each, in
    /// the order given.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Write the Markdown table to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,

    /// Write the self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Heading of the HTML page.
    #[arg(long, default_value = "Latency comparison")]
    title: String,

    /// Also write the Reports read, as one JSON array in the order given, to FILE; `-`
    /// (or no value) writes it to stdout, and the table then goes to stderr.
    #[arg(
        long,
        value_name = "FILE|-",
        num_args = 0..=1,
        default_missing_value = "-",
        value_parser = crate::json_out::parse
    )]
    json: Option<JsonOut>,
}

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let reports = args
        .files
        .iter()
        .map(|path| Report::read(path).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let json = match &args.json {
        Some(_) => {
            Some(serde_json::to_string_pretty(&reports).context("cannot encode the Reports")?)
        }
        None => None,
    };
    let mut comparison = Comparison::new(reports);
    comparison.title = args.title;
    let markdown = comparison.markdown();
    match &args.markdown {
        Some(path) => std::fs::write(path, &markdown)
            .with_context(|| format!("cannot write {}", path.display()))?,
        // With the JSON on stdout, stdout stays pure JSON and the table moves.
        None if args.json.as_ref().is_some_and(JsonOut::is_stdout) => eprint!("{markdown}"),
        None => print!("{markdown}"),
    }
    if let (Some(out), Some(mut json)) = (&args.json, json) {
        json.push('\n');
        out.write(&json)?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, comparison.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
