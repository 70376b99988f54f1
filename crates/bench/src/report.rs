//! The Report: what was measured, what was seen, and where. Its JSON form is versioned;
//! the schema is committed at `crates/bench/schema/report.v2.schema.json` (version 1,
//! without histograms, is still read).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::counter::CounterCheck;
use crate::stats::{Distribution, Summary};
use crate::{BenchConfig, BenchError, Stop, Warmup};

/// The schema version this build writes and reads. A change that removes or renames a
/// field, or changes its meaning, bumps it and adds a new schema file.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest schema version this build reads. Version 1 lacks the histograms: it shows
/// in tables but cannot be merged.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// The largest Report file read, in bytes. A Report of this build is a few KB plus its
/// compressed histogram (a few KB more); 16 MiB leaves room for any real one while a
/// hostile file cannot make `latency report` use gigabytes.
pub const MAX_REPORT_BYTES: usize = 16 << 20;
/// The longest label (and method, host name) accepted, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// The longest URL accepted, in characters.
pub const MAX_URL_CHARS: usize = 4096;
/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// The most notes accepted.
pub const MAX_NOTES: usize = 100;
/// The most histogram bins (and percentile points, status codes, error kinds) accepted.
/// `latency bench` writes ten bins a decade, so under 200.
pub const MAX_BINS: usize = 1000;

/// The committed JSON schema of [`Report`], version [`SCHEMA_VERSION`].
pub const SCHEMA_JSON: &str = include_str!("../schema/report.v2.schema.json");

/// The committed JSON schema of version 1, for Reports written by older builds.
pub const SCHEMA_V1_JSON: &str = include_str!("../schema/report.v1.schema.json");

/// One measurement of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// What was measured.
    pub target: Target,
    /// How it was measured.
    pub plan: Plan,
    /// What was seen.
    pub results: Results,
    /// Where and when it was measured.
    pub environment: Environment,
    /// Per-invocation figures of a function platform, when the caller knows them (the
    /// lab fills this in for function rows; `latency bench` alone cannot see them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionFigures>,
    /// Cost estimate, when the caller has one (the lab fills this in from the cost model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostFigures>,
    /// Free-form remarks that qualify the figures (e.g. "ran without a CPU quota").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The architecture or other name given with `--label`; `None` if not given.
    pub label: Option<String>,
    /// The URL requested.
    pub url: String,
    /// The HTTP method (always `GET` in this version).
    pub method: String,
}

/// How the load was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// `closed` (each connection sends when the previous answer arrives) or `open`
    /// (constant arrival rate).
    pub mode: LoadMode,
    /// Concurrent connections.
    pub connections: usize,
    /// Total target rate, requests/s, for the open loop.
    pub rate: Option<f64>,
    /// Measured requests asked for, when the run was bounded by count.
    pub requests: Option<u64>,
    /// Length of the measured phase asked for, when bounded by time, in seconds; with a
    /// count too, the time limit (whichever comes first).
    pub duration_s: Option<f64>,
    /// Warm-up requests asked for, when the warm-up was a count.
    pub warmup_requests: Option<u64>,
    /// Warm-up time asked for, when the warm-up was a duration, in seconds.
    pub warmup_s: Option<f64>,
    /// Per-request timeout, seconds.
    pub timeout_s: f64,
    /// Whether connections were reused.
    pub keepalive: bool,
    /// Whether the counter check was on (`auto`) or `off`.
    pub counter_check: String,
    /// Which bound ended the measured phase; absent in Reports written before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
}

/// Which bound ended a run's measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// The number of requests asked for was reached.
    Requests,
    /// The time limit came first (fewer requests than asked for were measured).
    TimeLimit,
    /// The run was bounded by time alone.
    Duration,
}

impl EndedBy {
    /// A few words for tables and notes.
    pub fn describe(self) -> &'static str {
        match self {
            EndedBy::Requests => "the request count",
            EndedBy::TimeLimit => "the time limit",
            EndedBy::Duration => "the duration",
        }
    }
}

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Closed loop.
    Closed,
    /// Open loop at a constant rate.
    Open,
}

