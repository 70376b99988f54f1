//! Whether an AWS endpoint is a local stand-in (moto, dynalite), shared by the store's and
//! the queue's AWS clients.

/// True when `endpoint` is a loopback URL (`localhost`, 127.0.0.0/8, `::1`) and the
/// environment names no credentials of its own (`AWS_ACCESS_KEY_ID`). A local S3-, SQS- or
/// DynamoDB-compatible server takes any credentials, so the caller uses fixed ones
/// rather than probe the SDK's provider chain, whose last link asks the instance metadata
/// service over the network and logs a warning when it is not there.
pub fn uses_local_credentials(endpoint: &str) -> bool {
    let loopback = url::Url::parse(endpoint)
        .ok()
        .is_some_and(|url| match url.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
    let own = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
    loopback && !own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_local() {
        // The tests' environment may name credentials; the host rule is what is checked.
        let own = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
        for local in [
            "http://127.0.0.1:9000",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert_eq!(uses_local_credentials(local), !own, "{local}");
        }
        for remote in [
            "https://s3.eu-west-2.amazonaws.com",
            "http://10.0.0.1:9000",
            "nonsense",
        ] {
            assert!(!uses_local_credentials(remote), "{remote}");
        }
    }
}
