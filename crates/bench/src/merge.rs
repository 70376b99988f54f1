//! Merging the Reports of shards of one run (`latency report --merge`, `--fanout`):
//! histograms are added, never percentiles averaged.

use std::collections::BTreeMap;
use std::path::Path;

use crate::counter::CounterCheck;
use crate::report::{LoadMode, Results};
use crate::stats::Recorder;
use crate::{BenchError, Report, Verdict};

impl Report {
    /// One Report for several shards of one run: the same URL measured at the same
    /// time by several machines or processes, each with its share of the load.
    ///
    /// What is exact: counts, statuses, errors, min, max, and every percentile (the HDR
    /// histograms are added, as HdrHistogram's `add` does, so a merged p99 is the p99 of
    /// all latencies, to the histogram's 0.1 % resolution). The mean and stdev follow
    /// exactly from each shard's count, mean and stdev. Throughput is the sum of the
    /// shards' (they ran at once); elapsed time is the longest shard's. Connections,
    /// rates and request counts are summed. The cold start is the first Report's; the
    /// environment the first's, with the earliest start and the latest finish. The
    /// counter check combines the shards' ranges: more distinct values than the range
    /// holds are duplicates across shards; gaps beyond the unanswered requests fail it.
    ///
    /// `paths` name the Reports in errors, in the same order.
    ///
    /// # Errors
    /// [`BenchError::InvalidReport`] naming the Report that cannot be merged: none
    /// given; another URL or load mode than the first; or answered requests but no
    /// histogram (a version-1 Report), or a histogram that does not decode.
    pub fn merge(reports: &[Report], paths: &[&Path]) -> Result<Report, BenchError> {
        let path_of = |i: usize| paths.get(i).copied().unwrap_or(Path::new("-"));
        let invalid = |i: usize, reason: String| BenchError::InvalidReport {
            path: path_of(i).to_owned(),
            reason,
        };
        let Some(first) = reports.first() else {
            return Err(invalid(0, "no Report to merge".to_owned()));
        };
        let mut latency = Recorder::default();
        let mut uncorrected = Recorder::default();
        for (i, r) in reports.iter().enumerate() {
            if r.target.url != first.target.url {
                return Err(invalid(
                    i,
                    format!(
                        "it measured {}, not {}: only shards of one run merge",
                        r.target.url, first.target.url
                    ),
                ));
            }
            if r.plan.mode != first.plan.mode {
                return Err(invalid(
                    i,
                    "its load model (open or closed loop) differs from the first Report's"
                        .to_owned(),
                ));
            }
            let pairs = [
                (
                    &r.results.latency,
                    &r.results.latency_histogram,
                    &mut latency,
                ),
                (
                    &r.results.latency_uncorrected,
                    &r.results.latency_uncorrected_histogram,
                    &mut uncorrected,
                ),
            ];
            for (summary, histogram, into) in pairs {
                match (summary, histogram) {
                    (None, _) => {}
                    (Some(s), Some(h)) => {
                        into.merge(&Recorder::decode(h, s).map_err(|e| invalid(i, e))?)
                    }
                    (Some(_), None) => {
                        return Err(invalid(
                            i,
                            format!(
                                "it has no latency histogram (schema version {}); only \
                                 Reports of version {} or later merge exactly",
                                r.schema_version,
                                crate::SCHEMA_VERSION
                            ),
                        ));
                    }
                }
            }
        }
        Ok(combine(reports, first, &latency, &uncorrected))
    }
}

