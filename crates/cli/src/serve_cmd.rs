//! `latency serve`: the counter app as a long-running server (the EC2 / Fargate / pod row).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use latency_app::{AppConfig, AppState, ServerConfig};
use tokio::sync::Notify;

/// The long help's store section, generated from `latency_store::StoreScheme` (so it
/// lists exactly what the store crate accepts), then the output and examples.
fn store_help() -> String {
    format!("{}\n{SERVE_HELP_TAIL}", latency_store::help())
}

const SERVE_HELP_TAIL: &str = "\
Limits (each must be greater than zero):
  --request-timeout   a request not answered in time gets a JSON 503.
  --body-limit        a larger request body gets a JSON 413.
  --header-read-timeout, --idle-timeout
                      a connection slow to send its request head, or idle after an
                      answer, is closed (checked a few times per timeout, so it goes
                      within 1.25x the time). A request in flight is never cut.
  --max-connections   beyond it, new connections wait in the listen backlog.
  A request head hyper cannot parse gets a JSON 400, 414 or 431. A failing store logs
  one WARN line per 10 s with the number of failures held back; /metrics counts all.
  On SIGTERM or Ctrl-C, idle and half-sent connections close at once and requests in
  flight are answered, for up to --drain-timeout.

Output:
  stdout gets exactly one line, `listening on http://ADDR:PORT`, once the socket is
  bound (so `--listen 127.0.0.1:0` can be used by scripts); logs go to stderr.

Examples:
  latency serve
  latency serve --store file:///tmp/hits --listen 127.0.0.1:0
  latency serve --store 'dynamodb://latency?endpoint=http://127.0.0.1:4567&create=true'
  latency serve --store redis://127.0.0.1:6379/0?key=hits
  curl http://127.0.0.1:8000/hits";

/// Flags of `latency serve`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = store_help())]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) log: crate::logging::LogFormat,

    /// Where the counter lives; see `--help` for every URL form.
    #[arg(long, env = "LATENCY_STORE", default_value = "memory://")]
    store: String,

    /// Address to listen on. Port 0 picks a free port; the bound address is printed.
    #[arg(long, default_value = "0.0.0.0:8000")]
    listen: SocketAddr,

    /// Answer 503 to any request not answered within this time (e.g. 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    request_timeout: Duration,

    /// Answer 413 to request bodies larger than this many bytes (at least 1).
    #[arg(long, default_value_t = AppConfig::default().body_limit_bytes,
          value_parser = positive_count)]
    body_limit: usize,

    /// Enable POST /calc {"x": s}: enqueue calc jobs on this queue (memory://, amqp://…,
    /// sqs://…; see `latency worker --help`). Without it POST /calc answers 503.
    #[arg(long, env = "LATENCY_QUEUE")]
    queue: Option<String>,

    /// POST /calc answers 400 for x above this many seconds (0 to 86400).
    #[arg(long, default_value_t = 900.0, value_parser = crate::worker_cmd::parse_calc_max)]
    calc_max: f64,

    /// Close a connection that has not sent a complete request head within this time of
    /// connecting or of starting the head (slowloris protection).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    header_read_timeout: Duration,

    /// Close a keep-alive connection idle for this long after its last answer.
    #[arg(long, default_value = "75s", value_parser = positive_duration)]
    idle_timeout: Duration,

    /// Accept at most this many connections at once; more wait in the listen backlog.
    /// Keep it below the open-file limit (`ulimit -n`).
    #[arg(long, default_value_t = ServerConfig::default().max_connections,
          value_parser = positive_count)]
    max_connections: usize,

    /// On SIGTERM or Ctrl-C, wait this long for requests in flight before exiting anyway.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::runtime::block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = latency_store::from_url(&args.store)
        .await
        .context("cannot open the counter store")?;
    let listener = bind(args.listen).await?;
    let bound = listener.local_addr()?;
    let config = AppConfig {
        request_timeout: args.request_timeout,
        body_limit_bytes: args.body_limit,
        ..AppConfig::default()
    };
    let server_config = ServerConfig {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        ..ServerConfig::default()
    };
    let mut state = AppState::new(store.clone(), config);
    if let Some(queue) = &args.queue {
        let queue = latency_queue::from_url(queue, &latency_queue::DeliveryPolicy::default())
            .await
            .context("cannot open the job queue (--queue)")?;
        state = state.with_calc(latency_app::calc::CalcProducer::new(queue, args.calc_max));
    }
    let app = latency_app::router(state);

    let signalled = Arc::new(Notify::new());
    let shutdown = {
        let signalled = Arc::clone(&signalled);
        let signal = crate::runtime::shutdown_signal()?;
        async move {
            signal.await;
            tracing::info!("shutting down: draining requests in flight");
            signalled.notify_one();
        }
    };
    let mut server = tokio::spawn(latency_app::serve_with(
        listener,
        app,
        server_config,
        shutdown,
    ));
    tracing::info!(address = %bound, store = store.backend(), "serving");
    println!("listening on http://{bound}");

    let drain_deadline = async {
        signalled.notified().await;
        tokio::time::sleep(args.drain_timeout).await;
    };
    tokio::select! {
        served = &mut server => served.context("server task failed")?.context("server failed")?,
        () = drain_deadline => {
            tracing::warn!(timeout = ?args.drain_timeout, "requests still in flight; exiting anyway");
        }
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Binds `--listen`, with an error that says what to do when the address is taken.
pub(crate) async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!(
            "cannot listen on {listen} (pick another --listen address, or port 0 for any free port)"
        )
    })
}

/// A duration for a limit: zero is refused, because a zero timeout fails every request.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            Err("must be greater than zero (e.g. 500ms, 10s)".to_owned())
        }
        Ok(duration) => Ok(duration),
        Err(err) => Err(format!("{err} (expected e.g. 500ms, 10s)")),
    }
}

/// A count for a limit: at least 1 (a zero body limit or connection cap refuses all).
fn positive_count(text: &str) -> Result<usize, String> {
    match text.parse::<u32>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count as usize),
        Err(err) => Err(format!(
            "{err} (expected a whole number from 1 to {})",
            u32::MAX
        )),
    }
}
