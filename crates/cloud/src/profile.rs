//! Cloud profiles: each hop's added latency, as data with a source and a date.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::{CloudError, Delay};

/// A hop on a request's path whose cloud latency a profile gives. The client's own round
/// trip to the region is not here: it cannot be known, so it is a parameter
/// (`--client-rtt`), calibrated on one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hop {
    /// API Gateway HTTP API's own time for a request with a Lambda proxy integration,
    /// beyond the function's duration.
    ApiGatewayHttp,
    /// Lambda's invoke path for a warm instance: from the front door's call to the
    /// function starting, and its response back.
    LambdaInvoke,
    /// An Application Load Balancer's own time for one request.
    Alb,
    /// A Kubernetes `LoadBalancer` Service: the cloud load balancer and kube-proxy.
    KubernetesService,
    /// One round trip between two hosts in the region's VPC (compute to a self-run store).
    VpcRoundTrip,
    /// One DynamoDB `UpdateItem`/`GetItem` from compute in the same region.
    #[serde(rename = "dynamodb")]
    DynamoDb,
    /// One S3 request on a small object from compute in the same region.
    S3,
    /// One EFS file-system operation (NFS round trip) from a task in the same AZ.
    Efs,
    /// One ElastiCache for Redis command from compute in the same AZ.
    Redis,
}

impl Hop {
    /// Every hop, in path order.
    pub const ALL: [Hop; 9] = [
        Hop::ApiGatewayHttp,
        Hop::LambdaInvoke,
        Hop::Alb,
        Hop::KubernetesService,
        Hop::VpcRoundTrip,
        Hop::DynamoDb,
        Hop::S3,
        Hop::Efs,
        Hop::Redis,
    ];

    /// The key in a profile file.
    pub fn key(self) -> &'static str {
        match self {
            Hop::ApiGatewayHttp => "api-gateway-http",
            Hop::LambdaInvoke => "lambda-invoke",
            Hop::Alb => "alb",
            Hop::KubernetesService => "kubernetes-service",
            Hop::VpcRoundTrip => "vpc-round-trip",
            Hop::DynamoDb => "dynamodb",
            Hop::S3 => "s3",
            Hop::Efs => "efs",
            Hop::Redis => "redis",
        }
    }
}

/// How a figure is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A published measurement (a benchmark, a paper) gives it.
    Measured,
    /// The vendor's documentation states it (often as a bound: "single-digit ms").
    Documented,
    /// Derived from other figures or a bound; the note says how.
    Estimate,
}

/// One hop's figure: a distribution with its provenance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopFigure {
    /// What exactly the figure covers.
    pub what: String,
    /// Median added latency, ms.
    pub p50_ms: f64,
    /// 99th percentile added latency, ms.
    pub p99_ms: f64,
    /// Where the figure comes from: a document's title and address, a paper, a benchmark.
    pub source: String,
    /// When the source was read or published, `YYYY-MM-DD`.
    pub date: String,
    /// How the figure is known.
    pub confidence: Confidence,
    /// How a documented bound or an estimate became these two numbers.
    #[serde(default)]
    pub note: Option<String>,
}

impl HopFigure {
    /// The figure as a distribution to draw delays from.
    pub fn delay(&self) -> Delay {
        Delay::from_quantiles(self.p50_ms, self.p99_ms)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    region: String,
    description: String,
    #[serde(default)]
    hops: BTreeMap<Hop, HopFigure>,
}

/// A cloud profile: a region's per-hop latencies. Hops it does not list add nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudProfile {
    /// The profile's name (`eu-west-2`, `local`).
    pub name: String,
    /// The cloud region it stands for (`local` for none).
    pub region: String,
    /// One line on what it models.
    pub description: String,
    hops: BTreeMap<Hop, HopFigure>,
}

const BUILTIN: [(&str, &str); 2] = [
    ("local", include_str!("../profiles/local.toml")),
    ("eu-west-2", include_str!("../profiles/eu-west-2.toml")),
];

impl CloudProfile {
    /// The names of the built-in profiles.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(name, _)| *name)
    }

    /// A built-in profile by name, else the profile file at `name_or_path`.
    pub fn load(name_or_path: &str) -> Result<CloudProfile, CloudError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(name, _)| *name == name_or_path) {
            return CloudProfile::parse(&format!("(built-in) {name}"), text);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(CloudError::UnknownProfile {
                name: name_or_path.to_owned(),
                builtin: CloudProfile::builtin_names().collect::<Vec<_>>().join(", "),
            });
        }
        let text = read_bounded(path, MAX_PROFILE_BYTES).map_err(|source| CloudError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        CloudProfile::parse(&path.display().to_string(), &text)
    }

    /// Parses and validates a profile file's text; `file` names it in errors.
    ///
    /// A profile file is read only up to [`MAX_PROFILE_BYTES`]; a longer one is refused.
    pub fn parse(file: &str, text: &str) -> Result<CloudProfile, CloudError> {
        let invalid = |problem: String| CloudError::InvalidProfile {
            file: file.to_owned(),
            problem,
        };
        let parsed: ProfileFile = toml::from_str(text).map_err(|err| invalid(err.to_string()))?;
        if parsed.name.trim().is_empty() {
            return Err(invalid("`name` is empty".to_owned()));
        }
        for (hop, figure) in &parsed.hops {
            let at = |problem: &str| invalid(format!("hop `{}`: {problem}", hop.key()));
            if !figure.p50_ms.is_finite() || !figure.p99_ms.is_finite() {
                return Err(at("p50_ms and p99_ms must be finite numbers"));
            }
            if figure.p50_ms < 0.0 {
                return Err(at("p50_ms must not be negative"));
            }
            if figure.p99_ms < figure.p50_ms {
                return Err(at(&format!(
                    "p99_ms ({}) is below p50_ms ({})",
                    figure.p99_ms, figure.p50_ms
                )));
            }
            if figure.source.trim().is_empty() {
                return Err(at("`source` is empty: every figure needs one"));
            }
            if !is_date(&figure.date) {
                return Err(at(&format!(
                    "`date` must be YYYY-MM-DD, not `{}`",
                    figure.date
                )));
            }
            if figure.confidence == Confidence::Estimate && figure.note.is_none() {
                return Err(at("an estimate needs a `note` saying how it was made"));
            }
        }
        Ok(CloudProfile {
            name: parsed.name,
            region: parsed.region,
            description: parsed.description,
            hops: parsed.hops,
        })
    }

    /// The figure for `hop`, if the profile gives one.
    pub fn figure(&self, hop: Hop) -> Option<&HopFigure> {
        self.hops.get(&hop)
    }

    /// The delay to add on `hop`: zero where the profile gives none.
    pub fn delay(&self, hop: Hop) -> Delay {
        self.figure(hop).map_or(Delay::ZERO, HopFigure::delay)
    }

    /// Every figure the profile gives, in path order.
    pub fn figures(&self) -> impl Iterator<Item = (Hop, &HopFigure)> {
        self.hops.iter().map(|(hop, figure)| (*hop, figure))
    }
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        && matches!(text[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(text[8..10].parse::<u8>(), Ok(1..=31))
}

/// The largest profile file read: the built-in profiles are a few KB; 1 MiB is room for
/// any real one, and bounds what a wrong path (a log, a disk image) costs.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// `path`'s text if it is at most `limit` bytes, else an `InvalidData` error naming the
/// limit; never reads more than `limit + 1` bytes.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the limit of {limit} bytes for a profile"),
        ));
    }
    Ok(text)
}
