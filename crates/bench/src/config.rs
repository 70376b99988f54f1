//! The typed plan of a bench run.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::BenchError;

/// When the measured phase ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many measured requests have been sent (and answered or failed).
    Requests(u64),
    /// When this much time has passed since the measured phase began. Requests already
    /// in flight then still complete and count.
    Duration(Duration),
}

/// The requests sent before measuring, to warm caches, pools and JITs. Their latency
/// and status are not counted; their counter values *are* checked, because they
/// increment the counter too.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Warmup {
    /// No warm-up: the first measured request is the cold start.
    #[default]
    None,
    /// This many requests.
    Requests(u64),
    /// Requests sent during this much time.
    Duration(Duration),
}

/// Whether to check the counter values that the endpoint returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterCheckMode {
    /// Check when the 2xx bodies are integers (as `GET /hits` returns); otherwise the
    /// check is reported as not applicable.
    #[default]
    Auto,
    /// Never check.
    Off,
}

/// Everything a bench run needs. Build it with [`BenchConfig::new`], change the public
/// fields, and pass it to [`run`](crate::run), which validates it first.
///
/// # Load models
/// - **Closed loop** (`rate: None`): `connections` workers, each sending its next
///   request as soon as the previous one is answered. With one connection this is the
///   original study's `latency.py`: N calls in succession.
/// - **Open loop** (`rate: Some(r)`): requests are *scheduled* at a constant total
///   rate `r` per second, shared by the `connections` workers. A request that cannot be
///   sent on time because every connection is still waiting for an earlier answer has
///   its latency measured from its scheduled time (corrected for coordinated omission);
///   the latency from its actual send time is reported beside it as uncorrected.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// The `http://` or `https://` URL to `GET`.
    pub url: Url,
    /// Number of concurrent connections (workers), at least 1.
    pub connections: usize,
    /// Total target rate in requests per second for the open loop; `None` for the
    /// closed loop. This is the rate of the whole run, not per connection.
    pub rate: Option<f64>,
    /// When the measured phase ends.
    pub stop: Stop,
    /// With [`Stop::Requests`], the measured phase also ends once this much time has
    /// passed since it began, whichever comes first (as `oha -n N -z T`), so a slow
    /// target cannot make a count take minutes. The Report's `plan.ended_by` says which
    /// bound ended the run. Ignored with [`Stop::Duration`].
    pub time_limit: Option<Duration>,
    /// Requests sent before measuring.
    pub warmup: Warmup,
    /// Per-request deadline, connect included; a request that misses it counts as a
    /// `timeout` error and its connection is replaced.
    pub timeout: Duration,
    /// Reuse connections (HTTP/1.1 keep-alive). When false, every request opens a new
    /// connection, sends `Connection: close`, and its latency includes the connect.
    pub keepalive: bool,
    /// Whether to verify the counter values returned.
    pub counter_check: CounterCheckMode,
    /// What is being measured (the architecture's name), shown in tables.
    pub label: Option<String>,
    /// Extra trusted root certificates (a PEM file) for `https://`, beside the system's
    /// trust store: a private CA, or a self-signed certificate. Ignored for `http://`.
    pub ca_file: Option<PathBuf>,
}

impl BenchConfig {
    /// A plan with the original study's defaults: 1000 sequential requests over one
    /// keep-alive connection, no warm-up, a 10 s timeout, counter check on.
    ///
    /// # Errors
    /// [`BenchError::InvalidUrl`] when `url` does not parse, is not `http://` or
    /// `https://`, or has no host.
    pub fn new(url: &str) -> Result<Self, BenchError> {
        Ok(Self {
            url: parse_url(url)?,
            connections: 1,
            rate: None,
            stop: Stop::Requests(1000),
            time_limit: None,
            warmup: Warmup::None,
            timeout: Duration::from_secs(10),
            keepalive: true,
            counter_check: CounterCheckMode::Auto,
            label: None,
            ca_file: None,
        })
    }

    /// Checks the plan: the URL as in [`new`](Self::new), at least one connection, a
    /// rate from [`MIN_RATE`] to [`MAX_RATE`], a positive number of requests or duration, and a positive
    /// timeout.
    ///
    /// # Errors
    /// [`BenchError::InvalidUrl`] or [`BenchError::InvalidPlan`], saying what is wrong.
    pub fn validate(&self) -> Result<(), BenchError> {
        parse_url(self.url.as_str())?;
        let plan = |msg: &str| Err(BenchError::InvalidPlan(msg.to_owned()));
        if self.connections == 0 {
            return plan("connections must be at least 1");
        }
        if self.connections > MAX_CONNECTIONS {
            return Err(BenchError::InvalidPlan(format!(
                "at most {MAX_CONNECTIONS} connections are supported"
            )));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate))
        {
            // A rate so small that the gap between requests is no longer a duration (1e-300
            // per second panicked in the scheduler) is not a plan either.
            return Err(BenchError::InvalidPlan(format!(
                "the rate must be {MIN_RATE} to {MAX_RATE} requests per second, not {rate}"
            )));
        }
        match self.stop {
            Stop::Requests(0) => return plan("the number of requests must be at least 1"),
            Stop::Duration(d) if d.is_zero() => return plan("the duration must be positive"),
            _ => {}
        }
        if self.timeout.is_zero() {
            return plan("the timeout must be positive");
        }
        if self.time_limit.is_some_and(|limit| limit.is_zero()) {
            return plan("the time limit must be positive");
        }
        Ok(())
    }

    /// A short description of the load model: `sequential`, `closed loop, 64
    /// connections` or `open loop, 1000 req/s over 8 connections`.
    pub fn load_description(&self) -> String {
        describe_load(self.rate, self.connections)
    }
}

