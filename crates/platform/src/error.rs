//! The platform's error type.

use std::io;
use std::path::PathBuf;

/// What can go wrong in the platform itself. A function that fails (returns an error,
/// crashes, times out, fails to initialise) is not a `PlatformError`: it is an
/// [`InvocationOutcome`](crate::InvocationOutcome) carrying a
/// [`FunctionError`](crate::FunctionError), as Lambda reports it.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// No function of that name was registered with the platform.
    #[error("function not found: {0}")]
    UnknownFunction(String),
    /// Two functions were registered under one name.
    #[error("function {0} is registered twice")]
    DuplicateFunction(String),
    /// A function spec is unusable (empty name, zero concurrency, ...).
    #[error("invalid spec for function {function}: {reason}")]
    InvalidSpec {
        /// The function.
        function: String,
        /// What is wrong.
        reason: String,
    },
    /// The function's executable could not be started.
    #[error("cannot start {command} for function {function}: {source}")]
    Spawn {
        /// The function.
        function: String,
        /// The command that failed.
        command: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A listener (an instance's Runtime API, or a front) could not be bound or read.
    #[error("cannot bind {what}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// An instance's cgroup could not be set up, so its budget cannot be enforced.
    #[error("cannot apply the CPU/memory budget: {0}")]
    Cgroup(#[from] crate::cgroup::CgroupError),
    /// The function is at its reserved concurrency and throttles further invocations.
    #[error("function {function} is at its reserved concurrency of {limit}: throttled")]
    Throttled {
        /// The function.
        function: String,
        /// Its reserved concurrency.
        limit: usize,
    },
    /// An instance started by [`Platform::prewarm`](crate::Platform::prewarm) failed its
    /// init.
    #[error("prewarming function {function}: {error_type}: {message}")]
    PrewarmFailed {
        /// The function.
        function: String,
        /// Lambda's error type, e.g. `Runtime.ExitError`.
        error_type: String,
        /// Lambda's error message.
        message: String,
    },
    /// The queue of asynchronous invocations is full (Invoke answers 429).
    #[error("function {function}: {capacity} asynchronous invocations are already queued")]
    AsyncQueueFull {
        /// The function.
        function: String,
        /// The queue's capacity.
        capacity: usize,
    },
    /// A platform-wide setting is unusable.
    #[error("invalid platform settings: {0}")]
    InvalidConfig(String),
    /// The platform is shutting down or has shut down.
    #[error("the platform is shut down")]
    ShutDown,
}