fn combine(
    reports: &[Report],
    first: &Report,
    latency: &Recorder,
    uncorrected: &Recorder,
) -> Report {
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    let all_some = |f: fn(&Report) -> Option<f64>| -> Option<f64> {
        reports.iter().map(f).sum::<Option<f64>>()
    };
    let mut status_codes = BTreeMap::<String, u64>::new();
    let mut errors = BTreeMap::<String, u64>::new();
    for r in reports {
        for (k, v) in &r.results.status_codes {
            *status_codes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.results.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
    }
    let requests = sum(|r| r.results.requests);
    let error_count: u64 = errors.values().sum();
    // The study's mean over every answered measured request, weighted by how many each
    // shard answered.
    let answered = |r: &Report| {
        r.results.latency.as_ref().map_or(0, |s| s.count)
            + u64::from(
                r.results
                    .cold_start
                    .as_ref()
                    .is_some_and(|c| c.measured && c.latency_ms.is_some()),
            )
    };
    let total_answered: u64 = reports.iter().map(answered).sum();
    let mean_all_ms = (total_answered > 0).then(|| {
        reports
            .iter()
            .filter_map(|r| Some(r.results.mean_all_ms? * answered(r) as f64))
            .sum::<f64>()
            / total_answered as f64
    });

    let mut merged = first.clone();
    merged.plan.connections = reports.iter().map(|r| r.plan.connections).sum();
    merged.plan.rate = all_some(|r| r.plan.rate);
    merged.plan.requests = reports.iter().map(|r| r.plan.requests).sum();
    merged.plan.duration_s = reports
        .iter()
        .filter_map(|r| r.plan.duration_s)
        .reduce(f64::max);
    merged.plan.warmup_requests = reports.iter().map(|r| r.plan.warmup_requests).sum();
    merged.results = Results {
        requests,
        warmup_requests: sum(|r| r.results.warmup_requests),
        elapsed_s: reports
            .iter()
            .map(|r| r.results.elapsed_s)
            .fold(0.0, f64::max),
        throughput_rps: reports.iter().map(|r| r.results.throughput_rps).sum(),
        mean_all_ms,
        latency: latency.summary(),
        latency_uncorrected: if first.plan.mode == LoadMode::Open {
            uncorrected.summary()
        } else {
            None
        },
        cold_start: first.results.cold_start.clone(),
        status_codes,
        errors,
        error_rate: if requests > 0 {
            error_count as f64 / requests as f64
        } else {
            0.0
        },
        counter: combined_counter(reports.iter().map(|r| &r.results.counter)),
        distribution: latency.distribution(),
        latency_histogram: latency.encode(),
        latency_uncorrected_histogram: if first.plan.mode == LoadMode::Open {
            uncorrected.encode()
        } else {
            None
        },
    };
    merged.schema_version = crate::SCHEMA_VERSION;
    if let Some(start) = reports.iter().map(|r| &r.environment.started_at).min() {
        merged.environment.started_at = start.clone();
    }
    if let Some(end) = reports.iter().map(|r| &r.environment.finished_at).max() {
        merged.environment.finished_at = end.clone();
    }
    merged.function = None;
    merged.cost = None;
    merged.notes = reports
        .iter()
        .flat_map(|r| r.notes.iter().cloned())
        .take(crate::MAX_NOTES - 1)
        .collect();
    merged.notes.dedup();
    let hosts: std::collections::BTreeSet<&str> = reports
        .iter()
        .map(|r| r.environment.hostname.as_str())
        .collect();
    merged.notes.push(format!(
        "merged from {} Reports measured on {} host{}; the cold start is the first Report's",
        reports.len(),
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" }
    ));
    merged
}

/// The counter check of shards that shared one counter, from their ranges alone.
fn combined_counter<'a>(checks: impl Iterator<Item = &'a CounterCheck>) -> CounterCheck {
    let checks: Vec<&CounterCheck> = checks.collect();
    let mut out = CounterCheck {
        verdict: Verdict::NotApplicable,
        values: checks.iter().map(|c| c.values).sum(),
        distinct: checks.iter().map(|c| c.distinct).sum(),
        duplicates: checks.iter().map(|c| c.duplicates).sum(),
        gaps: 0,
        lost_updates: 0,
        first: checks.iter().filter_map(|c| c.first).min(),
        last: checks.iter().filter_map(|c| c.last).max(),
        unanswered: checks.iter().map(|c| c.unanswered).sum(),
        non_integer_bodies: checks.iter().map(|c| c.non_integer_bodies).sum(),
        note: String::new(),
    };
    let worst = |v: Verdict| checks.iter().any(|c| c.verdict == v);
    if worst(Verdict::Incomplete) || worst(Verdict::NotApplicable) {
        out.verdict = if worst(Verdict::Incomplete) {
            Verdict::Incomplete
        } else {
            Verdict::NotApplicable
        };
        out.note =
            "not every shard's counter was checked; the merged check is not possible".to_owned();
        return out;
    }
    let (Some(first), Some(last)) = (out.first, out.last) else {
        out.note = "no shard received a counter value".to_owned();
        return out;
    };
    let range = last - first + 1;
    // Values are distinct within each shard; more of them than the range holds means
    // some were received by two shards.
    let across = out.distinct.saturating_sub(range);
    out.duplicates += across;
    out.distinct -= across;
    out.gaps = range - out.distinct;
    out.lost_updates = out.values.saturating_sub(range);
    // A shard's own verdict is not carried over: shards of one run share the counter, so
    // each one alone sees the others' values as gaps. Only the union decides.
    let failed = out.duplicates > 0 || out.gaps > out.unanswered;
    out.verdict = if failed { Verdict::Fail } else { Verdict::Pass };
    out.note = format!(
        "merged over {} shards: {} distinct values in {first}..={last}, {} duplicate{}, {} gap{} \
         ({} requests got no value)",
        checks.len(),
        out.distinct,
        out.duplicates,
        if out.duplicates == 1 { "" } else { "s" },
        out.gaps,
        if out.gaps == 1 { "" } else { "s" },
        out.unanswered
    );
    out
}
