//! The measuring instrument behind `latency bench`, and the renderers behind
//! `latency report`.
//!
//! - [`BenchConfig`] is the typed plan (URL, load model, stop condition, warm-up,
//!   timeout, keep-alive, counter check, label). [`run`] or [`run_with_progress`]
//!   executes it on the current tokio runtime and returns a [`Report`].
//! - Latencies go into one HDR histogram per connection, merged at the end; no sample
//!   is kept, so memory stays flat however long the run.
//! - The counter check verifies that `/hits` values are distinct and contiguous.
//! - A [`Report`] serializes to the versioned JSON described by [`SCHEMA_JSON`].
//! - [`render`] turns Reports into the human summary, CSV, the Markdown comparison
//!   table (the original study's form plus percentiles) and a self-contained HTML page.
//!
//! ```no_run
//! # async fn demo() -> Result<(), latency_bench::BenchError> {
//! let mut plan = latency_bench::BenchConfig::new("http://127.0.0.1:8000/hits")?;
//! plan.connections = 8;
//! plan.label = Some("server + VM".into());
//! let report = latency_bench::run(plan).await?;
//! println!("{}", latency_bench::render::summary(&report));
//! # Ok(()) }
//! ```

mod config;
mod counter;
mod dial;
mod engine;
mod error;
mod merge;
pub mod render;
mod report;
mod stats;
pub mod units;

pub use config::{
    BenchConfig, CounterCheckMode, MAX_CONNECTIONS, MAX_RATE, MIN_RATE, Stop, Warmup, redact_url,
};
pub use counter::{CounterCheck, Verdict};
pub use engine::{Progress, run, run_with_progress};
pub use error::BenchError;
pub use report::{
    ColdStart, CostFigures, EndedBy, Environment, FunctionFigures, LoadMode, MAX_BINS,
    MAX_LABEL_CHARS, MAX_NOTE_CHARS, MAX_NOTES, MAX_REPORT_BYTES, MAX_URL_CHARS,
    OLDEST_READABLE_VERSION, Plan, Report, Results, SCHEMA_JSON, SCHEMA_V1_JSON, SCHEMA_VERSION,
    Target,
};
pub use stats::{Bin, Distribution, PercentilePoint, Summary};
