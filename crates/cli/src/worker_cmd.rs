//! `latency worker`: a long-running pool that runs `calc` jobs from a queue (the
//! Kubernetes / ECS worker of the queue workload).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use latency_queue::worker::{PoolConfig, run_pool_until};
use latency_queue::{DeliveryPolicy, done_counter_from_url};

const WORKER_HELP: &str = "\
Each job: receive it, run calc(x) (sleep x seconds), record its id in the done
counter (once per id: a redelivered job never counts twice), then ack it. A job that
fails (a body that is not a job, a bad x, a done counter error) is released and
delivered again; after --max-receives receives it goes to the dead-letter path.

Queue URLs (--queue):
  memory://                      in this process (only useful embedded in `latency queue`)
  amqp://user:pass@host:5672/%2f  a RabbitMQ quorum queue (?queue=latency-calc
                                 ?prefetch=K, default --concurrency), manual acks,
                                 x-delivery-limit and dead-letter exchange NAME.dlx
                                 -> queue NAME.dlq; held jobs return when the
                                 connection closes
  sqs://queue-name               an SQS queue (?endpoint=URL ?region=R) with a redrive
                                 policy to queue-name-dlq; long polls of --wait
Done counter URLs (--store):
  memory://                      ids in this process
  redis://host:port/db           HSETNX KEY:ids + INCR KEY in one Lua script (?key=done)
  dynamodb://table               one TransactWriteItems: put job#ID if absent + ADD done
                                 (?endpoint=URL ?region=R ?create=true ?counter=done)

A job whose x is above --calc-max fails like any bad job (released, then dead-lettered).

SIGTERM or Ctrl-C: stop receiving, let every running job finish and ack it (for at
most --drain-timeout; jobs still running then are released back to the queue, to be
delivered again; a second signal releases them at once), then print one line
`stopped: completed=N duplicates=N released=N ack_failures=N` and exit.
Prefetched AMQP jobs that never started go back to the queue when the connection closes.

Output: stdout gets `worker ready` once the queue and counter are open.

Examples:
  latency worker --queue 'amqp://guest:guest@127.0.0.1:5672/%2f?queue=calc' \\
      --store redis://127.0.0.1:6379/0?key=done --concurrency 100
  latency worker --queue 'sqs://calc?endpoint=http://127.0.0.1:5000' \\
      --store redis://127.0.0.1:6379/0 --concurrency 100";

/// Flags of `latency worker`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = WORKER_HELP)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    pub(crate) log: crate::logging::LogFormat,

    /// The queue to take jobs from; see `--help` for every URL form.
    #[arg(long, env = "LATENCY_QUEUE")]
    queue: String,

    /// The done counter each completed job id is recorded in, once.
    #[arg(long, env = "LATENCY_DONE_STORE")]
    store: String,

    /// Jobs run at once, at most.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: u64,

    /// Most jobs asked for per receive (SQS: at most 10).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch: u64,

    /// How long one receive waits for a job (SQS long polling, whole seconds up to 20).
    #[arg(long, default_value = "1s", value_parser = parse_wait)]
    wait: Duration,

    /// A received job not acked within this time is delivered again (SQS, memory; at
    /// most 12h, SQS's limit).
    #[arg(long, default_value = "30s", value_parser = parse_visibility_timeout)]
    visibility_timeout: Duration,

    /// Receives after which a failing job goes to the dead-letter path.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_receives: u32,

    /// The largest x (seconds) a job may ask for; larger jobs fail (0 to 86400).
    #[arg(long, default_value_t = 900.0, value_parser = parse_calc_max)]
    calc_max: f64,

    /// After SIGTERM or Ctrl-C, how long running jobs may take to finish before they are
    /// released back to the queue (at most 1h).
    #[arg(long, default_value = "30s", value_parser = parse_drain_timeout)]
    drain_timeout: Duration,
}

pub(crate) fn parse_calc_max(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {text:?}"))?;
    let limit = latency_queue::worker::MAX_X_LIMIT;
    if !(0.0..=limit).contains(&x) {
        return Err(format!("must be 0 to {limit} seconds, not {text}"));
    }
    Ok(x)
}

/// SQS's limit on a long poll: 20 s.
fn parse_wait(text: &str) -> Result<Duration, String> {
    bounded_duration(text, Duration::from_secs(20), "20s (SQS's longest poll)")
}

/// SQS's limit on a visibility timeout: 12 hours.
fn parse_visibility_timeout(text: &str) -> Result<Duration, String> {
    bounded_duration(text, Duration::from_secs(12 * 3600), "12h (SQS's limit)")
}

fn bounded_duration(text: &str, max: Duration, shown: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if duration > max {
        return Err(format!("must be at most {shown}, not {text}"));
    }
    Ok(duration)
}

fn parse_drain_timeout(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if duration > Duration::from_secs(3600) {
        return Err(format!("must be at most 1h, not {text}"));
    }
    Ok(duration)
}

pub(crate) fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::block_on(work(args))
}

/// For AMQP, the broker's prefetch defaults to the pool's concurrency, so that the pool
/// is never starved nor holds far more than it runs.
pub(crate) fn with_prefetch(queue: &str, concurrency: u64) -> String {
    let is_amqp = queue.starts_with("amqp://") || queue.starts_with("amqps://");
    if !is_amqp || queue.contains("prefetch=") {
        return queue.to_owned();
    }
    let separator = if queue.contains('?') { '&' } else { '?' };
    format!(
        "{queue}{separator}prefetch={}",
        concurrency.min(u64::from(u16::MAX))
    )
}

async fn work(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let policy = DeliveryPolicy {
        visibility_timeout: args.visibility_timeout,
        max_receives: args.max_receives,
    };
    let queue = latency_queue::from_url(&with_prefetch(&args.queue, args.concurrency), &policy)
        .await
        .context("cannot open the queue")?;
    let done = done_counter_from_url(&args.store)
        .await
        .context("cannot open the done counter")?;
    let config = PoolConfig {
        concurrency: args.concurrency as usize,
        batch: args.batch as usize,
        wait: args.wait,
        max_x: args.calc_max,
        drain_timeout: args.drain_timeout,
    };
    config.validate().map_err(anyhow::Error::msg)?;
    // Installed before "worker ready": a SIGTERM right after it is not lost.
    let (stop, hurry) = crate::runtime::first_and_second_signal()?;
    tracing::info!(
        queue = queue.backend(),
        done = done.backend(),
        concurrency = args.concurrency,
        "worker ready"
    );
    println!("worker ready");
    let stats = run_pool_until(queue, done, config, stop, hurry).await;
    println!(
        "stopped: completed={} duplicates={} released={} ack_failures={}",
        stats.completed, stats.duplicates, stats.released, stats.ack_failures
    );
    Ok(ExitCode::SUCCESS)
}
