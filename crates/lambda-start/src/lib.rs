//! The start-up every Lambda entry point of this project shares (`latency-lambda`,
//! `latency-calc`, `latency-lambda-bench`), so that all of them log and fail alike.

/// Logs to stderr (Lambda sends it to CloudWatch), filtered by `RUST_LOG` (default
/// `info`), without colours and without timestamps: CloudWatch stamps every line already.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
}

/// Builds the runtime `builder` describes, with every driver enabled; on failure prints
/// `error: cannot start the async runtime: …` to stderr and returns `None`, for the
/// caller to exit with a failure.
pub fn build_runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    match builder.enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            None
        }
    }
}

/// [`init_logging`], then a current-thread runtime: what a function that handles one
/// invocation at a time per instance needs (it also starts fastest). `None` after printing
/// why the runtime could not start.
pub fn start_single_threaded() -> Option<tokio::runtime::Runtime> {
    init_logging();
    build_runtime(tokio::runtime::Builder::new_current_thread())
}
