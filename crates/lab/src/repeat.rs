//! Honest under noise: `--repeat K` (each row measured K times, the table showing the
//! median with its min–max spread) and the busy flag (a run measured while other
//! processes kept the machine busy says so, in its Report and in the table).

use latency_bench::Report;
use latency_bench::render::{BUSY_NOTE_PREFIX, Spread, format_duration_ms};
use latency_machine::{CpuSampler, CpuUse};

use crate::runner::Phase;

/// A run is flagged busy when other processes used more than this share of the
/// machine's cores on average while it was measured (a quarter: on 2 cores, half a core
/// taken by a compiler is enough to move a p99).
pub const BUSY_SHARE: f64 = 0.25;

/// One phase of one row, over its repeats.
#[derive(Debug)]
pub(crate) struct PhaseRuns {
    /// Which phase.
    pub(crate) phase: Phase,
    /// The run the table shows: the median run by average latency (the lower middle one
    /// for an even count).
    pub(crate) report: Report,
    /// The spread of the runs' averages, with two runs or more.
    pub(crate) spread: Option<Spread>,
    /// Every run, in the order measured, with two runs or more (empty for one).
    pub(crate) runs: Vec<Report>,
}

impl PhaseRuns {
    /// Every Report of the phase: the one run, or each repeat.
    pub(crate) fn all(&self) -> &[Report] {
        if self.runs.is_empty() {
            std::slice::from_ref(&self.report)
        } else {
            &self.runs
        }
    }
}

/// `runs` of one phase (at least one, in the order measured) as the table shows them.
/// With two runs or more, the shown Report is the median run by average latency, the
/// spread is the median, smallest and largest average, and a note on the shown Report
/// names the files of the runs (`STEM.run-N.json`, N from 1).
pub(crate) fn aggregate(phase: Phase, mut runs: Vec<Report>, stem: &str) -> Option<PhaseRuns> {
    if runs.len() <= 1 {
        return runs.pop().map(|report| PhaseRuns {
            phase,
            report,
            spread: None,
            runs: Vec::new(),
        });
    }
    let mut averages: Vec<(f64, usize)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.results.mean_all_ms.unwrap_or(f64::NAN), i))
        .collect();
    averages.sort_by(|a, b| a.0.total_cmp(&b.0));
    let answered: Vec<f64> = averages
        .iter()
        .map(|(ms, _)| *ms)
        .filter(|ms| ms.is_finite())
        .collect();
    let middle = (averages.len() - 1) / 2;
    let mut report = runs[averages[middle].1].clone();
    let spread = (!answered.is_empty()).then(|| {
        let n = answered.len();
        Spread {
            median_ms: if n % 2 == 1 {
                answered[n / 2]
            } else {
                (answered[n / 2 - 1] + answered[n / 2]) / 2.0
            },
            min_ms: answered[0],
            max_ms: answered[n - 1],
            runs: runs.len(),
        }
    });
    if let Some(spread) = &spread {
        report.notes.push(format!(
            "median of {} runs by average latency: {} (min {}, max {}); this Report is run {} of them; every run: {stem}.run-1.json to {stem}.run-{}.json",
            spread.runs,
            format_duration_ms(spread.median_ms),
            format_duration_ms(spread.min_ms),
            format_duration_ms(spread.max_ms),
            averages[middle].1 + 1,
            spread.runs
        ));
    }
    Some(PhaseRuns {
        phase,
        report,
        spread,
        runs,
    })
}

/// Samples the machine while one run is measured.
pub(crate) struct BusySampler(Option<CpuSampler>);

impl BusySampler {
    /// Starts sampling this process tree against the machine; without `/proc` nothing
    /// is sampled and no run is flagged.
    pub(crate) fn start() -> Self {
        Self(CpuSampler::start().ok())
    }

    /// The busy note for the run just measured, if the machine was busy.
    pub(crate) fn finish(self) -> Option<String> {
        busy_note(&self.0?.finish().ok()?)
    }
}

/// The Report note (starting with [`BUSY_NOTE_PREFIX`]) for a run measured while other
/// processes used more than [`BUSY_SHARE`] of the cores, else `None`.
pub(crate) fn busy_note(usage: &CpuUse) -> Option<String> {
    usage.busy(BUSY_SHARE).then(|| {
        format!(
            "{BUSY_NOTE_PREFIX} {}; the figures may be inflated (flagged above {:.0}% of the cores)",
            usage.describe(),
            BUSY_SHARE * 100.0
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// A fixture Report with this average latency.
    pub(crate) fn report(mean: f64) -> Report {
        let mut report: Report = Report::read(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../bench/tests/fixtures/server-vm.json"
        )))
        .expect("fixture");
        report.results.mean_all_ms = Some(mean);
        report
    }

    #[test]
    fn one_run_is_shown_as_is() {
        let one = aggregate(Phase::Sequential, vec![report(2.0)], "ec2-sequential").expect("one");
        assert_eq!(one.spread, None);
        assert!(one.runs.is_empty());
        assert_eq!(one.all().len(), 1);
        assert!(aggregate(Phase::Sequential, Vec::new(), "x").is_none());
    }

    #[test]
    fn repeats_show_the_median_run_with_the_spread() {
        let runs = vec![report(2.6), report(2.2), report(2.31)];
        let phase = aggregate(Phase::Sequential, runs, "ec2-sequential").expect("runs");
        let spread = phase.spread.expect("a spread");
        assert_eq!(
            (spread.median_ms, spread.min_ms, spread.max_ms),
            (2.31, 2.2, 2.6)
        );
        assert_eq!(spread.runs, 3);
        assert_eq!(phase.report.results.mean_all_ms, Some(2.31));
        assert_eq!(phase.all().len(), 3, "every run is kept");
        let note = phase.report.notes.last().expect("a note");
        assert!(note.contains("median of 3 runs"), "{note}");
        assert!(note.contains("run 3 of them"), "{note}");
        assert!(note.contains("ec2-sequential.run-3.json"), "{note}");

        // An even count: the median is between the middle two; the lower one is shown.
        let even = aggregate(
            Phase::Concurrent,
            vec![report(4.0), report(1.0), report(3.0), report(2.0)],
            "x",
        )
        .expect("runs");
        assert_eq!(even.spread.expect("spread").median_ms, 2.5);
        assert_eq!(even.report.results.mean_all_ms, Some(2.0));
    }

    #[test]
    fn a_run_on_a_busy_machine_gets_the_busy_note_and_a_quiet_one_none() {
        let usage = |other: f64| CpuUse {
            elapsed: Duration::from_secs(4),
            cores: 2,
            all_cores: 0.4 + other,
            own_cores: 0.4,
            other_cores: other,
        };
        let note = busy_note(&usage(1.1)).expect("busy: 1.1 of 2 cores");
        assert!(note.starts_with(BUSY_NOTE_PREFIX), "{note}");
        assert!(
            note.contains("other processes used 1.10 of 2 cores"),
            "{note}"
        );
        assert_eq!(busy_note(&usage(0.3)), None, "0.3 of 2 cores is quiet");
        let mut flagged = report(2.0);
        flagged.notes.push(note);
        assert!(latency_bench::render::measured_busy(&flagged));
    }

    #[test]
    fn sampling_this_process_works_here() {
        let sampler = BusySampler::start();
        assert!(
            sampler.0.is_some(),
            "/proc is readable on the lab's machines"
        );
        // Busy or not depends on the machine; that a sample is taken does not.
        let _ = sampler.finish();
    }
}
