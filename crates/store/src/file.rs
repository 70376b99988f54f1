//! `file:///abs/path`: a counter in a small text file, made durable before each answer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

/// `file:///abs/path`: the counter is a decimal number in a file. It stands for the
/// original study's Fargate task, which kept the count on EFS.
///
/// # How an increment stays atomic and durable
/// 1. Take the in-process mutex, then an exclusive advisory lock (`flock`) on the
///    companion file `<path>.lock`. The lock file is never replaced, so every process
///    sharing the counter locks the same inode; the mutex is needed as well because
///    `flock` does not exclude threads that share one open file.
/// 2. Read and parse the current value. A missing or unparsable file is an error: the
///    counter is never silently reset to 0.
/// 3. Write the new value to `<path>.tmp`, `fsync` it, `rename` it over `<path>`, and
///    `fsync` the directory so that the rename itself is on disk.
///
/// A process killed at any moment leaves either the old or the new value in `<path>`
/// (rename is atomic), and the kernel drops its lock. A leftover `<path>.tmp` is
/// overwritten by the next increment.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    tmp_path: PathBuf,
    lock_file: File,
    dir: File,
    in_process: Mutex<()>,
}

const BACKEND: &str = "file";

impl FileStore {
    /// Opens the counter at `path`, which must be absolute and in an existing directory.
    ///
    /// With `create`, a missing file is created holding 0; without it, a missing file is
    /// an error. An existing file must already hold a counter.
    pub async fn open(path: PathBuf, create: bool) -> Result<Self, StoreError> {
        run_blocking(move || Inner::open(path, create).map(Arc::new))
            .await
            .map(|inner| Self { inner })
    }

    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
        url.expect_no_params(&["create"])?;
        let parsed = url.url();
        if parsed.host_str().is_some_and(|host| !host.is_empty()) {
            return Err(url.invalid(
                "file URLs take an absolute path after three slashes, e.g. file:///var/lib/latency/hits",
            ));
        }
        let path = parsed
            .to_file_path()
            .map_err(|()| url.invalid("not a local absolute path"))?;
        if parsed.path().ends_with('/') {
            return Err(url.invalid("the path names a directory; name a file in it"));
        }
        let create = url.bool_param("create", true)?;
        Self::open(path, create).await
    }

    /// The counter file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    fn open(path: PathBuf, create: bool) -> Result<Self, StoreError> {
        let dir_path = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .ok_or_else(|| unavailable(&path, "has no parent directory"))?
            .to_path_buf();
        let dir = File::open(&dir_path).map_err(|err| {
            unavailable(
                &path,
                format!("cannot open its directory {}: {err}", dir_path.display()),
            )
        })?;
        let lock_path = sibling(&path, "lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|err| {
                unavailable(
                    &path,
                    format!("cannot open lock file {}: {err}", lock_path.display()),
                )
            })?;
        let inner = Self {
            tmp_path: sibling(&path, "tmp"),
            path,
            lock_file,
            dir,
            in_process: Mutex::new(()),
        };
        inner.with_lock(|| match inner.read() {
            Err(StoreError::Missing { .. }) if create => {
                tracing::info!(path = %inner.path.display(), "creating counter file at 0");
                inner.write(0)
            }
            other => other.map(drop),
        })?;
        Ok(inner)
    }

    /// Runs `op` holding both the in-process mutex and the cross-process file lock.
    fn with_lock<T>(&self, op: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        // A poisoned mutex only means another thread panicked while holding it; the file
        // itself is protected by rename atomicity, so carrying on is safe.
        let _guard = self
            .in_process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.lock_file
            .lock()
            .map_err(|err| unavailable(&self.path, format!("cannot lock: {err}")))?;
        let result = op();
        // Unlocking can only fail on a bad descriptor; closing it on drop would unlock anyway.
        let _ = self.lock_file.unlock();
        result
    }

    fn read(&self) -> Result<u64, StoreError> {
        let text = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Missing {
                    path: self.path.clone(),
                    hint: "restore it, or open the store with ?create=true to start at 0",
                });
            }
            Err(err) => return Err(unavailable(&self.path, format!("cannot read: {err}"))),
        };
        parse_counter(&text).map_err(|reason| StoreError::Corrupt {
            location: self.path.display().to_string(),
            reason,
            content: String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned(),
        })
    }

    fn write(&self, value: u64) -> Result<(), StoreError> {
        let fail = |what: &str, err: io::Error| unavailable(&self.path, format!("{what}: {err}"));
        let mut tmp = File::create(&self.tmp_path).map_err(|e| fail("cannot create temp", e))?;
        tmp.write_all(format!("{value}\n").as_bytes())
            .map_err(|e| fail("cannot write temp", e))?;
        tmp.sync_all().map_err(|e| fail("cannot fsync temp", e))?;
        fs::rename(&self.tmp_path, &self.path).map_err(|e| fail("cannot rename", e))?;
        self.dir
            .sync_all()
            .map_err(|e| fail("cannot fsync directory", e))
    }

    fn incr(&self) -> Result<u64, StoreError> {
        self.with_lock(|| {
            let next = self
                .read()?
                .checked_add(1)
                .ok_or_else(|| unavailable(&self.path, "counter is at u64::MAX"))?;
            self.write(next)?;
            Ok(next)
        })
    }
}

/// Parses a counter file: decimal digits, optionally followed by one newline.
fn parse_counter(bytes: &[u8]) -> Result<u64, String> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() {
        return Err("the file is empty".into());
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err("expected a decimal number".into());
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| "the number does not fit in 64 bits".into())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn unavailable(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        backend: BACKEND,
        detail: format!("{}: {detail}", path.display()),
    }
}

/// File I/O blocks, so it runs on tokio's blocking pool.
async fn run_blocking<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|join| StoreError::Unavailable {
            backend: BACKEND,
            detail: format!("file I/O task failed: {join}"),
        })?
}

#[async_trait]
impl CounterStore for FileStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || inner.incr()).await
    }

    async fn get(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || inner.with_lock(|| inner.read())).await
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

#[cfg(test)]
mod tests {
    use super::parse_counter;

    #[test]
    fn parses_plain_and_newline_terminated_numbers() {
        assert_eq!(parse_counter(b"42"), Ok(42));
        assert_eq!(parse_counter(b"42\n"), Ok(42));
        assert_eq!(parse_counter(b"0\n"), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_counter() {
        for bad in [
            &b""[..],
            b"\n",
            b"-1",
            b"4 2",
            b"42\n\n",
            b"x",
            b"99999999999999999999",
        ] {
            assert!(parse_counter(bad).is_err(), "{bad:?} parsed");
        }
    }
}
