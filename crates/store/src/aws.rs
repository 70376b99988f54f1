//! What the S3 and DynamoDB backends share: the AWS configuration, and the write mode.

use std::error::Error;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::StoreError;
use crate::url_parse::StoreUrl;

/// How `incr` changes the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The default: an increment that never loses an update.
    Atomic,
    /// `?mode=read-modify-write`: the original study's read, then an unconditional write.
    /// Two overlapping calls can read the same value and both write value + 1, so updates
    /// are lost. It exists only to measure that, beside the atomic mode.
    ReadModifyWrite,
}

impl WriteMode {
    pub(crate) fn from_url(url: &StoreUrl) -> Result<Self, StoreError> {
        match url.param("mode").as_deref() {
            Some("atomic") => Ok(Self::Atomic),
            Some("read-modify-write") => Ok(Self::ReadModifyWrite),
            other => Err(url.invalid(format!(
                "parameter `mode` must be `atomic` or `read-modify-write`, not `{}`",
                other.unwrap_or_default()
            ))),
        }
    }
}

/// Region used with `?endpoint=` when neither the URL nor the standard chain names one:
/// local S3 and DynamoDB servers accept any region.
const LOCAL_REGION: &str = "us-east-1";

/// Loads the SDK configuration from the standard AWS chain (environment, profile, web
/// identity, container and instance credentials), then applies the URL's overrides:
/// `?region=` and `?endpoint=`.
///
/// With `?endpoint=` (a local S3 or DynamoDB server), a missing region defaults to
/// us-east-1 and missing credentials to dummy ones, since such servers do not check them.
/// Without it, a missing region is an error that says how to set one.
pub(crate) async fn load_config(url: &StoreUrl) -> Result<SdkConfig, StoreError> {
    let endpoint = url.param("endpoint");
    if let Some(endpoint) = &endpoint {
        check_endpoint(url, endpoint)?;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // A store that cannot answer should say so within the app's request timeout, so
        // that the caller gets a clear 503 rather than a timeout.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1)),
        );
    if let Some(region) = url.param("region") {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = &endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    let mut config = loader.load().await;

    if config.region().is_none() {
        if endpoint.is_none() {
            return Err(url.invalid(
                "no AWS region: set AWS_REGION (or a profile's region), or add ?region=…",
            ));
        }
        config = config
            .into_builder()
            .region(Region::new(LOCAL_REGION))
            .build();
    }
    if endpoint
        .as_deref()
        .is_some_and(crate::uses_local_credentials)
    {
        let local = Credentials::new("latency-local", "latency-local", None, None, "latency");
        return Ok(config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(local))
            .build());
    }
    if endpoint.is_some() && !has_credentials(&config).await {
        tracing::info!("no AWS credentials found; using dummy ones for the local endpoint");
        let dummy = Credentials::new("latency-local", "latency-local", None, None, "latency");
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(dummy))
            .build();
    }
    Ok(config)
}

/// An endpoint must be a plain http(s) URL. User info in it is refused: AWS requests are
/// signed with the credentials of the standard chain, so a `user:password@` part would
/// do nothing but reach the SDK's debug logs.
fn check_endpoint(url: &StoreUrl, endpoint: &str) -> Result<(), StoreError> {
    let parsed = url::Url::parse(endpoint).ok();
    if !parsed
        .as_ref()
        .is_some_and(|parsed| matches!(parsed.scheme(), "http" | "https"))
    {
        return Err(url.invalid(format!(
            "parameter `endpoint` must be an http:// or https:// URL, not `{}`",
            crate::redact_url(endpoint)
        )));
    }
    if parsed.is_some_and(|parsed| !parsed.username().is_empty() || parsed.password().is_some()) {
        return Err(url.invalid(
            "parameter `endpoint` must not carry user:password; AWS credentials come from \
             the standard chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, a role)",
        ));
    }
    Ok(())
}

async fn has_credentials(config: &SdkConfig) -> bool {
    let Some(provider) = config.credentials_provider() else {
        return false;
    };
    // The instance-metadata step of the chain can take seconds to give up off EC2.
    matches!(
        tokio::time::timeout(Duration::from_secs(3), provider.provide_credentials()).await,
        Ok(Ok(_))
    )
}

/// An error and its sources on one line, for logs: the SDK's top-level messages alone
/// (`dispatch failure`, `service error`) do not say what went wrong.
pub(crate) fn describe(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
