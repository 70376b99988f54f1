//! Shared helpers for end-to-end tests through the built `latency` binary.

#![allow(dead_code)] // each test binary uses a different subset

pub mod lab;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its address before the test fails.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// A `latency serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base_url: String,
}

impl Server {
    /// Starts `latency serve --listen 127.0.0.1:0 --store STORE` plus `extra` flags and
    /// waits for the address line on stdout.
    pub fn start(store: &str, extra: &[&str]) -> Server {
        let mut child = latency()
            .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn latency serve");
        let base_url = read_address(&mut child, "latency serve");
        Server { child, base_url }
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        wait_bounded(&mut self.child, STARTUP_DEADLINE)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, failing the test if it takes longer than `limit`.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most [`STARTUP_DEADLINE`]) for the `listening on URL` line that `what` prints
/// first on its piped stdout, and returns the URL.
pub fn read_address(child: &mut Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(STARTUP_DEADLINE)
        .unwrap_or_else(|_| panic!("{what} printed its address"));
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned()
}

/// A command for the `latency` binary under test.
pub fn latency() -> Command {
    Command::new(env!("CARGO_BIN_EXE_latency"))
}

// Not every suite that includes this module uses both.
#[allow(unused_imports)]
pub use latency_testkit::services::{service as endpoint, unique as unique_name};
