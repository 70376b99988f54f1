//! `file:///abs/path`: a counter in a small text file, made durable before each answer.

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

/// `file:///abs/path`: the counter is a decimal number in a file. It stands for the
/// original study's Fargate task, which kept the count on EFS.
///
/// # How an increment stays atomic and durable
/// 1. Take the in-process mutex, open the counter file and take an exclusive advisory lock
///    (`flock`) on it. Then check that the path still names the file that was locked (same
///    device and inode): another process may have replaced it by its own increment while
///    this one waited, and then the lock is taken again on the new file. Locking the
///    counter itself, rather than a companion lock file, means there is no lock file a tmp
///    cleaner could delete and so silently split the processes into two groups. The mutex
///    is needed as well because `flock` does not exclude threads of one process.
/// 2. Read and parse the locked file. A missing or unparsable file is an error: the
///    counter is never silently reset to 0.
/// 3. Write the new value to a new temporary file in the same directory, created with
///    `O_EXCL` under a random name (`.NAME.XXXXXX.tmp`, by the `tempfile` crate), so a
///    symlink or file planted at any predictable name is never followed or overwritten;
///    `fsync` it, `rename` it over the counter, and `fsync` the directory so that the
///    rename itself is on disk. The new file keeps the old one's permission bits.
///
/// A process killed at any moment leaves either the old or the new value in the counter
/// (rename is atomic), and the kernel drops its lock. A kill between creating and renaming
/// the temporary file can leave a `.NAME.XXXXXX.tmp` file behind; it is never read, and
/// can be deleted.
///
/// # Symlinks
/// The path is resolved once, when the store opens: a symlinked counter file (or
/// directory) is followed to its target, and from then on the store reads, locks and
/// replaces the target. Two servers that reach one file through two symlinks therefore
/// share one count. A symlink to a missing file is refused with an error. If the path is
/// later replaced by a symlink, the store refuses to use it rather than follow it.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The counter file, symlinks resolved.
    path: PathBuf,
    dir_path: PathBuf,
    dir: File,
    in_process: Mutex<()>,
}

const BACKEND: &str = "file";

/// How many times in a row the counter file may be replaced between opening and locking
/// it before an operation gives up. Each replacement is another process's completed
/// increment, so reaching this means heavy contention, not a fault; the bound keeps a
/// pathological case from spinning for ever.
const MAX_RELOCKS: u32 = 10_000;

/// Permission bits of a counter file this store creates (before the umask).
const NEW_FILE_MODE: u32 = 0o644;

