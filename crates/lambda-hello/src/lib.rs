//! The cold-start floor: measuring how long a Lambda binary takes to initialise on the
//! local function platform, and the published init durations of the same runtime on AWS
//! Lambda that the measurement is set against.
//!
//! - [`cold_starts`] starts a binary `rounds` times as a fresh instance (a new platform
//!   each time, so every start is cold), invokes it once, and keeps each REPORT's init
//!   duration. The `coldstarts` example and `latency lab` both use it.
//! - [`published`] reads `data/published-init.toml`: lambda-perf's init durations of a
//!   hello-world Rust function per memory size, with the file and date they come from.

use std::path::Path;
use std::time::Duration;

use latency_platform::{FunctionSpec, Platform};
use serde::Deserialize;

/// The published figures, as shipped in `data/published-init.toml`.
const PUBLISHED: &str = include_str!("../data/published-init.toml");

/// Where published init durations come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The project that published them (`lambda-perf`).
    pub name: String,
    /// Its address.
    pub url: String,
    /// The data file, its generation time and the repository commit it was read at.
    pub file: String,
    /// The day the figures were measured (YYYY-MM-DD).
    pub date: String,
    /// The runtime as the source names it (`rust (prov.al2023)`).
    pub runtime: String,
    /// CPU architecture (`x86_64`).
    pub architecture: String,
    /// Deployment package type (`zip`).
    pub package: String,
}

/// The published init durations at one memory size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedInit {
    /// The function's memory size, MB.
    pub memory_mb: u32,
    /// Every init duration published for that day and size, ms, as published.
    pub samples_ms: Vec<f64>,
    /// The source's own mean of the samples, ms.
    pub published_mean_ms: f64,
}

impl PublishedInit {
    /// The median of [`samples_ms`](Self::samples_ms).
    pub fn median_ms(&self) -> f64 {
        median(&self.samples_ms)
    }
}

/// Published init durations of a hello-world Rust function, per memory size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// Where they come from.
    pub source: Source,
    /// One entry per published memory size, ascending.
    pub init: Vec<PublishedInit>,
}

impl Published {
    /// The figures at exactly `memory_mb`, if that size is published (no interpolation:
    /// a size the source did not measure has no figure).
    pub fn at(&self, memory_mb: u32) -> Option<&PublishedInit> {
        self.init.iter().find(|p| p.memory_mb == memory_mb)
    }

    /// One line naming the source: `lambda-perf, rust (prov.al2023) x86_64 zip, 2025-12-21`.
    pub fn citation(&self) -> String {
        let s = &self.source;
        format!(
            "{}, {} {} {}, {}",
            s.name, s.runtime, s.architecture, s.package, s.date
        )
    }
}

/// Parses published init durations from TOML text (the format of
/// `data/published-init.toml`). Every size must hold at least one positive, finite
/// sample, and sizes must be distinct.
///
/// # Errors
/// A message naming the problem (a TOML error with its line, or the bad size).
pub fn parse_published(text: &str) -> Result<Published, String> {
    let mut published: Published =
        toml::from_str(text).map_err(|err| format!("published init durations: {err}"))?;
    for entry in &published.init {
        if entry.samples_ms.is_empty()
            || entry
                .samples_ms
                .iter()
                .any(|ms| !ms.is_finite() || *ms <= 0.0)
        {
            return Err(format!(
                "published init durations at {} MB: every sample must be a positive number of ms, and there must be at least one",
                entry.memory_mb
            ));
        }
    }
    published.init.sort_by_key(|p| p.memory_mb);
    if let Some(pair) = published
        .init
        .windows(2)
        .find(|pair| pair[0].memory_mb == pair[1].memory_mb)
    {
        return Err(format!(
            "published init durations: {} MB is listed twice",
            pair[0].memory_mb
        ));
    }
    Ok(published)
}

/// The published init durations shipped with this crate.
pub fn published() -> Published {
    parse_published(PUBLISHED).expect("data/published-init.toml is checked by this crate's tests")
}

/// The median of `values` (the mean of the middle two for an even count); NaN when
/// empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// Init durations of one binary at one memory size, ms, in the order measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdStarts {
    /// The memory size (and so the CPU budget) the instances had.
    pub memory_mb: u32,
    /// One init duration per cold start, ms.
    pub init_ms: Vec<f64>,
    /// Whether the CPU and memory budget was enforced, or why not.
    pub throttling: String,
}

impl ColdStarts {
    /// The median init duration, ms.
    pub fn median_ms(&self) -> f64 {
        median(&self.init_ms)
    }

