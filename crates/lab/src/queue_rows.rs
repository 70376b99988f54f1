//! The queue rows: `workers-rabbitmq` and `lambda-sqs` run the study's second workload
//! (`calc(x)` jobs through a queue) instead of `GET /hits`.
//!
//! - **Workers + RabbitMQ**: [`QueueRowsConfig::workers`] `latency worker` processes (each
//!   with `concurrency / workers` slots) consume a fresh quorum queue on the machine's
//!   RabbitMQ and record done jobs in Redis.
//! - **Lambda + SQS**: a fresh queue on the lab's moto, the function platform's SQS event
//!   source (Lambda's scaling policy, batches of 10, `concurrency / 10` pollers at most)
//!   invoking the `latency-calc` function, which records done jobs in Redis.
//!
//! Both are measured alike ([`latency_queue::measure`], the code of `latency queue`): the
//! lab sends [`QueueRowsConfig::jobs`] jobs, x uniform in [0, [`QueueRowsConfig::max_x`]],
//! through the queue library (the producer's own call), polls the done counter until it
//! reaches N, stops the consumers, and checks that every job was counted exactly once. The
//! queue, its dead-letter path and the Redis keys are deleted afterwards.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use latency_arch::ArchitectureId;
use latency_bench::{CostFigures, Progress};
use latency_cost::{Options, Overrides, catalogue_row, price};
use latency_platform::sqs_source::{SqsEventSource, SqsSourceConfig};
use latency_platform::{FunctionSpec, Platform};
use latency_queue::measure::{RunPlan, finish, submit_and_wait};
use latency_queue::report::{QueuePlan, QueueReport, QueueTarget, SCHEMA_VERSION};
use latency_queue::{DeliveryPolicy, Job, SharedQueue, done_counter_from_url};

use crate::catalogue::{Architecture, CounterBackend};
use crate::endpoints::Endpoints;
use crate::error::Skip;
use crate::process::Supervised;
use crate::runner::{LabEvent, Phase};
use crate::{LabConfig, LabError};

/// Who consumes a queue row's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueConsumers {
    /// `latency worker` processes on a RabbitMQ queue.
    RabbitMqWorkers,
    /// The `latency-calc` function behind the platform's SQS event source, on moto.
    SqsFunction,
}

/// The queue rows' plan and parts. The defaults keep both rows to seconds each.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRowsConfig {
    /// Jobs per row.
    pub jobs: u64,
    /// x is uniform in [0, max_x] seconds.
    pub max_x: f64,
    /// Jobs run at once: the workers' slots in total, or 10 × the event source's pollers.
    /// The ideal bound's divisor.
    pub concurrency: u64,
    /// `latency worker` processes in the RabbitMQ row.
    pub workers: usize,
    /// The RabbitMQ server (`?queue=` is added per run).
    pub amqp_url: String,
    /// The `latency-calc` binary the SQS row runs; `None` skips that row.
    pub calc_function: Option<PathBuf>,
    /// A row whose count has not reached N after this long fails.
    pub timeout: Duration,
}

impl QueueRowsConfig {
    /// Jobs per queue row in a default run.
    pub const DEFAULT_JOBS: u64 = 200;
    /// Jobs per queue row with `--quick`.
    pub const QUICK_JOBS: u64 = 50;
    /// The default largest x, seconds.
    pub const DEFAULT_MAX_X: f64 = 0.5;
    /// Jobs at once: 100, the concurrency of the benchmark.
    pub const DEFAULT_CONCURRENCY: u64 = 100;
    /// Worker processes in the RabbitMQ row.
    pub const DEFAULT_WORKERS: usize = 2;
    /// The machine's RabbitMQ, as `scripts/services` reports it.
    pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
}

impl Default for QueueRowsConfig {
    fn default() -> Self {
        Self {
            jobs: Self::DEFAULT_JOBS,
            max_x: Self::DEFAULT_MAX_X,
            concurrency: Self::DEFAULT_CONCURRENCY,
            workers: Self::DEFAULT_WORKERS,
            amqp_url: Self::DEFAULT_AMQP_URL.to_owned(),
            calc_function: None,
            timeout: Duration::from_secs(300),
        }
    }
}

/// The function's name on the platform.
const FUNCTION: &str = "calc";

