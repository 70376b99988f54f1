//! What `latency queue` measures, computed from what it submitted and what the done
//! counter recorded: the figures of a [`QueueReport`].

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::Completion;

/// The version of [`QueueReport`]'s JSON shape written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// One job as the submitter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The id the producer answered.
    pub id: String,
    /// Seconds the job takes.
    pub x: f64,
    /// When the submit request was sent, ms since the Unix epoch.
    pub submitted_at_ms: u64,
}

/// A queue run's Report, written by `latency queue --json`. Like the bench Report it has a
/// schema version, what was measured, how, and what was seen; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueReport {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// What was measured.
    pub target: QueueTarget,
    /// How it was measured.
    pub plan: QueuePlan,
    /// What was seen.
    pub results: QueueResults,
    /// Remarks that qualify the figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What a queue run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueTarget {
    /// The architecture or other label, if given.
    pub label: Option<String>,
    /// The producer endpoint jobs were POSTed to.
    pub producer_url: String,
    /// The queue backend (`memory`, `amqp`, `sqs`), when the run opened the queue itself.
    pub queue_backend: Option<String>,
    /// The done counter's backend.
    pub done_backend: String,
}

/// How a queue run was driven.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuePlan {
    /// Jobs submitted.
    pub calculations: u64,
    /// x was drawn uniformly from [0, max_x] seconds.
    pub max_x: f64,
    /// The consumers' concurrency the ideal bound assumes.
    pub concurrency: u64,
}

/// What a queue run saw. Times are seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueResults {
    /// From the first submit until the done counter read N (the study's figure).
    pub total_seconds: f64,
    /// From the first submit to the last: jobs cannot start before they are submitted, so
    /// this is part of `total_seconds` that no consumer can save.
    pub submit_seconds: f64,
    /// Jobs per second over `total_seconds`.
    pub throughput_per_second: f64,
    /// Per job, from its submit to its recorded done time: median.
    pub latency_p50_seconds: f64,
    /// Per job, from its submit to its recorded done time: 99th percentile.
    pub latency_p99_seconds: f64,
    /// Most jobs waiting (submitted, not started) at once.
    pub backlog_peak: u64,
    /// The age of the oldest waiting job when the backlog peaked.
    pub oldest_age_at_peak_seconds: f64,
    /// Sum of x.
    pub sum_x_seconds: f64,
    /// max(sum of x / concurrency, max x): no schedule can finish sooner.
    pub ideal_seconds: f64,
    /// `total_seconds / ideal_seconds`.
    pub ratio_to_ideal: f64,
    /// The makespan of a queue with no overhead at all: the same jobs, each available at
    /// its own submit time, taken first-in first-out by `concurrency` consumers
    /// ([`fifo_seconds`]). Above the ideal bound by the packing a FIFO queue cannot avoid
    /// and by the submit time; what the run took beyond it is the queue's own overhead
    /// (polling, batch waits, acks). 0 in Reports written before it existed.
    #[serde(default)]
    pub fifo_seconds: f64,
    /// `total_seconds / fifo_seconds`: the queue system's overhead alone.
    #[serde(default)]
    pub ratio_to_fifo: f64,
    /// Submitted jobs the done counter has no record of (0 in a complete run).
    pub submitted_without_done: u64,
    /// The exactly-once check, read after the consumers stopped (absent in Reports
    /// written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exactly_once: Option<ExactlyOnce>,
}

/// Whether every job of a run was counted exactly once: the counter moved by exactly N,
/// and each of the N submitted ids is recorded. A count above the recorded ids would be
/// a job counted twice (a redelivery that was not absorbed); a missing id, a lost job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactlyOnce {
    /// Jobs submitted (N).
    pub expected: u64,
    /// How far the done counter moved during the run.
    pub counted: u64,
    /// Submitted ids the counter recorded (each at most once: the ids are a set).
    pub recorded: u64,
}

impl ExactlyOnce {
    /// The check of a run that submitted `submitted`, whose counter moved by `counted` and
    /// holds `completions`.
    pub fn check(submitted: &[Submitted], completions: &[Completion], counted: u64) -> Self {
        let ids: std::collections::HashSet<&str> =
            completions.iter().map(|c| c.id.as_str()).collect();
        let mine: std::collections::HashSet<&str> =
            submitted.iter().map(|job| job.id.as_str()).collect();
        Self {
            expected: submitted.len() as u64,
            counted,
            recorded: mine.iter().filter(|id| ids.contains(**id)).count() as u64,
        }
    }

    /// done == N, every id recorded, none counted twice.
    pub fn passed(&self) -> bool {
        self.counted == self.expected && self.recorded == self.expected
    }

