//! `latency report` (being built).

use std::process::ExitCode;

/// Flags of `latency report`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {}

pub(crate) fn run(_args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`latency report` is not built yet")
}
