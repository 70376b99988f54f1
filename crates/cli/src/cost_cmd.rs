//! `latency cost` (being built).

use std::process::ExitCode;

/// Flags of `latency cost`.
#[derive(Debug, clap::Args)]
pub(crate) struct CostArgs {}

pub(crate) fn run(_args: CostArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`latency cost` is not built yet")
}