/// What was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Measured requests: sent in the measured phase, answered or failed.
    pub requests: u64,
    /// Warm-up requests sent (not in any figure except the counter check).
    pub warmup_requests: u64,
    /// Wall time of the measured phase, from the first measured send to the last
    /// measured completion, seconds.
    pub elapsed_s: f64,
    /// Measured requests per second of `elapsed_s`.
    pub throughput_rps: f64,
    /// The mean over *every* measured request that got an answer, cold start
    /// included, in ms: the figure the original study's `latency.py` printed.
    pub mean_all_ms: Option<f64>,
    /// Latency of the warm answered requests (every measured request except the cold
    /// start). In the open loop, corrected for coordinated omission.
    pub latency: Option<Summary>,
    /// Open loop only: latency from each request's actual send time, as tools that
    /// ignore coordinated omission report it.
    pub latency_uncorrected: Option<Summary>,
    /// The first request of the run, reported apart.
    pub cold_start: Option<ColdStart>,
    /// Answers by HTTP status code (measured requests).
    pub status_codes: BTreeMap<String, u64>,
    /// Failures by kind (measured requests): `timeout`, `connect`, `closed`, `protocol`,
    /// `io`, `http_4xx`, `http_5xx`.
    pub errors: BTreeMap<String, u64>,
    /// Failures divided by measured requests, 0 to 1.
    pub error_rate: f64,
    /// The counter check.
    pub counter: CounterCheck,
    /// Chart data for the warm latencies.
    pub distribution: Distribution,
    /// The warm latencies as an HDR histogram, values in ns, in the standard
    /// HdrHistogram V2 compressed form, base64 (as in `.hlog` files): what `latency
    /// report --merge` adds exactly. `None` when no warm request was answered, and in
    /// version-1 Reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
    /// Open loop only: the uncorrected latencies, in the same form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_histogram: Option<String>,
}

impl Results {
    /// Failures of all kinds.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The first request of the run: it opens the first connection and meets the server
/// (or function) cold. Its latency includes the TCP connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColdStart {
    /// Latency, ms; `None` if it failed.
    pub latency_ms: Option<f64>,
    /// Status code, if answered.
    pub status: Option<u16>,
    /// The failure kind, if it failed.
    pub error: Option<String>,
    /// Whether it was a measured request (no warm-up) rather than a warm-up one.
    pub measured: bool,
}

/// Where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Host name of the measuring machine.
    pub hostname: String,
    /// Operating system (`linux`, …).
    pub os: String,
    /// CPU architecture (`x86_64`, …).
    pub arch: String,
    /// CPU model, when known.
    pub cpu_model: Option<String>,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// Version of the measuring tool (`latency-bench` crate version).
    pub tool_version: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// When it finished, RFC 3339 UTC.
    pub finished_at: String,
}

impl Environment {
    /// Describes this machine, with the given start and finish times.
    pub fn here(started: SystemTime, finished: SystemTime) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let hostname = read("/proc/sys/kernel/hostname")
            .or_else(|| read("/etc/hostname"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        let cpu_model = read("/proc/cpuinfo").and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        });
        Self {
            hostname,
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            cpu_model,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: humantime::format_rfc3339_millis(started).to_string(),
            finished_at: humantime::format_rfc3339_millis(finished).to_string(),
        }
    }
}

/// Figures from a function platform, as Lambda's REPORT lines give them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionFigures {
    /// Invocations observed.
    pub invocations: u64,
    /// Of which cold starts.
    pub cold_starts: u64,
    /// Mean init duration of the cold starts, ms.
    pub init_duration_ms: Option<f64>,
    /// Mean handler duration, ms.
    pub duration_ms: Option<f64>,
    /// Mean billed duration (rounded up to 1 ms), ms.
    pub billed_duration_ms: Option<f64>,
    /// Largest max-memory-used seen, MB.
    pub max_memory_used_mb: Option<f64>,
    /// Configured memory size, MB.
    pub memory_size_mb: Option<u32>,
}

/// A cost estimate for the row. `None` in a field means not applicable (an always-on
/// server has no per-call price; a function has no monthly floor), as `N/A` in the
/// original study's table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostFigures {
    /// Monthly cost, USD.
    pub monthly_usd: Option<f64>,
    /// Cost per million calls, USD.
    pub per_million_calls_usd: Option<f64>,
    /// Where the prices come from (region, date), or caveats.
    pub note: Option<String>,
}

impl Report {
    /// The name to show in tables: the label, else the URL.
    pub fn name(&self) -> &str {
        self.target.label.as_deref().unwrap_or(&self.target.url)
    }

