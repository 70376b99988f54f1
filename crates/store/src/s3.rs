//! `s3://bucket/key`: the counter is a small S3 object, updated by conditional writes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::Mutex;

use crate::aws::{self, WriteMode};
use crate::backends::excerpt;
use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

const BACKEND: &str = "s3";

/// `s3://bucket/key?endpoint=URL&region=R`: the counter is a decimal number in one S3
/// object. It stands for the original study's Lambda + S3 function.
///
/// # How an increment stays atomic
/// S3 has no increment, so `incr` uses optimistic concurrency: it reads the object with
/// its ETag, then writes value + 1 with `If-Match: <etag>`. If another writer got there first, S3 answers 412 (or 409
/// for a conditional write racing another one); `incr` then backs off for a random time
/// (full jitter, growing up to 128 ms) and tries again, up to `?max_attempts=` times
/// (default 200: under dozens of concurrent writers on one object, the unluckiest
/// increments need a few dozen tries), after which it returns [`StoreError::Contended`].
///
/// One store serves its own callers one increment at a time and remembers the value and
/// ETag it wrote last. Its callers would only race each other (successful writes to one
/// object are serialized anyway), and the remembered ETag lets the next increment skip
/// the read: a hit costs one round trip (the conditional PUT) while no other writer
/// intervenes, and a read plus a PUT per lost race when another one does.
///
/// With `?mode=read-modify-write` it reads and then writes unconditionally, as the
/// original did, and loses updates when calls overlap.
///
/// # Creating the counter is explicit
/// `?create=true` creates a missing bucket and, when the store opens, a missing counter
/// object holding 0 (with `If-None-Match: *`, so an existing count is never overwritten).
/// Without it, a missing bucket or object is an error. Once open, the store never
/// creates the object again: if it disappears (deleted, or the bucket recreated), every
/// call fails with [`StoreError::NotFound`] naming it, rather than counting again from 1.
/// The key defaults to `hits`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    key: String,
    mode: WriteMode,
    max_attempts: u32,
    /// The value and ETag this store wrote last, if no read or failed write came since.
    /// Held across an atomic increment, so it also serializes this store's increments.
    last_write: Arc<Mutex<Option<(u64, String)>>>,
}

