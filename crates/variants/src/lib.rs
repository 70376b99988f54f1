//! The other-language comparison subjects under `variants/`.
//!
//! Rust is this project's language; the study also compared Python, JavaScript and C++
//! handlers and a FastAPI server. This crate knows each of those subjects ([`all`]): where
//! its source is, which toolchain it needs, how to install its dependencies into a cache
//! ([`prepare`]), and the command that runs it. It runs nothing long-lived itself: the lab
//! hands a [`Prepared::Function`] to the local function platform and a
//! [`Prepared::Server`] to its process supervisor.
//!
//! Installs are cached under `<cache>/variants/`, keyed by a hash of the variant's
//! dependency manifest, so a second run starts at once. A missing toolchain is a
//! [`VariantError::ToolchainMissing`] that names the command that installs it; the lab shows
//! the row as skipped with that command.

mod install;

use std::path::{Path, PathBuf};

pub use install::prepare;

/// The language a variant is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// CPython with its packages in a venv.
    Python,
    /// Node.js with its packages in `node_modules`.
    JavaScript,
    /// C++17, built with `make` against Debian's libcurl and OpenSSL.
    Cpp,
}

/// How a variant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A Lambda handler, run by the official runtime client of its language (or, for C++,
    /// its own `bootstrap` talking to the Runtime API).
    Function,
    /// An HTTP server process that binds the address it is given and prints
    /// `listening on http://ADDR`, as `latency serve` does.
    Server,
}

/// Which counter store a variant talks to. Every variant reads the same store URL as the
/// Rust code (`LATENCY_STORE` for functions, `LATENCY_COUNTER_FILE` for the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `s3://bucket/key?…`
    S3,
    /// `dynamodb://table?…`
    DynamoDb,
    /// A counter file (the FastAPI server's `file` store).
    File,
}

/// One comparison subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// The architecture id (`lambda-python-dynamodb`, …), as `latency lab --only` takes it.
    pub id: &'static str,
    /// The study's name for the row.
    pub title: &'static str,
    /// Its language.
    pub language: Language,
    /// Function or server.
    pub shape: Shape,
    /// Its counter store.
    pub store: Store,
    /// The source directory, relative to the repository root.
    pub source_dir: &'static str,
    /// The handler (`module.function`) for functions; `None` for the C++ `bootstrap` and
    /// the server.
    pub handler: Option<&'static str>,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        id: "ec2-fastapi",
        title: "FastAPI server",
        language: Language::Python,
        shape: Shape::Server,
        store: Store::File,
        source_dir: "variants/python-fastapi",
        handler: None,
    },
    Variant {
        id: "lambda-python-s3",
        title: "Lambda Python + S3",
        language: Language::Python,
        shape: Shape::Function,
        store: Store::S3,
        source_dir: "variants/lambda-python",
        handler: Some("handler.handler"),
    },
    Variant {
        id: "lambda-python-dynamodb",
        title: "Lambda Python + DynamoDB",
        language: Language::Python,
        shape: Shape::Function,
        store: Store::DynamoDb,
        source_dir: "variants/lambda-python",
        handler: Some("handler.handler"),
    },
    Variant {
        id: "lambda-js-dynamodb",
        title: "Lambda JavaScript + DynamoDB",
        language: Language::JavaScript,
        shape: Shape::Function,
        store: Store::DynamoDb,
        source_dir: "variants/lambda-js-dynamodb",
        handler: Some("index.handler"),
    },
    Variant {
        id: "lambda-cpp-dynamodb",
        title: "Lambda C++ + DynamoDB",
        language: Language::Cpp,
        shape: Shape::Function,
        store: Store::DynamoDb,
        source_dir: "variants/lambda-cpp-dynamodb",
        handler: None,
    },
];

/// Every comparison subject, in the study's order.
pub fn all() -> &'static [Variant] {
    &VARIANTS
}

/// The variant with this architecture id.
pub fn find(id: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.id == id)
}

/// What [`prepare`] returns: everything needed to run the variant, its dependencies
/// installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// A Lambda function: run `command args…` as an instance, with `env` added to Lambda's
    /// environment. `task_root` is what Lambda calls `/var/task` (the code); `env` already
    /// sets `LAMBDA_TASK_ROOT` (and `PYTHONPATH` for Python) to it, so the runtime client
    /// finds the handler whatever the working directory.
    Function {
        /// The executable.
        command: PathBuf,
        /// Its arguments (for the runtime clients: the client's entry point and handler).
        args: Vec<String>,
        /// `_HANDLER`.
        handler: Option<String>,
        /// The code's directory.
        task_root: PathBuf,
        /// Extra environment for every instance.
        env: Vec<(String, String)>,
    },
    /// A server: run `command args… --listen ADDR`; it prints `listening on http://ADDR`.
    Server {
        /// The executable.
        command: PathBuf,
        /// Its arguments, before `--listen ADDR`.
        args: Vec<String>,
        /// Extra environment; the caller adds `LATENCY_COUNTER_FILE`.
        env: Vec<(String, String)>,
    },
}

/// Why a variant cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// A tool the variant needs is not on this machine.
    #[error("{tool} is not installed; install it with: {install}")]
    ToolchainMissing {
        /// The missing tool (`python3`, `node`, `make`, …).
        tool: &'static str,
        /// The command that installs it.
        install: &'static str,
    },
    /// Installing or building the variant's dependencies failed.
    #[error("preparing {variant} failed: `{command}` exited with {status}: {output}")]
    InstallFailed {
        /// The variant's id.
        variant: &'static str,
        /// The command that failed.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        output: String,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl VariantError {
    fn io(path: &Path, source: std::io::Error) -> VariantError {
        VariantError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
