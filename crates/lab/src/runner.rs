//! The experiment runner, in five steps per run: launch each selected row, measure it
//! twice (sequential like the original study, then concurrent), check its counter and
//! errors, price the measured rows, and write every Report, `report.md` and
//! `report.html`. Results are keyed by catalogue position, never by label.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use latency_bench::render::{Comparison, Row as TableRow};
use latency_bench::{BenchConfig, FunctionFigures, Progress, Report, Stop, Verdict};
use latency_cost::PriceSheet;

use crate::LabError;
use crate::catalogue::{Architecture, CounterBackend, Mode, RowSelector, select};
use crate::cold_floor::ColdStartFloor;
use crate::cost::price_rows;
use crate::endpoints::{EndpointTools, Endpoints};
use crate::error::Skip;
use crate::launch::{FunctionRuntime, Launched, Running, launch};
use crate::memory_sweep::{MemorySweep, SweepPoint};
use crate::process::Reaper;
use crate::repeat::{BusySampler, PhaseRuns, aggregate};

/// What to run and where to write it. [`LabConfig::new`] holds every default; the CLI
/// only overrides what the user gave.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Rows to run (see [`catalogue`](crate::catalogue)); empty runs every default row.
    pub only: Vec<RowSelector>,
    /// Requests in the sequential run (one connection, one after another).
    pub sequential_requests: u64,
    /// Requests in the concurrent run.
    pub concurrent_requests: u64,
    /// Connections in the concurrent run.
    pub concurrency: usize,
    /// Each run also ends once this much time has passed, whichever comes first with its
    /// request count, so a row that serves 15 requests a second takes seconds, not
    /// minutes; each Report says which bound ended it. `None`: the count alone.
    pub phase_time_limit: Option<std::time::Duration>,
    /// The `latency` binary whose `serve` subcommand runs the server rows.
    pub latency_exe: PathBuf,
    /// How function rows run, per language; a row whose language has none is skipped
    /// with the command that provides it.
    pub runtimes: Vec<FunctionRuntime>,
    /// Languages whose runtime could not be prepared (a missing toolchain, say), with
    /// the command that fixes it: their rows are skipped with this, not with
    /// [`Language::missing_runtime`](crate::Language::missing_runtime).
    pub runtime_skips: Vec<(crate::Language, crate::Skip)>,
    /// The programs of [`Deployment::Program`](crate::Deployment::Program) rows, by
    /// architecture id, or why one could not be prepared; a row with no entry is skipped.
    pub server_programs: Vec<(
        latency_arch::ArchitectureId,
        Result<crate::ServerProgram, crate::Skip>,
    )>,
    /// The function rows' memory size, MB (their CPU budget follows from it).
    pub function_memory_mb: u32,
    /// Apply the cloud's CPU and memory budgets through cgroups.
    pub cpu_limits: bool,
    /// The prices the cost columns use.
    pub sheet: PriceSheet,
    /// Where moto and dynalite are found or installed.
    pub tools: EndpointTools,
    /// Where the Reports, `report.md` and `report.html` go (created if missing).
    pub out_dir: PathBuf,
    /// `--cloud`: measure each row with the cloud's per-hop delays too; the table shows
    /// those predicted figures, the local ones go to a section of their own.
    pub cloud: Option<crate::CloudSetup>,
    /// `--repeat`: how many times each phase of each row is measured (at least 1).
    pub repeat: usize,
    /// The queue rows' plan and parts (`lambda-sqs`, `workers-rabbitmq`).
    pub queue: crate::QueueRowsConfig,
    /// `--memory`: the memory sizes to sweep, ascending (see
    /// [`memory_sweep`](crate::memory_sweep)). Each function row runs once per size; the
    /// first size's runs are the table's row. Empty: function rows run once, at
    /// [`function_memory_mb`](Self::function_memory_mb).
    pub memory_sizes: Vec<u32>,
    /// The hello-world function (`latency-hello`) whose cold starts, at each size the
    /// function rows ran at, are the floor of the function figures; `None` leaves it out.
    pub hello_exe: Option<PathBuf>,
}

