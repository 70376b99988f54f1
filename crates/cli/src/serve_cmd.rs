//! `latency serve`: the counter app as a long-running server (the EC2 / Fargate / pod row).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use latency_app::{AppConfig, AppState, ServerConfig};
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
#[command(after_long_help = STORE_HELP)]
pub(crate) struct ServeArgs {
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
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (pick another --listen address, or port 0 for any free port)",
                args.listen
            )
        })?;
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
    };
    let app = latency_app::router(AppState::new(store.clone(), config));

    let signalled = Arc::new(Notify::new());
    let shutdown = {
        let signalled = Arc::clone(&signalled);
        async move {
            wait_for_shutdown_signal().await;
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

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, whichever comes first.
async fn wait_for_shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(stream) => stream,
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = sigterm.recv() => {}
    }
}
