//! The local endpoints that `scripts/services start` starts and writes to
//! `.cache/services.env` (`KEY=VALUE` lines).

use std::path::{Path, PathBuf};

/// The repository root (this crate sits at `crates/testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The value of `var` (e.g. `LATENCY_TEST_DYNAMODB_ENDPOINT`): from the environment, else
/// from `.cache/services.env`. When neither has it, panics with the command that starts
/// the endpoints, unless `LATENCY_TEST_SKIP_MISSING=1` opts in to skipping: then `None`.
pub fn service(var: &str) -> Option<String> {
    if let Ok(value) = std::env::var(var)
        && !value.is_empty()
    {
        return Some(value);
    }
    let env_file = repo_root().join(".cache/services.env");
    let from_file = std::fs::read_to_string(&env_file).ok().and_then(|text| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key == var).then(|| value.trim().to_owned())
        })
    });
    if from_file.is_some() {
        return from_file;
    }
    if std::env::var("LATENCY_TEST_SKIP_MISSING").as_deref() == Ok("1") {
        eprintln!("skipping: {var} is not set (LATENCY_TEST_SKIP_MISSING=1)");
        return None;
    }
    panic!(
        "{var} is not set and {} does not name it: start the local endpoints with \
         `scripts/services start`, or set LATENCY_TEST_SKIP_MISSING=1 to skip",
        env_file.display()
    );
}

/// A name no other test run uses, now or in an earlier run against the same Redis, moto
/// or RabbitMQ: `prefix-<pid>-<time>-<n>`.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000_000)
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
