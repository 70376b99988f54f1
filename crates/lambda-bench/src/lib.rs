//! The in-region load generator: a bench plan in, a JSON [`Report`] out.
//!
//! The original study measured every architecture twice: from outside the region with
//! `latency.py`, and from inside it with a Lambda function (`lambda-latency.py`) that ran
//! the same loop and returned the figures. `latency-lambda-bench` is that function for this
//! project: it runs the very engine behind `latency bench` ([`latency_bench::run`]) on the
//! plan it is invoked with, and answers the Report, so the two measurements are comparable
//! figure by figure.
//!
//! The event is a [`BenchPlan`] as JSON, e.g. `{"url": "https://…/hits", "requests": 1000}`
//! (`n` is accepted for `requests`, as the study's event named it). `latency bench
//! --via-lambda FUNCTION --fanout K` sends K such plans, each with a share of the load, and
//! merges the K Reports.

/// Every environment variable `latency-lambda-bench` reads (besides those Lambda sets):
/// only the log filter. Listed by name so that the description check
/// (`crates/description`) does not need the runtime feature.
pub const ENVIRONMENT: &[&str] = &["RUST_LOG"];

use std::time::Duration;

use latency_bench::{BenchConfig, BenchError, CounterCheckMode, Report, Stop, Warmup};
use serde::{Deserialize, Serialize};

/// The most requests one invocation may be asked for. Lambda stops a function after at most
/// 15 minutes; a plan this large would not finish in that time at any realistic latency,
/// so it is refused up front with a clear error instead of timing out half-way.
pub const MAX_REQUESTS: u64 = 10_000_000;

/// The longest `duration_s` one invocation may be asked for: Lambda's 15-minute limit, less
/// a minute for the cold start, the warm-up and returning the Report.
pub const MAX_DURATION_S: f64 = 14.0 * 60.0;

/// One bench run, as the function's event. Every field but `url` has the default of
/// `latency bench`. Unknown fields are an error, so a misspelt option is never ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchPlan {
    /// The URL to `GET` (the engine accepts `http://`).
    pub url: String,
    /// Measured requests; ignored when `duration_s` is set. Default 1000.
    #[serde(default, alias = "n", skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Measure for this many seconds instead of a number of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Concurrent connections (closed loop without `rate`). Default 1.
    #[serde(default = "one")]
    pub concurrency: usize,
    /// Open loop: the total rate of this invocation in requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Warm-up requests before measuring. Default 0.
    #[serde(default)]
    pub warmup_requests: u64,
    /// Warm-up time before measuring, in seconds, instead of `warmup_requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// Per-request timeout in seconds. Default 10.
    #[serde(default = "ten")]
    pub timeout_s: f64,
    /// Reuse connections. Default true.
    #[serde(default = "yes")]
    pub keepalive: bool,
    /// Check the counter values. Default true; a share of a fanned-out run turns it off,
    /// because its values interleave with the other shares' and so are never contiguous.
    #[serde(default = "yes")]
    pub counter_check: bool,
    /// The row's name in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn one() -> usize {
    1
}
fn ten() -> f64 {
    10.0
}
fn yes() -> bool {
    true
}

