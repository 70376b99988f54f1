//! `latency cost`: price every architecture per month and per million calls, total them at
//! the volumes asked for, and find the break-even points.
//!
//! All the arithmetic is in `latency-cost`; this module reads the flags and the sheet
//! file, and prints.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use latency_cost::{
    BuiltinSheet, CostError, Kind, Options, Overrides, PriceSheet, Row, StoreMode, Workload,
    break_even_svg, catalogue, find_row, format_calls, parse_calls_per_month, price, render_text,
};

/// Flags of `latency cost`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = after_long_help())]
pub(crate) struct CostArgs {
    /// Volumes to total every row at, in calls a month, comma-separated.
    ///
    /// A volume is a number with an optional k, M or B suffix: 1e6, 1000000, 1_000_000,
    /// 500k, 2.5M and 1B are all accepted. Each adds a "<volume> calls ($)" column.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "1e6,1e7,1e8",
        allow_hyphen_values = true,
        value_parser = parse_volumes
    )]
    calls_per_month: Volumes,

    /// Prices to use: `original-era` (eu-west-2 c. 2021; reproduces the study's table),
    /// `current` (as last known; unconfirmed figures are listed), or a path to a TOML
    /// sheet in the same format (see crates/cost/sheets/).
    #[arg(long, value_name = "NAME|PATH", default_value = DEFAULT_SHEET)]
    sheet: String,

    /// Add a load balancer (an ALB and its two public IPv4 addresses) to the rows whose
    /// deployment has one: Fargate and Kubernetes. The study left it out and marked
    /// those figures with *.
    #[arg(long)]
    with_load_balancer: bool,

    #[command(flatten)]
    json: crate::json_out::JsonArg,

    /// Lambda memory in MB for per-call rows, 128 to 10240 (default 128, as the study).
    ///
    /// `--memory-mb 512` sets every per-call row; `--memory-mb lambda-dynamodb=512`
    /// sets one. Repeat the flag or separate with commas; a per-row value wins.
    #[arg(long, value_name = "[ROW=]MB", value_delimiter = ',', value_parser = parse_row_value::<u32>)]
    memory_mb: Vec<RowValue<u32>>,

    /// Mean billed duration per invocation in ms for per-call rows, e.g. a measured one.
    ///
    /// Billed duration is what Lambda charges for: the run time rounded up to 1 ms. The
    /// defaults are the durations the study's published figures imply (see below).
    /// `--duration-ms 20` sets every per-call row; `--duration-ms lambda-python-s3=80`
    /// sets one. Repeat the flag or separate with commas; a per-row value wins.
    #[arg(
        long,
        value_name = "[ROW=]MS",
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_parser = parse_row_value::<f64>
    )]
    duration_ms: Vec<RowValue<f64>>,

    /// Take the mean billed duration and the memory size from a Report that `latency lab`
    /// wrote for a Lambda row (its `function` figures, measured by the local function
    /// platform), e.g. `--from lambda-dynamodb=results/<time>/lambda-dynamodb-sequential.json`.
    /// Without `ROW=`, they apply to every per-call row.
    #[arg(
        long,
        value_name = "[ROW=]REPORT.json",
        value_delimiter = ',',
        conflicts_with = "duration_ms",
        value_parser = parse_row_value::<PathBuf>
    )]
    from: Vec<RowValue<PathBuf>>,

    /// How per-call rows update the counter: `read-modify-write` (the study's: one read
    /// and one write per call) or `atomic` (DynamoDB UpdateItem ADD: one write; S3 still
    /// needs a GET for the ETag and a conditional PUT). Default: each row's own.
    #[arg(long, value_name = "MODE")]
    store_mode: Option<StoreModeArg>,

    /// Price only these rows (ids, comma-separated); `--help` lists them.
    #[arg(long, value_name = "ROW", value_delimiter = ',')]
    only: Vec<String>,

    /// After the tables, show every row's arithmetic: each priced quantity, its unit
    /// price and its cost.
    #[arg(long)]
    explain: bool,

    /// Also write the break-even chart (cost against calls a month, log-log) as an SVG
    /// file, e.g. to open in a browser.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,

    /// Write an Infracost usage file (aws_lambda_function monthly_requests and
    /// request_duration_ms) from the Report given with --usage-report: the duration is
    /// its mean billed duration (function figures of a `latency lab` row), else its mean
    /// warm latency, an upper bound; the requests are the first --calls-per-month
    /// volume. `-` writes it to stdout (the table then goes to stderr).
    #[arg(long, value_name = "FILE|-", requires = "usage_report")]
    infracost_usage: Option<PathBuf>,

    /// The Report whose measured figures go into --infracost-usage.
    #[arg(long, value_name = "REPORT.json", requires = "infracost_usage")]
    usage_report: Option<PathBuf>,
}

