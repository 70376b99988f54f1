//! One measured queue run, shared by `latency queue` and the lab's queue rows: draw the x
//! values, submit every job, poll the done counter until it has counted them all, then
//! compute the [`QueueResults`] and the exactly-once check.
//!
//! How a job is submitted is the caller's: `latency queue` POSTs to a producer endpoint,
//! the lab sends through the queue library. Everything else is here, once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::report::{ExactlyOnce, QueueResults, Submitted, results};
use crate::{QueueError, SharedDoneCounter, now_ms};

/// What one run submits and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// Jobs to submit.
    pub calculations: u64,
    /// x is drawn uniformly from [0, max_x] seconds.
    pub max_x: f64,
    /// The consumers' concurrency: the ideal bound's divisor.
    pub concurrency: u64,
    /// Submits in flight at once.
    pub submitters: usize,
    /// Give up when the count has not reached `calculations` after this long.
    pub timeout: Duration,
    /// Seed of the x values (the same seed draws the same x values).
    pub seed: Option<u64>,
    /// How often the done counter is read while waiting (the study polled its counter).
    pub poll: Duration,
}

impl RunPlan {
    /// The poll interval `latency queue` and the lab use. The makespan is read late by up
    /// to one interval (half on average); 20 ms keeps that small against runs of seconds,
    /// and a counter read is one cheap call (Redis `GET`, DynamoDB `GetItem`).
    pub const POLL: Duration = Duration::from_millis(20);

    /// The x values of this plan: `calculations` draws, uniform in [0, max_x].
    pub fn xs(&self) -> Vec<f64> {
        let mut rng = self
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        (0..self.calculations)
            .map(|_| rng.f64() * self.max_x)
            .collect()
    }
}

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// A job could not be submitted: a run with a missing job would never reach N.
    #[error("submitting a job failed: {0}")]
    Submit(String),
    /// The done counter could not be read.
    #[error("cannot read the done counter: {0}")]
    Done(#[from] QueueError),
    /// The count did not reach N in time.
    #[error("timed out after {after:?}: the done counter counted {counted} of {expected} jobs")]
    TimedOut {
        /// The plan's timeout.
        after: Duration,
        /// Jobs counted when it gave up.
        counted: u64,
        /// Jobs submitted.
        expected: u64,
    },
}

/// What the waiting saw, before the consumers were stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Waited {
    /// Every job, as submitted.
    pub submitted: Vec<Submitted>,
    /// From the first submit until the poller read N.
    pub total_seconds: f64,
    /// The count before the first submit (the counter may be shared with earlier runs).
    pub baseline: u64,
}

/// Progress while waiting: jobs counted so far, and whether every job is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitProgress {
    /// Jobs counted by the done counter in this run.
    pub done: u64,
    /// Whether every job has been submitted.
    pub all_submitted: bool,
}

/// Submits every job of `plan` with `submit` (which answers the job's id), `submitters` at
/// once, while polling `done` every [`RunPlan::poll`] until it has counted them all;
/// `on_progress` sees each poll. Fails on the first refused job, a counter error, or the
/// timeout.
pub async fn submit_and_wait<F, Fut>(
    plan: &RunPlan,
    done: &SharedDoneCounter,
    submit: F,
    mut on_progress: impl FnMut(WaitProgress),
) -> Result<Waited, MeasureError>
where
    F: Fn(f64) -> Fut,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    let baseline = done.count().await?;
    let xs = plan.xs();
    let started = Instant::now();
    let deadline = started + plan.timeout;
    let mut submitting = std::pin::pin!(submit_all(xs, plan.submitters, submit));
    let mut submitted: Option<Vec<Submitted>> = None;
    loop {
        let counted = done.count().await?.saturating_sub(baseline);
        on_progress(WaitProgress {
            done: counted.min(plan.calculations),
            all_submitted: submitted.is_some(),
        });
        if counted >= plan.calculations && submitted.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(MeasureError::TimedOut {
                after: plan.timeout,
                counted,
                expected: plan.calculations,
            });
        }
        let pause = tokio::time::sleep(plan.poll);
        if submitted.is_none() {
            tokio::select! {
                result = &mut submitting => {
                    submitted = Some(result.map_err(MeasureError::Submit)?);
                    // Read the count again at once: the last jobs may be done already.
                    continue;
                }
                () = pause => {}
            }
        } else {
            pause.await;
        }
    }
    Ok(Waited {
        submitted: submitted.unwrap_or_default(),
        total_seconds: started.elapsed().as_secs_f64(),
        baseline,
    })
}

