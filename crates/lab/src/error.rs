//! What goes wrong in the lab: a row skipped on purpose ([`Skip`]), or an error
//! ([`LabError`]).

use std::fmt;

/// Why a row was not measured, and the command that would enable it. A skipped row is
/// never dropped: it shows in the table with this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// What is missing.
    pub reason: String,
    /// The command (or pointer) that provides it.
    pub enable: String,
}

impl Skip {
    /// A skip with its reason and enabling command.
    pub fn new(reason: impl Into<String>, enable: impl Into<String>) -> Skip {
        Skip {
            reason: reason.into(),
            enable: enable.into(),
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; to enable: {}", self.reason, self.enable)
    }
}

/// Why the lab, or one of its rows, could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A process the lab started did not become ready.
    #[error("{what} did not start: {detail}")]
    StartFailed {
        /// What was being started.
        what: String,
        /// What went wrong, including the process's last words where known.
        detail: String,
    },
    /// The bench engine failed (not a failed request: those are counted in the Report).
    #[error("measuring {architecture} failed: {source}")]
    Bench {
        /// The row being measured.
        architecture: String,
        /// The engine's error.
        #[source]
        source: latency_bench::BenchError,
    },
    /// A queue row's run failed (a job could not be sent, the count did not reach N).
    #[error("measuring {architecture} failed: {detail}")]
    Queue {
        /// The row being measured.
        architecture: String,
        /// What went wrong.
        detail: String,
    },
    /// The price sheet could not price the measured rows.
    #[error("cannot price the rows: {0}")]
    Cost(#[source] latency_cost::CostError),
    /// Writing results failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A local socket could not be opened.
    #[error("cannot open a local socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The run was stopped by a signal before this row finished.
    #[error("interrupted before it finished")]
    Interrupted,
}
