//! `latency bench` (being built).

use std::process::ExitCode;

/// Flags of `latency bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {}

pub(crate) fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`latency bench` is not built yet")
}