/// The Infracost usage of the Report at `path`, at `monthly_requests` calls a month.
fn infracost_usage(
    path: &std::path::Path,
    monthly_requests: f64,
) -> anyhow::Result<latency_cost::InfracostUsage> {
    let report = latency_bench::Report::read(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let billed = report.function.as_ref().and_then(|f| f.billed_duration_ms);
    let (duration, basis) = match (billed, &report.results.latency) {
        (Some(ms), _) => (ms, "its mean billed duration"),
        (None, Some(s)) => (
            s.mean_ms,
            "its mean warm latency (no billed duration measured; an upper bound)",
        ),
        (None, None) => anyhow::bail!(
            "{} has neither a billed duration nor an answered warm request to take a \
             request duration from",
            path.display()
        ),
    };
    Ok(latency_cost::InfracostUsage {
        monthly_requests,
        request_duration_ms: duration,
        source: format!(
            "From {} ({}): request_duration_ms is {basis}; monthly_requests is --calls-per-month.",
            path.display(),
            report.name()
        ),
    })
}

/// The parsed `--calls-per-month` list.
#[derive(Debug, Clone)]
struct Volumes(Vec<f64>);

fn parse_volumes(text: &str) -> Result<Volumes, String> {
    parse_calls_per_month(text)
        .map(Volumes)
        .map_err(|err| err.to_string())
}

/// One `[ROW=]VALUE` of `--memory-mb` or `--duration-ms`.
#[derive(Debug, Clone)]
struct RowValue<T> {
    row: Option<String>,
    value: T,
}

fn parse_row_value<T: std::str::FromStr>(text: &str) -> Result<RowValue<T>, String> {
    let (row, value) = match text.split_once('=') {
        Some((row, value)) => (Some(row.trim().to_owned()), value.trim()),
        None => (None, text.trim()),
    };
    if row.as_deref() == Some("") {
        return Err(format!("`{text}` has no row name before `=`"));
    }
    let value = value
        .parse::<T>()
        .map_err(|_| format!("`{value}` is not a number (write VALUE or ROW=VALUE)"))?;
    Ok(RowValue { row, value })
}

/// The mean billed duration (ms) and memory size (MB) in a Report's function figures.
fn measured_function(path: &std::path::Path) -> anyhow::Result<(f64, u32)> {
    // The bench crate's reader: it checks the schema version and the Report's bounds.
    let report = latency_bench::Report::read(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let figures = report.function.with_context(|| {
        format!(
            "{} has no function figures: billed durations come from the Lambda rows of \
             `latency lab` (results/<time>/lambda-*.json)",
            path.display()
        )
    })?;
    let billed_ms = figures
        .billed_duration_ms
        .with_context(|| format!("{} records no billed duration", path.display()))?;
    let memory_mb = figures
        .memory_size_mb
        .with_context(|| format!("{} records no memory size", path.display()))?;
    Ok((billed_ms, memory_mb))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StoreModeArg {
    /// One atomic update per call.
    Atomic,
    /// The study's read then write.
    ReadModifyWrite,
}

pub(crate) fn run(args: CostArgs) -> anyhow::Result<ExitCode> {
    match cost(args) {
        // A row name or value the model rejects is a usage error, like clap's: exit 2.
        Err(err)
            if matches!(
                err.downcast_ref::<CostError>(),
                Some(CostError::UnknownRow { .. } | CostError::InvalidInput { .. })
            ) =>
        {
            eprintln!("error: {err:#}");
            Ok(ExitCode::from(2))
        }
        outcome => outcome,
    }
}

/// The row a `--only` entry names. `latency lab --list`'s selectors are accepted as they
/// are: `ID?mode=read-modify-write` (or `?mode=atomic`) prices the row with that store
/// mode, under the same words, so the lab's and cost's vocabularies are one.
fn selected_row(rows: &[Row], selector: &str) -> anyhow::Result<Row> {
    let (id, mode) = match selector.split_once("?mode=") {
        Some((id, "read-modify-write")) => (id, Some(StoreMode::ReadModifyWrite)),
        Some((id, "atomic")) => (id, Some(StoreMode::Atomic)),
        Some((_, other)) => anyhow::bail!(
            "`{selector}`: unknown store mode `{other}`; expected ?mode=atomic or ?mode=read-modify-write"
        ),
        None => (selector, None),
    };
    let mut row = find_row(rows, id)?.clone();
    if let Some(mode) = mode {
        match &mut row.kind {
            latency_cost::Kind::PerCall(function) => function.store_mode = mode,
            latency_cost::Kind::Provisioned(_) => {
                anyhow::bail!("`{selector}`: {id} has no per-call store whose mode could be chosen")
            }
        }
        if mode == StoreMode::ReadModifyWrite {
            row.id = selector.to_owned();
            row.label = format!("{}, read-modify-write", row.label);
        }
    }
    Ok(row)
}

fn cost(args: CostArgs) -> anyhow::Result<ExitCode> {
    let sheet = load_sheet(&args.sheet)?;

    let mut rows: Vec<Row> = catalogue();
    if !args.only.is_empty() {
        rows = args
            .only
            .iter()
            .map(|selector| selected_row(&rows, selector.trim()))
            .collect::<anyhow::Result<_>>()?;
    }

    let mut overrides = Overrides {
        store_mode: args.store_mode.map(|mode| match mode {
            StoreModeArg::Atomic => StoreMode::Atomic,
            StoreModeArg::ReadModifyWrite => StoreMode::ReadModifyWrite,
        }),
        duration_basis: Some("--duration-ms".to_owned()),
        ..Overrides::default()
    };
    for RowValue { row, value } in args.memory_mb {
        match row {
            Some(row) => overrides.memory_mb_by_row.push((row, value)),
            None => overrides.memory_mb = Some(value),
        }
    }
    for RowValue { row, value } in args.duration_ms {
        match row {
            Some(row) => overrides.duration_ms_by_row.push((row, value)),
            None => overrides.duration_ms = Some(value),
        }
    }
    for RowValue { row, value: path } in &args.from {
        let (billed_ms, memory_mb) = measured_function(path)?;
        overrides.duration_basis = Some(format!("measured, {}", path.display()));
        match row {
            Some(row) => {
                overrides.duration_ms_by_row.push((row.clone(), billed_ms));
                overrides.memory_mb_by_row.push((row.clone(), memory_mb));
            }
            None => {
                overrides.duration_ms = Some(billed_ms);
                overrides.memory_mb = Some(memory_mb);
            }
        }
    }
    overrides.apply(&mut rows)?;

    let options = Options {
        calls_per_month: args.calls_per_month.0,
        with_load_balancer: args.with_load_balancer,
    };
    let report = price(&sheet, &rows, &options)?;

    if let Some(path) = &args.svg {
        // Chart the web app unless only queue rows were asked for.
        let workload = if report.rows.iter().any(|r| r.workload == Workload::Hits) {
            Workload::Hits
        } else {
            Workload::CalcJobs
        };
        std::fs::write(path, break_even_svg(&report, workload))
            .with_context(|| format!("cannot write the chart to {}", path.display()))?;
        eprintln!("wrote the break-even chart to {}", path.display());
    }

    let priced = &report;
    if let (Some(file), Some(report)) = (&args.infracost_usage, &args.usage_report) {
        // price() has checked that there is at least one volume.
        let volume = priced.calls_per_month.first().copied().unwrap_or(1e6);
        let yaml = infracost_usage(report, volume)?.to_yaml()?;
        if file.as_os_str() == "-" {
            print!("{yaml}");
        } else {
            std::fs::write(file, yaml)
                .with_context(|| format!("cannot write the usage file {}", file.display()))?;
            eprintln!("wrote the Infracost usage file {}", file.display());
        }
    }

    if let Some(out) = &args.json.json {
        let mut json = serde_json::to_string_pretty(&report).context("cannot encode the report")?;
        json.push('\n');
        out.write(&json)?;
    } else if args
        .infracost_usage
        .as_ref()
        .is_some_and(|f| f.as_os_str() == "-")
    {
        // The usage file went to stdout: keep it pure YAML.
        eprint!("{}", render_text(&report, args.explain));
    } else {
        print!("{}", render_text(&report, args.explain));
    }
    Ok(ExitCode::SUCCESS)
}

/// The sheet `latency cost` and `latency lab` price with when `--sheet` is not given.
pub(crate) const DEFAULT_SHEET: &str = "original-era";

/// The largest price sheet read (the built-in ones are a few KB).
const MAX_SHEET_BYTES: u64 = 1024 * 1024;

/// A built-in sheet by name, or a TOML sheet by path (`--sheet` of `cost` and `lab`).
pub(crate) fn load_sheet(spec: &str) -> anyhow::Result<PriceSheet> {
    if let Some(builtin) = BuiltinSheet::from_name(spec) {
        return Ok(PriceSheet::builtin(builtin)?);
    }
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(spec)
        .and_then(|file| file.take(MAX_SHEET_BYTES + 1).read_to_string(&mut text))
        .with_context(|| {
            format!(
                "cannot read price sheet `{spec}` (built-in sheets: {}; or give the path of a TOML sheet)",
                BuiltinSheet::ALL.map(BuiltinSheet::name).join(", ")
            )
        })?;
    if text.len() as u64 > MAX_SHEET_BYTES {
        anyhow::bail!("price sheet `{spec}` is larger than the limit of {MAX_SHEET_BYTES} bytes");
    }
    Ok(PriceSheet::parse(spec, &text)?)
}

/// The long help's tail: what the numbers mean, the rows and their defaults, examples.
/// Generated from the catalogue so that it cannot drift from it.
fn after_long_help() -> String {
    let mut out = String::from(
        "\
What the numbers mean:
  Monthly cost ($)            what a row billed by the month (a VM, a Fargate task, a
                              cluster) costs whatever the traffic.
  Cost per million calls ($)  what a row billed per call (API Gateway + Lambda + its
                              store) costs per million calls.
  <volume> calls ($)          the month's total at that volume: monthly + per call.
  Study ($)                   what the original study published for the row (shown
                              with the original-era sheet).
  Break-even points           the volume at which a per-call row and a provisioned row
                              cost the same; below it the per-call row is cheaper.
  Prices are AWS eu-west-2 list prices, without free tiers or network transfer.

Rows (ids for --only, --memory-mb ROW=MB and --duration-ms ROW=MS):
",
    );
    for row in catalogue() {
        let detail = match &row.kind {
            Kind::Provisioned(server) => format!(
                "by the month{}",
                if server.load_balancer {
                    "; behind a load balancer"
                } else {
                    ""
                }
            ),
            Kind::PerCall(f) => format!(
                "per call; {} MB, {} ms billed ({})",
                f.memory_mb, f.billed_duration_ms, f.duration_basis
            ),
        };
        let _ = writeln!(out, "  {:<24} {}: {detail}", row.id, row.label);
    }
    let _ = write!(
        out,
        "
--json writes the whole report instead of the tables (schema:
crates/cost/schema/cost-report.v1.schema.json): every figure of the sheet, every row's
arithmetic, every break-even point.

Exit codes:
  0  priced;
  1  a sheet or Report cannot be read or is invalid, or an output cannot be written;
  2  usage error: an unknown row, a value out of range, or a sheet whose costs overflow.

Examples:
  latency cost                                  the study's table, reproduced
  latency cost --sheet current --with-load-balancer --calls-per-month 100k,{},1B
  latency cost --only ec2,lambda-dynamodb --duration-ms lambda-dynamodb=12
  latency cost --memory-mb 1024 --duration-ms 5 --store-mode atomic
  latency cost --explain                        show the arithmetic behind each figure
  latency cost --json cost.json                 the whole report, machine-readable
  latency cost --json -                         the same on stdout
  latency cost --svg cost.svg                   the break-even chart
  latency cost --calls-per-month 5M --infracost-usage usage.yml --usage-report run.json",
        format_calls(5e6)
    );
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CostArgs,
    }

    /// One vocabulary: every selector `latency lab --list` prints names a priced row,
    /// and a read-modify-write selector prices that store mode under its own id.
    #[test]
    fn every_lab_selector_is_a_cost_row() {
        let rows = catalogue();
        for lab_row in latency_lab::catalogue() {
            let selector = lab_row.selector();
            let row =
                selected_row(&rows, &selector).unwrap_or_else(|err| panic!("{selector}: {err}"));
            if selector.ends_with("?mode=read-modify-write") {
                assert_eq!(row.id, selector);
                assert_eq!(
                    row.function().map(|f| f.store_mode),
                    Some(StoreMode::ReadModifyWrite)
                );
            }
        }
        let err = selected_row(&rows, "ec2?mode=read-modify-write").expect_err("no store");
        assert!(err.to_string().contains("no per-call store"), "{err}");
        let err = selected_row(&rows, "lambda-s3?mode=eventual").expect_err("bad mode");
        assert!(err.to_string().contains("unknown store mode"), "{err}");
    }

    fn parse(argv: &[&str]) -> Result<CostArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("cost").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_reproduce_the_study() {
        let args = parse(&[]).expect("no flags parse");
        assert_eq!(args.calls_per_month.0, vec![1e6, 1e7, 1e8]);
        assert_eq!(args.sheet, "original-era");
        assert!(!args.with_load_balancer && args.json.json.is_none());
    }

    #[test]
    fn row_values_parse_with_and_without_a_row() {
        let args = parse(&[
            "--memory-mb",
            "256,lambda-sqs=1024",
            "--duration-ms",
            "lambda-dynamodb=12.5",
            "--duration-ms",
            "3",
        ])
        .expect("parses");
        let memory: Vec<(Option<String>, u32)> = args
            .memory_mb
            .into_iter()
            .map(|v| (v.row, v.value))
            .collect();
        assert_eq!(
            memory,
            vec![(None, 256), (Some("lambda-sqs".to_owned()), 1024)]
        );
        let durations: Vec<(Option<String>, f64)> = args
            .duration_ms
            .into_iter()
            .map(|v| (v.row, v.value))
            .collect();
        assert_eq!(
            durations,
            vec![(Some("lambda-dynamodb".to_owned()), 12.5), (None, 3.0)]
        );
    }

    #[test]
    fn bad_values_are_usage_errors_that_name_the_value() {
        for (argv, bad) in [
            (&["--calls-per-month", "1e6,lots"][..], "`lots`"),
            (&["--calls-per-month", "-5"], "`-5`"),
            (&["--memory-mb", "big"], "`big`"),
            (&["--duration-ms", "=5"], "`=5`"),
            (&["--store-mode", "sometimes"], "sometimes"),
        ] {
            let err = parse(argv).expect_err("rejected");
            assert_eq!(err.exit_code(), 2, "{argv:?} is a usage error");
            assert!(err.to_string().contains(bad), "{argv:?}: {err}");
        }
    }

    #[test]
    fn the_long_help_lists_every_row_with_its_defaults() {
        let help = after_long_help();
        for row in catalogue() {
            assert!(help.contains(&row.id), "{} missing from --help", row.id);
        }
        assert!(help.contains("implied by the study's $3.24 per million"));
    }

    #[test]
    fn an_unknown_row_exits_2_and_a_missing_sheet_fails() {
        let args = parse(&["--only", "ec2,lambda-cobol"]).expect("parses");
        assert_eq!(run(args).expect("handled"), ExitCode::from(2));
        let args = parse(&["--sheet", "/nonexistent/sheet.toml"]).expect("parses");
        let err = run(args).expect_err("no such file");
        assert!(format!("{err:#}").contains("cannot read price sheet `/nonexistent/sheet.toml`"));
    }
}
