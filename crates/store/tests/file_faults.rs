//! The file store under the faults issue 10 found: planted symlinks, symlinked counter
//! paths, a tmp cleaner deleting files beside the counter, and corrupt files that must
//! not be quoted. Real files in a temporary directory, real threads; no mocks.

use std::collections::HashSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use latency_store::{SharedStore, StoreError, from_url};

async fn open(path: &Path) -> Result<SharedStore, StoreError> {
    from_url(&format!("file://{}", path.display())).await
}

/// Regression: the store wrote its new value through `<path>.tmp`, so a symlink planted
/// there by another user made it overwrite the link's target.
#[tokio::test]
async fn a_symlink_planted_at_a_predictable_temp_name_is_never_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = dir.path().join("hits");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("victim");
    for planted in ["hits.tmp", ".hits.tmp", "hits.lock"] {
        symlink(&victim, dir.path().join(planted)).expect("plant a symlink");
    }
    let store = open(&counter).await.expect("opens");
    for expected in 1..=5 {
        assert_eq!(store.incr().await.expect("incr"), expected);
    }
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n",
        "the store wrote through a planted symlink"
    );
    assert_eq!(std::fs::read_to_string(&counter).expect("counter"), "5\n");
}

/// Regression: the first write replaced a symlinked counter path with a regular file, so
/// two servers reaching one file through two symlinks counted separately. The path is
/// now resolved once, at open: both count on the target, and the links stay links.
#[tokio::test]
async fn stores_opened_through_two_symlinks_share_one_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("hits");
    std::fs::write(&target, "10\n").expect("counter");
    let (first, second) = (dir.path().join("via-a"), dir.path().join("via-b"));
    symlink(&target, &first).expect("link a");
    symlink(&target, &second).expect("link b");
    let a = open(&first).await.expect("opens through a");
    let b = open(&second).await.expect("opens through b");
    assert_eq!(a.incr().await.expect("incr a"), 11);
    assert_eq!(b.incr().await.expect("incr b"), 12);
    assert_eq!(a.incr().await.expect("incr a"), 13);
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "13\n");
    for link in [&first, &second] {
        let meta = std::fs::symlink_metadata(link).expect("link");
        assert!(
            meta.file_type().is_symlink(),
            "{} was replaced",
            link.display()
        );
    }
}

/// A symlink to a missing file is refused at open, naming the link; nothing is created
/// at its target.
#[tokio::test]
async fn a_dangling_symlink_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("hits");
    let nowhere = dir.path().join("nowhere");
    symlink(&nowhere, &link).expect("link");
    let err = open(&link)
        .await
        .err()
        .expect("a dangling symlink must not open");
    let text = err.to_string();
    assert!(
        text.contains("symbolic link") && text.contains(link.to_str().expect("utf-8")),
        "{text}"
    );
    assert!(!nowhere.exists(), "the store created the link's target");
}

/// A counter path replaced by a symlink after the store opened is refused, not followed.
#[tokio::test]
async fn a_counter_replaced_by_a_symlink_after_open_is_not_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = dir.path().join("hits");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "7\n").expect("victim");
    let store = open(&counter).await.expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    std::fs::remove_file(&counter).expect("remove");
    symlink(&victim, &counter).expect("plant");
    let err = store
        .incr()
        .await
        .expect_err("a planted symlink must not be used");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "7\n");
}

/// Regression: the cross-process lock was `<path>.lock`; a tmp cleaner deleting it let
/// two processes hold "the" lock at once (291 duplicate counts in 4,736). The lock is now
/// on the counter file itself. Two stores stand for two processes: `flock` locks belong
/// to an open file description and each store opens its own, and each has its own
/// mutex, so they exclude each other only through the file lock, as processes do.
/// Meanwhile a "cleaner" deletes every other file in the directory, as fast as it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_files_beside_the_counter_never_breaks_the_lock() {
    const STORES: usize = 2;
    const TASKS_PER_STORE: usize = 4;
    const INCREMENTS_PER_TASK: usize = 150;
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = dir.path().join("hits");
    // Each store opens after a sweep, as a server (re)started after a tmp cleaner ran
    // would: with the old `<path>.lock`, each then locked its own lock file's inode.
    let mut stores = Vec::new();
    for _ in 0..STORES {
        sweep(dir.path(), &counter);
        stores.push(open(&counter).await.expect("opens"));
    }
    let done = Arc::new(AtomicBool::new(false));
    let cleaner = {
        let (dir, counter, done) = (dir.path().to_owned(), counter.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut deleted = 0u64;
            // Bounded: stops when the writers finish, or after a million sweeps.
            for _ in 0..1_000_000 {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                sweep(&dir, &counter);
                deleted += 1;
            }
            deleted
        })
    };
    let mut tasks = Vec::new();
    for store in &stores {
        for _ in 0..TASKS_PER_STORE {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..INCREMENTS_PER_TASK {
                    seen.push(store.incr().await.expect("incr"));
                }
                seen
            }));
        }
    }
    let mut returned = HashSet::new();
    for task in tasks {
        for value in task.await.expect("task") {
            assert!(returned.insert(value), "incr returned {value} twice");
        }
    }
    done.store(true, Ordering::Relaxed);
    let sweeps = cleaner.join().expect("cleaner");
    assert!(sweeps > 0, "the cleaner never ran");
    let total = (STORES * TASKS_PER_STORE * INCREMENTS_PER_TASK) as u64;
    assert_eq!(stores[0].get().await.expect("get"), total);
    assert_eq!(returned.len() as u64, total);
}

/// A tmp cleaner's sweep: deletes every file in `dir` but the counter and temporary
/// files being written (deleting those makes an increment fail, visibly, not count twice).
fn sweep(dir: &Path, counter: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path() != counter && !name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Regression: the corrupt-file error quoted the file's first 40 bytes, e.g. the start of
/// `/etc/passwd` through a symlink. It now names the file and the problem only.
#[tokio::test]
async fn a_corrupt_file_error_names_the_file_but_never_quotes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:SECRET-HASH:19000:0:99999:7:::\n").expect("secret");
    let link = dir.path().join("hits");
    symlink(&secret, &link).expect("link");
    let err = open(&link).await.err().expect("not a counter");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("corrupt") && text.contains("decimal number"),
        "{text}"
    );
    assert!(text.contains(secret.to_str().expect("utf-8")), "{text}");
    assert!(!text.contains("SECRET") && !text.contains("root"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "root:SECRET-HASH:19000:0:99999:7:::\n"
    );
}
