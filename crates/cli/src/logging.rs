//! Structured logs through `tracing`, to stderr so that stdout stays machine-readable.
//!
//! Logs and a progress bar share stderr: while a bar is shown ([`show_bar`]), each log
//! line is written with the bar suspended (cleared, the line written, the bar redrawn),
//! so no stale frame is ever left between log lines.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `--color`: whether logs (and progress bars) use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour, even with `NO_COLOR` set.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour stderr, given the `NO_COLOR` convention (https://no-color.org:
    /// set and not empty disables colour unless asked for explicitly).
    pub(crate) fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// `info`, without the function platform's per-invocation `REPORT` lines (one per
/// request: 12,000 in a default lab run). `RUST_LOG` replaces the whole default, e.g.
/// `RUST_LOG=info,latency_platform=debug` shows them.
const DEFAULT_FILTER: &str = "info,latency_platform::report=warn";

/// Installs the global subscriber. `RUST_LOG` overrides [`DEFAULT_FILTER`].
pub(crate) fn init(json: bool, color: ColorChoice) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SharedStderr)
        .with_ansi(!json && color.enabled());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The progress bar currently on stderr, if any.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Routes log lines around `bar` until [`hide_bar`] is called.
pub(crate) fn show_bar(bar: &indicatif::ProgressBar) {
    *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bar.clone());
}

/// Stops routing log lines around the bar.
pub(crate) fn hide_bar() {
    *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

/// stderr, with the progress bar (if shown) suspended while a log line is written.
#[derive(Clone, Copy)]
struct SharedStderr;

impl<'a> MakeWriter<'a> for SharedStderr {
    type Writer = SharedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

impl Write for SharedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The fmt layer formats a whole event before writing it, so one call is one line.
        let bar = BAR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `--log-json`, only on the subcommands that log (serve, lab, platform, worker, queue).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct LogFormat {
    /// Write logs as JSON lines instead of text (logs go to stderr; RUST_LOG filters them).
    #[arg(long)]
    pub(crate) log_json: bool,
}