/// Runs `submit` once per x, `submitters` at a time, timing each submit; fails on the
/// first refused job.
pub async fn submit_all<F, Fut>(
    xs: Vec<f64>,
    submitters: usize,
    submit: F,
) -> Result<Vec<Submitted>, String>
where
    F: Fn(f64) -> Fut,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(submitters.max(1)));
    let mut tasks = JoinSet::new();
    let mut out = Vec::with_capacity(xs.len());
    for x in xs {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(|err| err.to_string())?;
        let submitted_at_ms = now_ms();
        let job = submit(x);
        tasks.spawn(async move {
            let id = job.await;
            drop(permit);
            id.map(|id| Submitted {
                id,
                x,
                submitted_at_ms,
            })
        });
        // Collect what has finished, so a refused job stops the run early.
        while let Some(finished) = tasks.try_join_next() {
            out.push(finished.map_err(|err| format!("a submit task failed: {err}"))??);
        }
    }
    while let Some(finished) = tasks.join_next().await {
        out.push(finished.map_err(|err| format!("a submit task failed: {err}"))??);
    }
    Ok(out)
}

/// The results of a finished run, read from `done` after the consumers stopped (so that a
/// late duplicate count would show), with the exactly-once check.
pub async fn finish(
    plan: &RunPlan,
    waited: &Waited,
    done: &SharedDoneCounter,
) -> Result<QueueResults, MeasureError> {
    let counted = done.count().await?.saturating_sub(waited.baseline);
    let completions = done.completions().await?;
    let mut results = results(
        &waited.submitted,
        &completions,
        waited.total_seconds,
        plan.concurrency,
    );
    results.exactly_once = Some(ExactlyOnce::check(&waited.submitted, &completions, counted));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDoneCounter;

    fn plan(n: u64) -> RunPlan {
        RunPlan {
            calculations: n,
            max_x: 0.0,
            concurrency: 4,
            submitters: 3,
            timeout: Duration::from_secs(10),
            seed: Some(7),
            poll: Duration::from_millis(5),
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_xs_within_the_range() {
        let mut plan = plan(50);
        plan.max_x = 2.0;
        assert_eq!(plan.xs(), plan.xs());
        assert!(plan.xs().iter().all(|x| (0.0..=2.0).contains(x)));
    }

    /// Jobs "run" as soon as they are submitted: the run ends when every one is counted,
    /// and the check passes; a counter that counted one twice fails it.
    #[tokio::test]
    async fn a_run_waits_for_every_job_and_checks_each_counted_once() {
        let done: SharedDoneCounter = Arc::new(MemoryDoneCounter::new());
        done.record("earlier-run", 1).await.expect("record");
        let counter = Arc::clone(&done);
        let submit = move |_x: f64| {
            let counter = Arc::clone(&counter);
            async move {
                let id = crate::Job::new(0.0).id;
                counter
                    .record(&id, now_ms())
                    .await
                    .map_err(|err| err.to_string())?;
                Ok(id)
            }
        };
        let plan = plan(20);
        let waited = submit_and_wait(&plan, &done, submit, |_| {})
            .await
            .expect("run");
        assert_eq!(waited.baseline, 1);
        assert_eq!(waited.submitted.len(), 20);
        let results = finish(&plan, &waited, &done).await.expect("results");
        let check = results.exactly_once.expect("checked");
        assert!(check.passed(), "{check:?}");
        assert_eq!(results.submitted_without_done, 0);
    }

    #[tokio::test]
    async fn a_refused_job_fails_the_run_and_a_stuck_count_times_out() {
        let done: SharedDoneCounter = Arc::new(MemoryDoneCounter::new());
        let refused = submit_and_wait(&plan(5), &done, |_| async { Err("503".to_owned()) }, |_| {})
            .await
            .expect_err("refused");
        assert!(refused.to_string().contains("503"), "{refused}");
        let mut short = plan(5);
        short.timeout = Duration::from_millis(50);
        let stuck = submit_and_wait(
            &short,
            &done,
            |_| async { Ok("never-done".to_owned()) },
            |_| {},
        )
        .await
        .expect_err("times out");
        assert!(
            matches!(
                stuck,
                MeasureError::TimedOut {
                    counted: 0,
                    expected: 5,
                    ..
                }
            ),
            "{stuck}"
        );
    }
}
