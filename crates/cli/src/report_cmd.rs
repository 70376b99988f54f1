//! `latency report`: JSON Reports in, the comparison table and an HTML page out.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::json_out::JsonOut;
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

--json writes the Reports read as one JSON array, in the order given (with --merge: the
merged Report); with `--json -` it goes to stdout and the table to stderr.

--merge takes Reports of shards of one run (the same URL measured at once from several
machines or processes, e.g. `--fanout`) and writes one: HDR histograms added (each
Report carries its own, HdrHistogram V2 compressed), counts and statuses summed,
throughput summed, percentiles of all latencies together; never an average of
percentiles. Reports of schema version 1 have no histogram and are refused by --merge.

Exit codes:
  0  written;
  1  a file cannot be read, is not a Report, or is too large (one line names the file and
     the problem), or an output cannot be written;
  2  usage error, such as no file given.

Examples:
  latency bench http://127.0.0.1:8000/hits --label 'server + VM' --json a.json
  latency bench http://127.0.0.1:8001/hits --label 'Fargate + EFS' --json b.json
  latency report a.json b.json --html report.html > report.md
  latency report --merge shard-*.json --json merged.json";

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

    /// Merge the Reports into one, as shards of one run (e.g. of --fanout): their HDR
    /// histograms are added, so the merged percentiles are exact; nothing is averaged.
    /// The table then has one row, and --json writes the merged Report.
    #[arg(long)]
    merge: bool,

    #[command(flatten)]
    json: crate::json_out::JsonArg,
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
    let reports = if args.merge {
        let paths: Vec<&std::path::Path> = args.files.iter().map(PathBuf::as_path).collect();
        vec![Report::merge(&reports, &paths).map_err(|e| anyhow::anyhow!("{e}"))?]
    } else {
        reports
    };
    let json = match (&args.json.json, args.merge) {
        (None, _) => None,
        (Some(_), true) => Some(reports[0].to_json().trim_end().to_owned()),
        (Some(_), false) => {
            Some(serde_json::to_string_pretty(&reports).context("cannot encode the Reports")?)
        }
    };
    let mut comparison = Comparison::new(reports);
    comparison.title = args.title;
    // hyperfine's relative line, when two Reports are compared: after the table, wherever
    // the table goes.
    let relative = comparison
        .relative()
        .map_or(String::new(), |line| format!("\n{line}\n"));
    // Labels and notes come from Report files: no control character reaches a terminal.
    let markdown =
        latency_bench::render::printable(&format!("{}{relative}", comparison.markdown()));
    match &args.markdown {
        Some(path) => std::fs::write(path, &markdown)
            .with_context(|| format!("cannot write {}", path.display()))?,
        // With the JSON on stdout, stdout stays pure JSON and the table moves.
        None if args.json.json.as_ref().is_some_and(JsonOut::is_stdout) => eprint!("{markdown}"),
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
                    latency_bench::render::printable(&format!(
                        "{}{relative}",
                        comparison.text(&TextOptions {
                            wide: args.wide,
                            ..TextOptions::default()
                        })
                    ))
                ),
            }
        }
    }
    if let (Some(out), Some(mut json)) = (&args.json.json, json) {
        json.push('\n');
        out.write(&json)?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, comparison.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
