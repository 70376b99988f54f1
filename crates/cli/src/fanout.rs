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

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use aws_sdk_lambda::primitives::Blob;
use latency_bench::{
    BenchConfig, Bin, CounterCheck, CounterCheckMode, Distribution, LoadMode, PercentilePoint,
    Report, Stop, Summary, Verdict, Warmup,
};
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
    let client = client(via.endpoint.as_deref()).await;
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
    let mut merged = merge(&reports)?;
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

async fn client(endpoint: Option<&str>) -> aws_sdk_lambda::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
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

// --- merging Reports -----------------------------------------------------------------
//
// TEMPORARY: the `bench` helper is adding the HDR histogram (V2 compressed) to the Report
// and an exact `latency_bench::merge(&[Report]) -> Report` that adds histograms. Replace
// `merge` below by that function once it lands; until then, what can be merged exactly
// from today's Report is merged exactly (counts, min, max, mean, standard deviation, status
// codes, errors, the chart bins, the counter's advance), and the percentiles are read off
// the summed chart bins (10 per decade), which bounds them to a bin, and the merged
// Report's notes say so. Percentiles are never averaged.

/// Merges the Reports of one fanned-out run into one.
pub(crate) fn merge(reports: &[Report]) -> anyhow::Result<Report> {
    let Some(first) = reports.first() else {
        bail!("no Report to merge");
    };
    if reports.len() == 1 {
        return Ok(first.clone());
    }
    if let Some(other) = reports.iter().find(|r| r.target.url != first.target.url) {
        bail!(
            "cannot merge Reports of different URLs: {} and {}",
            first.target.url,
            other.target.url
        );
    }
    let mut merged = first.clone();
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    let sum_opt = |f: fn(&Report) -> Option<u64>| {
        reports
            .iter()
            .map(f)
            .try_fold(0u64, |acc, v| v.map(|v| acc + v))
    };

    let plan = &mut merged.plan;
    plan.connections = reports.iter().map(|r| r.plan.connections).sum();
    plan.rate = reports
        .iter()
        .map(|r| r.plan.rate)
        .try_fold(0.0, |acc, v| v.map(|v| acc + v));
    plan.requests = sum_opt(|r| r.plan.requests);
    plan.warmup_requests = sum_opt(|r| r.plan.warmup_requests);
    if reports.iter().any(|r| r.plan.mode != LoadMode::Closed) {
        plan.mode = LoadMode::Open;
    }

    let results = &mut merged.results;
    results.requests = sum(|r| r.results.requests);
    results.warmup_requests = sum(|r| r.results.warmup_requests);
    results.elapsed_s = reports
        .iter()
        .map(|r| r.results.elapsed_s)
        .fold(0.0, f64::max);
    // The shares run at the same time, so their rates add up.
    results.throughput_rps = reports.iter().map(|r| r.results.throughput_rps).sum();
    results.mean_all_ms = weighted_mean(reports.iter().filter_map(|r| {
        let answered = r.results.latency.as_ref().map_or(0, |s| s.count)
            + u64::from(
                r.results
                    .cold_start
                    .as_ref()
                    .is_some_and(|c| c.latency_ms.is_some()),
            );
        r.results.mean_all_ms.map(|m| (m, answered))
    }));
    let distribution = merge_distributions(reports.iter().map(|r| &r.results.distribution));
    results.latency = merge_summaries(
        reports.iter().map(|r| r.results.latency.as_ref()),
        &distribution,
    );
    // The open loop's uncorrected figures have no chart bins of their own: only their
    // exact parts merge, and the percentiles are left out rather than guessed.
    results.latency_uncorrected = merge_summaries(
        reports
            .iter()
            .map(|r| r.results.latency_uncorrected.as_ref()),
        &Distribution::default(),
    );
    results.status_codes = add_maps(reports.iter().map(|r| &r.results.status_codes));
    results.errors = add_maps(reports.iter().map(|r| &r.results.errors));
    let failed: u64 = results.errors.values().sum();
    results.error_rate = if results.requests == 0 {
        0.0
    } else {
        failed as f64 / results.requests as f64
    };
    results.counter = merge_counters(reports.iter().map(|r| &r.results.counter));
    results.distribution = distribution;

    merged.environment.hostname = format!("{} bench Lambda invocations", reports.len());
    merged.environment.started_at = reports
        .iter()
        .map(|r| r.environment.started_at.clone())
        .min()
        .unwrap_or_default();
    merged.environment.finished_at = reports
        .iter()
        .map(|r| r.environment.finished_at.clone())
        .max()
        .unwrap_or_default();
    merged.function = None;
    merged.cost = None;
    let cold: Vec<String> = reports
        .iter()
        .map(|r| {
            r.results
                .cold_start
                .as_ref()
                .and_then(|c| c.latency_ms)
                .map_or_else(|| "failed".to_owned(), |ms| format!("{ms:.3} ms"))
        })
        .collect();
    merged.notes = reports
        .iter()
        .flat_map(|r| r.notes.iter().cloned())
        .collect();
    merged.notes.dedup();
    merged.notes.push(format!(
        "cold start of the first share shown; every share's first request: {}",
        cold.join(", ")
    ));
    merged.notes.push(
        "percentiles read off the merged 10-per-decade chart bins (within one bin); min, max, \
         mean, stdev and counts are exact"
            .to_owned(),
    );
    Ok(merged)
}