impl LabConfig {
    /// Requests in a default sequential run, as the original study sent.
    pub const DEFAULT_REQUESTS: u64 = 1000;
    /// Requests in a `--quick` sequential run.
    pub const QUICK_REQUESTS: u64 = 100;
    /// Connections in a default concurrent run.
    pub const DEFAULT_CONCURRENCY: usize = 32;
    /// The function rows' default memory size, Lambda's smallest (as the study).
    pub const DEFAULT_MEMORY_MB: u32 = 128;
    /// A default run's time limit per phase (see
    /// [`phase_time_limit`](Self::phase_time_limit)).
    pub const DEFAULT_PHASE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(8);
    /// A `--quick` run's time limit per phase.
    pub const QUICK_PHASE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

    /// The default matrix: [`DEFAULT_REQUESTS`](Self::DEFAULT_REQUESTS) sequential
    /// requests and twice as many over [`DEFAULT_CONCURRENCY`](Self::DEFAULT_CONCURRENCY)
    /// connections, for every default row, priced on `sheet`.
    pub fn new(
        latency_exe: PathBuf,
        tools: EndpointTools,
        out_dir: PathBuf,
        sheet: PriceSheet,
    ) -> Self {
        Self {
            only: Vec::new(),
            sequential_requests: 0,
            concurrent_requests: 0,
            concurrency: Self::DEFAULT_CONCURRENCY,
            phase_time_limit: Some(Self::DEFAULT_PHASE_TIME_LIMIT),
            latency_exe,
            runtimes: Vec::new(),
            runtime_skips: Vec::new(),
            server_programs: Vec::new(),
            function_memory_mb: Self::DEFAULT_MEMORY_MB,
            cpu_limits: true,
            sheet,
            tools,
            out_dir,
            cloud: None,
            repeat: 1,
            queue: crate::QueueRowsConfig::default(),
            memory_sizes: Vec::new(),
            hello_exe: None,
        }
        .with_requests(Self::DEFAULT_REQUESTS)
    }

    /// `n` sequential requests and `2 × n` concurrent ones per row.
    pub fn with_requests(mut self, n: u64) -> Self {
        self.sequential_requests = n;
        self.concurrent_requests = n.saturating_mul(2);
        self
    }

