//! The errors of the bench library.

use std::io;
use std::path::PathBuf;

/// Everything that can stop a bench run or a report from being produced.
///
/// Failed *requests* are not errors of this kind: a run that gets timeouts or 5xx
/// answers still produces a [`Report`](crate::Report), which counts them by kind. These
/// variants are for when there is nothing meaningful to measure or render.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The URL cannot be parsed, or is not an `http://` or `https://` URL with a host.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The plan is contradictory or out of range (zero connections, a rate of 0, …).
    #[error("invalid bench plan: {0}")]
    InvalidPlan(String),

    /// The URL's host name does not resolve to an address.
    #[error("cannot resolve the host of {url}: {source}")]
    Resolve {
        /// The URL being measured.
        url: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// No TCP connection could be opened for the first request: nothing listens there,
    /// or the host is unreachable, or the connect did not finish within the timeout.
    #[error("cannot connect to {url}: {source}")]
    Unreachable {
        /// The URL being measured.
        url: String,
        /// The connect error.
        #[source]
        source: io::Error,
    },

    /// TLS cannot be set up for an `https://` URL: the `--cacert` file is unreadable or
    /// holds no certificate, no trusted root exists, or the host is not a valid name.
    #[error("cannot set up TLS for {url}: {reason}")]
    Tls {
        /// The URL being measured.
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// A worker task panicked or was cancelled; the run's figures would be incomplete.
    #[error("a load worker failed: {0}")]
    Worker(String),

    /// A Report file cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadReport {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// A file is not a Report of the version this build understands.
    #[error("{path} is not a valid latency Report: {reason}")]
    InvalidReport {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