fn weighted_mean(values: impl Iterator<Item = (f64, u64)>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u64), |(s, n), (m, c)| (s + m * c as f64, n + c));
    (n > 0).then(|| sum / n as f64)
}

fn add_maps<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (k, v) in map {
            *total.entry(k.clone()).or_insert(0) += v;
        }
    }
    total
}

/// Counts, min, max and mean merge exactly; the variance too, from each part's mean and
/// variance (the parallel-axis form: Σ nᵢ(σᵢ² + μᵢ²)/N − μ²). Percentiles are read off
/// `distribution`, the merged bins; with no bins the summary is `None` rather than a guess.
fn merge_summaries<'a>(
    parts: impl Iterator<Item = Option<&'a Summary>>,
    distribution: &Distribution,
) -> Option<Summary> {
    let parts: Vec<&Summary> = parts.flatten().filter(|s| s.count > 0).collect();
    let n: u64 = parts.iter().map(|s| s.count).sum();
    if n == 0 {
        return None;
    }
    let mean = weighted_mean(parts.iter().map(|s| (s.mean_ms, s.count)))?;
    let second_moment = parts
        .iter()
        .map(|s| s.count as f64 * (s.stdev_ms * s.stdev_ms + s.mean_ms * s.mean_ms))
        .sum::<f64>()
        / n as f64;
    let min = parts.iter().map(|s| s.min_ms).fold(f64::INFINITY, f64::min);
    let max = parts.iter().map(|s| s.max_ms).fold(0.0, f64::max);
    let at =
        |q: f64| quantile_from_bins(&distribution.bins, q).map_or(f64::NAN, |v| v.clamp(min, max));
    let summary = Summary {
        count: n,
        min_ms: min,
        mean_ms: mean,
        stdev_ms: (second_moment - mean * mean).max(0.0).sqrt(),
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        p99_9_ms: at(0.999),
        max_ms: max,
    };
    // Without bins there is no honest percentile: leave the summary out.
    (!summary.p50_ms.is_nan()).then_some(summary)
}

/// The upper edge of the bin holding the q-quantile, as HDR reports a bucket's upper edge.
fn quantile_from_bins(bins: &[Bin], q: f64) -> Option<f64> {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for bin in bins {
        seen += bin.count;
        if seen >= rank {
            return Some(bin.to_ms);
        }
    }
    bins.last().map(|b| b.to_ms)
}

/// Every Report's bins lie on one grid (10 per decade from 1 µs), so bins with the same
/// lower edge are the same bin and add up exactly.
fn merge_distributions<'a>(parts: impl Iterator<Item = &'a Distribution>) -> Distribution {
    let mut bins: BTreeMap<i64, Bin> = BTreeMap::new();
    let mut percentiles: Vec<f64> = Vec::new();
    for part in parts {
        if percentiles.is_empty() {
            percentiles = part.percentiles.iter().map(|p| p.percentile).collect();
        }
        for bin in &part.bins {
            // The grid index of the bin: its lower edge is 10^(k/10) µs.
            let k = ((bin.from_ms * 1_000.0).log10() * 10.0).round() as i64;
            bins.entry(k)
                .and_modify(|b| b.count += bin.count)
                .or_insert_with(|| bin.clone());
        }
    }
    let bins: Vec<Bin> = bins.into_values().collect();
    let percentiles = percentiles
        .into_iter()
        .filter_map(|p| {
            quantile_from_bins(&bins, p / 100.0).map(|ms| PercentilePoint { percentile: p, ms })
        })
        .collect();
    Distribution { percentiles, bins }
}