    /// One line for a table or a problem list: `200 of 200, once each`, or what is wrong.
    pub fn describe(&self) -> String {
        if self.passed() {
            return format!("{} of {}, once each", self.counted, self.expected);
        }
        let mut wrong = Vec::new();
        if self.recorded < self.expected {
            wrong.push(format!("{} jobs never done", self.expected - self.recorded));
        }
        if self.counted > self.recorded {
            wrong.push(format!(
                "{} counts more than recorded ids (a job counted twice)",
                self.counted - self.recorded
            ));
        }
        if self.counted < self.recorded {
            wrong.push(format!(
                "the counter moved by {} for {} recorded ids",
                self.counted, self.recorded
            ));
        }
        format!(
            "FAILED: done = {} for N = {}: {}",
            self.counted,
            self.expected,
            wrong.join("; ")
        )
    }
}

/// The ideal bound: the work spread perfectly over `concurrency`, or the longest job.
pub fn ideal_seconds(xs: &[f64], concurrency: u64) -> f64 {
    let sum: f64 = xs.iter().sum();
    let longest = xs.iter().copied().fold(0.0, f64::max);
    (sum / concurrency.max(1) as f64).max(longest)
}

/// The makespan, in seconds from the first submit, of first-in first-out list scheduling
/// of `jobs` (submit time in ms since the epoch, x in seconds) on `concurrency` consumers
/// that take a job the moment one is free and the job is there, with no other delay.
pub fn fifo_seconds(jobs: &[(u64, f64)], concurrency: u64) -> f64 {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let Some(first) = jobs.iter().map(|(at, _)| *at).min() else {
        return 0.0;
    };
    let mut order: Vec<(u64, f64)> = jobs.to_vec();
    order.sort_by_key(|(at, _)| *at);
    // When each consumer is next free, in microseconds from the first submit.
    let consumers = concurrency.clamp(1, jobs.len() as u64) as usize;
    let mut free: BinaryHeap<Reverse<u64>> = (0..consumers).map(|_| Reverse(0)).collect();
    let mut makespan = 0;
    for (at, x) in order {
        let Reverse(free_at) = free.pop().unwrap_or(Reverse(0));
        let start = free_at.max((at - first) * 1000);
        let end = start + (x.max(0.0) * 1e6).round() as u64;
        makespan = makespan.max(end);
        free.push(Reverse(end));
    }
    makespan as f64 / 1e6
}

/// The `q`-quantile (0..=1) of `sorted` by the nearest-rank method; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The backlog's peak (jobs submitted and not yet started) and the age in seconds of the
/// oldest waiting job at that moment. A job's start is its done time minus x: the queue
/// cannot tell when a worker took it, and `calc` takes exactly x.
pub fn backlog_peak(jobs: &[(u64, u64)]) -> (u64, f64) {
    // Events: (time, kind, job): kind 1 = submitted (joins the backlog), 0 = started.
    // At equal times starts go first, so the backlog peaks only where jobs really wait; a
    // job started the instant it was submitted never waits at all.
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(jobs.len() * 2);
    for (index, (submitted, started)) in jobs.iter().enumerate() {
        if started > submitted {
            events.push((*submitted, 1, index));
            events.push((*started, 0, index));
        }
    }
    events.sort_unstable();
    let mut waiting: BTreeSet<(u64, usize)> = BTreeSet::new();
    let (mut peak, mut oldest_age_ms) = (0u64, 0u64);
    for (time, kind, index) in events {
        if kind == 1 {
            waiting.insert((jobs[index].0, index));
        } else {
            waiting.remove(&(jobs[index].0, index));
        }
        if waiting.len() as u64 > peak {
            peak = waiting.len() as u64;
            oldest_age_ms = waiting.first().map_or(0, |(submitted, _)| time - submitted);
        }
    }
    (peak, oldest_age_ms as f64 / 1000.0)
}