/// One measured queue row, for the "Queue workloads" table.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    /// The table's name for the row.
    pub title: String,
    /// The row's `--only` selector.
    pub selector: String,
    /// What was measured (also written as `ID-queue.json`).
    pub report: QueueReport,
    /// Its cost from the cost model's `CalcJobs` row: per million jobs for Lambda + SQS
    /// (with the billed durations measured here), per month for the workers' cluster.
    pub cost: Option<CostFigures>,
}

/// Why a queue row was not measured.
pub(crate) enum NotMeasured {
    Skipped(Skip),
    Failed(LabError),
}

impl From<LabError> for NotMeasured {
    fn from(err: LabError) -> Self {
        NotMeasured::Failed(err)
    }
}

/// Starts `row`'s queue and consumers, measures one run, stops and deletes everything it
/// created, and prices the row.
pub(crate) async fn run_queue_row(
    row: &Architecture,
    consumers: QueueConsumers,
    (index, rows): (usize, usize),
    config: &LabConfig,
    endpoints: &mut Endpoints,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<QueueRow, NotMeasured> {
    let plan_config = &config.queue;
    // A fresh Redis key per row and run; its name also names the row's queue.
    let done_url = endpoints
        .store_url(row, CounterBackend::Redis)
        .await
        .map_err(NotMeasured::Skipped)?;
    let name = done_url
        .split("key=")
        .nth(1)
        .unwrap_or("latency-lab-queue")
        .to_owned();
    let done = done_counter_from_url(&done_url)
        .await
        .map_err(|err| start_failed("the done counter (Redis)", err))?;
    let policy = DeliveryPolicy {
        // Above the function's timeout, as AWS advises for SQS-triggered functions.
        visibility_timeout: Duration::from_secs(60),
        ..DeliveryPolicy::default()
    };
    let queue_url = match consumers {
        QueueConsumers::RabbitMqWorkers => format!("{}?queue={name}", plan_config.amqp_url),
        QueueConsumers::SqsFunction => {
            if plan_config.calc_function.is_none() {
                return Err(NotMeasured::Skipped(Skip::new(
                    "the calc function binary (latency-calc) is missing",
                    "cargo build --locked -p latency-lambda-calc",
                )));
            }
            let endpoint = endpoints.moto().await.map_err(NotMeasured::Skipped)?;
            format!("sqs://{name}?endpoint={endpoint}&region=eu-west-2")
        }
    };
    let queue = match latency_queue::from_url(&queue_url, &policy).await {
        Ok(queue) => queue,
        Err(err) if consumers == QueueConsumers::RabbitMqWorkers => {
            return Err(NotMeasured::Skipped(Skip::new(
                format!("RabbitMQ is not usable: {err}"),
                "scripts/services start (RabbitMQ on 127.0.0.1:5672)",
            )));
        }
        Err(err) => return Err(start_failed("the SQS queue (moto)", err)),
    };
    let consumers_up = match consumers {
        QueueConsumers::RabbitMqWorkers => {
            start_workers(row, config, &queue_url, &policy, &done_url).await
        }
        QueueConsumers::SqsFunction => {
            start_function(row, config, Arc::clone(&queue), &done_url).await
        }
    };
    let measured = match consumers_up {
        Ok(running) => {
            let measured = measure(row, (index, rows), config, &queue, &done, on_event).await;
            let billed_ms = running.stop().await;
            measured.map(|waited| (waited, billed_ms))
        }
        Err(err) => Err(err),
    };
    let result = match measured {
        Ok(((plan, waited), billed_ms)) => finish(&plan, &waited, &done)
            .await
            .map_err(|err| measure_failed(row, err))
            .map(|results| (plan, results, billed_ms)),
        Err(err) => Err(err),
    };
    if let Err(err) = queue.delete().await {
        tracing::warn!(queue = %name, %err, "could not delete the row's queue");
    }
    crate::endpoints::delete_redis_keys(&[format!("{name}:ids")])
        .await
        .unwrap_or_else(|err| tracing::warn!(%err, "could not delete the row's done ids"));
    let (plan, results, billed_ms) = result?;
    let report = QueueReport {
        schema_version: SCHEMA_VERSION,
        target: QueueTarget {
            label: Some(row.title.to_owned()),
            producer_url: format!(
                "{} (sent through the queue library)",
                latency_store::redact_url(&queue_url)
            ),
            queue_backend: Some(queue.backend().to_owned()),
            done_backend: done.backend().to_owned(),
        },
        plan: QueuePlan {
            calculations: plan.calculations,
            max_x: plan.max_x,
            concurrency: plan.concurrency,
        },
        results,
        notes: vec![row.analogue.to_owned()],
    };
    let cost = price_queue_row(row, &report, &billed_ms, config);
    Ok(QueueRow {
        title: row.title.to_owned(),
        selector: row.selector(),
        report,
        cost,
    })
}

/// The row's consumers, running.
enum Consumers {
    Workers(Vec<Supervised>),
    Function {
        platform: Platform,
        source: SqsEventSource,
    },
}

impl Consumers {
    /// Stops them; returns the function's billed durations, ms (none for workers).
    async fn stop(self) -> Vec<f64> {
        match self {
            Consumers::Workers(workers) => {
                for worker in workers {
                    worker.stop().await;
                }
                Vec::new()
            }
            Consumers::Function { platform, source } => {
                let stats = source.stop().await;
                tracing::info!(?stats, "SQS event source stopped");
                let billed = platform
                    .drain_reports()
                    .iter()
                    .map(|report| report.billed_duration_ms as f64)
                    .collect();
                platform.shutdown().await;
                billed
            }
        }
    }
}

async fn start_workers(
    row: &Architecture,
    config: &LabConfig,
    queue_url: &str,
    policy: &DeliveryPolicy,
    done_url: &str,
) -> Result<Consumers, NotMeasured> {
    let count = config.queue.workers.max(1);
    let per_worker = config.queue.concurrency.div_ceil(count as u64).max(1);
    let args: Vec<String> = [
        "worker",
        "--queue",
        queue_url,
        "--store",
        done_url,
        "--concurrency",
        &per_worker.to_string(),
        "--visibility-timeout",
        &format!("{}s", policy.visibility_timeout.as_secs()),
        "--max-receives",
        &policy.max_receives.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let mut workers = Vec::with_capacity(count);
    for n in 1..=count {
        let what = format!("{} worker #{n}", row.selector());
        let worker = Supervised::start_until(&what, &config.latency_exe, &args, &[], |line| {
            line.contains("worker ready")
        })
        .await?;
        workers.push(worker);
    }
    Ok(Consumers::Workers(workers))
}

async fn start_function(
    row: &Architecture,
    config: &LabConfig,
    queue: SharedQueue,
    done_url: &str,
) -> Result<Consumers, NotMeasured> {
    let Some(exe) = &config.queue.calc_function else {
        return Err(NotMeasured::Skipped(Skip::new(
            "the calc function binary is missing",
            "cargo build --locked -p latency-lambda-calc",
        )));
    };
    let description = row.description;
    let (Some(function), Some(source)) = (
        description.function.as_ref(),
        description
            .function
            .as_ref()
            .and_then(|f| f.event_source.as_ref()),
    ) else {
        return Err(NotMeasured::Skipped(Skip::new(
            format!(
                "{} has no function with an event source",
                description.file()
            ),
            "fix the description",
        )));
    };
    let batch = u64::from(source.batch_size);
    let pollers = (config.queue.concurrency.div_ceil(batch).max(1) as usize)
        .min(source.maximum_concurrency as usize);
    let mut spec = FunctionSpec::new(FUNCTION, exe)
        .memory_mb(config.function_memory_mb)
        .max_concurrency(pollers)
        .timeout(Duration::from_secs(u64::from(function.timeout_s)));
    // The description's environment; the done counter's URL is the lab's Redis one (the
    // one local difference: no local DynamoDB-compatible server serializes the
    // transaction the DynamoDB done counter needs), under the variable the function reads.
    for (name, template) in &function.environment {
        let value = if template.contains("${done_table}") {
            done_url.to_owned()
        } else {
            latency_description::render(template, &Default::default()).map_err(|err| {
                NotMeasured::Skipped(Skip::new(
                    format!("{}: {err}", description.file()),
                    "fix the description",
                ))
            })?
        };
        spec = spec.env(name, &value);
    }
    let platform = crate::launch::start_platform(config, spec).map_err(NotMeasured::Failed)?;
    let source_config = SqsSourceConfig {
        batch_size: source.batch_size as usize,
        maximum_concurrency: pollers,
        initial_pollers: SqsSourceConfig::new(FUNCTION).initial_pollers.min(pollers),
        ..SqsSourceConfig::new(FUNCTION)
    };
    let source = SqsEventSource::start(platform.handle(), queue, source_config);
    Ok(Consumers::Function { platform, source })
}

/// Sends the jobs and waits for the count; returns the plan and what the wait saw.
async fn measure(
    row: &Architecture,
    (index, rows): (usize, usize),
    config: &LabConfig,
    queue: &SharedQueue,
    done: &latency_queue::SharedDoneCounter,
    on_event: &mut (impl FnMut(LabEvent<'_>) + Send),
) -> Result<(RunPlan, latency_queue::measure::Waited), NotMeasured> {
    let plan = RunPlan {
        calculations: config.queue.jobs,
        max_x: config.queue.max_x,
        concurrency: config.queue.concurrency,
        submitters: 64,
        timeout: config.queue.timeout,
        seed: None,
        poll: RunPlan::POLL,
    };
    on_event(LabEvent::Phase {
        row,
        index,
        rows,
        phase: Phase::Queue,
        requests: Some(plan.calculations),
    });
    let submit = |x: f64| {
        let queue = Arc::clone(queue);
        async move {
            let job = Job::new(x);
            queue.send(&job).await.map_err(|err| err.to_string())?;
            Ok(job.id)
        }
    };
    let started = Instant::now();
    let waited = submit_and_wait(&plan, done, submit, |seen| {
        let elapsed = started.elapsed();
        on_event(LabEvent::Progress(&Progress {
            warmup_completed: 0,
            completed: seen.done,
            total: Some(plan.calculations),
            errors: 0,
            elapsed,
            planned: None,
            since_start: elapsed,
            warmup_planned: None,
            p99: None,
        }));
    })
    .await
    .map_err(|err| measure_failed(row, err))?;
    Ok((plan, waited))
}

/// The row's cost: the cost model's own row for its architecture (workload `CalcJobs`),
/// Lambda + SQS with the billed durations measured here spread over the jobs (one
/// invocation runs a batch of up to 10 jobs at once).
fn price_queue_row(
    row: &Architecture,
    report: &QueueReport,
    billed_ms: &[f64],
    config: &LabConfig,
) -> Option<CostFigures> {
    let mut cost_row = catalogue_row(row.id);
    cost_row.id = row.file_stem();
    cost_row.label = row.title.to_owned();
    let mut rows = vec![cost_row];
    let jobs = report.plan.calculations as f64;
    if row.id == ArchitectureId::LambdaSqs && !billed_ms.is_empty() && jobs > 0.0 {
        let billed: f64 = billed_ms
            .iter()
            .map(|ms| config.sheet.billed_duration_ms(*ms))
            .sum();
        let overrides = Overrides {
            memory_mb_by_row: vec![(row.file_stem(), config.function_memory_mb)],
            duration_ms_by_row: vec![(row.file_stem(), (billed / jobs).max(1.0))],
            duration_basis: Some(format!(
                "measured: {} invocations billed {:.0} ms in all for {} jobs",
                billed_ms.len(),
                billed,
                report.plan.calculations
            )),
            ..Overrides::default()
        };
        if let Err(err) = overrides.apply(&mut rows) {
            tracing::warn!(%err, "cannot apply the measured durations");
            return None;
        }
    }
    let priced = match price(&config.sheet, &rows, &Options::default()) {
        Ok(priced) => priced,
        Err(err) => {
            tracing::warn!(%err, "cannot price {}", row.selector());
            return None;
        }
    };
    crate::cost::figures_in(&priced, row)
}

fn start_failed(what: &str, err: impl std::fmt::Display) -> NotMeasured {
    NotMeasured::Failed(LabError::StartFailed {
        what: what.to_owned(),
        detail: err.to_string(),
    })
}

fn measure_failed(row: &Architecture, err: impl std::fmt::Display) -> NotMeasured {
    NotMeasured::Failed(LabError::Queue {
        architecture: row.title.to_owned(),
        detail: err.to_string(),
    })
}

/// The problem a queue row's check reports, if it failed: a job counted twice or lost is
/// a bug, like a lost update in an atomic store.
pub(crate) fn problem(row: &QueueRow) -> Option<String> {
    let check = row.report.results.exactly_once?;
    (!check.passed()).then(|| {
        format!(
            "{}: exactly-once check failed: {}",
            row.selector,
            check.describe()
        )
    })
}

/// The "Queue workloads" table's columns.
const HEADER: [&str; 11] = [
    "Architecture",
    "Jobs",
    "Makespan (s)",
    "Throughput (jobs/s)",
    "p50 (s)",
    "p99 (s)",
    "Ideal (s)",
    "Ratio",
    "FIFO ratio",
    "Cost",
    "Exactly once",
];

fn cells(row: &QueueRow) -> [String; 11] {
    let r = &row.report.results;
    let cost = match &row.cost {
        Some(CostFigures {
            per_million_calls_usd: Some(usd),
            ..
        }) => format!("${usd:.2} per million jobs"),
        Some(CostFigures {
            monthly_usd: Some(usd),
            ..
        }) => format!("${usd:.2} a month"),
        _ => "–".to_owned(),
    };
    [
        row.title.clone(),
        row.report.plan.calculations.to_string(),
        format!("{:.3}", r.total_seconds),
        format!("{:.1}", r.throughput_per_second),
        format!("{:.3}", r.latency_p50_seconds),
        format!("{:.3}", r.latency_p99_seconds),
        format!("{:.3}", r.ideal_seconds),
        format!("{:.3}", r.ratio_to_ideal),
        format!("{:.3}", r.ratio_to_fifo),
        cost,
        r.exactly_once
            .map_or_else(|| "not checked".to_owned(), |check| check.describe()),
    ]
}

/// What the table's figures mean, once under it.
fn legend(rows: &[QueueRow]) -> String {
    let plan = rows.first().map(|row| &row.report.plan);
    let plan = plan.map_or_else(String::new, |plan| {
        format!(
            "{} jobs per row, x uniform in [0, {}] s, {} jobs at once. ",
            plan.calculations, plan.max_x, plan.concurrency
        )
    });
    format!(
        "{plan}Makespan: first send until the done counter read N (polled every 20 ms). p50/p99: each job's enqueue → done. Ideal: max(Σx / concurrency, \
         max x); ratio = makespan / ideal. FIFO ratio: makespan / that of a queue with no \
         overhead taking the same jobs first-in first-out from their send times (what is \
         left is the queue's own cost: polling, batch waits, acks). Exactly once: after the consumers stopped, the \
         counter moved by N and every job id is recorded once."
    )
}

/// The terminal table's columns that wrap, with the width each wraps to: the name, the
/// cost and the check (wide enough for a passed one, `200 of 200, once each`). Figures
/// never wrap (a number split over two lines reads as two rows); their headers do, at
/// spaces. With these, the table fits the lab's 120 columns.
const WRAP_AT: [(usize, usize); 3] = [(0, 12), (9, 12), (10, 24)];

/// The "Queue workloads" table for a terminal, with its legend, laid out by `comfy-table`
/// as the lab's main table is.
pub fn text_table(rows: &[QueueRow]) -> String {
    use comfy_table::{CellAlignment, ColumnConstraint, Table, Width, presets};
    let body: Vec<[String; 11]> = rows.iter().map(cells).collect();
    let longest_word = |text: &str| text.split(' ').map(|w| w.chars().count()).max();
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_header(HEADER);
    for cells in &body {
        table.add_row(cells.iter());
    }
    for (index, column) in table.column_iter_mut().enumerate() {
        let texts = || body.iter().map(|cells| cells[index].as_str());
        let widest = texts().map(|t| t.chars().count()).max().unwrap_or(0);
        let unbreakable = texts()
            .chain([HEADER[index]])
            .filter_map(longest_word)
            .max()
            .unwrap_or(0);
        let wrap_at = WRAP_AT.iter().find(|(column, _)| *column == index);
        let width = match wrap_at {
            Some((_, wrap)) => widest.min(*wrap).max(unbreakable),
            None => widest.max(unbreakable),
        };
        // The constraint's width includes the cell's padding, one space each side.
        column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
            u16::try_from(width + 2).unwrap_or(u16::MAX),
        )));
        column.set_cell_alignment(if wrap_at.is_some() {
            CellAlignment::Left
        } else {
            CellAlignment::Right
        });
    }
    let mut out = String::from("Queue workloads\n");
    for line in table.lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{}", legend(rows));
    out
}

/// The table as a Markdown section for `report.md`.
pub fn markdown_section(rows: &[QueueRow]) -> String {
    let mut out = String::from("\n## Queue workloads\n\n");
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|---|{}", ":---:|".repeat(HEADER.len() - 1));
    for row in rows {
        let cells = cells(row).map(|cell| cell.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(out, "\n{}", legend(rows));
    out
}

/// The table as a section of `report.html`.
pub fn html_section(rows: &[QueueRow]) -> latency_bench::render::Section {
    use latency_bench::render::escape_html as esc;
    let mut body = String::from("<table>\n<thead><tr>");
    for header in HEADER {
        let _ = write!(body, "<th>{}</th>", esc(header));
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        body.push_str("<tr>");
        for cell in cells(row) {
            let _ = write!(body, "<td>{}</td>", esc(&cell));
        }
        body.push_str("</tr>\n");
    }
    let _ = write!(body, "</tbody>\n</table>\n<p>{}</p>", esc(&legend(rows)));
    latency_bench::render::Section::new("Queue workloads", body)
}

#[cfg(test)]
mod tests {
    use latency_cost::{BuiltinSheet, PriceSheet};
    use latency_queue::report::{ExactlyOnce, QueueResults};

    use super::*;
    use crate::catalogue::catalogue;

    fn row(id: ArchitectureId, counted: u64) -> (Architecture, QueueRow) {
        let arch = catalogue()
            .into_iter()
            .find(|row| row.id == id)
            .expect("a catalogue row");
        let report = QueueReport {
            schema_version: SCHEMA_VERSION,
            target: QueueTarget {
                label: Some(arch.title.to_owned()),
                producer_url: "memory://".to_owned(),
                queue_backend: None,
                done_backend: "memory".to_owned(),
            },
            plan: QueuePlan {
                calculations: 200,
                max_x: 0.5,
                concurrency: 100,
            },
            results: QueueResults {
                total_seconds: 2.0,
                submit_seconds: 1.0,
                throughput_per_second: 100.0,
                latency_p50_seconds: 0.5,
                latency_p99_seconds: 1.0,
                backlog_peak: 0,
                oldest_age_at_peak_seconds: 0.0,
                sum_x_seconds: 50.0,
                ideal_seconds: 0.5,
                ratio_to_ideal: 4.0,
                fifo_seconds: 1.0,
                ratio_to_fifo: 2.0,
                submitted_without_done: 0,
                exactly_once: Some(ExactlyOnce {
                    expected: 200,
                    counted,
                    recorded: 200,
                }),
            },
            notes: Vec::new(),
        };
        let queue_row = QueueRow {
            title: arch.title.to_owned(),
            selector: arch.selector(),
            report,
            cost: None,
        };
        (arch, queue_row)
    }

    fn config() -> LabConfig {
        let tools = crate::EndpointTools {
            cache_dir: PathBuf::from("unused"),
            services_script: None,
        };
        let sheet = PriceSheet::builtin(BuiltinSheet::Current).expect("built-in sheet");
        LabConfig::new(PathBuf::from("latency"), tools, PathBuf::from("out"), sheet)
    }

    /// Lambda + SQS is priced per million jobs from the measured billed durations; the
    /// workers' cluster per month.
    #[test]
    fn queue_rows_are_priced_from_the_calc_jobs_rows() {
        let config = config();
        let (sqs, sqs_row) = row(ArchitectureId::LambdaSqs, 200);
        // 20 invocations of 500 ms for 200 jobs: 50 ms a job.
        let cheap = price_queue_row(&sqs, &sqs_row.report, &[500.0; 20], &config).expect("priced");
        let dear = price_queue_row(&sqs, &sqs_row.report, &[5000.0; 20], &config).expect("priced");
        let (cheap, dear) = (
            cheap.per_million_calls_usd.expect("per job"),
            dear.per_million_calls_usd.expect("per job"),
        );
        assert!(dear > cheap, "{dear} > {cheap}");
        let (workers, workers_row) = row(ArchitectureId::WorkersRabbitMq, 200);
        let monthly = price_queue_row(&workers, &workers_row.report, &[], &config).expect("priced");
        assert!(monthly.monthly_usd.is_some_and(|usd| usd > 0.0));
    }

    #[test]
    fn a_failed_check_is_a_problem_and_every_table_shows_the_figures() {
        let (_, good) = row(ArchitectureId::WorkersRabbitMq, 200);
        let (_, doubled) = row(ArchitectureId::LambdaSqs, 201);
        assert_eq!(problem(&good), None);
        let line = problem(&doubled).expect("a problem");
        assert!(
            line.contains("lambda-sqs") && line.contains("counted twice"),
            "{line}"
        );
        let rows = [good, doubled];
        let text = text_table(&rows);
        assert!(text.contains("200 of 200, once each"), "{text}");
        assert!(text.contains("4.000"), "{text}");
        let markdown = markdown_section(&rows);
        assert_eq!(markdown.matches("\n| ").count(), 3, "{markdown}");
        // Its content is checked on the whole page, in tests/lab.rs.
        let _section = html_section(&rows);
    }
}