impl FileStore {
    /// Opens the counter at `path`, which must be absolute and in an existing directory.
    /// A symlinked path is resolved here, once (see the type's docs).
    ///
    /// With `create`, a missing file is created holding 0; without it, a missing file is
    /// an error. An existing file must already hold a counter.
    pub async fn open(path: PathBuf, create: bool) -> Result<Self, StoreError> {
        run_blocking(move || Inner::open(path, create).map(Arc::new))
            .await
            .map(|inner| Self { inner })
    }

    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
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
        let create = url.bool_param("create")?;
        Self::open(path, create).await
    }

    /// The counter file's path, with symlinks resolved when the store opened.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    fn open(given: PathBuf, create: bool) -> Result<Self, StoreError> {
        let path = resolve(&given)?;
        let dir_path = path
            .parent()
            .ok_or_else(|| unavailable(&path, "has no parent directory"))?
            .to_path_buf();
        let dir = File::open(&dir_path).map_err(|err| {
            unavailable(
                &path,
                format!("cannot open its directory {}: {err}", dir_path.display()),
            )
        })?;
        let inner = Self {
            path,
            dir_path,
            dir,
            in_process: Mutex::new(()),
        };
        match inner.with_lock(|file| inner.read(file)) {
            Err(StoreError::Missing { .. }) if create => inner.create()?,
            other => drop(other?),
        }
        Ok(inner)
    }

    /// Creates the counter at 0, unless another process has created it meanwhile.
    fn create(&self) -> Result<(), StoreError> {
        let fail = |what: &str, err: io::Error| unavailable(&self.path, format!("{what}: {err}"));
        let tmp = self.temp_file(0, Permissions::from_mode(NEW_FILE_MODE))?;
        // No clobbering: a counter another process created first is kept, not reset.
        match tmp.persist_noclobber(&self.path) {
            Ok(_) => {
                tracing::info!(path = %self.path.display(), "created counter file at 0");
                self.dir
                    .sync_all()
                    .map_err(|e| fail("cannot fsync directory", e))
            }
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(fail("cannot create", err.error)),
        }?;
        self.with_lock(|file| self.read(file)).map(drop)
    }

    /// Runs `op` on the counter file, holding both the in-process mutex and the
    /// cross-process lock on that very file.
    fn with_lock<T>(
        &self,
        op: impl FnOnce(&File) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned mutex only means another thread panicked while holding it; the file
        // itself is protected by rename atomicity, so carrying on is safe.
        let _guard = self
            .in_process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for _ in 0..MAX_RELOCKS {
            let file = match File::open(&self.path) {
                Ok(file) => file,
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(self.missing()),
                Err(err) => return Err(unavailable(&self.path, format!("cannot open: {err}"))),
            };
            file.lock()
                .map_err(|err| unavailable(&self.path, format!("cannot lock: {err}")))?;
            if self.still_names(&file)? {
                let result = op(&file);
                // Closing the file unlocks it too; unlocking first only makes it prompt.
                let _ = file.unlock();
                return result;
            }
        }
        Err(unavailable(
            &self.path,
            format!(
                "the file was replaced {MAX_RELOCKS} times in a row while waiting for its lock"
            ),
        ))
    }

    /// Whether the path still names `file` (locked), rather than a file that replaced it.
    fn still_names(&self, file: &File) -> Result<bool, StoreError> {
        let locked = file
            .metadata()
            .map_err(|err| unavailable(&self.path, format!("cannot stat: {err}")))?;
        let current = match fs::symlink_metadata(&self.path) {
            Ok(current) => current,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(self.missing()),
            Err(err) => return Err(unavailable(&self.path, format!("cannot stat: {err}"))),
        };
        if current.file_type().is_symlink() {
            return Err(unavailable(
                &self.path,
                "was replaced by a symbolic link after the store opened; it is not followed \
                 (restart the server to resolve the link once, or remove it)",
            ));
        }
        Ok(current.dev() == locked.dev() && current.ino() == locked.ino())
    }

    fn missing(&self) -> StoreError {
        StoreError::Missing {
            path: self.path.clone(),
            hint: "restore it, or open the store with ?create=true to start at 0",
        }
    }

    fn read(&self, file: &File) -> Result<u64, StoreError> {
        let mut text = Vec::with_capacity(24);
        // A counter is at most 21 bytes; reading a little more is enough to tell that a
        // file is not one, without reading a large file the path may point to.
        let mut limited = file.take(64);
        limited
            .read_to_end(&mut text)
            .map_err(|err| unavailable(&self.path, format!("cannot read: {err}")))?;
        // Nothing of the file is quoted: the path may lead to any file on the machine.
        parse_counter(&text).map_err(|reason| StoreError::Corrupt {
            location: self.path.display().to_string(),
            reason,
            content: None,
        })
    }

    /// A new temporary file in the counter's directory holding `value`, made durable.
    fn temp_file(
        &self,
        value: u64,
        permissions: Permissions,
    ) -> Result<tempfile::NamedTempFile, StoreError> {
        let fail = |what: &str, err: io::Error| unavailable(&self.path, format!("{what}: {err}"));
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(permissions)
            .tempfile_in(&self.dir_path)
            .map_err(|e| fail("cannot create a temporary file", e))?;
        tmp.write_all(format!("{value}\n").as_bytes())
            .map_err(|e| fail("cannot write the temporary file", e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| fail("cannot fsync the temporary file", e))?;
        Ok(tmp)
    }

    /// Replaces the (locked) counter file `current` with one holding `value`.
    fn write(&self, current: &File, value: u64) -> Result<(), StoreError> {
        let fail = |what: &str, err: io::Error| unavailable(&self.path, format!("{what}: {err}"));
        let mode = current
            .metadata()
            .map_err(|e| fail("cannot stat", e))?
            .permissions();
        let tmp = self.temp_file(value, mode)?;
        // On failure the temporary file is removed when the error drops it.
        tmp.persist(&self.path)
            .map_err(|e| fail("cannot rename", e.error))?;
        self.dir
            .sync_all()
            .map_err(|e| fail("cannot fsync directory", e))
    }

    fn incr(&self) -> Result<u64, StoreError> {
        self.with_lock(|file| {
            let next = self
                .read(file)?
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt {
                    location: self.path.display().to_string(),
                    reason: "the count is at u64::MAX and cannot grow".to_owned(),
                    content: None,
                })?;
            self.write(file, next)?;
            Ok(next)
        })
    }
}

/// The counter file `given` names, with symlinks (of the file and its directories)
/// resolved, so that every store sharing the file agrees on one path.
fn resolve(given: &Path) -> Result<PathBuf, StoreError> {
    let name = given
        .file_name()
        .ok_or_else(|| unavailable(given, "names no file"))?;
    let dir = given
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .ok_or_else(|| unavailable(given, "has no parent directory"))?;
    match fs::symlink_metadata(given) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(given).map_err(|err| {
            unavailable(
                given,
                format!(
                    "is a symbolic link whose target cannot be resolved ({err}); \
                     point it at an existing counter file, or give the target's path"
                ),
            )
        }),
        Ok(meta) if meta.is_dir() => Err(unavailable(given, "is a directory; name a file in it")),
        Ok(_) => fs::canonicalize(given)
            .map_err(|err| unavailable(given, format!("cannot resolve the path: {err}"))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => fs::canonicalize(dir)
            .map(|dir| dir.join(name))
            .map_err(|err| {
                unavailable(
                    given,
                    format!("cannot open its directory {}: {err}", dir.display()),
                )
            }),
        Err(err) => Err(unavailable(given, format!("cannot stat: {err}"))),
    }
}

/// Parses a counter file: decimal digits, optionally followed by one newline.
fn parse_counter(bytes: &[u8]) -> Result<u64, String> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() {
        return Err("the file is empty".into());
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "expected a decimal number, but it holds other bytes ({} read)",
            bytes.len()
        ));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| "the number does not fit in 64 bits".into())
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
        run_blocking(move || inner.with_lock(|file| inner.read(file))).await
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
