//! The errors of driving terraform.

use std::path::PathBuf;

/// What went wrong running terraform. Every variant that ran a command names it as a
/// shell could run it again (see [`Terraform::command_line`](crate::Terraform::command_line)).
#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    /// The terraform program is not on the PATH (or not at the path given).
    #[error(
        "`{program}` was not found: install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install) or name the binary"
    )]
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but could not be started, or its output could not be read.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// terraform ran and failed.
    #[error("`{command}` failed ({status}):\n{stderr_tail}")]
    Failed {
        /// The command line.
        command: String,
        /// How it ended, e.g. `exit status: 1`.
        status: String,
        /// The last lines it wrote on stderr (or stdout when stderr was empty).
        stderr_tail: String,
    },
    /// terraform was interrupted (SIGINT forwarded to it) and did not finish.
    #[error("`{command}` was interrupted and stopped before it finished")]
    Interrupted {
        /// The command line.
        command: String,
    },
    /// terraform succeeded but printed something this crate cannot read.
    #[error("`{command}` printed output that cannot be read: {reason}")]
    BadOutput {
        /// The command line.
        command: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or directory of the state could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A workspace name terraform would reject, or that would escape the state directory.
    #[error("`{name}` is not a workspace name: use letters, digits, '-' and '_' (1-90 characters)")]
    InvalidWorkspace {
        /// The name given.
        name: String,
    },
}
