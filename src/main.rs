//! The `latency` binary: every subcommand lives in the `latency-cli` crate.

fn main() -> std::process::ExitCode {
    latency_cli::main()
}
