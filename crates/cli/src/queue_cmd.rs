//! `latency queue`: submit N `calc` jobs through the producer, wait until the done counter
//! reaches N, and report how long the queue took against the ideal bound.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use latency_app::calc::CalcProducer;
use latency_app::{AppConfig, AppState};
use latency_queue::measure::{RunPlan, finish, submit_and_wait};
use latency_queue::report::{QueuePlan, QueueReport, QueueTarget, SCHEMA_VERSION};
use latency_queue::worker::{PoolConfig, run_pool};
use latency_queue::{DeliveryPolicy, SharedDoneCounter, done_counter_from_url};
use tokio::sync::watch;

const QUEUE_HELP: &str = "\
What it does (the study's `sqs.py N X`):
  1. submits N jobs, POST {\"x\": s} to the producer, x uniform in [0, --max];
  2. polls the done counter (--store) until it has counted N more, with a progress bar;
  3. prints the total seconds (first submit -> done == N, as the study timed it),
     the throughput, each job's submit -> done latency (p50, p99), the backlog's peak and
     the age of the oldest waiting job then, and the ideal bound for --concurrency
     consumers: max(sum of x / concurrency, max x), with the ratio to it;
  4. once the in-process workers have stopped, checks exactly-once: the counter moved by
     exactly N and every submitted id is recorded. Exit status 1 when it fails.

Without --target, the run is self-contained: an in-process producer on --queue, and
(unless --external-workers) an in-process worker pool of --concurrency on the same
queue and done counter. With --target, the producer and the workers are elsewhere,
and --store must be the done counter those workers record in (not memory://).

Examples:
  latency queue --calculations 1000 --max 2
  latency queue --calculations 1000 --max 2 --concurrency 100 \\
      --queue 'amqp://guest:guest@127.0.0.1:5672/%2f?queue=calc' --store redis://127.0.0.1:6379/0?key=done
  latency queue --calculations 200 --max 0.2 --target http://127.0.0.1:8000/calc \\
      --store redis://127.0.0.1:6379/0?key=done --concurrency 100 --json run.json";

/// Flags of `latency queue`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = QUEUE_HELP)]
pub(crate) struct QueueArgs {
    #[command(flatten)]
    pub(crate) log: crate::logging::LogFormat,

    /// Jobs to submit.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    calculations: u64,

    /// x is drawn uniformly from [0, MAX] seconds.
    #[arg(long, value_parser = parse_max)]
    max: f64,

    /// The producer's POST /calc URL; without it, one is started in this process.
    #[arg(long)]
    target: Option<String>,

    /// The queue of the in-process producer and workers (ignored with --target).
    #[arg(long, default_value = "memory://")]
    queue: String,

    /// The done counter to poll (the workers' --store).
    #[arg(long, default_value = "memory://")]
    store: String,

    /// Consumers' concurrency: the in-process pool's size, and the ideal bound's divisor.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: u64,

    /// Do not start in-process workers: `latency worker`s (or a function) consume --queue.
    #[arg(long)]
    external_workers: bool,

    /// Submit requests in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    submitters: u64,

    /// Give up if the count has not reached N after this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// Seed for the x values (the same seed gives the same x values).
    #[arg(long)]
    seed: Option<u64>,

    /// A label for the Report (an architecture id).
    #[arg(long)]
    label: Option<String>,

    /// Also write the Report as JSON to FILE (`-` for stdout, then the text goes to stderr).
    #[arg(long, value_name = "FILE|-")]
    json: Option<PathBuf>,
}

fn parse_max(text: &str) -> Result<f64, String> {
    let max: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !max.is_finite() || !(0.0..=900.0).contains(&max) {
        return Err(format!(
            "--max must be between 0 and 900 seconds, not {text}"
        ));
    }
    Ok(max)
}

pub(crate) fn run(args: QueueArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::block_on(measure(args))
}

/// What runs in this process for a self-contained run.
struct Embedded {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Embedded {
    /// Stops the producer and the workers (they finish what they hold) and waits for them.
    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Resolves once `stop` turns true or its sender is gone.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn start_embedded(
    args: &QueueArgs,
    done: &SharedDoneCounter,
) -> anyhow::Result<(String, &'static str, Embedded)> {
    let policy = DeliveryPolicy::default();
    let queue_url = crate::worker_cmd::with_prefetch(&args.queue, args.concurrency);
    let queue = latency_queue::from_url(&queue_url, &policy)
        .await
        .context("cannot open the queue")?;
    let backend = queue.backend();
    // x is at most 900 s; the producer accepts what this run can send.
    let state = AppState::new(
        Arc::new(latency_store::MemoryStore::new()),
        AppConfig::default(),
    )
    .with_calc(CalcProducer::new(Arc::clone(&queue), args.max));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let server_stop = stopped(stop_rx.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(err) =
            latency_app::serve(listener, latency_app::router(state), server_stop).await
        {
            tracing::error!(%err, "in-process producer failed");
        }
    }));
    if !args.external_workers {
        let config = PoolConfig {
            concurrency: args.concurrency as usize,
            batch: if backend == "sqs" { 10 } else { 100 },
            wait: Duration::from_secs(1),
            ..PoolConfig::default()
        };
        let done = Arc::clone(done);
        let pool_stop = stopped(stop_rx);
        tasks.push(tokio::spawn(async move {
            let stats = run_pool(queue, done, config, pool_stop).await;
            tracing::info!(?stats, "in-process workers stopped");
        }));
    }
    Ok((
        format!("http://{address}/calc"),
        backend,
        Embedded { stop, tasks },
    ))
}

async fn measure(args: QueueArgs) -> anyhow::Result<ExitCode> {
    if args.target.is_some() && args.store.starts_with("memory:") {
        bail!(
            "with --target the workers run elsewhere, so --store must be the done counter they \
             record in (e.g. redis://127.0.0.1:6379/0?key=done), not memory://"
        );
    }
    let done = done_counter_from_url(&args.store)
        .await
        .context("cannot open the done counter")?;
    let (target, queue_backend, embedded) = match &args.target {
        Some(target) => (target.clone(), None, None),
        None => {
            let (target, backend, embedded) = start_embedded(&args, &done).await?;
            (target, Some(backend), Some(embedded))
        }
    };
    let plan = RunPlan {
        calculations: args.calculations,
        max_x: args.max,
        concurrency: args.concurrency,
        submitters: args.submitters as usize,
        timeout: args.timeout,
        seed: args.seed,
        poll: RunPlan::POLL,
    };
    let progress = indicatif::ProgressBar::new(args.calculations);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} done {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let submit = |x: f64| post_job(client.clone(), target.clone(), x);
    let waited = submit_and_wait(&plan, &done, submit, |seen| {
        progress.set_position(seen.done);
        if seen.all_submitted && progress.message().is_empty() {
            progress.set_message("(all submitted)");
        }
    })
    .await;
    let waited = match waited {
        Ok(waited) => waited,
        Err(err) => {
            progress.abandon();
            return Err(err.into());
        }
    };
    progress.finish();
    if let Some(embedded) = embedded {
        embedded.shutdown().await;
    }
    let results = finish(&plan, &waited, &done).await?;
    let report = QueueReport {
        schema_version: SCHEMA_VERSION,
        target: QueueTarget {
            label: args.label.clone(),
            producer_url: target,
            queue_backend: queue_backend.map(str::to_owned),
            done_backend: done.backend().to_owned(),
        },
        plan: QueuePlan {
            calculations: args.calculations,
            max_x: args.max,
            concurrency: args.concurrency,
        },
        results,
        notes: Vec::new(),
    };
    // `--label` may hold anything: no control character reaches a terminal.
    let text = latency_bench::render::printable(&render(&report));
    match &args.json {
        Some(path) if path.as_os_str() == "-" => {
            eprint!("{text}");
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Some(path) => {
            print!("{text}");
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .with_context(|| format!("cannot write the Report to {}", path.display()))?;
        }
        None => print!("{text}"),
    }
    let passed = report
        .results
        .exactly_once
        .is_none_or(|check| check.passed());
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn render(report: &QueueReport) -> String {
    let r = &report.results;
    format!(
        "total seconds          {:.3}\n\
         submitting took        {:.3} s\n\
         throughput             {:.1} jobs/s\n\
         latency p50            {:.3} s (submit -> done)\n\
         latency p99            {:.3} s\n\
         backlog peak           {} jobs, oldest waiting {:.3} s\n\
         ideal bound            {:.3} s (sum x {:.1} s / concurrency {}, or max x)\n\
         ratio to ideal         {:.3}\n\
         zero-overhead FIFO     {:.3} s (same jobs, from their submit times), ratio {:.3}\n\
         jobs without a done    {}\n\
         exactly once           {}\n",
        r.total_seconds,
        r.submit_seconds,
        r.throughput_per_second,
        r.latency_p50_seconds,
        r.latency_p99_seconds,
        r.backlog_peak,
        r.oldest_age_at_peak_seconds,
        r.ideal_seconds,
        r.sum_x_seconds,
        report.plan.concurrency,
        r.ratio_to_ideal,
        r.fifo_seconds,
        r.ratio_to_fifo,
        r.submitted_without_done,
        r.exactly_once
            .map_or_else(|| "not checked".to_owned(), |check| check.describe()),
    )
}

/// POSTs one job to the producer and answers its id; a refused job is an error, since a
/// run with a missing job would never reach N.
async fn post_job(client: reqwest::Client, target: String, x: f64) -> Result<String, String> {
    let response = client
        .post(&target)
        .header("content-type", "application/json")
        .body(format!("{{\"x\":{x}}}"))
        .send()
        .await
        .map_err(|err| format!("POST {target} failed: {err}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| format!("reading the producer's answer: {err}"))?;
    if status.as_u16() != 202 {
        return Err(format!(
            "the producer answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|err| format!("the producer's answer is not JSON: {err}"))?;
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the producer's answer has no id".to_owned())
}
