//! `latency bench --via-lambda FUNCTION [--fanout K]`: the bench run from inside the region.
//!
//! The original study measured each architecture from outside the region (`latency.py`)
//! and again from a Lambda function in the region (`lambda-latency.py`). Here the bench
//! Lambda is `latency-lambda-bench` (crates/lambda-bench, deployed by
//! deploy/terraform/modules/bench-lambda): it runs the same engine as `latency bench` on
//! the plan it is given and returns the JSON Report.
//!
//! With `--fanout K`, K invocations run at once, each driving 1/K of the load (requests,
//! connections and rate are divided; a duration applies to each), and their K Reports are
//! merged into one. One load generator tops out at what its vCPUs can send; K of them
//! measure an endpoint at K times that.

use anyhow::{Context as _, bail};
use aws_sdk_lambda::primitives::Blob;
use latency_bench::{BenchConfig, CounterCheckMode, Report, Stop, Warmup};
use latency_lambda_bench::BenchPlan;

/// The most invocations one `--fanout` may start: the bench Lambda's reserved concurrency
/// in deploy/terraform/modules/bench-lambda.
pub(crate) const MAX_FANOUT: usize = 50;

/// Where and how to invoke the bench Lambda.
#[derive(Debug, Clone)]
pub(crate) struct Via {
    /// Function name or ARN.
    pub function: String,
    /// Number of invocations at once, 1 to [`MAX_FANOUT`].
    pub fanout: usize,
    /// The Lambda API endpoint, when not AWS's own (a local function platform's Invoke
    /// API); credentials and region still come from the standard chain.
    pub endpoint: Option<String>,
    /// The region of the function, when the caller knows it (`latency cloud`); `None`
    /// takes the standard AWS configuration's.
    pub region: Option<String>,
}

/// Runs `config` through the bench Lambda and returns the (merged) Report.
pub(crate) async fn run(config: &BenchConfig, via: &Via) -> anyhow::Result<Report> {
    if via.fanout == 0 || via.fanout > MAX_FANOUT {
        bail!(
            "--fanout must be from 1 to {MAX_FANOUT} (the bench Lambda's reserved concurrency), not {}",
            via.fanout
        );
    }
    let plans = shares(config, via.fanout)?;
    let client = client(via.endpoint.as_deref(), via.region.as_deref()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, plan) in plans.into_iter().enumerate() {
        let client = client.clone();
        let function = via.function.clone();
        tasks.spawn(async move { (index, invoke(&client, &function, &plan).await) });
    }
    let mut reports: Vec<Option<Report>> = vec![None; via.fanout];
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) = joined.context("an invocation task panicked")?;
        match outcome {
            Ok(report) => reports[index] = Some(report),
            Err(err) => failures.push(format!(
                "invocation {} of {}: {err:#}",
                index + 1,
                via.fanout
            )),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        bail!(
            "the bench Lambda `{}` failed: {}",
            via.function,
            failures.join("; ")
        );
    }
    let reports: Vec<Report> = reports.into_iter().flatten().collect();
    // Histograms are added (HdrHistogram V2 in every Report), so the merged percentiles
    // are those of all latencies together; the counter check is redone over the union.
    let mut merged =
        Report::merge(&reports, &[]).context("cannot merge the bench Lambda's Reports")?;
    if via.fanout > 1 {
        merged.notes.push(format!(
            "measured by {} invocations of the bench Lambda `{}` at once, each with 1/{} of the load; Reports merged",
            via.fanout, via.function, via.fanout
        ));
    } else {
        merged
            .notes
            .push(format!("measured by the bench Lambda `{}`", via.function));
    }
    Ok(merged)
}

async fn client(endpoint: Option<&str>, region: Option<&str>) -> aws_sdk_lambda::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    aws_sdk_lambda::Client::new(&shared)
}

async fn invoke(
    client: &aws_sdk_lambda::Client,
    function: &str,
    plan: &BenchPlan,
) -> anyhow::Result<Report> {
    let payload = serde_json::to_vec(plan).context("cannot encode the bench plan")?;
    let output = client
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    let body = output.payload().map(|b| b.as_ref()).unwrap_or_default();
    if let Some(kind) = output.function_error() {
        // Lambda's error payload: {"errorType": ..., "errorMessage": ...}.
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        bail!("function error ({kind}): {message}");
    }
    serde_json::from_slice(body).context("the bench Lambda did not answer a Report")
}

/// The K plans of a fanned-out run: requests, connections, rate and warm-up requests are
/// divided as evenly as whole numbers allow (the first shares take the remainder); a
/// duration applies to every share.
pub(crate) fn shares(config: &BenchConfig, k: usize) -> anyhow::Result<Vec<BenchPlan>> {
    let k64 = k as u64;
    if let Stop::Requests(n) = config.stop
        && n < k64
    {
        bail!("--fanout {k} needs at least {k} requests, one per invocation (asked for {n})");
    }
    let split = |total: u64, i: u64| total / k64 + u64::from(i < total % k64);
    Ok((0..k64)
        .map(|i| {
            let mut plan = BenchPlan::new(config.url.as_str());
            match config.stop {
                Stop::Requests(n) => plan.requests = Some(split(n, i)),
                Stop::Duration(d) => plan.duration_s = Some(d.as_secs_f64()),
            }
            // At least one connection each: C below K runs K connections in all.
            plan.concurrency = (split(config.connections as u64, i) as usize).max(1);
            plan.rate = config.rate.map(|r| r / k as f64);
            match config.warmup {
                Warmup::None => {}
                Warmup::Requests(n) => plan.warmup_requests = split(n, i),
                Warmup::Duration(d) => plan.warmup_s = Some(d.as_secs_f64()),
            }
            plan.timeout_s = config.timeout.as_secs_f64();
            plan.keepalive = config.keepalive;
            // Every share checks its values; `merge` then checks the union's advance.
            plan.counter_check = config.counter_check == CounterCheckMode::Auto;
            plan.label = config.label.clone();
            plan
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_divide_the_load_and_keep_the_total() {
        let mut config = BenchConfig::new("http://127.0.0.1:8000/hits").expect("config");
        config.stop = Stop::Requests(1003);
        config.connections = 6;
        config.rate = Some(400.0);
        let plans = shares(&config, 4).expect("shares");
        assert_eq!(
            plans.iter().map(|p| p.requests.unwrap_or(0)).sum::<u64>(),
            1003
        );
        assert_eq!(plans.iter().map(|p| p.concurrency).sum::<usize>(), 6);
        assert!(plans.iter().all(|p| p.rate == Some(100.0)));
        config.stop = Stop::Requests(3);
        assert!(shares(&config, 4).is_err());
    }
}