    /// The report as pretty JSON, with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a Report always serializes");
        s.push('\n');
        s
    }

    /// Parses a Report, checking its schema version first so that a file of another
    /// version gets a clear message rather than a field-by-field complaint.
    ///
    /// # Errors
    /// [`BenchError::InvalidReport`] (with `path` as given) when the text is not JSON,
    /// is of another schema version, or does not match this version's fields.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, BenchError> {
        let invalid = |reason: String| BenchError::InvalidReport {
            path: path.to_owned(),
            reason,
        };
        if text.len() > MAX_REPORT_BYTES {
            return Err(invalid(format!(
                "{} bytes; a Report is at most {MAX_REPORT_BYTES} bytes",
                text.len()
            )));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        match value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v)
                if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(SCHEMA_VERSION))
                    .contains(&v) => {}
            Some(v) => {
                return Err(invalid(format!(
                    "schema version {v}; this build reads versions \
                     {OLDEST_READABLE_VERSION} to {SCHEMA_VERSION}"
                )));
            }
            None => return Err(invalid("no schema_version field".to_owned())),
        }
        let report: Self = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        report.check_bounds().map_err(invalid)?;
        Ok(report)
    }

    /// Checks that every free-form part is of a size a table or page can show: what
    /// `latency bench` writes always is; a hand-made or hostile file may not be.
    fn check_bounds(&self) -> Result<(), String> {
        let too_long = |what: &str, text: &str, max: usize| {
            let n = text.chars().count();
            (n > max)
                .then(|| format!("its {what} is {n} characters long; at most {max} are accepted"))
        };
        let mut problems = [
            self.target
                .label
                .as_deref()
                .and_then(|l| too_long("label", l, MAX_LABEL_CHARS)),
            too_long("URL", &self.target.url, MAX_URL_CHARS),
            too_long("method", &self.target.method, MAX_LABEL_CHARS),
            too_long("host name", &self.environment.hostname, MAX_LABEL_CHARS),
        ]
        .into_iter()
        .flatten()
        .chain(
            self.notes
                .iter()
                .chain(self.cost.as_ref().and_then(|c| c.note.as_ref()))
                .chain(std::iter::once(&self.results.counter.note))
                .filter_map(|n| too_long("note", n, MAX_NOTE_CHARS)),
        );
        if let Some(problem) = problems.next() {
            return Err(problem);
        }
        let d = &self.results.distribution;
        for (what, n, max) in [
            ("histogram bins", d.bins.len(), MAX_BINS),
            ("percentile points", d.percentiles.len(), MAX_BINS),
            ("notes", self.notes.len(), MAX_NOTES),
            ("status codes", self.results.status_codes.len(), MAX_BINS),
            ("error kinds", self.results.errors.len(), MAX_BINS),
        ] {
            if n > max {
                return Err(format!("it has {n} {what}; at most {max} are accepted"));
            }
        }
        Ok(())
    }

    /// Reads a Report file.
    ///
    /// # Errors
    /// [`BenchError::ReadReport`] when the file cannot be read, and the errors of
    /// [`from_json`](Self::from_json).
    pub fn read(path: &Path) -> Result<Self, BenchError> {
        use std::io::Read as _;
        let read_err = |source| BenchError::ReadReport {
            path: path.to_owned(),
            source,
        };
        // Read at most one byte past the limit, so a huge file costs no memory.
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(MAX_REPORT_BYTES as u64 + 1)
                    .read_to_string(&mut text)
            })
            .map_err(read_err)?;
        Self::from_json(&text, path)
    }
}

impl Plan {
    pub(crate) fn of(config: &BenchConfig) -> Self {
        let (requests, duration_s) = match config.stop {
            Stop::Requests(n) => (Some(n), config.time_limit.map(|d| d.as_secs_f64())),
            Stop::Duration(d) => (None, Some(d.as_secs_f64())),
        };
        let (warmup_requests, warmup_s) = match config.warmup {
            Warmup::None => (None, None),
            Warmup::Requests(n) => (Some(n), None),
            Warmup::Duration(d) => (None, Some(d.as_secs_f64())),
        };
        Self {
            mode: if config.rate.is_some() {
                LoadMode::Open
            } else {
                LoadMode::Closed
            },
            connections: config.connections,
            rate: config.rate,
            requests,
            duration_s,
            warmup_requests,
            warmup_s,
            timeout_s: config.timeout.as_secs_f64(),
            keepalive: config.keepalive,
            counter_check: match config.counter_check {
                crate::CounterCheckMode::Auto => "auto",
                crate::CounterCheckMode::Off => "off",
            }
            .to_owned(),
            ended_by: None,
        }
    }

    /// `sequential`, `closed loop, 64 connections`, `open loop, 1000 req/s over 8
    /// connections`.
    pub fn load_description(&self) -> String {
        crate::config::describe_load(self.rate, self.connections)
    }
}
