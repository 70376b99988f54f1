//! `latency-platform`: a local stand-in for AWS Lambda and API Gateway.
//!
//! It runs real Lambda runtime binaries as processes, against the published
//! [Runtime API](https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) version
//! 2018-06-01, so unmodified runtime clients work: Rust `lambda_runtime`/`lambda_http`,
//! Python `awslambdaric`, any `provided.al2` bootstrap.
//!
//! - **Runtime API per instance** on its own `127.0.0.1` port: `GET …/invocation/next`
//!   (long-poll with the request id, deadline, function ARN and trace id headers),
//!   `POST …/invocation/{id}/response`, `…/{id}/error` and `…/init/error`.
//! - **An instance pool per function** ([`Platform`]): cold start with Lambda's
//!   environment (init = spawn to the first `/next`), warm reuse of the most recently used
//!   idle instance, scale-out to [`FunctionSpec::max_concurrency`] then FIFO queueing,
//!   idle instances frozen (SIGSTOP) and thawed (SIGCONT) for the next event, evicted after
//!   [`FunctionSpec::idle_timeout`], a timeout per invocation, crashed instances replaced.
//! - **Fronts**: an API Gateway HTTP API (payload 2.0) in front of a function, with an
//!   optional page of the caller's at `GET /` ([`Platform::serve_gateway_with`],
//!   [`GatewayOptions`]), and Lambda's Invoke API for aws-sdk-lambda and the AWS CLI
//!   ([`Platform::serve_invoke_api`]), with Invoke's error types and `LogType=Tail`.
//! - **REPORT figures** per invocation ([`InvocationReport`]): duration, billed duration,
//!   memory size, max memory used, init duration on cold starts; logged as Lambda's
//!   `REPORT` line at DEBUG (tracing target `latency_platform::report`), and summed per
//!   function ([`Platform::totals`], [`FunctionTotals::summary_line`]).
//! - **The cloud's CPU budget** ([`CpuBudget`], module [`cgroup`]): a CFS quota of
//!   `memory / 1769` vCPU per 20 ms period (cgroup v1 or v2) and a memory limit per
//!   instance, with a full vCPU during init as Lambda gives on-demand instances
//!   ([`FunctionSpec::init_cpu_burst`]); each instance weighs as one process against the
//!   rest of the machine; where cgroups are not writable everything runs unthrottled and
//!   [`Platform::throttling`] says so.
//! - **Prewarming** ([`Platform::prewarm`]): idle instances started ahead of a burst, for
//!   machines with too few cores to initialise many runtimes at once.
//! - **No orphans** (module [`process`]): instances die with the platform, even when it
//!   is killed with SIGKILL, frozen or not.
//!
//! Not implemented: the Extensions and Telemetry APIs, SnapStart (`/restore/next`),
//! versions and aliases (everything is `$LATEST`), response streaming.
//!
//! ```no_run
//! # async fn demo() -> Result<(), latency_platform::PlatformError> {
//! use latency_platform::{FunctionSpec, Platform};
//! let platform = Platform::start(vec![FunctionSpec::new("hits", "/path/to/bootstrap")])?;
//! let outcome = platform.invoke("hits", bytes::Bytes::from_static(b"{}")).await?;
//! println!("{}", outcome.report.line());
//! platform.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod body;
pub mod cgroup;
mod environment;
mod error;
mod front;
mod gateway;
mod handoff;
mod instance;
mod invoke_api;
mod outcome;
mod platform;
pub mod process;
mod runtime_api;
mod spec;
pub mod sqs_source;
mod util;

pub use cgroup::Throttling;
pub use error::PlatformError;
pub use front::FrontServer;
pub use gateway::{GatewayOptions, gateway_router};
pub use invoke_api::invoke_router;
pub use outcome::{ErrorCause, FunctionError, FunctionTotals, InvocationOutcome, InvocationReport};
pub use platform::{AsyncRetry, InstanceInfo, InvokeOptions, Platform, PlatformHandle};
pub use spec::{
    CpuBudget, FunctionSpec, InstanceEvent, InstanceObserver, InvocationObserver, PlatformConfig,
};
