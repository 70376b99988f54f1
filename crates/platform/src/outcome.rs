//! What an invocation returns: the function's result, and Lambda's REPORT figures.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

/// Lambda's REPORT line for one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvocationReport {
    /// The request id.
    pub request_id: String,
    /// The function name.
    pub function: String,
    /// Which instance served it (a per-platform counter) and its process id.
    pub instance: u64,
    /// The instance's process id.
    pub pid: u32,
    /// `true` when this invocation started a new instance.
    pub cold_start: bool,
    /// Spawn to the first `/next`: present on cold starts only.
    pub init_duration: Option<Duration>,
    /// Event hand-off to the function's response (or error, crash, timeout).
    pub duration: Duration,
    /// `duration` rounded up to the next millisecond, as Lambda bills.
    pub billed_duration_ms: u64,
    /// The configured memory size.
    pub memory_size_mb: u32,
    /// The instance's peak resident memory (`VmHWM`), rounded up to MB; `None` when the
    /// process was already gone.
    pub max_memory_used_mb: Option<u64>,
}

impl InvocationReport {
    /// The line Lambda writes to CloudWatch, e.g.
    /// `REPORT RequestId: … Duration: 1.23 ms Billed Duration: 2 ms Memory Size: 128 MB
    /// Max Memory Used: 9 MB Init Duration: 4.56 ms` (tab-separated).
    pub fn line(&self) -> String {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            ms(self.duration),
            self.billed_duration_ms,
            self.memory_size_mb,
            self.max_memory_used_mb
                .map_or_else(|| "?".to_owned(), |mb| mb.to_string()),
        );
        if let Some(init) = self.init_duration {
            line.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
        }
        line
    }
}

/// Per-function totals over many invocations: what a lab row prints as its one summary
/// line. Built only by adding [`InvocationReport`]s, so it always agrees with them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionTotals {
    /// How many invocations were added.
    pub invocations: u64,
    /// How many of them started a new instance.
    pub cold_starts: u64,
    /// The sum of their billed durations, ms.
    pub billed_ms_total: u64,
    /// The sum of the cold starts' init durations.
    pub init_total: Duration,
    /// The largest `Max Memory Used` seen, MB (`None` until one was read).
    pub max_memory_used_mb: Option<u64>,
}

impl FunctionTotals {
    /// Totals over `reports`.
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a InvocationReport>) -> FunctionTotals {
        let mut totals = FunctionTotals::default();
        for report in reports {
            totals.add(report);
        }
        totals
    }

    /// Counts one more invocation.
    pub fn add(&mut self, report: &InvocationReport) {
        self.invocations += 1;
        self.billed_ms_total = self
            .billed_ms_total
            .saturating_add(report.billed_duration_ms);
        if let Some(init) = report.init_duration {
            self.cold_starts += 1;
            self.init_total += init;
        }
        if let Some(mb) = report.max_memory_used_mb {
            self.max_memory_used_mb = Some(self.max_memory_used_mb.map_or(mb, |m| m.max(mb)));
        }
    }

    /// The mean billed duration, ms, or `None` before the first invocation.
    pub fn mean_billed_ms(&self) -> Option<f64> {
        (self.invocations > 0).then(|| self.billed_ms_total as f64 / self.invocations as f64)
    }

    /// The mean init duration of the cold starts, or `None` without a cold start.
    pub fn mean_init(&self) -> Option<Duration> {
        u32::try_from(self.cold_starts)
            .ok()
            .filter(|n| *n > 0)
            .map(|n| self.init_total / n)
    }

    /// One line, e.g. `1200 invocations, 3 cold starts (mean init 14.20 ms), mean billed
    /// duration 2.41 ms, max memory 14 MB`.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "{} invocations, {} cold starts",
            self.invocations, self.cold_starts
        );
        if let Some(init) = self.mean_init() {
            line.push_str(&format!(" (mean init {:.2} ms)", ms(init)));
        }
        if let Some(billed) = self.mean_billed_ms() {
            line.push_str(&format!(", mean billed duration {billed:.2} ms"));
        }
        if let Some(mb) = self.max_memory_used_mb {
            line.push_str(&format!(", max memory {mb} MB"));
        }
        line
    }
}

impl fmt::Display for InvocationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Milliseconds, rounded up (Lambda bills in 1 ms steps).
pub(crate) fn billed_ms(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    nanos.div_ceil(1_000_000).try_into().unwrap_or(u64::MAX)
}

/// Why an invocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorCause {
    /// The function reported an error (`POST /runtime/invocation/{id}/error`).
    Function,
    /// The invocation outlived the function's timeout; the instance was killed.
    Timeout,
    /// The process exited while the invocation was in flight.
    ProcessExit,
    /// The function's response was over Lambda's 6 MB limit
    /// (`Function.ResponseSizeTooLarge`). Runtime clients treat the 413 they get as fatal
    /// and exit, so the instance is replaced.
    ResponseTooLarge,
    /// Init failed: `POST /runtime/init/error`, an exit before the first `/next`, or the
    /// init timeout.
    Init,
}

/// A failed invocation, as Lambda's Invoke API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// Why it failed.
    pub cause: ErrorCause,
    /// Lambda's `errorType`, e.g. `Runtime.ExitError`, `Sandbox.Timedout`.
    pub error_type: String,
    /// Lambda's `errorMessage`, e.g. `Task timed out after 3.00 seconds`.
    pub error_message: String,
    /// The JSON body Invoke returns (`{"errorMessage":…,"errorType":…}`); for
    /// [`ErrorCause::Function`] the body the function posted.
    pub body: Bytes,
}

