use std::path::PathBuf;

/// What can go wrong with a cloud profile or a delay proxy.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// A profile file is not valid; the message names the file and the problem (with its
    /// line and column where the TOML parser knows them).
    #[error("cloud profile {file}: {problem}")]
    InvalidProfile {
        /// The file (or the built-in profile's name).
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// `--cloud NAME` names no built-in profile and no readable file.
    #[error("no cloud profile `{name}`: use one of {builtin}, or a path to a profile file")]
    UnknownProfile {
        /// What was asked for.
        name: String,
        /// The built-in names, comma-separated.
        builtin: String,
    },
    /// A profile file could not be read.
    #[error("cannot read cloud profile {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The proxy could not bind or reach its upstream.
    #[error("delay proxy for {upstream}: {source}")]
    Proxy {
        /// The address the proxy forwards to.
        upstream: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
