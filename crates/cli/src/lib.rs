//! The `latency` command line.
//!
//! This crate is the only one that reads argv and the environment: each subcommand parses
//! its flags with clap into a typed config and hands that to a library crate. `anyhow` is
//! used here and nowhere else.

mod bench_cmd;
mod cloud_cmd;
mod completions_cmd;
mod cost_cmd;
#[cfg(feature = "lambda-bench")]
mod fanout;
mod json_out;
mod lab_cmd;
mod logging;
mod platform_cmd;
mod queue_cmd;
mod report_cmd;
mod runtime;
mod serve_cmd;
mod worker_cmd;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// Build one tiny web app on many architectures and measure them side by side.
///
/// The app is a page with a button plus `GET /hits`, which counts calls. Run it with
/// `latency serve`, measure any URL with `latency bench`, price architectures with
/// `latency cost`, and run everything locally with `latency lab`.
#[derive(Debug, Parser)]
#[command(name = "latency", version, propagate_version = true)]
struct Cli {
    /// Colour logs and progress: auto (when stderr is a terminal and NO_COLOR is unset),
    /// always, or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    color: logging::ColorChoice,

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions_cmd::CompletionsArgs),
    /// Print the man page, latency(1), or write every page to a directory.
    Man(completions_cmd::ManArgs),
    /// Run any Lambda function locally behind an API Gateway front and the Invoke API.
    Platform(platform_cmd::PlatformArgs),
    /// Run calc jobs from a queue: a long-running worker pool (the queue workload).
    Worker(worker_cmd::WorkerArgs),
    /// Submit N calc jobs, wait until all are done, and compare the time to the ideal bound.
    Queue(queue_cmd::QueueArgs),
    /// Deploy rows on a real AWS account with Terraform, measure them beside the lab's
    /// prediction, and tear them down.
    Cloud(cloud_cmd::CloudArgs),
}

/// What each subcommand's exit status means, appended to its `--help` (and `-h`) so
/// the text lives next to the code that maps outcomes to codes (`main` below and the
/// subcommands' `run`).
fn exit_codes(subcommand: &str) -> &'static str {
    match subcommand {
        "serve" => {
            "Exit codes: 0 stopped cleanly (SIGTERM or Ctrl-C); 1 failed (cannot bind, store \
             unreachable; `error: …` on stderr); 2 usage error."
        }
        "bench" => {
            "Exit codes: 0 all well; 1 more errors than --max-error-rate, a crossed \
             threshold, a failed counter check, or an unreachable URL; 2 usage error or \
             malformed URL."
        }
        "report" => {
            "Exit codes: 0 written; 1 a Report cannot be read or is invalid, or an output \
             cannot be written; 2 usage error."
        }
        "cost" => {
            "Exit codes: 0 priced; 1 a sheet or Report cannot be read or written; 2 usage \
             error, unknown row or invalid value."
        }
        "lab" => {
            "Exit codes: 0 every row measured or skipped with its reason, and every check \
             passed; 1 a row failed or a check failed (listed under `problems:`); 2 usage \
             error or unknown --only architecture."
        }
        "cloud" => {
            "Exit codes: 0 every row deployed, measured and (for run, down) destroyed; 1 an \
             apply, a readiness wait, a bench or a destroy failed (what is still deployed is \
             listed with the command that destroys it), or the cost guard was declined; 2 \
             usage error: unknown id, a lab selector, or no terminal to confirm on and no \
             --yes; 130 interrupted (Ctrl-C or SIGTERM), after destroying what run created."
        }
        _ => "Exit codes: 0 success; 1 failure (`error: …` on stderr); 2 usage error.",
    }
}

/// The full command definition, with every subcommand's exit codes in its help.
/// Completions and man pages are generated from this, so they match the parser.
fn command() -> clap::Command {
    let mut cmd = Cli::command().after_help(exit_codes(""));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let codes = exit_codes(sub.get_name());
            let long = match sub.get_after_long_help() {
                Some(text) => format!("{text}\n\n{codes}"),
                None => codes.to_owned(),
            };
            sub.after_help(codes).after_long_help(long)
        });
    }
    cmd
}

/// Parses argv, runs the subcommand, and maps its outcome to an exit code:
/// 0 on success, 1 on failure (with `error: …` on stderr), 2 on a usage error.
pub fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let log_json = match &cli.command {
        Command::Serve(args) => args.log.log_json,
        Command::Lab(args) => args.log.log_json,
        Command::Platform(args) => args.log.log_json,
        Command::Worker(args) => args.log.log_json,
        Command::Queue(args) => args.log.log_json,
        _ => false,
    };
    logging::init(log_json, cli.color);
    let outcome = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Cost(args) => cost_cmd::run(args),
        Command::Lab(args) => lab_cmd::run(args, cli.color),
        Command::Completions(args) => Ok(completions_cmd::completions(args, command())),
        Command::Man(args) => completions_cmd::man(args, command()),
        Command::Platform(args) => platform_cmd::run(args),
        Command::Worker(args) => worker_cmd::run(args),
        Command::Queue(args) => queue_cmd::run(args),
        Command::Cloud(args) => cloud_cmd::run(args),
    };
    outcome.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::FAILURE
    })
}