/// The counter check across shares. Each share saw only its own values, interleaved with
/// the others', so its own verdict (gaps) means nothing; the union's advance does: if more
/// values came back than the counter advanced (`values > last - first + 1`), some
/// increments were lost, whichever shares saw them.
fn merge_counters<'a>(parts: impl Iterator<Item = &'a CounterCheck>) -> CounterCheck {
    let parts: Vec<&CounterCheck> = parts.collect();
    let mut merged = CounterCheck {
        verdict: Verdict::NotApplicable,
        values: parts.iter().map(|c| c.values).sum(),
        distinct: parts.iter().map(|c| c.distinct).sum(),
        duplicates: parts.iter().map(|c| c.duplicates).sum(),
        gaps: 0,
        lost_updates: 0,
        first: parts.iter().filter_map(|c| c.first).min(),
        last: parts.iter().filter_map(|c| c.last).max(),
        unanswered: parts.iter().map(|c| c.unanswered).sum(),
        non_integer_bodies: parts.iter().map(|c| c.non_integer_bodies).sum(),
        note: String::new(),
    };
    let (Some(first), Some(last)) = (merged.first, merged.last) else {
        merged.note = parts.first().map_or_else(String::new, |c| c.note.clone());
        return merged;
    };
    let advance = last - first + 1;
    merged.lost_updates = merged.values.saturating_sub(advance);
    merged.gaps = advance.saturating_sub(merged.values);
    let incomplete = parts.iter().any(|c| c.verdict == Verdict::Incomplete);
    let (verdict, note) = if merged.lost_updates > 0 || merged.duplicates > 0 {
        (
            Verdict::Fail,
            format!(
                "{} values came back but the counter advanced by {advance}: {} lost updates across {} load generators",
                merged.values,
                merged.lost_updates.max(merged.duplicates),
                parts.len()
            ),
        )
    } else if merged.gaps > merged.unanswered {
        (
            Verdict::Fail,
            format!(
                "the counter advanced by {advance} but only {} values and {} unanswered requests came back: another client, or increments without an answer",
                merged.values, merged.unanswered
            ),
        )
    } else if merged.non_integer_bodies > 0 {
        (
            Verdict::Fail,
            format!("{} 2xx bodies were not integers", merged.non_integer_bodies),
        )
    } else if incomplete {
        (
            Verdict::Incomplete,
            "a share's values were too widely spread to track".to_owned(),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "{} values from {} load generators, the counter advanced by exactly as many ({first}..={last})",
                merged.values,
                parts.len()
            ),
        )
    };
    merged.verdict = verdict;
    merged.note = note;
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Report of `latencies_ms` (the first is the cold start) with counter `values`.
    fn report(latencies_ms: &[f64], values: std::ops::RangeInclusive<u64>) -> Report {
        let warm = &latencies_ms[1..];
        let n = warm.len() as f64;
        let mean = warm.iter().sum::<f64>() / n;
        let var = warm.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let bin_of = |ms: f64| ((ms * 1_000.0).log10() * 10.0).floor() as i64;
        let edge = |k: i64| 10f64.powf(k as f64 / 10.0) / 1_000.0;
        let mut bins: BTreeMap<i64, u64> = BTreeMap::new();
        for &x in warm {
            *bins.entry(bin_of(x)).or_default() += 1;
        }
        let count = values.clone().count() as u64;
        serde_json::from_value(serde_json::json!({
            "schema_version": latency_bench::SCHEMA_VERSION,
            "target": {"label": null, "url": "http://127.0.0.1:1/hits", "method": "GET"},
            "plan": {"mode": "closed", "connections": 2, "rate": null, "requests": latencies_ms.len(),
                     "duration_s": null, "warmup_requests": null, "warmup_s": null, "timeout_s": 10.0,
                     "keepalive": true, "counter_check": "auto"},
            "results": {
                "requests": latencies_ms.len(), "warmup_requests": 0, "elapsed_s": 1.0,
                "throughput_rps": latencies_ms.len() as f64,
                "mean_all_ms": latencies_ms.iter().sum::<f64>() / latencies_ms.len() as f64,
                "latency": {"count": warm.len(), "min_ms": warm.iter().cloned().fold(f64::INFINITY, f64::min),
                            "mean_ms": mean, "stdev_ms": var.sqrt(), "p50_ms": 0.0, "p90_ms": 0.0,
                            "p99_ms": 0.0, "p99_9_ms": 0.0,
                            "max_ms": warm.iter().cloned().fold(0.0, f64::max)},
                "latency_uncorrected": null,
                "cold_start": {"latency_ms": latencies_ms[0], "status": 200, "error": null, "measured": true},
                "status_codes": {"200": latencies_ms.len()}, "errors": {}, "error_rate": 0.0,
                "counter": {"verdict": "fail", "values": count, "distinct": count, "duplicates": 0,
                            "gaps": 0, "lost_updates": 0, "first": values.start(), "last": values.end(),
                            "unanswered": 0, "non_integer_bodies": 0, "note": "gaps"},
                "distribution": {"percentiles": [],
                    "bins": bins.iter().map(|(&k, &c)| serde_json::json!({"from_ms": edge(k), "to_ms": edge(k + 1), "count": c})).collect::<Vec<_>>()}
            },
            "environment": {"hostname": "h", "os": "linux", "arch": "x86_64", "cpu_model": null, "cpus": 2,
                            "tool_version": "0.1.0", "started_at": "2026-01-01T00:00:00.000Z",
                            "finished_at": "2026-01-01T00:00:01.000Z"}
        }))
        .expect("a valid Report")
    }

    #[test]
    fn counts_means_and_deviations_merge_exactly() {
        // Known data: A = {1, 2, 3, 4} ms warm, B = {10, 20} ms warm (after cold starts).
        let a = report(&[50.0, 1.0, 2.0, 3.0, 4.0], 1..=5);
        let b = report(&[60.0, 10.0, 20.0], 6..=8);
        let merged = merge(&[a, b]).expect("merge");
        let all = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0];
        let mean = all.iter().sum::<f64>() / 6.0;
        let stdev = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 6.0).sqrt();
        let s = merged.results.latency.expect("latency");
        assert_eq!(s.count, 6);
        assert!((s.mean_ms - mean).abs() < 1e-9, "{} vs {mean}", s.mean_ms);
        assert!(
            (s.stdev_ms - stdev).abs() < 1e-9,
            "{} vs {stdev}",
            s.stdev_ms
        );
        assert_eq!((s.min_ms, s.max_ms), (1.0, 20.0));
        // The median of the six lies in the bin of 3 ms; p99 in the bin of 20 ms (clamped).
        assert!(s.p50_ms >= 3.0 && s.p50_ms < 3.0 * 1.26, "{}", s.p50_ms);
        assert_eq!(s.p99_ms, 20.0);
        assert_eq!(merged.results.requests, 8);
        assert_eq!(merged.results.status_codes["200"], 8);
        assert_eq!(merged.plan.connections, 4);
        let every = [50.0, 1.0, 2.0, 3.0, 4.0, 60.0, 10.0, 20.0];
        let mean_all = merged.results.mean_all_ms.expect("mean");
        assert!((mean_all - every.iter().sum::<f64>() / 8.0).abs() < 1e-9);
        let bins: u64 = merged
            .results
            .distribution
            .bins
            .iter()
            .map(|b| b.count)
            .sum();
        assert_eq!(bins, 6);
    }

    #[test]
    fn interleaved_shares_pass_the_counter_check_and_overlaps_fail_it() {
        let merged =
            merge(&[report(&[1.0, 1.0], 1..=2), report(&[1.0, 1.0], 3..=4)]).expect("merge");
        assert_eq!(merged.results.counter.verdict, Verdict::Pass);
        // Two shares both saw 3 and 4: four values, an advance of three.
        let merged =
            merge(&[report(&[1.0, 1.0, 1.0], 1..=3), report(&[1.0, 1.0], 3..=4)]).expect("merge");
        let counter = merged.results.counter;
        assert_eq!(counter.verdict, Verdict::Fail, "{}", counter.note);
        assert_eq!(counter.lost_updates, 1);
    }

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

    #[test]
    fn reports_of_different_urls_do_not_merge() {
        let a = report(&[1.0, 1.0], 1..=2);
        let mut b = a.clone();
        b.target.url = "http://127.0.0.1:2/hits".to_owned();
        assert!(merge(&[a, b]).is_err());
    }
}
