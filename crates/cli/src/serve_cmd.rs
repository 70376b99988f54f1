//! `latency serve`: the counter app as a long-running server (the EC2 / Fargate / pod row).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use latency_app::{AppConfig, AppState};
use tokio::sync::Notify;

const STORE_HELP: &str = "\
Store URLs (--store):
  memory://                 an atomic counter in this process; lost on exit.
                            The original study's EC2 server.
  file:///abs/path          a decimal number in a file, made durable (write, fsync,
                            rename, fsync dir) before each answer, with an advisory
                            lock in /abs/path.lock so processes can share it.
                            Created at 0 if missing; ?create=false makes a missing
                            file an error. A corrupt file is an error, never reset.
                            The original study's Fargate + EFS task.
  s3://bucket/key           an S3 object (key defaults to hits), incremented by a
                            conditional PUT (If-Match / If-None-Match: *), retried
                            with jittered backoff on 412/409 up to ?max_attempts=200.
                            ?endpoint=URL for a local S3 server, ?region=R,
                            ?create=true creates the bucket. The Lambda + S3 row.
  dynamodb://table          attribute hits of the item id = 0, incremented by one
                            UpdateItem ADD ... RETURN UPDATED_NEW. ?key=id,
                            ?key_value=0, ?attribute=hits name the item;
                            ?endpoint=URL, ?region=R; ?create=true creates a missing
                            table. The Lambda + DynamoDB row.
  redis://host:port/db      INCR on ?key=hits.
  postgres://user@host/db   one INSERT ... ON CONFLICT DO UPDATE ... RETURNING on a
                            pooled connection; ?table=hits (created unless
                            ?create=false), ?pool_size=16.
  On s3 and dynamodb, ?mode=read-modify-write reproduces the original study's read,
  then unconditional write, which loses updates under concurrency (for comparison).
  AWS credentials and region come from the standard chain (AWS_PROFILE, AWS_REGION,
  ...); with ?endpoint= and none configured, us-east-1 and dummy credentials are used.
  A store this build leaves out says which cargo feature adds it.

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
#[command(after_long_help = STORE_HELP)]
pub(crate) struct ServeArgs {
    /// Where the counter lives; see `--help` for every URL form.
    #[arg(long, env = "LATENCY_STORE", default_value = "memory://")]
    store: String,

    /// Address to listen on. Port 0 picks a free port; the bound address is printed.
    #[arg(long, default_value = "0.0.0.0:8000")]
    listen: SocketAddr,

    /// Answer 503 to any request not answered within this time (e.g. 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,

    /// Answer 413 to request bodies larger than this many bytes.
    #[arg(long, default_value_t = AppConfig::default().body_limit_bytes)]
    body_limit: usize,

    /// Enable POST /calc {"x": s}: enqueue calc jobs on this queue (memory://, amqp://…,
    /// sqs://…; see `latency worker --help`). Without it POST /calc answers 503.
    #[arg(long, env = "LATENCY_QUEUE")]
    queue: Option<String>,

    /// POST /calc answers 400 for x above this many seconds.
    #[arg(long, default_value_t = 900.0)]
    calc_max: f64,

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
    let mut server = tokio::spawn(latency_app::serve(listener, app, shutdown));
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
