/// Why the lab, or one of its rows, could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// `--only` named a row that is not in the catalogue.
    #[error("unknown architecture `{name}`; known: {known}")]
    UnknownArchitecture {
        /// The name given.
        name: String,
        /// The catalogue's names, comma-separated.
        known: String,
    },
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
}
