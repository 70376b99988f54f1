//! The `latency` command line.
//!
//! This crate is the only one that reads argv and the environment: each subcommand parses
//! its flags with clap into a typed config and hands that to a library crate. `anyhow` is
//! used here and nowhere else.

mod bench_cmd;
mod cost_cmd;
mod json_out;
mod lab_cmd;
mod logging;
mod report_cmd;
mod runtime;
mod serve_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build one tiny web app on many architectures and measure them side by side.
///
/// The app is a page with a button plus `GET /hits`, which counts calls. Run it with
/// `latency serve`, measure any URL with `latency bench`, price architectures with
/// `latency cost`, and run everything locally with `latency lab`.
#[derive(Debug, Parser)]
#[command(name = "latency", version, propagate_version = true)]
struct Cli {
    /// Write logs as JSON lines instead of text (logs go to stderr; RUST_LOG filters them).
    #[arg(long, global = true)]
    log_json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the counter app: the page, GET /hits, /healthz and /metrics.
    Serve(serve_cmd::ServeArgs),
    /// Measure a URL: latency distribution, throughput, cold start, counter check.
    Bench(bench_cmd::BenchArgs),
    /// Turn JSON Reports into a Markdown comparison table and an HTML page.
    Report(report_cmd::ReportArgs),
    /// Price every architecture per month and per million calls, with break-even points.
    Cost(cost_cmd::CostArgs),
    /// Run every architecture's local analogue, measure it and compare them.
    Lab(lab_cmd::LabArgs),
}

/// Parses argv, runs the subcommand, and maps its outcome to an exit code:
/// 0 on success, 1 on failure (with `error: …` on stderr), 2 on a usage error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_json);
    let outcome = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Cost(args) => cost_cmd::run(args),
        Command::Lab(args) => lab_cmd::run(args),
    };
    outcome.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::FAILURE
    })
}
