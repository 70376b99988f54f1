//! The cloud's network, on one machine.
//!
//! `latency lab --cloud PROFILE` adds, on every hop of every row, the latency that hop has
//! in the cloud: the client's round trip to the region, the front door (API Gateway, an
//! ALB, a Kubernetes Service), Lambda's invoke path, and the managed store (DynamoDB, S3,
//! EFS, ElastiCache). This crate holds the two halves of that:
//!
//! - [`CloudProfile`]: the latencies as data (`profiles/*.toml`), like the price sheets.
//!   Every figure is a distribution (p50 and p99), with a unit, a source and a date. The
//!   original study's own latency table is never a source: it is the test set the lab's
//!   prediction is scored against.
//! - [`DelayProxy`]: a TCP proxy that holds every chunk for a delay drawn from a hop's
//!   distribution, in order. Delays are real, not arithmetic after the fact, so queueing
//!   and contention under concurrency stay real too.

mod delay;
mod error;
mod profile;
mod proxy;
pub mod score;

pub use delay::Delay;
pub use error::CloudError;
pub use profile::{CloudProfile, Confidence, Hop, HopFigure};
pub use proxy::DelayProxy;
