//! The local lab: one command that stands up each architecture's local analogue, measures
//! it with the bench engine, checks its counter, stops it, and compares them all.
//!
//! - [`catalogue`] lists the architectures (one [`Architecture`] per row of DESIGN.md's
//!   table): how to start each, how to know it is ready, its bench plan, how to stop it.
//! - [`run`] executes a [`LabConfig`] and returns a [`LabOutcome`]: a
//!   [`Comparison`](latency_bench::render::Comparison) with every row measured or
//!   explicitly skipped (with the reason and the command that enables it), and every
//!   Report written under the output directory.

pub mod catalogue;
mod cost;
mod deploy;
mod endpoints;
mod error;
mod process;
mod runner;

pub use catalogue::{Architecture, Deployment, catalogue};
pub use endpoints::EndpointTools;
pub use error::LabError;
pub use runner::{LabConfig, LabEvent, LabOutcome, Phase, run};
