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

/// One invocation: the function's result and its REPORT figures.
#[derive(Debug, Clone)]
pub struct InvocationOutcome {
    /// The response payload, or how the invocation failed.
    pub result: Result<Bytes, FunctionError>,
    /// The REPORT figures.
    pub report: InvocationReport,
}

impl InvocationOutcome {
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