/// The most connections one run may open; each costs two small histograms (about
/// 60 KB each) and a socket.
pub const MAX_CONNECTIONS: usize = 10_000;

/// The lowest open-loop rate: one request every 1,000 s.
pub const MIN_RATE: f64 = 0.001;

/// The highest open-loop rate: ten million requests a second, beyond any one machine.
pub const MAX_RATE: f64 = 10_000_000.0;

pub(crate) fn describe_load(rate: Option<f64>, connections: usize) -> String {
    let conns = if connections == 1 {
        "1 connection".to_owned()
    } else {
        format!("{connections} connections")
    };
    match rate {
        Some(r) => format!("open loop, {} req/s over {conns}", trim_float(r)),
        None if connections == 1 => "sequential".to_owned(),
        None => format!("closed loop, {conns}"),
    }
}

pub(crate) fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// The URL as it may be shown or stored: a password is replaced by `***` (the user name
/// stays, so a reader can tell which credentials were used). Every URL that bench prints,
/// returns in an error or writes into a Report goes through this or [`redact_raw`].
pub fn redact_url(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only fails for URLs that cannot have credentials, and this one has them.
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// [`redact_url`] for text that may not parse as a URL (it is being rejected): whatever
/// lies between `scheme://` and the last `@` of the authority becomes `***`, except a
/// user name before a `:`.
pub(crate) fn redact_raw(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let rest = &raw[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return raw.to_owned();
    };
    let user = rest[..at].split(':').next().unwrap_or_default();
    format!("{}{user}:***{}", &raw[..scheme_end], &rest[at..])
}

/// Parses and checks a bench URL: `http` or `https` scheme and a host. Credentials (`user:pw@`) are
/// accepted and sent as HTTP Basic authentication, as curl does; they are never shown.
pub(crate) fn parse_url(raw: &str) -> Result<Url, BenchError> {
    let invalid = |reason: &str| BenchError::InvalidUrl {
        url: redact_raw(raw),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(invalid(&format!("scheme `{other}` is not http or https"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_urls_with_the_url_named() {
        for bad in ["htp://x/hits", "not a url", "ftp://example.com/", "http://"] {
            let err = BenchConfig::new(bad).expect_err(bad).to_string();
            assert!(err.contains(bad), "{err} does not name {bad}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = Url::parse("http://ann:s3cret@127.0.0.1:8000/hits").expect("url");
        assert_eq!(redact_url(&url), "http://ann:***@127.0.0.1:8000/hits");
        let plain = Url::parse("http://127.0.0.1:8000/hits?a=b").expect("url");
        assert_eq!(redact_url(&plain), "http://127.0.0.1:8000/hits?a=b");
        assert_eq!(
            redact_raw("htp://ann:s3cret@host:1/x@y"),
            "htp://ann:***@host:1/x@y"
        );
        assert_eq!(redact_raw("ftp://:s3cret@host"), "ftp://:***@host");
        assert_eq!(redact_raw("no scheme s3cret@x"), "no scheme s3cret@x");
        for bad in ["ftp://ann:s3cret@host/", "gopher://ann:s3cret@host/"] {
            let err = BenchConfig::new(bad).expect_err(bad).to_string();
            assert!(
                !err.contains("s3cret") && err.contains("ann:***@host"),
                "{err}"
            );
        }
    }

    #[test]
    fn validates_the_plan() {
        let mut c = BenchConfig::new("http://127.0.0.1:1/hits").expect("url");
        c.validate().expect("defaults are valid");
        c.connections = 0;
        assert!(c.validate().is_err());
        c.connections = 1;
        c.rate = Some(0.0);
        assert!(c.validate().is_err());
        c.rate = Some(f64::NAN);
        assert!(c.validate().is_err());
        c.rate = Some(1e-300);
        let err = c.validate().expect_err("a gap of 1e300 s is not a plan");
        assert!(err.to_string().contains("0.001 to 10000000"), "{err}");
        c.rate = Some(1e308);
        assert!(c.validate().is_err());
        c.rate = Some(10.0);
        c.stop = Stop::Requests(0);
        assert!(c.validate().is_err());
        c.stop = Stop::Duration(Duration::ZERO);
        assert!(c.validate().is_err());
    }

    #[test]
    fn describes_the_load() {
        assert_eq!(describe_load(None, 1), "sequential");
        assert_eq!(describe_load(None, 64), "closed loop, 64 connections");
        assert_eq!(
            describe_load(Some(1000.0), 1),
            "open loop, 1000 req/s over 1 connection"
        );
    }
}
