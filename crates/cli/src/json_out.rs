//! `--json [FILE|-]`, shared by `bench`, `report` and `cost`: one spelling, one meaning.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

/// Where `--json` sends its document: a file, or stdout when the value is `-` (or the
/// flag is given without a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonOut {
    /// Standard output.
    Stdout,
    /// This file, created or truncated.
    File(PathBuf),
}

impl JsonOut {
    /// Whether the document goes to stdout, so human output must move to stderr.
    pub(crate) fn is_stdout(&self) -> bool {
        *self == JsonOut::Stdout
    }

    /// Writes `text` to the destination.
    pub(crate) fn write(&self, text: &str) -> anyhow::Result<()> {
        match self {
            JsonOut::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .context("cannot write the JSON to stdout")
            }
            JsonOut::File(path) => std::fs::write(path, text)
                .with_context(|| format!("cannot write the JSON to {}", path.display())),
        }
    }
}

/// `--json [FILE|-]`, flattened into each command's flags so the three spell it alike.
#[derive(Debug, clap::Args)]
pub(crate) struct JsonArg {
    /// Write the command's JSON document (its help says what it holds) to FILE, or to
    /// stdout with `-` or no value; the human output then leaves stdout.
    #[arg(
        long = "json",
        value_name = "FILE|-",
        num_args = 0..=1,
        default_missing_value = "-",
        value_parser = parse
    )]
    pub(crate) json: Option<JsonOut>,
}

/// The clap value parser of `--json`: `-` is stdout, anything else a path.
pub(crate) fn parse(s: &str) -> Result<JsonOut, String> {
    match s {
        "" => Err("--json needs a file name, or - for stdout".to_owned()),
        "-" => Ok(JsonOut::Stdout),
        path => Ok(JsonOut::File(PathBuf::from(path))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_stdout_and_anything_else_a_file() {
        assert_eq!(parse("-"), Ok(JsonOut::Stdout));
        assert_eq!(parse("a.json"), Ok(JsonOut::File("a.json".into())));
        assert!(parse("").is_err());
    }
}
