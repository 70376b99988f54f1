//! The local lab: one command that stands up each architecture's local analogue, measures
//! it with the bench engine, checks its counter, stops it, and compares them all.
//!
//! - [`catalogue`] lists the rows (one [`Architecture`] per row of docs/architecture.md's table,
//!   named by the shared [`ArchitectureId`](latency_arch::ArchitectureId)): how to start
//!   each, its bench plan, how to stop it.
//! - [`run`] executes a [`LabConfig`] and returns a [`LabOutcome`]: a
//!   [`Comparison`](latency_bench::render::Comparison) with every row measured or
//!   explicitly skipped (with a [`Skip`]: the reason and the command that enables it),
//!   and every Report written under the output directory. [`run_until`] stops early,
//!   cleanly, when a future completes (a signal).
//!
//! With `--cloud`, [`CloudSetup`] puts the cloud's per-hop latencies on every row as
//! real delays (delay proxies the lab starts and stops) and scores the prediction against
//! the original study; `--repeat` measures each row several times, and a run measured
//! on a busy machine is flagged (see [`BUSY_SHARE`]).
//! - [`memory_sweep`]: `--memory`, each function row once per memory size, with the
//!   cheapest, fastest and balanced size; [`ColdStartFloor`]: the hello-world function's
//!   cold start against the published figure.
//!
//! Every process the lab starts dies with it, even on SIGKILL; the cgroups and Redis keys
//! a killed run leaves are removed by the next run.

pub mod catalogue;
mod cloud;
mod cold_floor;
mod cost;
mod endpoints;
mod error;
mod launch;
pub mod memory_sweep;
mod process;
mod queue_rows;
mod repeat;
mod runner;
mod sweep;

pub use catalogue::{
    Architecture, BadSelector, Budget, CounterBackend, Deployment, Language, Mode, RowSelector,
    catalogue, select,
};
pub use cloud::{
    CloudSetup, EFS_OPERATIONS_PER_REQUEST, TARGET_MEAN_PCT, TARGET_ROW_PCT, score_lines,
};
pub use cold_floor::{ColdStartFloor, FloorPoint};
pub use endpoints::EndpointTools;
pub use error::{LabError, Skip};
pub use launch::{FunctionRuntime, ServerProgram, StoodUp, stand_up};
pub use process::{REAPER_ALL_CLEAN, REAPER_ARGS};
pub use queue_rows::{
    QueueConsumers, QueueRow, QueueRowsConfig, markdown_section as queue_markdown,
    text_table as queue_text_table,
};
pub use repeat::BUSY_SHARE;
pub use runner::{LabConfig, LabEvent, LabOutcome, Phase, run, run_until};
pub use sweep::remove_leftovers_of_dead_runs;
