//! The start-up every Lambda entry point of this project shares (`latency-lambda`,
//! `latency-calc`, `latency-lambda-bench`), so that all of them log and fail alike, and
//! the typed list of environment variables each one reads ([`Variable`]).
//!
//! Each entry point publishes the variables it reads as a `&[Variable]`; the architecture
//! descriptions (`deploy/architectures/*.json`) must set exactly those, and a test in
//! `crates/description` checks it, so a name can never differ between what Terraform
//! sets and what the binary reads.

/// One environment variable an entry point reads. Variables that Lambda itself sets
/// (`AWS_REGION`, the credentials, `AWS_LAMBDA_RUNTIME_API`) are not listed: a
/// deployment never sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The variable's name, e.g. `LATENCY_STORE`.
    pub name: &'static str,
    /// Whether the entry point refuses to start without it.
    pub required: bool,
    /// What it holds, for error messages.
    pub meaning: &'static str,
}

/// A required variable that is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not set; set it to {}", .0.name, .0.meaning)]
pub struct MissingVariable(pub Variable);

impl Variable {
    /// The variable's value from the process environment; `Err` names it and what it
    /// should hold when it is required and missing or empty. An optional variable that
    /// is unset is `Ok(None)`.
    pub fn read(self) -> Result<Option<String>, MissingVariable> {
        match std::env::var(self.name)
            .ok()
            .filter(|value| !value.is_empty())
        {
            Some(value) => Ok(Some(value)),
            None if self.required => Err(MissingVariable(self)),
            None => Ok(None),
        }
    }

    /// [`read`](Self::read) for a required variable: its value, or the error.
    pub fn require(self) -> Result<String, MissingVariable> {
        self.read()?.ok_or(MissingVariable(self))
    }
}

/// `RUST_LOG`: the log filter [`init_logging`] reads (default `info`).
pub const LOG_FILTER: Variable = Variable {
    name: "RUST_LOG",
    required: false,
    meaning: "a tracing filter such as info or latency=debug",
};

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