impl S3Store {
    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
        let parsed = url.url();
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        if bucket.is_empty() {
            return Err(url.invalid("name the bucket, e.g. s3://my-bucket/hits"));
        }
        let key = match parsed.path().trim_start_matches('/') {
            "" => "hits".to_owned(),
            key if key.ends_with('/') => {
                return Err(url.invalid("the key names a folder; name an object in it"));
            }
            key => key.to_owned(),
        };
        let mode = WriteMode::from_url(url)?;
        let create = url.bool_param("create")?;
        let text = url.param("max_attempts").unwrap_or_default();
        let max_attempts = text
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                url.invalid(format!(
                    "parameter `max_attempts` must be a whole number ≥ 1, not `{text}`"
                ))
            })?;

        let config = aws::load_config(url).await?;
        let mut s3_config = aws_sdk_s3::config::Builder::from(&config);
        if url.param("endpoint").is_some() {
            // Local S3 servers serve buckets as paths, not as DNS names.
            s3_config = s3_config.force_path_style(true);
        }
        let store = Self {
            client: Client::from_conf(s3_config.build()),
            bucket,
            key,
            mode,
            max_attempts,
            last_write: Arc::new(Mutex::new(None)),
        };
        store.ensure_bucket(create).await?;
        if create {
            store.create_counter().await?;
        }
        // Fails early on a missing object, or one that does not hold a counter.
        store.get().await?;
        Ok(store)
    }

    /// The write mode chosen by `?mode=`.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    async fn ensure_bucket(&self, create: bool) -> Result<(), StoreError> {
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        let err = match head {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if status(&err) != Some(404) {
            return Err(unavailable(&err));
        }
        if !create {
            return Err(StoreError::NotFound {
                backend: BACKEND,
                resource: format!("bucket `{}`", self.bucket),
                hint: format!(
                    "create it (`aws s3 mb s3://{}`), or add ?create=true to the store URL",
                    self.bucket
                ),
            });
        }
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        // Outside us-east-1, S3 (and moto) refuse a bucket without its region as the
        // location constraint (IllegalLocationConstraintException).
        let region = self.client.config().region().map(|r| r.as_ref().to_owned());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            request = request.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(&err)),
        }
    }

    /// Writes 0 unless the object exists: an existing count is kept.
    async fn create_counter(&self) -> Result<(), StoreError> {
        if self.write(0, Some(Condition::Absent)).await?.is_some() {
            tracing::debug!(counter = %self.location(), "created the counter object at 0");
        }
        Ok(())
    }

    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The counter and the ETag of the object holding it. A missing object is an error:
    /// the store never counts again from 0 by itself.
    async fn read(&self) -> Result<(u64, String), StoreError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(StoreError::NotFound {
                    backend: BACKEND,
                    resource: format!("counter object {}", self.location()),
                    hint: "it was deleted, or never created. Restore it (a decimal number), or \
                           open the store with ?create=true to start at 0; an open store never \
                           recreates it by itself"
                        .to_owned(),
                });
            }
            Err(err) if status(&err) == Some(404) => {
                return Err(StoreError::NotFound {
                    backend: BACKEND,
                    resource: format!("bucket `{}`", self.bucket),
                    hint: "it was deleted while the store was open; create it again".to_owned(),
                });
            }
            Err(err) => return Err(unavailable(&err)),
        };
        let etag = output
            .e_tag()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Unavailable {
                backend: BACKEND,
                detail: format!("reading {}: S3 sent no ETag", self.location()),
            })?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|err| StoreError::Unavailable {
                backend: BACKEND,
                detail: format!("reading {}: {}", self.location(), aws::describe(&err)),
            })?
            .into_bytes();
        let text = String::from_utf8_lossy(&body);
        let value = text
            .trim()
            .parse::<u64>()
            .map_err(|err| StoreError::Corrupt {
                location: self.location(),
                reason: format!("not a decimal count ({err})"),
                content: excerpt(&text),
            })?;
        Ok((value, etag))
    }

    /// Writes `value`; with `condition`, only if the object is still as it was read.
    /// `Ok(None)` means the condition failed: another writer was first. `Ok(Some(etag))`
    /// carries the new object's ETag, when S3 sent one.
    async fn write(
        &self,
        value: u64,
        condition: Option<Condition<'_>>,
    ) -> Result<Option<Option<String>>, StoreError> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("text/plain")
            .body(ByteStream::from(value.to_string().into_bytes()));
        put = match condition {
            None => put,
            Some(Condition::Unchanged(etag)) => put.if_match(etag),
            Some(Condition::Absent) => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(output) => Ok(Some(output.e_tag().map(str::to_owned))),
            // 404: the object was deleted since it was read, so If-Match cannot hold.
            Err(err) if matches!(status(&err), Some(404 | 409 | 412)) => Ok(None),
            Err(err) => Err(unavailable(&err)),
        }
    }

    async fn incr_atomic(&self) -> Result<u64, StoreError> {
        let mut last_write = self.last_write.lock().await;
        let mut lost = 0;
        while lost < self.max_attempts {
            // Trust what this store wrote last; a stale guess costs one failed PUT.
            let remembered = last_write.take();
            let guessed = remembered.is_some();
            let (value, etag) = match remembered {
                Some(remembered) => remembered,
                None => self.read().await?,
            };
            let next = value.checked_add(1).ok_or_else(|| self.at_max())?;
            match self.write(next, Some(Condition::Unchanged(&etag))).await? {
                Some(new_etag) => {
                    *last_write = new_etag.map(|etag| (next, etag));
                    return Ok(next);
                }
                // Another writer came after our own last write (or the object is gone,
                // which the read then reports): read, then try again.
                None if guessed => {}
                None => {
                    lost += 1;
                    if lost < self.max_attempts {
                        tokio::time::sleep(backoff(lost)).await;
                    }
                }
            }
        }
        Err(StoreError::Contended {
            backend: BACKEND,
            attempts: self.max_attempts,
        })
    }

    async fn incr_read_modify_write(&self) -> Result<u64, StoreError> {
        let (value, _) = self.read().await?;
        let next = value.checked_add(1).ok_or_else(|| self.at_max())?;
        self.write(next, None).await?;
        Ok(next)
    }

    fn at_max(&self) -> StoreError {
        StoreError::Corrupt {
            location: self.location(),
            reason: "the count is at u64::MAX and cannot grow".to_owned(),
            content: None,
        }
    }
}

enum Condition<'a> {
    /// `If-Match`: the object still has this ETag.
    Unchanged(&'a str),
    /// `If-None-Match: *`: there is no object yet (only when creating the counter).
    Absent,
}

/// Full jitter: a random wait below a cap that doubles with each lost race, from 2 ms up
/// to 128 ms, so that writers who collided spread out instead of colliding again.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 2u64 << attempt.min(6);
    Duration::from_micros(fastrand::u64(0..cap_ms * 1000))
}

#[async_trait]
impl CounterStore for S3Store {
    async fn incr(&self) -> Result<u64, StoreError> {
        match self.mode {
            WriteMode::Atomic => self.incr_atomic().await,
            WriteMode::ReadModifyWrite => self.incr_read_modify_write().await,
        }
    }

    async fn get(&self) -> Result<u64, StoreError> {
        Ok(self.read().await?.0)
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response()
        .map(|response| response.status().as_u16())
}

fn unavailable<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: std::error::Error + 'static,
{
    StoreError::Unavailable {
        backend: BACKEND,
        detail: aws::describe(err),
    }
}
