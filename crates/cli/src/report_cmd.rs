//! `latency report`: JSON Reports in, the comparison table and an HTML page out.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use latency_bench::Report;
use latency_bench::render::{Comparison, TextOptions};

const REPORT_HELP: &str = "\
The table has the original study's columns (Architecture, Average latency (ms), Monthly
cost ($), Cost per million calls ($)) followed by p50, p99, cold start, throughput,
load, errors and the counter check. A row's name is its --label, else its URL. Average
latency is the mean of every answered measured request, cold start included, as the
original reported it. Cost columns show N/A where not applicable and – where no cost
was attached to the Report (`latency lab` attaches them).

On a terminal the tables are aligned and fit 120 columns (the study's columns first,
the rest in a second table; --wide for one table), durations are scaled to µs, ms or s,
and notes are given once per architecture. Piped or redirected, stdout is the Markdown
table (--format overrides either way).

The HTML page is self-contained (no scripts, no external resources), everything inside
<main>: the summary tables; a percentile spectrum (latency against p50…p99.99 on a log
axis, one colour per architecture, solid sequential and dashed concurrent); cold start
against warm latency; average latency against monthly cost at 10 million calls a month
(when Reports carry cost); a histogram per run; and each run's details.

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

    /// What stdout gets: `text` (aligned tables fitting 120 columns, units scaled to
    /// µs/ms/s, notes once per architecture) or `markdown` (the study's table, in ms).
    /// Default: text on a terminal, Markdown when piped or redirected.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<StdoutFormat>,

    /// Text output: one table with every column instead of the study's columns first and
    /// the rest in a second table.
    #[arg(long)]
    wide: bool,
}

/// The form of the comparison on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StdoutFormat {
    /// Aligned tables for reading in a terminal.
    Text,
    /// The Markdown table (what `--markdown FILE` writes).
    Markdown,
}

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let reports = args
        .files
        .iter()
        .map(|path| Report::read(path).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut comparison = Comparison::new(reports);
    comparison.title = args.title;
    let markdown = comparison.markdown();
    match &args.markdown {
        Some(path) => std::fs::write(path, &markdown)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
                StdoutFormat::Text
            } else {
                StdoutFormat::Markdown
            });
            match format {
                StdoutFormat::Markdown => print!("{markdown}"),
                StdoutFormat::Text => print!(
                    "{}",
                    comparison.text(&TextOptions {
                        wide: args.wide,
                        ..TextOptions::default()
                    })
                ),
            }
        }
    }
    if let Some(path) = &args.html {
        std::fs::write(path, comparison.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
