//! `latency completions SHELL` and `latency man`: generated from the clap definitions
//! (`clap_complete`, `clap_mangen`), so they never drift from the real flags.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap_complete::Shell;

/// Flags of `latency completions`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Install, for example:
  latency completions bash > ~/.local/share/bash-completion/completions/latency
  latency completions zsh > \"${fpath[1]}/_latency\"
  latency completions fish > ~/.config/fish/completions/latency.fish")]
pub(crate) struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Flags of `latency man`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  latency man | man -l -
  latency man --out-dir ~/.local/share/man/man1   # latency.1 and latency-SUBCOMMAND.1")]
pub(crate) struct ManArgs {
    /// Write latency.1 and one latency-SUBCOMMAND.1 page per subcommand into DIR
    /// (created if missing) instead of printing latency(1) to stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub(crate) fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> ExitCode {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

pub(crate) fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("cannot render the man page")?;
            std::io::stdout()
                .write_all(&page)
                .context("cannot write the man page to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
