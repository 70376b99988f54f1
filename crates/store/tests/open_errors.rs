//! Bad store URLs and bad counter files give errors that name the problem.

use latency_store::{StoreError, from_url};

async fn open_error(url: &str) -> String {
    match from_url(url).await {
        Ok(_) => panic!("{url} opened"),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn malformed_urls_name_the_url_and_list_the_accepted_forms() {
    for (url, reason) in [
        ("not a url", "not a URL"),
        ("gopher://x", "unknown store scheme `gopher://`"),
        ("memory://?flavour=x", "unknown parameter `flavour`"),
        ("file://relative/path", "absolute path after three slashes"),
        ("file:///tmp/", "names a directory"),
        ("file:///tmp/hits?create=maybe", "must be true or false"),
    ] {
        let message = open_error(url).await;
        assert!(message.contains(&format!("`{url}`")), "{message}");
        assert!(message.contains(reason), "{url}: {message}");
        assert!(
            message.contains("memory://") && message.contains("file:///abs/path"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_missing_directory_is_named() {
    let message = open_error("file:///no/such/dir/hits").await;
    assert!(message.contains("/no/such/dir"), "{message}");
}

#[tokio::test]
async fn a_missing_file_is_created_at_zero_unless_create_is_false() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hits");
    let strict = format!("file://{}?create=false", path.display());
    match from_url(&strict).await {
        Err(StoreError::Missing { path: missing, .. }) => assert_eq!(missing, path),
        Err(other) => panic!("expected Missing, got {other}"),
        Ok(_) => panic!("opened a missing file with create=false"),
    }
    assert!(!path.exists(), "create=false created the file");

    let store = from_url(&format!("file://{}", path.display()))
        .await
        .expect("creates");
    assert_eq!(store.get().await.expect("get"), 0);
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "0\n");
    assert_eq!(store.incr().await.expect("incr"), 1);
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "1\n");
}

#[tokio::test]
async fn a_corrupt_file_is_an_error_and_is_never_reset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hits");
    std::fs::write(&path, "12 apples").expect("write");
    let message = open_error(&format!("file://{}", path.display())).await;
    assert!(message.contains("corrupt"), "{message}");
    assert!(message.contains(path.to_str().expect("utf-8")), "{message}");
    assert!(
        !message.contains("apples"),
        "the file's contents are never quoted: {message}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("file"), "12 apples");
}

#[tokio::test]
async fn a_file_deleted_while_open_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hits");
    let store = from_url(&format!("file://{}", path.display()))
        .await
        .expect("opens");
    assert_eq!(store.incr().await.expect("incr"), 1);
    std::fs::remove_file(&path).expect("delete");
    match store.incr().await {
        Err(StoreError::Missing { .. }) => {}
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(!path.exists(), "the store recreated a deleted counter");
    std::fs::write(&path, "7\n").expect("restore");
    assert_eq!(store.incr().await.expect("incr after restore"), 8);
}