impl FunctionError {
    pub(crate) fn new(
        cause: ErrorCause,
        error_type: impl Into<String>,
        error_message: impl Into<String>,
    ) -> FunctionError {
        let error_type = error_type.into();
        let error_message = error_message.into();
        let body = serde_json::json!({
            "errorMessage": error_message,
            "errorType": error_type,
        })
        .to_string();
        FunctionError {
            cause,
            error_type,
            error_message,
            body: Bytes::from(body),
        }
    }

    /// An error the function posted: takes type and message from its JSON body where
    /// present, falling back to the `Lambda-Runtime-Function-Error-Type` header.
    pub(crate) fn from_function(header_type: Option<&str>, body: Bytes) -> FunctionError {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let error_type = field("errorType")
            .or_else(|| header_type.map(str::to_owned))
            .unwrap_or_else(|| "Unhandled".to_owned());
        let error_message = field("errorMessage").unwrap_or_default();
        let body = if parsed.is_some() {
            body
        } else {
            FunctionError::new(ErrorCause::Function, &error_type, &error_message).body
        };
        FunctionError {
            cause: ErrorCause::Function,
            error_type,
            error_message,
            body,
        }
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// One invocation: the function's result, its REPORT figures and its output.
#[derive(Debug, Clone)]
pub struct InvocationOutcome {
    /// The response payload, or how the invocation failed.
    pub result: Result<Bytes, FunctionError>,
    /// The REPORT figures.
    pub report: InvocationReport,
    /// The last 64 KB of what the function wrote to stdout and stderr during the
    /// invocation (lines still in flight when its response arrived are not included); for
    /// a failed init, what it wrote during init. Lines are at most 256 KiB: longer ones
    /// arrive cut into pieces.
    pub logs: Bytes,
}

impl InvocationOutcome {
    /// The invocation's log as Lambda's `LogType=Tail` returns it: `START`, the
    /// function's output, `END` and `REPORT` lines, cut to the last 4 KB.
    pub fn log_tail(&self) -> Bytes {
        let id = self.request_id();
        let mut log = format!("START RequestId: {id} Version: $LATEST\n").into_bytes();
        log.extend_from_slice(&self.logs);
        log.extend_from_slice(format!("END RequestId: {id}\n{}\n", self.report.line()).as_bytes());
        let cut = log.len().saturating_sub(crate::handoff::LOG_TAIL_BYTES);
        Bytes::from(log).slice(cut..)
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.report.request_id
    }

    /// `true` when the function answered without error.
    pub fn is_success(&self) -> bool {
        self.result.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000)), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001)), 2);
        assert_eq!(billed_ms(Duration::ZERO), 0);
    }

    #[test]
    fn report_line_has_lambdas_fields() {
        let report = InvocationReport {
            request_id: "r1".into(),
            function: "f".into(),
            instance: 1,
            pid: 7,
            cold_start: true,
            init_duration: Some(Duration::from_micros(4560)),
            duration: Duration::from_micros(1234),
            billed_duration_ms: 2,
            memory_size_mb: 128,
            max_memory_used_mb: Some(9),
        };
        assert_eq!(
            report.line(),
            "REPORT RequestId: r1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB\tInit Duration: 4.56 ms"
        );
    }

    #[test]
    fn totals_add_up_reports() {
        let report = |billed, init: Option<u64>, memory| InvocationReport {
            request_id: "r".into(),
            function: "f".into(),
            instance: 1,
            pid: 7,
            cold_start: init.is_some(),
            init_duration: init.map(Duration::from_millis),
            duration: Duration::from_millis(billed),
            billed_duration_ms: billed,
            memory_size_mb: 128,
            max_memory_used_mb: memory,
        };
        let reports = [
            report(3, Some(10), Some(9)),
            report(1, None, Some(12)),
            report(2, Some(20), None),
        ];
        let totals = FunctionTotals::of(&reports);
        assert_eq!(totals.invocations, 3);
        assert_eq!(totals.cold_starts, 2);
        assert_eq!(totals.mean_billed_ms(), Some(2.0));
        assert_eq!(totals.mean_init(), Some(Duration::from_millis(15)));
        assert_eq!(totals.max_memory_used_mb, Some(12));
        assert_eq!(
            totals.summary_line(),
            "3 invocations, 2 cold starts (mean init 15.00 ms), mean billed duration 2.00 ms, max memory 12 MB"
        );
        assert_eq!(
            FunctionTotals::default().summary_line(),
            "0 invocations, 0 cold starts"
        );
    }

    #[test]
    fn log_tail_keeps_the_last_4_kb_with_report() {
        let report = InvocationReport {
            request_id: "r1".into(),
            function: "f".into(),
            instance: 1,
            pid: 7,
            cold_start: false,
            init_duration: None,
            duration: Duration::from_millis(1),
            billed_duration_ms: 1,
            memory_size_mb: 128,
            max_memory_used_mb: Some(9),
        };
        let outcome = InvocationOutcome {
            result: Ok(Bytes::new()),
            logs: Bytes::from("x".repeat(10_000)),
            report,
        };
        let tail = outcome.log_tail();
        assert_eq!(tail.len(), 4096);
        let text = String::from_utf8(tail.to_vec()).expect("utf-8");
        assert!(text.ends_with("Max Memory Used: 9 MB\n"), "{text}");
        assert!(text.contains("END RequestId: r1\n"));
        assert!(!text.contains("START"), "cut at the front");
    }

    #[test]
    fn function_error_body_falls_back_to_header() {
        let err = FunctionError::from_function(Some("Custom"), Bytes::from_static(b"oops"));
        assert_eq!(err.error_type, "Custom");
        let err = FunctionError::from_function(
            None,
            Bytes::from_static(br#"{"errorType":"E","errorMessage":"m"}"#),
        );
        assert_eq!(
            (err.error_type.as_str(), err.error_message.as_str()),
            ("E", "m")
        );
    }
}
