//! The experiment runner: each selected row is deployed, measured twice (sequential like
//! the original study, then concurrent), checked, stopped, and written out.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use latency_bench::render::Comparison;
use latency_bench::{BenchConfig, Progress, Report, Stop, Verdict};

use crate::LabError;
use crate::catalogue::{Architecture, CounterBackend, Deployment, catalogue};
use crate::cost::{Priced, price_rows};
use crate::deploy::{Deployed, deploy};
use crate::endpoints::{EndpointTools, Endpoints};

/// What to run and where to write it.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Row ids to run (see [`catalogue`]); empty runs every default row.
    pub only: Vec<String>,
    /// Requests in the sequential run (one connection, one after another).
    pub sequential_requests: u64,
    /// Requests in the concurrent run.
    pub concurrent_requests: u64,
    /// Connections in the concurrent run.
    pub concurrency: usize,
    /// The `latency` binary whose `serve` subcommand runs the server rows.
    pub latency_exe: PathBuf,
    /// The Lambda binary (`latency-lambda`) the function rows run; `None` skips them.
    pub lambda_exe: Option<PathBuf>,
    /// The function rows' memory size, MB (their CPU budget follows from it).
    pub function_memory_mb: u32,
    /// Apply the cloud's CPU and memory budgets through cgroups.
    pub cpu_limits: bool,
    /// Where moto and dynalite are found or installed.
    pub tools: EndpointTools,
    /// Where the Reports, `report.md` and `report.html` go (created if missing).
    pub out_dir: PathBuf,
}

impl LabConfig {
    /// The default matrix: 1000 sequential requests (as the original study sent) and
    /// 2000 requests over 32 connections, for every default row.
    pub fn new(latency_exe: PathBuf, tools: EndpointTools, out_dir: PathBuf) -> Self {
        Self {
            only: Vec::new(),
            sequential_requests: 1000,
            concurrent_requests: 2000,
            concurrency: 32,
            latency_exe,
            lambda_exe: None,
            function_memory_mb: 128,
            cpu_limits: true,
            tools,
            out_dir,
        }
    }

    /// A first look: 100 sequential and 400 concurrent requests per row.
    pub fn quick(mut self) -> Self {
        self.sequential_requests = 100;
        self.concurrent_requests = 400;
        self
    }
}

/// Which measurement a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Starting its processes and endpoints.
    Starting,
    /// The sequential run.
    Sequential,
    /// The concurrent run.
    Concurrent,
}

/// A measured row: its billed durations (function rows only) and its runs.
type MeasuredRow = (Architecture, Vec<f64>, Vec<(Phase, Report)>);

impl Phase {
    /// The name of a measuring phase's Report file: `ID-sequential.json`,
    /// `ID-concurrent.json`.
    fn file_stem(self) -> &'static str {
        match self {
            Phase::Concurrent => "concurrent",
            Phase::Sequential | Phase::Starting => "sequential",
        }
    }
}

/// What the runner reports as it goes, for a progress display.
#[derive(Debug)]
pub enum LabEvent<'a> {
    /// A row begins a phase.
    Phase {
        /// The row.
        row: &'a Architecture,
        /// The phase.
        phase: Phase,
        /// Requests planned in this phase, if it measures.
        requests: Option<u64>,
    },
    /// The bench engine's progress in the current phase.
    Progress(&'a Progress),
    /// A row was not measured.
    Skipped {
        /// The row.
        row: &'a Architecture,
        /// Why, and how to enable it.
        reason: &'a str,
    },
    /// A row is done.
    Finished {
        /// The row.
        row: &'a Architecture,
    },
}

/// Everything one lab run produced.
#[derive(Debug)]
pub struct LabOutcome {
    /// Every selected row, measured or skipped, in catalogue order.
    pub comparison: Comparison,
    /// Where the cost columns come from (sheet, inputs), as Markdown.
    pub cost_note: String,
    /// The directory everything was written to.
    pub out_dir: PathBuf,
    /// Problems that mean a result cannot be trusted or a row is broken: an atomic store
    /// that lost or repeated updates, a row that could not start or be measured, a run
    /// whose every request failed. Empty when all is well.
    pub problems: Vec<String>,
    /// What the runs showed that is a property of the architecture under this load:
    /// lost updates in the read-modify-write rows, some requests failing.
    pub findings: Vec<String>,
}

