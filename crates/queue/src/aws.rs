//! The AWS SDK configuration shared by the SQS queue and the DynamoDB done counter.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::url_parse::param;

/// The SDK configuration: the standard chain, then the URL's `?region=` and `?endpoint=`.
pub(crate) async fn sdk_config(url: &url::Url) -> Result<aws_config::SdkConfig, String> {
    let endpoint = param(url, "endpoint");
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(format!(
            "parameter `endpoint` must be an http:// or https:// URL, not `{endpoint}`"
        ));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // A long poll lasts up to 20 s; an attempt must be allowed to outlive it.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(25))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(region) = param(url, "region") {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = &endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    let mut config = loader.load().await;
    if endpoint.is_none() {
        if config.region().is_none() {
            return Err(
                "no AWS region: set AWS_REGION (or a profile's region), or add ?region=…"
                    .to_owned(),
            );
        }
        return Ok(config);
    }
    let mut builder = config.clone().into_builder();
    if config.region().is_none() {
        builder = builder.region(Region::new("us-east-1"));
    }
    // A local stand-in takes any credentials: fixed ones, without probing IMDS.
    let local = endpoint
        .as_deref()
        .is_some_and(latency_store::uses_local_credentials);
    let has_credentials = match config.credentials_provider() {
        _ if local => false,
        Some(provider) => matches!(
            // The instance-metadata step of the chain can take seconds to give up off EC2.
            tokio::time::timeout(Duration::from_secs(3), provider.provide_credentials()).await,
            Ok(Ok(_))
        ),
        None => false,
    };
    if !has_credentials {
        let dummy = Credentials::new("latency-local", "latency-local", None, None, "latency");
        builder = builder.credentials_provider(SharedCredentialsProvider::new(dummy));
    }
    config = builder.build();
    Ok(config)
}

/// An SDK error and its sources on one line: the SDK's top-level messages (`service
/// error`, `dispatch failure`) alone do not say what went wrong.
pub(crate) fn unavailable(
    backend: &'static str,
    err: &(dyn std::error::Error + 'static),
) -> crate::QueueError {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::QueueError::unavailable(backend, text)
}
