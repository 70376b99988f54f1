//! `latency completions` and `latency man` through the built binary, and the exit codes
//! in every subcommand's help.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::latency;

/// Every subcommand, as `latency --help` lists them.
const SUBCOMMANDS: [&str; 7] = [
    "serve",
    "bench",
    "report",
    "cost",
    "lab",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = latency().args(args).output().expect("run latency");
    assert_eq!(
        out.status.code(),
        Some(0),
        "latency {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Runs `bash -n` (parse only) on `script`; returns bash's stderr on a syntax error.
fn bash_parses(script: &str) -> Result<(), String> {
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash is installed");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write to bash");
    let out = bash.wait_with_output().expect("bash");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_bash_completion_script_parses_and_completes_every_subcommand() {
    let script = stdout_of(&["completions", "bash"]);
    bash_parses(&script).unwrap_or_else(|e| panic!("bash -n failed: {e}"));
    // The check can fail: a truncated script does not parse.
    assert!(bash_parses(&script[..script.len() / 2]).is_err());
    assert!(
        script.contains("complete -F"),
        "registers a completion function"
    );
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "no completion for `{sub}`");
    }
    assert!(script.contains("--concurrency") || script.contains("--connections"));
}

#[test]
fn zsh_and_fish_scripts_name_the_command() {
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef latency"));
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c latency"), "{fish}");
}

#[test]
fn an_unknown_shell_is_a_usage_error_listing_the_shells() {
    let out = latency()
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}

#[test]
fn the_man_page_is_roff_with_a_title_and_every_subcommand() {
    let page = stdout_of(&["man"]);
    // clap_mangen writes two lines defining the quote string first, then the title.
    let first_macro = page
        .lines()
        .find(|l| l.starts_with(".TH") || l.starts_with(".SH"))
        .expect("a .TH line");
    assert!(first_macro.starts_with(".TH latency 1"), "{first_macro}");
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    for sub in ["serve", "bench", "report", "cost", "lab"] {
        assert!(page.contains(sub), "man page lacks `{sub}`");
    }
    assert!(
        page.contains("Exit codes"),
        "the exit codes are in the page"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man1");
    stdout_of(&["man", "--out-dir", out.to_str().expect("utf8")]);
    for file in ["latency.1", "latency-bench.1", "latency-lab.1"] {
        let text = std::fs::read_to_string(out.join(file)).expect(file);
        assert!(text.contains(".TH"), "{file} is not a man page");
    }
}

#[test]
fn every_subcommand_documents_its_exit_codes_in_help() {
    for sub in SUBCOMMANDS {
        for flag in ["-h", "--help"] {
            // clap wraps help to the terminal: compare with whitespace collapsed.
            let help = stdout_of(&[sub, flag])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                help.contains("Exit codes: 0 "),
                "`latency {sub} {flag}` lacks exit codes:\n{help}"
            );
            assert!(help.contains("2 usage error"), "{sub} {flag}");
        }
    }
    assert!(stdout_of(&["--help"]).contains("Exit codes: 0 "));
}