/// Computes the results of a run: `submitted` jobs, the counter's `completions` (others'
/// ids are ignored), the `total_seconds` the poller saw, and the `concurrency` available.
pub fn results(
    submitted: &[Submitted],
    completions: &[Completion],
    total_seconds: f64,
    concurrency: u64,
) -> QueueResults {
    let done: HashMap<&str, u64> = completions
        .iter()
        .map(|c| (c.id.as_str(), c.done_at_ms))
        .collect();
    let mut latencies = Vec::with_capacity(submitted.len());
    let mut spans = Vec::with_capacity(submitted.len());
    let mut missing = 0;
    for job in submitted {
        match done.get(job.id.as_str()) {
            Some(done_at) => {
                latencies.push(done_at.saturating_sub(job.submitted_at_ms) as f64 / 1000.0);
                let started = done_at.saturating_sub((job.x * 1000.0).round() as u64);
                spans.push((job.submitted_at_ms, started));
            }
            None => missing += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let xs: Vec<f64> = submitted.iter().map(|job| job.x).collect();
    let ideal = ideal_seconds(&xs, concurrency);
    let (peak, oldest) = backlog_peak(&spans);
    let timed: Vec<(u64, f64)> = submitted
        .iter()
        .map(|job| (job.submitted_at_ms, job.x))
        .collect();
    let fifo = fifo_seconds(&timed, concurrency);
    let first = submitted
        .iter()
        .map(|job| job.submitted_at_ms)
        .min()
        .unwrap_or(0);
    let last = submitted
        .iter()
        .map(|job| job.submitted_at_ms)
        .max()
        .unwrap_or(0);
    QueueResults {
        total_seconds,
        submit_seconds: (last - first) as f64 / 1000.0,
        throughput_per_second: if total_seconds > 0.0 {
            submitted.len() as f64 / total_seconds
        } else {
            0.0
        },
        latency_p50_seconds: quantile(&latencies, 0.5),
        latency_p99_seconds: quantile(&latencies, 0.99),
        backlog_peak: peak,
        oldest_age_at_peak_seconds: oldest,
        sum_x_seconds: xs.iter().sum(),
        ideal_seconds: ideal,
        ratio_to_ideal: if ideal > 0.0 {
            total_seconds / ideal
        } else {
            0.0
        },
        fifo_seconds: fifo,
        ratio_to_fifo: if fifo > 0.0 {
            total_seconds / fifo
        } else {
            0.0
        },
        submitted_without_done: missing,
        exactly_once: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ideal_bound_is_the_spread_work_or_the_longest_job() {
        assert_eq!(ideal_seconds(&[1.0, 1.0, 1.0, 1.0], 2), 2.0);
        assert_eq!(ideal_seconds(&[0.1, 1.5, 0.2], 1000), 1.5);
        assert_eq!(ideal_seconds(&[], 10), 0.0);
    }

    #[test]
    fn the_fifo_bound_packs_in_submit_order_from_each_submit() {
        // Two consumers, all jobs there at once: 1 + 1 on one, 1.5 on the other.
        assert_eq!(fifo_seconds(&[(0, 1.0), (0, 1.5), (0, 1.0)], 2), 2.0);
        // A job cannot start before it is submitted (500 ms after the first).
        assert_eq!(fifo_seconds(&[(1000, 0.2), (1500, 1.0)], 10), 1.5);
        // FIFO order, not the best packing: the long job last costs its full length.
        assert_eq!(fifo_seconds(&[(0, 1.0), (0, 1.0), (0, 2.0)], 2), 3.0);
        assert_eq!(fifo_seconds(&[], 4), 0.0);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&sorted, 0.5), 50.0);
        assert_eq!(quantile(&sorted, 0.99), 99.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn the_backlog_peak_and_the_oldest_age_then() {
        // Three jobs submitted at 0, 100, 200 ms; the first starts at 300, the others later.
        let jobs = [(0, 300), (100, 400), (200, 500), (600, 600)];
        assert_eq!(backlog_peak(&jobs), (3, 0.2));
        // A job taken the instant it arrives never waits.
        assert_eq!(backlog_peak(&[(5, 5)]), (0, 0.0));
    }

    #[test]
    fn results_ignore_other_runs_ids_and_count_missing_ones() {
        let submitted = vec![
            Submitted {
                id: "a".into(),
                x: 1.0,
                submitted_at_ms: 1000,
            },
            Submitted {
                id: "b".into(),
                x: 0.5,
                submitted_at_ms: 1000,
            },
        ];
        let completions = vec![
            Completion {
                id: "a".into(),
                done_at_ms: 2500,
            },
            Completion {
                id: "other-run".into(),
                done_at_ms: 9000,
            },
        ];
        let results = results(&submitted, &completions, 2.0, 1);
        assert_eq!(results.submitted_without_done, 1);
        assert_eq!(results.latency_p50_seconds, 1.5);
        assert_eq!(results.ideal_seconds, 1.5);
        assert!((results.ratio_to_ideal - 2.0 / 1.5).abs() < 1e-9);
    }

    #[test]
    fn the_exactly_once_check_names_lost_and_doubled_jobs() {
        let submitted: Vec<Submitted> = ["a", "b"]
            .into_iter()
            .map(|id| Submitted {
                id: id.into(),
                x: 0.0,
                submitted_at_ms: 0,
            })
            .collect();
        let done = |ids: &[&str]| -> Vec<Completion> {
            ids.iter()
                .map(|id| Completion {
                    id: (*id).into(),
                    done_at_ms: 1,
                })
                .collect()
        };
        let good = ExactlyOnce::check(&submitted, &done(&["a", "b", "other"]), 2);
        assert!(good.passed());
        assert_eq!(good.describe(), "2 of 2, once each");
        let doubled = ExactlyOnce::check(&submitted, &done(&["a", "b"]), 3);
        assert!(!doubled.passed());
        assert!(
            doubled.describe().contains("counted twice"),
            "{}",
            doubled.describe()
        );
        let lost = ExactlyOnce::check(&submitted, &done(&["a"]), 1);
        assert!(
            lost.describe().contains("1 jobs never done"),
            "{}",
            lost.describe()
        );
    }
}
