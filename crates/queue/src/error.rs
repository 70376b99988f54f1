/// Why a queue or a done counter could not be opened or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The URL is malformed or names something this build cannot open.
    #[error("invalid {what} URL `{url}`: {reason}")]
    InvalidUrl {
        /// `queue` or `done counter`.
        what: &'static str,
        /// The URL as given, with any password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The broker or store could not be reached or refused the operation; it may succeed
    /// later.
    #[error("{backend} unavailable: {detail}")]
    Unavailable {
        /// The backend's short name.
        backend: &'static str,
        /// What failed, for logs (never sent to HTTP clients).
        detail: String,
    },

    /// A message body is not a job (a poison message).
    #[error("message body is not a job: {reason}")]
    BadBody {
        /// Why it could not be parsed.
        reason: String,
    },
}

impl QueueError {
    pub(crate) fn unavailable(backend: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            backend,
            detail: detail.to_string(),
        }
    }
}
