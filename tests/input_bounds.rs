//! Files named on the command line are read only up to a limit that makes sense for
//! them, and a larger one is refused with an error naming the limit (issue 24: a price
//! sheet, a cloud profile and a CA certificate file were read whole, however large).

mod common;

use std::process::Stdio;

use common::{STARTUP_DEADLINE, latency, wait_bounded};

/// A sparse file one byte over 1 MiB: reading it whole would cost what it is.
fn oversized_file(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(1024 * 1024 + 1).expect("set_len");
    path
}

/// Runs `latency ARGS`, expects a failure, and returns stderr.
fn fails(args: &[&str]) -> String {
    let mut child = latency()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latency");
    let status = wait_bounded(&mut child, STARTUP_DEADLINE);
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!status.success(), "{args:?} must fail: {stderr}");
    stderr
}

#[test]
fn an_oversized_price_sheet_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let sheet = oversized_file(&dir, "sheet.toml");
    let stderr = fails(&["cost", "--sheet", sheet.to_str().expect("utf-8")]);
    assert!(stderr.contains("limit of 1048576 bytes"), "{stderr}");
}

#[test]
fn an_oversized_cloud_profile_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let profile = oversized_file(&dir, "profile.toml");
    let stderr = fails(&["lab", "--cloud", profile.to_str().expect("utf-8")]);
    assert!(stderr.contains("limit of 1048576 bytes"), "{stderr}");
}

#[test]
fn an_oversized_ca_file_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let pem = oversized_file(&dir, "ca.pem");
    let stderr = fails(&[
        "bench",
        "https://127.0.0.1:9/hits",
        "-n",
        "1",
        "--cacert",
        pem.to_str().expect("utf-8"),
    ]);
    assert!(stderr.contains("limit of 1048576 bytes"), "{stderr}");
}

/// Numbers at the edges (issue 24): finite but absurd values are refused up front with
/// an error naming the range, instead of panicking (`bench --rate 1e-300`: the gap
/// between requests is no duration), running for hours (`serve --calc-max 1e308` let a
/// job of x = 1e5 s through) or waiting past a service's own limits.
#[test]
fn absurd_numbers_are_refused_naming_the_range() {
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "bench",
                "http://127.0.0.1:9/hits",
                "-n",
                "3",
                "--rate",
                "1e-300",
            ],
            "0.001 to 10000000 requests per second",
        ),
        (
            &["serve", "--listen", "127.0.0.1:0", "--calc-max", "1e308"],
            "must be 0 to 86400 seconds",
        ),
        (
            &["serve", "--listen", "127.0.0.1:0", "--calc-max", "NaN"],
            "must be 0 to 86400 seconds",
        ),
        (
            &[
                "worker",
                "--queue",
                "memory://",
                "--store",
                "memory://",
                "--calc-max",
                "1e5",
            ],
            "must be 0 to 86400 seconds",
        ),
        (
            &[
                "worker",
                "--queue",
                "memory://",
                "--store",
                "memory://",
                "--wait",
                "1000h",
            ],
            "at most 20s",
        ),
        (
            &[
                "platform",
                "--listen",
                "127.0.0.1:0",
                "--timeout",
                "16m",
                "--",
                "true",
            ],
            "at most 15m",
        ),
    ];
    for (args, expected) in cases {
        let stderr = fails(args);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// No byte a terminal or a page acts on (a control character other than newline or
/// tab) in `text`.
fn assert_no_control_bytes(what: &str, text: &[u8]) {
    let bad = text
        .iter()
        .position(|b| (*b < 0x20 && *b != b'\n' && *b != b'\t') || *b == 0x7f);
    assert!(
        bad.is_none(),
        "{what}: a control byte at {bad:?}: {:?}",
        String::from_utf8_lossy(text)
    );
}

/// Regression (issue 24): a Report's label went raw to the terminal (an escape sequence
/// could clear the screen or recolour it) and to the HTML page. Shown as its escape now.
#[test]
fn control_characters_in_report_labels_reach_neither_terminal_nor_page() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/bench/tests/fixtures/server-vm.json"
    );
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("fixture")).expect("JSON");
    report["target"]["label"] = serde_json::Value::from("evil\u{1b}[2J\u{7}\u{0}label");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("evil.json");
    std::fs::write(&file, report.to_string()).expect("write");
    let html = dir.path().join("page.html");
    for format in ["text", "markdown"] {
        let out = latency()
            .args(["report", "--format", format, "--html"])
            .arg(&html)
            .arg(&file)
            .output()
            .expect("run latency report");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_control_bytes(format, &out.stdout);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("evil\\u{1b}[2J"),
            "shown as its escape: {text}"
        );
        assert_no_control_bytes("the page", &std::fs::read(&html).expect("page"));
    }
}
