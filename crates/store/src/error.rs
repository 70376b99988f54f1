use std::path::PathBuf;

use crate::accepted_forms;

/// Why a store could not be opened or could not answer.
///
/// No variant ever carries a password: URLs are shown through
/// [`redact_url`](crate::redact_url), and a counter file's contents are never quoted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL is malformed or names something this build cannot open.
    #[error(
        "invalid store URL `{url}`: {reason}\naccepted forms:\n{}",
        forms_list()
    )]
    InvalidUrl {
        /// The URL as given, with any password replaced by `***`.
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
        "counter at {location} is corrupt: {reason}{}. Fix or remove it by hand; it is never reset automatically",
        content.as_deref().map(|content| format!("; it holds {content:?}")).unwrap_or_default()
    )]
    Corrupt {
        /// Where the counter lives (a path, a key).
        location: String,
        /// Why its contents are not a counter.
        reason: String,
        /// The start of what was found there, when it is safe to show: a database value
        /// is; a file's bytes are not (the path may lead to any file on the machine).
        content: Option<String>,
    },

    /// A named resource the store needs (a bucket, a table, the counter object or item)
    /// does not exist.
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
