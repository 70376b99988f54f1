use std::path::PathBuf;

use crate::accepted_forms;

/// Why a store could not be opened or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL is malformed or names something this build cannot open.
    #[error(
        "invalid store URL `{url}`: {reason}\naccepted forms:\n{}",
        forms_list()
    )]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The backing storage could not be reached or used; the operation may succeed later.
    #[error("{backend} store unavailable: {detail}")]
    Unavailable {
        /// The backend's short name.
        backend: &'static str,
        /// What failed, for logs (never sent to HTTP clients).
        detail: String,
    },

    /// The counter's storage exists but does not hold a counter. It is never reset.
    #[error(
        "counter at {location} is corrupt: {reason}; it holds {content:?}. Fix or remove it by hand; it is never reset automatically"
    )]
    Corrupt {
        /// Where the counter lives (a path, a key).
        location: String,
        /// Why its contents are not a counter.
        reason: String,
        /// The start of what was found there.
        content: String,
    },

    /// A named resource the store needs (a bucket, a table) does not exist.
    #[error("{backend} store: {resource} does not exist: {hint}")]
    NotFound {
        /// The backend's short name.
        backend: &'static str,
        /// What is missing, e.g. `DynamoDB table \`latency\``.
        resource: String,
        /// What to do about it.
        hint: String,
    },

    /// An optimistic (conditional) write lost the race to other writers this many times in
    /// a row, so the increment was given up rather than retried forever. The counter is
    /// unchanged by this call; the caller may try again.
    #[error(
        "{backend} store: gave up after {attempts} conditional writes lost to concurrent writers"
    )]
    Contended {
        /// The backend's short name.
        backend: &'static str,
        /// How many conditional writes were tried.
        attempts: u32,
    },

    /// The counter's storage is missing where it must exist.
    #[error("counter file {path} is missing: {hint}")]
    Missing {
        /// The file that should hold the counter.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },
}

fn forms_list() -> String {
    accepted_forms()
        .iter()
        .map(|form| format!("  {form}"))
        .collect::<Vec<_>>()
        .join("\n")
}