impl BenchPlan {
    /// A plan with every default: 1000 sequential requests to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            requests: None,
            duration_s: None,
            concurrency: 1,
            rate: None,
            warmup_requests: 0,
            warmup_s: None,
            timeout_s: 10.0,
            keepalive: true,
            counter_check: true,
            label: None,
        }
    }

    /// The engine's config for this plan, validated (by [`BenchConfig::validate`] and the
    /// Lambda limits above). The error names the field at fault.
    pub fn to_config(&self) -> Result<BenchConfig, PlanError> {
        let mut config = BenchConfig::new(&self.url)?;
        config.connections = self.concurrency;
        config.rate = self.rate;
        config.stop = match self.duration_s {
            Some(s) => {
                if !(s.is_finite() && s > 0.0 && s <= MAX_DURATION_S) {
                    return Err(PlanError::Field {
                        field: "duration_s",
                        reason: format!(
                            "{s} is not a number of seconds in (0, {MAX_DURATION_S}] (Lambda stops a function after 15 minutes)"
                        ),
                    });
                }
                Stop::Duration(Duration::from_secs_f64(s))
            }
            None => {
                let n = self.requests.unwrap_or(1000);
                if n == 0 || n > MAX_REQUESTS {
                    return Err(PlanError::Field {
                        field: "requests",
                        reason: format!("{n} is not between 1 and {MAX_REQUESTS}"),
                    });
                }
                Stop::Requests(n)
            }
        };
        config.warmup = match (self.warmup_s, self.warmup_requests) {
            (Some(s), _) => {
                if !(s.is_finite() && (0.0..=MAX_DURATION_S).contains(&s)) {
                    return Err(PlanError::Field {
                        field: "warmup_s",
                        reason: format!("{s} is not a number of seconds in [0, {MAX_DURATION_S}]"),
                    });
                }
                Warmup::Duration(Duration::from_secs_f64(s))
            }
            (None, 0) => Warmup::None,
            (None, n) => Warmup::Requests(n),
        };
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= 900.0) {
            return Err(PlanError::Field {
                field: "timeout_s",
                reason: format!("{} is not a number of seconds in (0, 900]", self.timeout_s),
            });
        }
        config.timeout = Duration::from_secs_f64(self.timeout_s);
        config.keepalive = self.keepalive;
        config.counter_check = if self.counter_check {
            CounterCheckMode::Auto
        } else {
            CounterCheckMode::Off
        };
        config.label = self.label.clone();
        config.validate()?;
        Ok(config)
    }
}

/// Why a plan could not be run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A field of the plan is out of range.
    #[error("bench plan: `{field}`: {reason}")]
    Field {
        /// The field's name in the event.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The engine refused the plan or could not measure (bad URL, unreachable host).
    #[error(transparent)]
    Bench(#[from] BenchError),
}

/// Runs `plan` on the current tokio runtime and returns its Report: what the function
/// answers for each event.
pub async fn handle(plan: BenchPlan) -> Result<Report, PlanError> {
    let config = plan.to_config()?;
    Ok(latency_bench::run(config).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_studys_event_shape_is_accepted() {
        let plan: BenchPlan =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:8000/hits", "n": 50}"#)
                .expect("plan");
        let config = plan.to_config().expect("config");
        assert_eq!(config.stop, Stop::Requests(50));
        assert_eq!(config.connections, 1);
        assert_eq!(config.counter_check, CounterCheckMode::Auto);
    }

    #[test]
    fn a_misspelt_field_is_an_error() {
        let err = serde_json::from_str::<BenchPlan>(r#"{"url": "http://x/", "requets": 5}"#)
            .expect_err("unknown field");
        assert!(err.to_string().contains("requets"), "{err}");
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let mut plan = BenchPlan::new("http://127.0.0.1:8000/hits");
        plan.duration_s = Some(3600.0);
        let err = plan.to_config().expect_err("too long for Lambda");
        assert!(err.to_string().contains("duration_s"), "{err}");

        let mut plan = BenchPlan::new("http://127.0.0.1:8000/hits");
        plan.requests = Some(0);
        assert!(
            plan.to_config()
                .expect_err("zero")
                .to_string()
                .contains("requests")
        );

        let mut plan = BenchPlan::new("http://127.0.0.1:8000/hits");
        plan.timeout_s = f64::NAN;
        assert!(
            plan.to_config()
                .expect_err("NaN")
                .to_string()
                .contains("timeout_s")
        );
    }

    #[test]
    fn a_plan_round_trips_through_json() {
        let mut plan = BenchPlan::new("http://127.0.0.1:8000/hits");
        plan.requests = Some(250);
        plan.concurrency = 4;
        plan.counter_check = false;
        let text = serde_json::to_string(&plan).expect("serialize");
        assert_eq!(
            serde_json::from_str::<BenchPlan>(&text).expect("parse"),
            plan
        );
    }
}