    /// A first look: [`QUICK_REQUESTS`](Self::QUICK_REQUESTS) sequential requests and
    /// twice as many concurrent ones per row, and
    /// [`QUICK_JOBS`](crate::QueueRowsConfig::QUICK_JOBS) jobs per queue row.
    pub fn quick(mut self) -> Self {
        self.queue.jobs = crate::QueueRowsConfig::QUICK_JOBS;
        self.phase_time_limit = Some(Self::QUICK_PHASE_TIME_LIMIT);
        self.with_requests(Self::QUICK_REQUESTS)
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
    /// A queue row's run (its `requests` are jobs).
    Queue,
}

impl Phase {
    /// The name of a measuring phase's Report file: `STEM-sequential.json`,
    /// `STEM-concurrent.json`.
    fn file_stem(self) -> &'static str {
        match self {
            Phase::Concurrent => "concurrent",
            Phase::Queue => "queue",
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
        /// Its place in this run, from 1.
        index: usize,
        /// Rows in this run.
        rows: usize,
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
        skip: &'a Skip,
    },
    /// A row could not be started or measured.
    Failed {
        /// The row.
        row: &'a Architecture,
        /// What went wrong.
        error: &'a LabError,
    },
    /// A row is done.
    Finished {
        /// The row.
        row: &'a Architecture,
        /// For function rows, what the platform measured over both runs.
        function: Option<&'a FunctionFigures>,
        /// For function rows, the platform's one-line summary of both runs
        /// ([`FunctionTotals::summary_line`](latency_platform::FunctionTotals::summary_line)).
        summary: Option<String>,
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
    /// Whether the run was interrupted: the rows finished before it are written, the
    /// rest are listed as skipped.
    pub interrupted: bool,
    /// With `--cloud`: the prediction scored against the original study's table.
    pub score: Option<latency_cloud::score::Score>,
    /// The measured queue rows, in catalogue order: the "Queue workloads" table (those
    /// skipped or failed are in `comparison`, as other rows).
    pub queue_rows: Vec<crate::QueueRow>,
    /// `--memory`: every function row at every size, with the choices.
    pub memory_sweep: Option<MemorySweep>,
    /// The hello-world function's cold starts against the published figure, when a
    /// function row was measured and [`LabConfig::hello_exe`] was given.
    pub cold_start_floor: Option<ColdStartFloor>,
}

/// What became of one selected row.
enum RowOutcome {
    /// Both runs measured (each `--repeat` times); `runs` are the table's (the cloud's
    /// with `--cloud`), `local` the local runs of a `--cloud` run; `billed_ms` holds
    /// every invocation's billed duration (function rows only).
    Measured {
        runs: Vec<PhaseRuns>,
        local: Vec<PhaseRuns>,
        billed_ms: Vec<f64>,
    },
    /// A queue row's run, measured.
    Queue(Box<crate::QueueRow>),
    /// Not measured, on purpose.
    Skipped(Skip),
    /// Could not be started or measured.
    Failed(LabError),
}

/// One selected row and what became of it, at its catalogue position.
struct RowResult {
    row: Architecture,
    outcome: RowOutcome,
}

/// Runs the selected rows one after another and writes every Report (`STEM-sequential.json`,
/// `STEM-concurrent.json`), `report.md` and `report.html` under `config.out_dir`.
///
/// A row that cannot be started is skipped with the reason, never dropped; only an
/// unwritable output directory fails the whole run.
pub async fn run(
    config: &LabConfig,
    on_event: impl FnMut(LabEvent<'_>) + Send,
) -> Result<LabOutcome, LabError> {
    run_until(config, on_event, std::future::pending()).await
}

/// [`run`], until `interrupt` completes (on SIGINT or SIGTERM, say). Then the row in
/// progress is stopped, every process and cgroup of the lab is removed, the rows not yet
/// run are listed as skipped, and what was measured is written as usual.
pub async fn run_until(
    config: &LabConfig,
    mut on_event: impl FnMut(LabEvent<'_>) + Send,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<LabOutcome, LabError> {
    // A sweep's first size is the table's: the function rows run at it first.
    let first_size;
    let config = match config.memory_sizes.first() {
        Some(&mb) if mb != config.function_memory_mb => {
            first_size = LabConfig {
                function_memory_mb: mb,
                ..config.clone()
            };
            &first_size
        }
        _ => config,
    };
    let mut sweep =
        (!config.memory_sizes.is_empty()).then(|| MemorySweep::new(config.memory_sizes.clone()));
    let state_dir = config.out_dir.join("state");
    create_dir(&state_dir)?;
    // Store URLs need absolute paths (`file:///abs/path`).
    let state_dir = std::path::absolute(&state_dir).map_err(|source| LabError::Write {
        path: state_dir.clone(),
        source,
    })?;
    crate::sweep::remove_leftovers_of_dead_runs().await;
    // Started before any other child, so that whatever this run leaves if it is killed
    // is removed as soon as it dies.
    // Without it the run still works; only a SIGKILL of the lab would leave its cgroups
    // and Redis keys to the next run's sweep.
    let reaper = match Reaper::start(&config.latency_exe) {
        Ok(reaper) => Some(reaper),
        Err(err) => {
            tracing::warn!(%err, "no reaper: a killed lab's leftovers wait for the next run");
            None
        }
    };
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let mut endpoints = Endpoints::new(run_id, state_dir, config.tools.clone());
    if let Some(cloud) = &config.cloud {
        endpoints.set_cloud(crate::cloud::StoreProxies::new(cloud.profile.clone()));
    }

    let selected = select(&config.only);
    let total = selected.len();
    let mut results = Vec::with_capacity(total);
    let mut interrupt = std::pin::pin!(interrupt);
    let mut interrupted = false;
    for (index, (_, row)) in selected.into_iter().enumerate() {
        let outcome = if interrupted {
            RowOutcome::Skipped(Skip::new(
                "the run was interrupted before this row",
                "run it again",
            ))
        } else {
            let place = (index + 1, total);
            tokio::select! {
                outcome = run_row_and_sweep(&row, place, config, &mut endpoints, &mut on_event, &mut sweep) => outcome,
                () = &mut interrupt => {
                    interrupted = true;
                    RowOutcome::Failed(LabError::Interrupted)
                }
            }
        };
        // A row cut short by the interrupt left its processes to `kill_on_drop` and its
        // cgroups to their `Drop`; both ran when `run_row`'s future was dropped.
        match &outcome {
            RowOutcome::Skipped(skip) => on_event(LabEvent::Skipped { row: &row, skip }),
            RowOutcome::Failed(error) => on_event(LabEvent::Failed { row: &row, error }),
            RowOutcome::Measured { .. } | RowOutcome::Queue(_) => {}
        }
        results.push(RowResult { row, outcome });
    }
    endpoints.stop().await;
    let any_function = results.iter().any(|result| {
        MemorySweep::covers(&result.row) && matches!(result.outcome, RowOutcome::Measured { .. })
    });
    let floor = match &config.hello_exe {
        Some(exe) if any_function && !interrupted => {
            let sizes = sweep.as_ref().map_or_else(
                || vec![config.function_memory_mb],
                |sweep| sweep.sizes.clone(),
            );
            tokio::select! {
                floor = crate::cold_floor::measure(exe, &sizes, config.cpu_limits) => Some(floor),
                () = &mut interrupt => {
                    interrupted = true;
                    None
                }
            }
        }
        _ => None,
    };
    let written = write_results(config, results, interrupted, sweep, floor);
    if let Some(reaper) = reaper {
        reaper.finish().await;
    }
    written
}

/// [`run_row`]; then, for a function row of a `--memory` sweep, once more per further
/// size, each size's figures recorded in `sweep` and its Reports written as
/// `STEM-<MB>mb-sequential.json` and `STEM-<MB>mb-concurrent.json`. Returns the first
/// size's outcome (the table's row).
async fn run_row_and_sweep(
    row: &Architecture,
    place: (usize, usize),
    config: &LabConfig,
    endpoints: &mut Endpoints,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
    sweep: &mut Option<MemorySweep>,
) -> RowOutcome {
    let outcome = run_row(row, place, config, endpoints, on_event).await;
    let Some(sweep) = sweep.as_mut().filter(|_| MemorySweep::covers(row)) else {
        return outcome;
    };
    if matches!(outcome, RowOutcome::Skipped(_)) {
        return outcome;
    }
    sweep.record(row, sweep_point(row, config, &outcome));
    for &size in config.memory_sizes.iter().skip(1) {
        let sized = LabConfig {
            function_memory_mb: size,
            ..config.clone()
        };
        let more = run_row(row, place, &sized, endpoints, on_event).await;
        if let RowOutcome::Measured { runs, .. } = &more {
            for PhaseRuns { phase, report, .. } in runs {
                let name = format!("{}-{size}mb-{}.json", row.file_stem(), phase.file_stem());
                if let Err(err) = write_json(&config.out_dir.join(name), report) {
                    tracing::warn!(%err, "a sweep Report was not written");
                }
            }
        }
        sweep.record(row, sweep_point(row, &sized, &more));
    }
    outcome
}

/// What a sweep records of one size's outcome.
fn sweep_point(row: &Architecture, config: &LabConfig, outcome: &RowOutcome) -> SweepPoint {
    let memory_mb = config.function_memory_mb;
    match outcome {
        RowOutcome::Measured {
            runs, billed_ms, ..
        } => {
            // The table's run of each phase (the median one with --repeat).
            let shown: Vec<(Phase, latency_bench::Report)> = runs
                .iter()
                .map(|phase| (phase.phase, phase.report.clone()))
                .collect();
            SweepPoint::measured(row, memory_mb, &shown, billed_ms, &config.sheet)
        }
        RowOutcome::Skipped(skip) => SweepPoint::failed(memory_mb, skip.to_string()),
        RowOutcome::Failed(err) => SweepPoint::failed(memory_mb, err.to_string()),
        // `MemorySweep::covers` admits function rows only.
        RowOutcome::Queue(_) => {
            SweepPoint::failed(memory_mb, "a queue row has no memory sweep".to_owned())
        }
    }
}

/// Launch, measure, stop one row.
async fn run_row(
    row: &Architecture,
    (index, rows): (usize, usize),
    config: &LabConfig,
    endpoints: &mut Endpoints,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> RowOutcome {
    on_event(LabEvent::Phase {
        row,
        index,
        rows,
        phase: Phase::Starting,
        requests: None,
    });
    if let crate::Deployment::Queue(consumers) = row.deployment {
        let place = (index, rows);
        return match crate::queue_rows::run_queue_row(
            row, consumers, place, config, endpoints, on_event,
        )
        .await
        {
            Ok(queue_row) => {
                on_event(LabEvent::Finished {
                    row,
                    function: None,
                    summary: None,
                });
                RowOutcome::Queue(Box::new(queue_row))
            }
            Err(crate::queue_rows::NotMeasured::Skipped(skip)) => RowOutcome::Skipped(skip),
            Err(crate::queue_rows::NotMeasured::Failed(err)) => RowOutcome::Failed(err),
        };
    }
    let running = match launch(row, config, endpoints).await {
        Ok(Launched::Up(running)) => running,
        Ok(Launched::Skipped(skip)) => return RowOutcome::Skipped(skip),
        Err(err) => return RowOutcome::Failed(err),
    };
    let measured = measure_views(row, (index, rows), config, endpoints, &running, on_event).await;
    let summary = running.function_summary();
    running.stop().await;
    match measured {
        Ok(views) => {
            on_event(LabEvent::Finished {
                row,
                function: views.function.as_ref(),
                summary,
            });
            RowOutcome::Measured {
                runs: views.table,
                local: views.local,
                billed_ms: views.billed_ms,
            }
        }
        Err(err) => RowOutcome::Failed(err),
    }
}

/// A row's measured phases: the table's, and the local ones of a `--cloud` run.
struct Views {
    table: Vec<PhaseRuns>,
    local: Vec<PhaseRuns>,
    billed_ms: Vec<f64>,
    function: Option<FunctionFigures>,
}

/// Measures a row that is up `config.repeat` times: with `--cloud` first through the
/// cloud's front proxy with the store proxies' delays on (the cold start falls in the
/// cloud runs, as in the study's), then directly with the delays off.
async fn measure_views(
    row: &Architecture,
    place: (usize, usize),
    config: &LabConfig,
    endpoints: &mut Endpoints,
    running: &Running,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<Views, LabError> {
    let mut billed_ms = Vec::new();
    let mut function: Option<FunctionFigures> = None;
    let mut repeated = async |url: &str, notes: &[String], stem: String| {
        let mut phases: Vec<(Phase, Vec<Report>)> = Vec::new();
        for _ in 0..config.repeat.max(1) {
            let (runs, billed, figures) =
                measure_row(row, place, config, running, url, notes, on_event).await?;
            billed_ms.extend(billed);
            function = match (function.take(), figures) {
                (Some(so_far), Some(new)) => Some(combine(&so_far, &new)),
                (so_far, new) => so_far.or(new),
            };
            for (phase, report) in runs {
                match phases.iter_mut().find(|(p, _)| *p == phase) {
                    Some((_, reports)) => reports.push(report),
                    None => phases.push((phase, vec![report])),
                }
            }
        }
        Ok::<_, LabError>(
            phases
                .into_iter()
                .filter_map(|(phase, reports)| {
                    aggregate(phase, reports, &format!("{stem}{}", phase.file_stem()))
                })
                .collect::<Vec<_>>(),
        )
    };
    let mut table = Vec::new();
    if let Some(setup) = &config.cloud {
        endpoints.set_cloud_delays(true);
        let front = crate::cloud::FrontProxy::start(setup, row, running.base_url()).await?;
        table = repeated(&front.url(), &front.notes, format!("{}-", row.file_stem())).await?;
        endpoints.set_cloud_delays(false);
    }
    let local_notes = if config.cloud.is_some() {
        vec![crate::cloud::LOCAL_NOTE.to_owned()]
    } else {
        Vec::new()
    };
    let local_stem = if config.cloud.is_some() {
        format!("{}-local-", row.file_stem())
    } else {
        format!("{}-", row.file_stem())
    };
    let local = repeated(running.base_url(), &local_notes, local_stem).await?;
    if let Some(figures) = &mut function {
        figures.billed_duration_ms =
            (!billed_ms.is_empty()).then(|| billed_ms.iter().sum::<f64>() / billed_ms.len() as f64);
    }
    let (table, local) = if config.cloud.is_some() {
        (table, local)
    } else {
        (local, Vec::new())
    };
    Ok(Views {
        table,
        local,
        billed_ms,
        function,
    })
}

type MeasuredRuns = (Vec<(Phase, Report)>, Vec<f64>, Option<FunctionFigures>);

/// The sequential and the concurrent run of a row that is up, against `base_url`, each
/// Report with `extra_notes` and, if the machine was busy meanwhile, the busy note.
async fn measure_row(
    row: &Architecture,
    (index, rows): (usize, usize),
    config: &LabConfig,
    running: &Running,
    base_url: &str,
    extra_notes: &[String],
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<MeasuredRuns, LabError> {
    let url = format!("{base_url}/hits");
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
    let mut runs = Vec::new();
    let mut billed_ms = Vec::new();
    let mut function: Option<FunctionFigures> = None;
    for (phase, connections, requests, label) in plans {
        on_event(LabEvent::Phase {
            row,
            index,
            rows,
            phase,
            requests: Some(requests),
        });
        // See `Running::prewarm`: the concurrent run measures warm instances.
        let prewarmed = if phase == Phase::Concurrent {
            running.prewarm(connections).await?
        } else {
            None
        };
        let sampler = BusySampler::start();
        let mut report = measure(
            &url,
            (connections, requests),
            config.phase_time_limit,
            label,
            on_event,
        )
        .await
        .map_err(|source| LabError::Bench {
            architecture: row.title.to_owned(),
            source,
        })?;
        report.notes.extend(sampler.finish());
        report.notes.extend(running.notes().iter().cloned());
        report.notes.extend(extra_notes.iter().cloned());
        report.notes.extend(prewarmed);
        if report.plan.ended_by == Some(latency_bench::EndedBy::TimeLimit) {
            report.notes.push(format!(
                "ended by the time limit ({:.0} s) after {} of {requests} requests",
                report.plan.duration_s.unwrap_or_default(),
                report.results.requests
            ));
        }
        if let Some(run) = running.take_function_run() {
            billed_ms.extend(run.billed_ms);
            function = Some(match function {
                None => run.figures.clone(),
                Some(so_far) => combine(&so_far, &run.figures),
            });
            report.function = Some(run.figures);
        }
        runs.push((phase, report));
    }
    if let Some(figures) = &mut function {
        figures.billed_duration_ms =
            (!billed_ms.is_empty()).then(|| billed_ms.iter().sum::<f64>() / billed_ms.len() as f64);
    }
    Ok((runs, billed_ms, function))
}

/// Two runs' function figures as one: counts added, the largest memory kept. Means are
/// weighted by invocations (the caller recomputes the billed mean from every duration).
fn combine(a: &FunctionFigures, b: &FunctionFigures) -> FunctionFigures {
    let weighted = |x: Option<f64>, nx: u64, y: Option<f64>, ny: u64| match (x, y) {
        (Some(x), Some(y)) if nx + ny > 0 => {
            Some((x * nx as f64 + y * ny as f64) / (nx + ny) as f64)
        }
        (x, y) => x.or(y),
    };
    FunctionFigures {
        invocations: a.invocations + b.invocations,
        cold_starts: a.cold_starts + b.cold_starts,
        init_duration_ms: weighted(
            a.init_duration_ms,
            a.cold_starts,
            b.init_duration_ms,
            b.cold_starts,
        ),
        duration_ms: weighted(a.duration_ms, a.invocations, b.duration_ms, b.invocations),
        billed_duration_ms: weighted(
            a.billed_duration_ms,
            a.invocations,
            b.billed_duration_ms,
            b.invocations,
        ),
        max_memory_used_mb: match (a.max_memory_used_mb, b.max_memory_used_mb) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
        memory_size_mb: a.memory_size_mb.or(b.memory_size_mb),
    }
}

/// Check, price and write: the steps after every row has run.
fn write_results(
    config: &LabConfig,
    results: Vec<RowResult>,
    interrupted: bool,
    memory_sweep: Option<MemorySweep>,
    cold_start_floor: Option<ColdStartFloor>,
) -> Result<LabOutcome, LabError> {
    let mut verdicts = Verdicts::default();
    for result in &results {
        match &result.outcome {
            RowOutcome::Measured { runs, local, .. } => {
                for report in runs.iter().chain(local).flat_map(PhaseRuns::all) {
                    check(&result.row, report, &mut verdicts);
                }
            }
            RowOutcome::Queue(queue_row) => {
                verdicts
                    .problems
                    .extend(crate::queue_rows::problem(queue_row));
            }
            RowOutcome::Failed(LabError::Interrupted) | RowOutcome::Skipped(_) => {}
            RowOutcome::Failed(err) => verdicts
                .problems
                .push(format!("{}: {err}", result.row.selector())),
        }
    }

    let billed: Vec<(&Architecture, &[f64])> = results
        .iter()
        .filter_map(|result| match &result.outcome {
            RowOutcome::Measured { billed_ms, .. } => Some((&result.row, billed_ms.as_slice())),
            _ => None,
        })
        .collect();
    let priced = price_rows(&billed, config.function_memory_mb, &config.sheet);

    let score = config.cloud.as_ref().map(|_| {
        latency_cloud::score::score(&crate::cloud::predictions(results.iter().flat_map(
            |result| {
                match &result.outcome {
                    RowOutcome::Measured { runs, .. } => runs
                        .iter()
                        .filter(|p| p.phase == Phase::Sequential)
                        .map(|p| (&result.row, &p.report, p.spread.as_ref()))
                        .collect(),
                    _ => Vec::new(),
                }
            },
        )))
    });

    let mut comparison = Comparison::new([]);
    comparison.title = match &config.cloud {
        Some(setup) => format!("latency lab: {}", setup.headline()),
        None => "latency lab: every architecture on one machine".to_owned(),
    };
    let mut local = Comparison::new([]);
    local.title = "latency lab: this machine, no cloud delays".to_owned();
    let mut queue_rows = Vec::new();
    for RowResult { row, outcome } in results {
        match outcome {
            RowOutcome::Measured {
                runs,
                local: local_runs,
                ..
            } => {
                let cost = priced.figures(&row);
                add_view(&mut comparison, config, &row, runs, "", &cost)?;
                add_view(&mut local, config, &row, local_runs, "local-", &cost)?;
            }
            RowOutcome::Queue(queue_row) => {
                let path = config
                    .out_dir
                    .join(format!("{}-queue.json", row.file_stem()));
                write_json(&path, &queue_row.report)?;
                queue_rows.push(*queue_row);
            }
            RowOutcome::Skipped(skip) => comparison.skip(row.title, skip.to_string()),
            RowOutcome::Failed(err) => comparison.skip(row.title, err.to_string()),
        }
    }

    // The verdict opens report.md and report.html: cheapest per traffic level,
    // break-even points (the cost model's), fastest, failed.
    comparison.costs = priced.outlook();
    let mut markdown = format!(
        "**Verdict**\n\n{}\n",
        comparison.conclusion(comparison.costs.as_ref()).markdown()
    );
    if let Some(setup) = &config.cloud {
        markdown.push_str(&format!(
            "**{}** (cloud profile `{}`: {})\n\n",
            setup.headline(),
            setup.profile.name,
            setup.profile.description
        ));
    }
    markdown.push_str(&comparison.markdown());
    markdown.push_str(&priced.markdown_note());
    let score_lines = score
        .as_ref()
        .zip(config.cloud.as_ref())
        .map(|(score, setup)| crate::cloud::score_lines(score, &setup.headline()).join("\n"));
    if let Some(lines) = &score_lines {
        markdown.push_str(&format!("\n```\n{lines}\n```\n"));
    }
    if !local.rows.is_empty() {
        markdown.push_str(&format!(
            "\n## Local figures (this machine, no cloud delays)\n\n{}",
            local.markdown()
        ));
    }
    if !queue_rows.is_empty() {
        markdown.push_str(&crate::queue_rows::markdown_section(&queue_rows));
    }
    let mut page = comparison.page();
    if let Some(section) = priced.html_section() {
        page = page.section(section);
    }
    if let Some(lines) = &score_lines {
        page = page.section(latency_bench::render::Section::new(
            "Score against the original study",
            format!("<pre>{}</pre>", latency_bench::render::escape_html(lines)),
        ));
    }
    if !local.rows.is_empty() {
        page = page.section(latency_bench::render::Section::new(
            "Local figures (this machine, no cloud delays)",
            format!(
                "<pre>{}</pre>",
                latency_bench::render::escape_html(
                    &local.text(&latency_bench::render::TextOptions::default())
                )
            ),
        ));
    }
    if !queue_rows.is_empty() {
        page = page.section(crate::queue_rows::html_section(&queue_rows));
    }
    if let Some(sweep) = &memory_sweep {
        markdown.push_str(&sweep.markdown());
        page = page.section(sweep.html_section());
    }
    if let Some(floor) = &cold_start_floor {
        markdown.push_str(&floor.markdown());
        page = page.section(floor.html_section());
    }
    write(&config.out_dir.join("report.md"), &markdown)?;
    write(&config.out_dir.join("report.html"), &page.render())?;
    Ok(LabOutcome {
        comparison,
        cost_note: priced.markdown_note(),
        out_dir: config.out_dir.clone(),
        problems: verdicts.problems,
        findings: verdicts.findings,
        interrupted,
        score,
        queue_rows,
        memory_sweep,
        cold_start_floor,
    })
}

/// Writes one view of a row (`STEM-PREFIXPHASE.json`, and each repeat as
/// `….run-N.json`) and adds its phases to `comparison`, with their spreads.
fn add_view(
    comparison: &mut Comparison,
    config: &LabConfig,
    row: &Architecture,
    phases: Vec<PhaseRuns>,
    prefix: &str,
    cost: &Option<latency_bench::CostFigures>,
) -> Result<(), LabError> {
    for PhaseRuns {
        phase,
        mut report,
        spread,
        runs,
    } in phases
    {
        let stem = format!("{}-{prefix}{}", row.file_stem(), phase.file_stem());
        for (n, mut run) in runs.into_iter().enumerate() {
            run.cost.clone_from(cost);
            write_json(
                &config.out_dir.join(format!("{stem}.run-{}.json", n + 1)),
                &run,
            )?;
        }
        report.cost.clone_from(cost);
        write_json(&config.out_dir.join(format!("{stem}.json")), &report)?;
        if let Some(spread) = spread {
            comparison.spreads.insert(comparison.rows.len(), spread);
        }
        comparison.rows.push(TableRow::Measured(Box::new(report)));
    }
    Ok(())
}

async fn measure(
    url: &str,
    (connections, requests): (usize, u64),
    time_limit: Option<std::time::Duration>,
    label: String,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<Report, latency_bench::BenchError> {
    let mut plan = BenchConfig::new(url)?;
    plan.connections = connections;
    plan.stop = Stop::Requests(requests);
    plan.time_limit = time_limit;
    plan.label = Some(label);
    latency_bench::run_with_progress(plan, |progress| on_event(LabEvent::Progress(progress))).await
}

/// Whether lost or repeated updates are this row's point (the original study's
/// read-modify-write stores) rather than a bug.
fn expects_lost_updates(row: &Architecture) -> bool {
    row.mode() == Mode::ReadModifyWrite
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
    // The one failure the lab expects under load, named as what it is: a finding about
    // the architecture, not a fault of the lab.
    let cause = match row.counter() {
        Some(CounterBackend::S3(Mode::Atomic))
            if report.plan.connections > 1 && report.results.errors.contains_key("http_5xx") =>
        {
            "; concurrent writers contend on one S3 object (a conditional PUT that loses \
             rereads and retries), and the function answers 503 when it cannot win before its \
             timeout"
        }
        _ => "",
    };
    let line = format!(
        "{label}: {errors} of {} requests failed ({kinds}){cause}",
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

fn write_json(path: &Path, report: &impl serde::Serialize) -> Result<(), LabError> {
    let text = serde_json::to_string_pretty(report).map_err(|err| LabError::Write {
        path: path.to_owned(),
        source: std::io::Error::other(err),
    })?;
    write(path, &text)
}
