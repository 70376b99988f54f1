//! `latency lab`: every architecture's local analogue, measured side by side.
//!
//! The full lab (issue #6) is being built; until then this prints what exists.

use std::process::ExitCode;

/// Flags of `latency lab`.
#[derive(Debug, clap::Args)]
pub(crate) struct LabArgs {}

pub(crate) fn run(_args: LabArgs) -> anyhow::Result<ExitCode> {
    println!(
        "\
latency lab: the full lab (every architecture started, measured and compared) is not
built yet. What exists so far:

  latency serve --store memory://            the EC2 row: counter in memory
  latency serve --store file:///tmp/hits     the Fargate + EFS row: durable counter file

Try it:
  cargo run --release -- serve --listen 127.0.0.1:8000
  open http://127.0.0.1:8000/ and click the button, or: curl http://127.0.0.1:8000/hits

Run `latency --help` for every subcommand."
    );
    Ok(ExitCode::SUCCESS)
}