/// Runs the selected rows one after another and writes every Report (`ID-sequential.json`,
/// `ID-concurrent.json`), `report.md` and `report.html` under `config.out_dir`.
///
/// A row that cannot be started is skipped with the reason, never dropped; only an
/// unknown `--only` name or an unwritable output directory fails the whole run.
pub async fn run(
    config: &LabConfig,
    mut on_event: impl FnMut(LabEvent<'_>) + Send,
) -> Result<LabOutcome, LabError> {
    let rows = select(&config.only)?;
    let state_dir = config.out_dir.join("state");
    create_dir(&state_dir)?;
    // Store URLs need absolute paths (`file:///abs/path`).
    let state_dir = std::path::absolute(&state_dir).map_err(|source| LabError::Write {
        path: state_dir.clone(),
        source,
    })?;
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let mut endpoints = Endpoints::new(run_id, state_dir, config.tools.clone());
    let mut comparison = Comparison::new([]);
    comparison.title = "latency lab: every architecture on one machine".to_owned();
    let mut verdicts = Verdicts::default();
    let mut measured_rows: Vec<MeasuredRow> = Vec::new();

    for row in &rows {
        on_event(LabEvent::Phase {
            row,
            phase: Phase::Starting,
            requests: None,
        });
        let running = match deploy(row, config, &mut endpoints).await {
            Ok(Deployed::Running(running)) => running,
            Ok(Deployed::Skipped(reason)) => {
                on_event(LabEvent::Skipped {
                    row,
                    reason: &reason,
                });
                comparison.skip(row.title, reason);
                continue;
            }
            Err(err) => {
                let reason = err.to_string();
                on_event(LabEvent::Skipped {
                    row,
                    reason: &reason,
                });
                verdicts.problems.push(format!("{}: {reason}", row.id));
                comparison.skip(row.title, reason);
                continue;
            }
        };
        let url = format!("{}/hits", running.base_url);
        let plans = [
            (
                Phase::Sequential,
                1,
                config.sequential_requests,
                row.title.to_owned(),
            ),
            (
                Phase::Concurrent,
                config.concurrency,
                config.concurrent_requests,
                format!("{}, {} concurrent", row.title, config.concurrency),
            ),
        ];
        let mut measured: Vec<(Phase, Report)> = Vec::new();
        let mut billed_ms = Vec::new();
        let mut failure = None;
        for (phase, connections, requests, label) in plans {
            on_event(LabEvent::Phase {
                row,
                phase,
                requests: Some(requests),
            });
            match measure(&url, connections, requests, label, &mut on_event).await {
                Ok(mut report) => {
                    report.notes.extend(running.notes.iter().cloned());
                    if let Some(run) = running.take_function_run() {
                        billed_ms.extend(run.billed_ms);
                        report.function = Some(run.figures);
                    }
                    measured.push((phase, report));
                }
                Err(source) => {
                    failure = Some(LabError::Bench {
                        architecture: row.title.to_owned(),
                        source,
                    });
                    break;
                }
            }
        }
        running.stop().await;
        if let Some(err) = failure {
            let reason = err.to_string();
            verdicts.problems.push(format!("{}: {reason}", row.id));
            comparison.skip(row.title, reason);
            continue;
        }
        for (_, report) in &measured {
            check(row, report, &mut verdicts);
        }
        measured_rows.push((row.clone(), billed_ms, measured));
        on_event(LabEvent::Finished { row });
    }
    endpoints.stop().await;

    let billed: Vec<(&Architecture, &[f64])> = measured_rows
        .iter()
        .map(|(row, billed_ms, _)| (row, billed_ms.as_slice()))
        .collect();
    let priced = price_rows(&billed, config.function_memory_mb);
    for (row, _, runs) in measured_rows {
        for (phase, mut report) in runs {
            report.cost = priced.figures(row.id);
            write_json(
                &config
                    .out_dir
                    .join(format!("{}-{}.json", row.id, phase.file_stem())),
                &report,
            )?;
            comparison
                .rows
                .push(latency_bench::render::Row::Measured(Box::new(report)));
        }
    }
    // Keep catalogue order: skipped rows were pushed as they came, measured ones now.
    comparison.rows.sort_by_key(|entry| position(&rows, entry));

    let mut markdown = comparison.markdown();
    markdown.push_str(&priced.markdown_note());
    write(&config.out_dir.join("report.md"), &markdown)?;
    write(
        &config.out_dir.join("report.html"),
        &with_chart(comparison.html(), &priced),
    )?;
    Ok(LabOutcome {
        comparison,
        cost_note: priced.markdown_note(),
        out_dir: config.out_dir.clone(),
        problems: verdicts.problems,
        findings: verdicts.findings,
    })
}

/// Where a table entry's row stands in the catalogue selection.
fn position(rows: &[Architecture], entry: &latency_bench::render::Row) -> usize {
    let title = match entry {
        latency_bench::render::Row::Measured(report) => {
            report.target.label.clone().unwrap_or_default()
        }
        latency_bench::render::Row::Skipped { architecture, .. } => architecture.clone(),
    };
    rows.iter()
        .position(|row| title == row.title || title.starts_with(&format!("{}, ", row.title)))
        .unwrap_or(usize::MAX)
}

/// `report.html` with the break-even chart before its closing `</body>`.
fn with_chart(html: String, priced: &Priced) -> String {
    let Some(section) = priced.html_section() else {
        return html;
    };
    match html.rfind("</body>") {
        Some(at) => format!("{}{section}{}", &html[..at], &html[at..]),
        None => html + &section,
    }
}

async fn measure(
    url: &str,
    connections: usize,
    requests: u64,
    label: String,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<Report, latency_bench::BenchError> {
    let mut plan = BenchConfig::new(url)?;
    plan.connections = connections;
    plan.stop = Stop::Requests(requests);
    plan.label = Some(label);
    latency_bench::run_with_progress(plan, |progress| on_event(LabEvent::Progress(progress))).await
}

/// The rows `only` names, or every default row.
fn select(only: &[String]) -> Result<Vec<Architecture>, LabError> {
    let all = catalogue();
    if only.is_empty() {
        return Ok(all.into_iter().filter(|row| row.default).collect());
    }
    for name in only {
        if !all.iter().any(|row| row.id == name) {
            return Err(LabError::UnknownArchitecture {
                name: name.clone(),
                known: all.iter().map(|row| row.id).collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|row| only.iter().any(|name| name == row.id))
        .collect())
}

/// Whether lost or repeated updates are this row's point (the original study's
/// read-modify-write stores) rather than a bug.
fn expects_lost_updates(row: &Architecture) -> bool {
    let counter = match &row.deployment {
        Deployment::Server { counter }
        | Deployment::Balanced { counter, .. }
        | Deployment::Function { counter } => *counter,
        Deployment::NotBuilt { .. } => return false,
    };
    matches!(
        counter,
        CounterBackend::S3 {
            read_modify_write: true
        } | CounterBackend::DynamoDb {
            read_modify_write: true
        }
    )
}

/// What a measured run says about its row.
#[derive(Default)]
struct Verdicts {
    /// The result cannot be trusted, or the row is broken.
    problems: Vec<String>,
    /// Worth knowing, but a property of the architecture under this load.
    findings: Vec<String>,
}

/// An atomic store that lost or repeated an update is a bug, and so is a row whose every
/// request failed. Some failed requests are a finding about the architecture (S3's
/// conditional writes contending for one object past Lambda's timeout, say).
fn check(row: &Architecture, report: &Report, verdicts: &mut Verdicts) {
    let label = report.target.label.as_deref().unwrap_or(row.title);
    let counter = &report.results.counter;
    if counter.verdict == Verdict::Fail {
        let line = format!("{label}: counter check failed: {}", counter.note);
        if expects_lost_updates(row) {
            verdicts.findings.push(line);
        } else {
            verdicts.problems.push(line);
        }
    }
    let errors = report.results.error_count();
    if errors == 0 {
        return;
    }
    let kinds = report
        .results
        .errors
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect::<Vec<_>>()
        .join(", ");
    let line = format!(
        "{label}: {errors} of {} requests failed ({kinds})",
        report.results.requests
    );
    if errors >= report.results.requests {
        verdicts.problems.push(line);
    } else {
        verdicts.findings.push(line);
    }
}

fn create_dir(path: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(path).map_err(|source| LabError::Write {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(path, text).map_err(|source| LabError::Write {
        path: path.to_owned(),
        source,
    })
}

fn write_json(path: &Path, report: &Report) -> Result<(), LabError> {
    let text = serde_json::to_string_pretty(report).map_err(|err| LabError::Write {
        path: path.to_owned(),
        source: std::io::Error::other(err),
    })?;
    write(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real Report (the bench crate's committed fixture) with the given outcome.
    fn report(requests: u64, failed: u64, counter: Verdict) -> Report {
        let text = include_str!("../../bench/tests/fixtures/server-vm.json");
        let mut report: Report = serde_json::from_str(text).expect("fixture is a Report");
        report.results.requests = requests;
        report.results.errors.clear();
        if failed > 0 {
            report.results.errors.insert("http_5xx".to_owned(), failed);
        }
        report.results.counter.verdict = counter;
        report
    }

    fn row(id: &str) -> Architecture {
        catalogue()
            .into_iter()
            .find(|row| row.id == id)
            .expect("catalogue row")
    }

    fn verdicts(id: &str, report: &Report) -> Verdicts {
        let mut verdicts = Verdicts::default();
        check(&row(id), report, &mut verdicts);
        verdicts
    }

    #[test]
    fn a_sound_run_says_nothing() {
        let v = verdicts("ec2", &report(100, 0, Verdict::Pass));
        assert!(v.problems.is_empty() && v.findings.is_empty());
    }

    #[test]
    fn lost_updates_are_a_problem_for_atomic_rows_and_a_finding_for_rmw_rows() {
        let failed = report(100, 0, Verdict::Fail);
        let atomic = verdicts("lambda-dynamodb", &failed);
        assert_eq!((atomic.problems.len(), atomic.findings.len()), (1, 0));
        let rmw = verdicts("lambda-dynamodb-rmw", &failed);
        assert_eq!((rmw.problems.len(), rmw.findings.len()), (0, 1));
    }

    #[test]
    fn some_failed_requests_are_a_finding_and_all_failed_a_problem() {
        let some = verdicts("lambda-s3", &report(100, 15, Verdict::Pass));
        assert_eq!((some.problems.len(), some.findings.len()), (0, 1));
        assert!(some.findings[0].contains("15 of 100 requests failed (15 http_5xx)"));
        let all = verdicts("lambda-s3", &report(100, 100, Verdict::NotApplicable));
        assert_eq!((all.problems.len(), all.findings.len()), (1, 0));
    }
}