    /// The shortest and longest init duration, ms.
    pub fn range_ms(&self) -> (f64, f64) {
        let min = self.init_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .init_ms
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

/// The event each cold start is invoked with: an API Gateway payload-2.0 `GET /healthz`,
/// which both the hello-world function and the counter app answer without a store.
const EVENT: &[u8] =
    br#"{"version":"2.0","rawPath":"/healthz","requestContext":{"http":{"method":"GET","path":"/healthz"}}}"#;

/// Starts `binary` as a fresh function instance `rounds` times at `memory_mb` (its CPU
/// budget follows from the size, as on Lambda; `throttled = false` runs it
/// unthrottled), invokes each once and returns the init durations the platform
/// reported. `LATENCY_STORE=memory://` is set, so the counter app needs no network.
///
/// Rounds run one after another, each on its own platform, so no start shares the
/// machine with another of its own.
///
/// # Errors
/// A message naming the binary and what failed: the platform would not start, the
/// invocation failed or timed out (30 s), or the REPORT carried no init duration.
pub async fn cold_starts(
    binary: &Path,
    memory_mb: u32,
    rounds: usize,
    throttled: bool,
) -> Result<ColdStarts, String> {
    let name = binary.display();
    // The platform starts instances in their own working directory: a relative path
    // would not be found there.
    let binary = &std::path::absolute(binary).map_err(|err| format!("{name}: {err}"))?;
    let mut init_ms = Vec::with_capacity(rounds);
    let mut throttling = String::new();
    for _ in 0..rounds {
        let mut spec = FunctionSpec::new("f", binary)
            .env("LATENCY_STORE", "memory://")
            .memory_mb(memory_mb)
            .timeout(Duration::from_secs(30));
        if !throttled {
            spec = spec.unthrottled();
        }
        let platform =
            Platform::start(vec![spec]).map_err(|err| format!("{name}: platform: {err}"))?;
        throttling = if throttled {
            platform.throttling().to_string()
        } else {
            "off (unthrottled)".to_owned()
        };
        let invoked = tokio::time::timeout(
            Duration::from_secs(60),
            platform.invoke("f", bytes::Bytes::from_static(EVENT)),
        )
        .await;
        let reports = platform.drain_reports();
        platform.shutdown().await;
        match invoked {
            Err(_) => return Err(format!("{name}: no answer within 60 s")),
            Ok(Err(err)) => return Err(format!("{name}: {err}")),
            Ok(Ok(outcome)) => {
                if let Err(err) = outcome.result {
                    return Err(format!("{name}: function error {err}"));
                }
            }
        }
        let init = reports
            .first()
            .and_then(|report| report.init_duration)
            .ok_or_else(|| format!("{name}: the cold start's REPORT has no init duration"))?;
        init_ms.push(init.as_secs_f64() * 1e3);
    }
    Ok(ColdStarts {
        memory_mb,
        init_ms,
        throttling,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_figures_parse_and_name_their_source() {
        let published = published();
        assert_eq!(published.source.name, "lambda-perf");
        assert_eq!(published.source.date, "2025-12-21");
        let at128 = published.at(128).expect("128 MB is published");
        assert_eq!(at128.samples_ms.len(), 10);
        // The ten published samples' median and the source's own mean agree to 0.1 ms.
        assert!((at128.median_ms() - 16.785).abs() < 1e-9);
        let mean = at128.samples_ms.iter().sum::<f64>() / 10.0;
        assert!((mean - at128.published_mean_ms).abs() < 0.01);
        assert!(published.at(1769).is_none(), "no interpolation");
        assert_eq!(
            published.citation(),
            "lambda-perf, rust (prov.al2023) x86_64 zip, 2025-12-21"
        );
    }

    #[test]
    fn bad_published_files_are_refused_with_the_problem_named() {
        let source = "[source]\nname='x'\nurl='u'\nfile='f'\ndate='d'\nruntime='r'\narchitecture='a'\npackage='p'\n";
        let empty =
            format!("{source}[[init]]\nmemory_mb=128\nsamples_ms=[]\npublished_mean_ms=1.0\n");
        assert!(
            parse_published(&empty)
                .expect_err("refused")
                .contains("128 MB")
        );
        let negative =
            format!("{source}[[init]]\nmemory_mb=256\nsamples_ms=[-1.0]\npublished_mean_ms=1.0\n");
        assert!(
            parse_published(&negative)
                .expect_err("refused")
                .contains("256 MB")
        );
        let twice = format!(
            "{source}[[init]]\nmemory_mb=512\nsamples_ms=[1.0]\npublished_mean_ms=1.0\n\
             [[init]]\nmemory_mb=512\nsamples_ms=[2.0]\npublished_mean_ms=2.0\n"
        );
        assert!(
            parse_published(&twice)
                .expect_err("refused")
                .contains("listed twice")
        );
        let unknown = format!("{source}extra=1\n");
        assert!(
            parse_published(&unknown)
                .expect_err("refused")
                .contains("extra")
        );
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
