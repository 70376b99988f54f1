//! The verdict that opens a comparison: for the traffic levels shown, which architecture
//! is cheapest and which is fastest, which failed a check, and where the cheapest
//! changes (the break-even points), in plain words.
//!
//! Cheapest and fastest are chosen only among architectures that passed: a row that
//! lost updates or requests is no answer, however cheap or fast it looked. The costs and
//! break-even points come from the caller's cost model ([`CostOutlook`]); this crate
//! measures, it does not price.

use std::fmt::Write as _;

use super::{Comparison, Phase, Row, format_duration_ms, html::esc};
use crate::{Report, Verdict};

/// The traffic levels priced when the caller gives no [`CostOutlook`] (1, 10 and 100
/// million calls a month, the cost model's defaults).
pub const DEFAULT_LEVELS: [f64; 3] = [1e6, 1e7, 1e8];

/// What the cost model says about the architectures of a comparison, for its verdict.
/// Names are architecture names as [`Phase::architecture`] gives them (a row's label
/// without its `, N concurrent` suffix).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostOutlook {
    /// The traffic levels the page shows, calls a month.
    pub calls_per_month: Vec<f64>,
    /// Each priced architecture's monthly cost in USD at each level, in the order of
    /// `calls_per_month`.
    pub totals: Vec<(String, Vec<f64>)>,
    /// The cost model's break-even points between per-call and provisioned
    /// architectures.
    pub break_even: Vec<BreakEvenPoint>,
}

/// Where a per-call and a provisioned architecture cost the same, as the cost model
/// computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakEvenPoint {
    /// The per-call (serverless) architecture.
    pub per_call: String,
    /// The provisioned (serverful) architecture.
    pub provisioned: String,
    /// Calls a month at which both cost the same; `None` when one is cheaper at every
    /// volume.
    pub calls_per_month: Option<f64>,
    /// What each costs a month there, USD.
    pub cost_usd: Option<f64>,
    /// The architecture that is cheaper below the volume (at every volume if none).
    pub cheaper_below: String,
}

impl CostOutlook {
    /// The outlook from the cost figures the Reports carry (monthly cost plus cost per
    /// million calls times the volume) at [`DEFAULT_LEVELS`], without break-even points:
    /// what `latency report` can say about Reports priced elsewhere. `None` if no
    /// measured row carries a cost figure.
    pub fn from_reports(cmp: &Comparison) -> Option<Self> {
        let mut totals: Vec<(String, Vec<f64>)> = Vec::new();
        for report in cmp.measured() {
            let Some(cost) = &report.cost else { continue };
            if cost.monthly_usd.is_none() && cost.per_million_calls_usd.is_none() {
                continue;
            }
            let name = Phase::of(report).architecture;
            if totals.iter().any(|(n, _)| n == name) {
                continue;
            }
            let at = |calls: f64| {
                cost.monthly_usd.unwrap_or(0.0)
                    + cost.per_million_calls_usd.unwrap_or(0.0) * calls / 1e6
            };
            totals.push((
                name.to_owned(),
                DEFAULT_LEVELS.iter().map(|&c| at(c)).collect(),
            ));
        }
        (!totals.is_empty()).then(|| Self {
            calls_per_month: DEFAULT_LEVELS.to_vec(),
            totals,
            break_even: Vec::new(),
        })
    }
}

/// The verdict of a [`Comparison`]: see [`Comparison::conclusion`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conclusion {
    /// The cheapest architecture that passed, per run of traffic levels where it stays
    /// the cheapest, in ascending order of volume.
    pub cheapest: Vec<Cheapest>,
    /// The break-even points worth knowing: where the cheapest per-call and the
    /// cheapest provisioned architecture that passed cost the same, and where the
    /// fastest meets the cheapest of the other kind.
    pub break_even: Vec<BreakEvenPoint>,
    /// The architecture that passed with the lowest average latency one request at a
    /// time (its sequential run; its first run if it has none).
    pub fastest: Option<Fastest>,
    /// The architecture that passed with the lowest average latency under concurrency,
    /// if any concurrent run passed.
    pub fastest_concurrent: Option<Fastest>,
    /// Every architecture with a run that failed its counter check or lost requests.
    pub failed: Vec<Failure>,
    /// Architectures that were not measured.
    pub skipped: Vec<String>,
    /// Measured architectures that passed every check.
    pub passed: usize,
}

/// The cheapest architecture over a run of traffic levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Cheapest {
    /// The architecture.
    pub architecture: String,
    /// The levels (calls a month) at which it is the cheapest.
    pub calls_per_month: Vec<f64>,
    /// What it costs a month at each of them, USD.
    pub usd: Vec<f64>,
}

/// The fastest architecture of a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Fastest {
    /// The architecture.
    pub architecture: String,
    /// Its run's average latency (every answered request, cold start included), ms.
    pub mean_ms: f64,
    /// Connections of the run.
    pub connections: usize,
}

/// What went wrong in one architecture's runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The architecture.
    pub architecture: String,
    /// One phrase per failed run: `counter check failed with 32 concurrent (3
    /// duplicates, 5 gaps)`, `1130 of 2000 requests failed with 32 concurrent (…)`.
    pub what: Vec<String>,
}

/// How a run was loaded, as a phrase: `one request at a time`, `with 32 concurrent`.
fn load_phrase(report: &Report) -> String {
    if report.plan.connections > 1 {
        format!("with {} concurrent", report.plan.connections)
    } else {
        "one request at a time".to_owned()
    }
}

/// What failed in one run, if anything.
fn run_failures(report: &Report) -> Vec<String> {
    let r = &report.results;
    let mut out = Vec::new();
    if r.counter.verdict == Verdict::Fail {
        out.push(format!(
            "counter check failed {} ({} duplicate{}, {} gap{}: lost or repeated updates)",
            load_phrase(report),
            r.counter.duplicates,
            if r.counter.duplicates == 1 { "" } else { "s" },
            r.counter.gaps,
            if r.counter.gaps == 1 { "" } else { "s" },
        ));
    }
    let errors = r.error_count();
    if errors > 0 {
        let kinds = r
            .errors
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!(
            "{errors} of {} requests failed {} ({kinds})",
            r.requests,
            load_phrase(report)
        ));
    }
    out
}

impl Comparison {
    /// The verdict: cheapest (at each of `costs`' levels, or at [`DEFAULT_LEVELS`] from
    /// the Reports' cost figures when `costs` is `None`), fastest, failed and skipped
    /// architectures, with the break-even points of `costs` that decide between the
    /// cheapest and the fastest.
    ///
    /// An architecture *passed* when none of its runs failed its counter check or any
    /// request; only those can be cheapest or fastest.
    pub fn conclusion(&self, costs: Option<&CostOutlook>) -> Conclusion {
        let fallback;
        let costs = match costs {
            Some(c) => Some(c),
            None => {
                fallback = CostOutlook::from_reports(self);
                fallback.as_ref()
            }
        };
        let mut architectures: Vec<&str> = Vec::new();
        let mut failed: Vec<Failure> = Vec::new();
        let mut skipped = Vec::new();
        for row in &self.rows {
            match row {
                Row::Skipped { architecture, .. } => skipped.push(architecture.clone()),
                Row::Measured(report) => {
                    let arch = Phase::of(report).architecture;
                    if !architectures.contains(&arch) {
                        architectures.push(arch);
                    }
                    let what = run_failures(report);
                    if what.is_empty() {
                        continue;
                    }
                    match failed.iter_mut().find(|f| f.architecture == arch) {
                        Some(f) => f.what.extend(what),
                        None => failed.push(Failure {
                            architecture: arch.to_owned(),
                            what,
                        }),
                    }
                }
            }
        }
        let passed = |arch: &str| {
            architectures.contains(&arch) && !failed.iter().any(|f| f.architecture == arch)
        };

        let fastest_of = |concurrent: bool| -> Option<Fastest> {
            self.measured()
                .filter(|r| {
                    let phase = Phase::of(r);
                    phase.concurrent == concurrent && passed(phase.architecture)
                })
                .filter_map(|r| {
                    let ms = r.results.mean_all_ms.filter(|ms| ms.is_finite())?;
                    Some(Fastest {
                        architecture: Phase::of(r).architecture.to_owned(),
                        mean_ms: ms,
                        connections: r.plan.connections,
                    })
                })
                .min_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms))
        };
        let fastest = fastest_of(false).or_else(|| fastest_of(true));
        let fastest_concurrent = fastest_of(true);

        let mut cheapest: Vec<Cheapest> = Vec::new();
        let mut break_even = Vec::new();
        if let Some(costs) = costs {
            for (i, &calls) in costs.calls_per_month.iter().enumerate() {
                let winner = costs
                    .totals
                    .iter()
                    .filter(|(name, totals)| passed(name) && totals.get(i).is_some())
                    .map(|(name, totals)| (name, totals[i]))
                    .filter(|(_, usd)| usd.is_finite())
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                let Some((name, usd)) = winner else { continue };
                match cheapest.last_mut() {
                    Some(last) if &last.architecture == name => {
                        last.calls_per_month.push(calls);
                        last.usd.push(usd);
                    }
                    _ => cheapest.push(Cheapest {
                        architecture: name.clone(),
                        calls_per_month: vec![calls],
                        usd: vec![usd],
                    }),
                }
            }
            break_even = deciding_break_even(costs, &passed, fastest.as_ref());
        }
        Conclusion {
            cheapest,
            break_even,
            fastest,
            fastest_concurrent,
            passed: architectures.iter().filter(|a| passed(a)).count(),
            failed,
            skipped,
        }
    }
}

/// The break-even points that decide: between the cheapest per-call and the cheapest
/// provisioned architecture that passed (where the overall cheapest changes), then
/// between the fastest and the cheapest architecture of the other kind (from where the
/// fastest is also the cheaper choice). Each is the cost model's point, chosen, never
/// recomputed.
fn deciding_break_even(
    costs: &CostOutlook,
    passed: &impl Fn(&str) -> bool,
    fastest: Option<&Fastest>,
) -> Vec<BreakEvenPoint> {
    // Per-call lines never cross each other (no fixed part) and provisioned ones are
    // flat, so the cheapest of each kind is the cheapest at any level: the first will do.
    let cost_at_first = |name: &str| {
        costs
            .totals
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, t)| t.first().copied())
            .unwrap_or(f64::INFINITY)
    };
    let cheapest_of = |side: fn(&BreakEvenPoint) -> &str| -> Option<String> {
        costs
            .break_even
            .iter()
            .map(side)
            .filter(|name| passed(name))
            .min_by(|a, b| cost_at_first(a).total_cmp(&cost_at_first(b)))
            .map(str::to_owned)
    };
    let per_call = cheapest_of(|b| &b.per_call);
    let provisioned = cheapest_of(|b| &b.provisioned);
    let find = |s: &str, p: &str| {
        costs
            .break_even
            .iter()
            .find(|b| b.per_call == s && b.provisioned == p)
    };
    let mut out: Vec<BreakEvenPoint> = Vec::new();
    if let (Some(s), Some(p)) = (&per_call, &provisioned) {
        out.extend(find(s, p).cloned());
    }
    if let Some(fast) = fastest {
        let pair = if costs
            .break_even
            .iter()
            .any(|b| b.per_call == fast.architecture)
        {
            provisioned
                .as_deref()
                .map(|p| (fast.architecture.as_str(), p))
        } else {
            per_call.as_deref().map(|s| (s, fast.architecture.as_str()))
        };
        if let Some(point) = pair.and_then(|(s, p)| find(s, p))
            && !out.contains(point)
        {
            out.push(point.clone());
        }
    }
    out
}

/// Calls a month in words, three significant figures: `2.63 million`, `850 thousand`.
pub fn calls_in_words(calls: f64) -> String {
    if !calls.is_finite() || calls <= 0.0 {
        return crate::config::trim_float(calls);
    }
    let step = 10f64.powf(calls.log10().floor() - 2.0);
    let calls = (calls / step).round() * step;
    let (scaled, unit) = if calls >= 1e9 {
        (calls / 1e9, " billion")
    } else if calls >= 1e6 {
        (calls / 1e6, " million")
    } else if calls >= 1e3 {
        (calls / 1e3, " thousand")
    } else {
        (calls, "")
    };
    let text = format!("{:.2}", scaled);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

fn dollars(usd: f64) -> String {
    if usd >= 100.0 {
        format!("${usd:.0}")
    } else {
        format!("${usd:.2}")
    }
}

/// A list in words: `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One line of the verdict: its kind (`cheapest`, `break-even`, `fastest`, `failed`,
/// `skipped`), a short heading, and the text as pieces, architecture names apart so the
/// HTML can mark them.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What the line answers: `cheapest`, `break-even`, `fastest`, `failed`, `passed`
    /// (nothing failed) or `skipped`.
    pub kind: &'static str,
    /// The heading: `Cheapest` (`Cheapest that passed` when some architecture failed),
    /// `Break-even`, …
    pub heading: &'static str,
    /// The sentence, as text and architecture names in order.
    pub pieces: Vec<Piece>,
}

/// Part of a verdict [`Line`].
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Plain words.
    Text(String),
    /// An architecture's name.
    Architecture(String),
}

impl Line {
    /// The sentence as plain text.
    pub fn text(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) | Piece::Architecture(t) => t.as_str(),
            })
            .collect()
    }
}

/// Builds a line from pieces.
struct LineBuilder(Vec<Piece>);

impl LineBuilder {
    fn text(&mut self, s: impl Into<String>) -> &mut Self {
        let s = s.into();
        match self.0.last_mut() {
            Some(Piece::Text(t)) => t.push_str(&s),
            _ => self.0.push(Piece::Text(s)),
        }
        self
    }

    fn arch(&mut self, s: &str) -> &mut Self {
        self.0.push(Piece::Architecture(s.to_owned()));
        self
    }
}

impl Conclusion {
    /// The verdict as lines, in reading order: cheapest, break-even, fastest, failed
    /// (or that every architecture passed), skipped.
    pub fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut push = |kind, heading, b: LineBuilder| {
            lines.push(Line {
                kind,
                heading,
                pieces: b.0,
            })
        };
        if !self.cheapest.is_empty() {
            let mut b = LineBuilder(Vec::new());
            for (i, c) in self.cheapest.iter().enumerate() {
                if i > 0 {
                    b.text("; ");
                }
                let levels: Vec<String> = c
                    .calls_per_month
                    .iter()
                    .map(|&v| calls_in_words(v))
                    .collect();
                let mut costs: Vec<String> = c.usd.iter().map(|&u| dollars(u)).collect();
                // A provisioned row costs the same at every level: say it once.
                costs.dedup();
                b.text(format!("at {} calls a month, ", and_list(&levels)))
                    .arch(&c.architecture)
                    .text(format!(" ({} a month)", costs.join(", ")));
            }
            b.text(".");
            // Failed rows are never candidates: say so where it matters.
            let heading = if self.failed.is_empty() {
                "Cheapest"
            } else {
                "Cheapest that passed"
            };
            push("cheapest", heading, b);
        }
        for p in &self.break_even {
            let mut b = LineBuilder(Vec::new());
            let cheaper_above = if p.cheaper_below == p.per_call {
                &p.provisioned
            } else {
                &p.per_call
            };
            match (p.calls_per_month, p.cost_usd) {
                (Some(calls), cost) => {
                    b.arch(&p.per_call)
                        .text(" (per call) and ")
                        .arch(&p.provisioned)
                        .text(format!(
                            " (by the month) cost the same at {} calls a month{}: below that ",
                            calls_in_words(calls),
                            cost.map(|c| format!(", {} a month", dollars(c)))
                                .unwrap_or_default()
                        ))
                        .arch(&p.cheaper_below)
                        .text(" is cheaper, above it ")
                        .arch(cheaper_above)
                        .text(".");
                }
                (None, _) => {
                    b.arch(&p.cheaper_below)
                        .text(" is cheaper than ")
                        .arch(cheaper_above)
                        .text(" at every volume.");
                }
            }
            push("break-even", "Break-even", b);
        }
        if let Some(f) = &self.fastest {
            let mut b = LineBuilder(Vec::new());
            b.arch(&f.architecture).text(format!(
                ", {} on average {}",
                format_duration_ms(f.mean_ms),
                if f.connections > 1 {
                    format!("with {} concurrent", f.connections)
                } else {
                    "one request at a time".to_owned()
                }
            ));
            match &self.fastest_concurrent {
                Some(c) if c.architecture == f.architecture && c.connections != f.connections => {
                    b.text(format!(
                        ", and also the fastest with {} concurrent ({})",
                        c.connections,
                        format_duration_ms(c.mean_ms)
                    ));
                }
                Some(c) if c.architecture != f.architecture => {
                    b.text(format!("; with {} concurrent, ", c.connections))
                        .arch(&c.architecture)
                        .text(format!(" ({})", format_duration_ms(c.mean_ms)));
                }
                _ => {}
            }
            b.text(".");
            let heading = if self.failed.is_empty() {
                "Fastest"
            } else {
                "Fastest that passed"
            };
            push("fastest", heading, b);
        }
        if self.failed.is_empty() {
            if self.passed > 0 {
                let mut b = LineBuilder(Vec::new());
                b.text(if self.passed == 1 {
                    "the measured architecture passed its counter check and answered every request.".to_owned()
                } else if self.passed == 2 {
                    "both measured architectures passed their counter checks and answered every request.".to_owned()
                } else {
                    format!(
                        "all {} measured architectures passed their counter checks and answered every request.",
                        self.passed
                    )
                });
                push("passed", "Checks", b);
            }
        } else {
            // One line per architecture: a full lab can fail several, each for its own
            // reasons, and one sentence of them all would not read.
            for (i, f) in self.failed.iter().enumerate() {
                let mut b = LineBuilder(Vec::new());
                b.arch(&f.architecture)
                    .text(format!(": {}.", and_list(&f.what)));
                if self.passed == 0 && i + 1 == self.failed.len() {
                    b.text(" No architecture passed, so none is named cheapest or fastest.");
                }
                push("failed", "Failed", b);
            }
        }
        if !self.skipped.is_empty() {
            let mut b = LineBuilder(Vec::new());
            for (i, s) in self.skipped.iter().enumerate() {
                if i > 0 {
                    b.text(", ");
                }
                b.arch(s);
            }
            b.text(if self.skipped.len() == 1 {
                " (the notes say why, and how to enable it)."
            } else {
                " (the notes say why, and how to enable each)."
            });
            push("skipped", "Not measured", b);
        }
        lines
    }

    /// The verdict as Markdown bullets (`- **Cheapest:** …`), each on one line.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for line in self.lines() {
            let _ = writeln!(
                out,
                "- **{}:** {}",
                line.heading,
                super::one_line(&line.text()).replace('|', "\\|")
            );
        }
        out
    }

    /// The verdict as plain lines for a terminal (`Cheapest: …`), at most one line per
    /// kind (the failed architectures, and the break-even points, share one): the lab
    /// prints it above its table and keeps its whole output short.
    pub fn text(&self) -> String {
        let mut merged: Vec<(&'static str, String)> = Vec::new();
        let mut last_kind = "";
        for line in self.lines() {
            let text = super::one_line(&line.text());
            match merged.last_mut() {
                Some((_, joined)) if line.kind == last_kind => {
                    joined.push(' ');
                    joined.push_str(&text);
                }
                _ => merged.push((line.heading, text)),
            }
            last_kind = line.kind;
        }
        let mut out = String::new();
        for (heading, text) in merged {
            let _ = writeln!(out, "{heading}: {text}");
        }
        out
    }

    /// The verdict as an HTML list: `<ul class="verdict">` with one `<li
    /// data-verdict="KIND">` per [`Line`], architecture names in `<b class="arch">`.
    /// Everything from data is escaped.
    pub fn html(&self) -> String {
        let mut out = String::from("<ul class=\"verdict\">\n");
        for line in self.lines() {
            let _ = write!(
                out,
                "<li data-verdict=\"{}\"><strong>{}:</strong> ",
                line.kind, line.heading
            );
            for piece in &line.pieces {
                match piece {
                    Piece::Text(t) => out.push_str(&esc(t)),
                    Piece::Architecture(a) => {
                        let _ = write!(out, "<b class=\"arch\">{}</b>", esc(a));
                    }
                }
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CostFigures;

    /// A real Report (the committed fixture) relabelled, with this average latency and
    /// connection count, passing its checks.
    fn run(label: &str, connections: usize, mean_ms: f64) -> Report {
        let path = format!(
            "{}/tests/fixtures/server-vm.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut r = Report::read(std::path::Path::new(&path)).expect("fixture");
        r.target.label = Some(if connections > 1 {
            format!("{label}, {connections} concurrent")
        } else {
            label.to_owned()
        });
        r.plan.connections = connections;
        r.results.mean_all_ms = Some(mean_ms);
        r.results.errors.clear();
        r.results.error_rate = 0.0;
        r.results.counter.verdict = Verdict::Pass;
        r.notes.clear();
        r.cost = None;
        r
    }

    /// Four architectures, each a sequential and a 32-connection run:
    /// - `Lambda`, per call at $5 a million: passes, slowest;
    /// - `VM`, $10 a month: passes, fastest one at a time;
    /// - `Cluster`, $40 a month: passes, fastest under concurrency;
    /// - `Cheap but lossy`, per call at $1 a million: cheapest and fastest of all, but
    ///   its concurrent run loses updates and requests.
    fn four() -> (Comparison, CostOutlook) {
        let mut rows = vec![
            run("Lambda", 1, 20.0),
            run("Lambda", 32, 90.0),
            run("VM", 1, 1.5),
            run("VM", 32, 12.0),
            run("Cluster", 1, 3.0),
            run("Cluster", 32, 8.0),
            run("Cheap but lossy", 1, 0.5),
            run("Cheap but lossy", 32, 2.0),
        ];
        let lossy = &mut rows[7].results;
        lossy.counter.verdict = Verdict::Fail;
        lossy.counter.duplicates = 3;
        lossy.counter.gaps = 5;
        lossy.errors.insert("http_5xx".into(), 7);
        let mut cmp = Comparison::new(rows);
        cmp.skip("Fargate", "needs docker");
        let levels = vec![1e6, 1e7, 1e8];
        let per_call = |per_million: f64| levels.iter().map(|c| per_million * c / 1e6).collect();
        let costs = CostOutlook {
            calls_per_month: levels.clone(),
            totals: vec![
                ("Lambda".into(), per_call(5.0)),
                ("VM".into(), vec![10.0; 3]),
                ("Cluster".into(), vec![40.0; 3]),
                ("Cheap but lossy".into(), per_call(1.0)),
            ],
            break_even: vec![
                point("Lambda", "VM", Some(2e6), "Lambda"),
                point("Lambda", "Cluster", Some(8e6), "Lambda"),
                point("Cheap but lossy", "VM", Some(1e7), "Cheap but lossy"),
                point("Cheap but lossy", "Cluster", Some(4e7), "Cheap but lossy"),
            ],
        };
        (cmp, costs)
    }

    fn point(per_call: &str, provisioned: &str, calls: Option<f64>, below: &str) -> BreakEvenPoint {
        BreakEvenPoint {
            per_call: per_call.into(),
            provisioned: provisioned.into(),
            calls_per_month: calls,
            cost_usd: calls.map(|c| c / 1e6),
            cheaper_below: below.into(),
        }
    }

    #[test]
    fn the_cheapest_that_passed_is_named_per_run_of_levels() {
        let (cmp, costs) = four();
        let c = cmp.conclusion(Some(&costs));
        // The lossy row is cheapest at every level but failed: never named.
        assert_eq!(
            c.cheapest,
            vec![
                Cheapest {
                    architecture: "Lambda".into(),
                    calls_per_month: vec![1e6],
                    usd: vec![5.0],
                },
                Cheapest {
                    architecture: "VM".into(),
                    calls_per_month: vec![1e7, 1e8],
                    usd: vec![10.0, 10.0],
                },
            ]
        );
        let text = c.text();
        assert!(
            text.contains(
                "Cheapest that passed: at 1 million calls a month, Lambda ($5.00 a month); \
                 at 10 million and 100 million calls a month, VM ($10.00 a month)."
            ),
            "{text}"
        );
    }

    #[test]
    fn the_break_even_points_are_the_models_between_the_cheapest_and_the_fastest() {
        let (cmp, costs) = four();
        let c = cmp.conclusion(Some(&costs));
        // Cheapest per call that passed (Lambda) against cheapest provisioned (VM); the
        // fastest (VM) is one of them, so nothing more. The lossy row's points are left out.
        assert_eq!(c.break_even, vec![costs.break_even[0].clone()]);
        let text = c.text();
        assert!(
            text.contains(
                "Break-even: Lambda (per call) and VM (by the month) cost the same at 2 million \
                 calls a month, $2.00 a month: below that Lambda is cheaper, above it VM."
            ),
            "{text}"
        );

        // When the fastest is a dearer provisioned row, its point against the cheapest
        // per-call row is added.
        let mut slow_vm = cmp.clone();
        if let Row::Measured(r) = &mut slow_vm.rows[2] {
            r.results.mean_all_ms = Some(30.0);
        }
        let c = slow_vm.conclusion(Some(&costs));
        assert_eq!(
            c.fastest.as_ref().map(|f| f.architecture.as_str()),
            Some("Cluster")
        );
        assert_eq!(
            c.break_even,
            vec![costs.break_even[0].clone(), costs.break_even[1].clone()]
        );
    }

    #[test]
    fn the_fastest_that_passed_is_named_for_each_phase() {
        let (cmp, costs) = four();
        let c = cmp.conclusion(Some(&costs));
        assert_eq!(
            c.fastest,
            Some(Fastest {
                architecture: "VM".into(),
                mean_ms: 1.5,
                connections: 1
            })
        );
        assert_eq!(
            c.fastest_concurrent
                .as_ref()
                .map(|f| (f.architecture.as_str(), f.mean_ms)),
            Some(("Cluster", 8.0))
        );
        let text = c.text();
        assert!(
            text.contains(
                "Fastest that passed: VM, 1.50ms on average one request at a time; with 32 concurrent, \
                 Cluster (8.00ms)."
            ),
            "{text}"
        );
    }

    #[test]
    fn failed_and_skipped_architectures_are_listed_and_the_rest_counted() {
        let (cmp, costs) = four();
        let c = cmp.conclusion(Some(&costs));
        assert_eq!(c.passed, 3);
        assert_eq!(
            c.failed,
            vec![Failure {
                architecture: "Cheap but lossy".into(),
                what: vec![
                    "counter check failed with 32 concurrent (3 duplicates, 5 gaps: lost or \
                     repeated updates)"
                        .into(),
                    format!(
                        "7 of {} requests failed with 32 concurrent (7 http_5xx)",
                        match &cmp.rows[7] {
                            Row::Measured(r) => r.results.requests,
                            Row::Skipped { .. } => unreachable!(),
                        }
                    ),
                ],
            }]
        );
        assert_eq!(c.skipped, vec!["Fargate".to_owned()]);
        // A terminal gets one line per kind: two failed architectures share one.
        let mut two = cmp.clone();
        if let Row::Measured(r) = &mut two.rows[0] {
            r.results.counter.verdict = Verdict::Fail;
        }
        let text = two.conclusion(Some(&costs)).text();
        let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("Failed")).collect();
        assert_eq!(failed.len(), 1, "{text}");
        assert!(
            failed[0].starts_with("Failed: Lambda: counter check failed one request at a time")
                && failed[0].contains(". Cheap but lossy: counter check failed"),
            "{text}"
        );
        assert_eq!(
            two.conclusion(Some(&costs))
                .lines()
                .iter()
                .filter(|l| l.kind == "failed")
                .count(),
            2
        );
        let kinds: Vec<&str> = c.lines().iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            ["cheapest", "break-even", "fastest", "failed", "skipped"]
        );

        // With every check passed, the verdict says so instead.
        let clean = Comparison::new(cmp.measured().take(6).cloned());
        let c = clean.conclusion(Some(&costs));
        assert!(c.failed.is_empty());
        assert!(
            c.text().contains(
                "Checks: all 3 measured architectures passed their counter checks and answered \
                 every request."
            ),
            "{}",
            c.text()
        );
    }

    #[test]
    fn without_a_cost_model_the_reports_cost_figures_price_the_default_levels() {
        let mut lambda = run("Lambda", 1, 20.0);
        lambda.cost = Some(CostFigures {
            monthly_usd: None,
            per_million_calls_usd: Some(5.0),
            note: None,
        });
        let mut vm = run("VM", 1, 1.5);
        vm.cost = Some(CostFigures {
            monthly_usd: Some(10.0),
            per_million_calls_usd: None,
            note: None,
        });
        let c = Comparison::new([lambda, vm]).conclusion(None);
        let names: Vec<(&str, &[f64])> = c
            .cheapest
            .iter()
            .map(|c| (c.architecture.as_str(), c.calls_per_month.as_slice()))
            .collect();
        assert_eq!(names, [("Lambda", &[1e6][..]), ("VM", &[1e7, 1e8][..])]);
        assert!(c.break_even.is_empty(), "no model, no break-even points");
    }

    #[test]
    fn nothing_passed_names_no_cheapest_or_fastest() {
        let mut bad = run("VM", 1, 1.5);
        bad.results.counter.verdict = Verdict::Fail;
        let c = Comparison::new([bad]).conclusion(None);
        assert_eq!((&c.fastest, c.cheapest.len(), c.passed), (&None, 0, 0));
        assert!(c.text().contains("No architecture passed"), "{}", c.text());
    }

    #[test]
    fn calls_read_as_words() {
        assert_eq!(calls_in_words(2_634_567.0), "2.63 million");
        assert_eq!(calls_in_words(850_000.0), "850 thousand");
        assert_eq!(calls_in_words(1e8), "100 million");
        assert_eq!(calls_in_words(1.5e9), "1.5 billion");
        assert_eq!(calls_in_words(42.0), "42");
    }

    #[test]
    fn the_html_escapes_names_and_marks_each_line() {
        let mut r = run("<VM & co>", 1, 1.5);
        r.results.counter.verdict = Verdict::Fail;
        let html = Comparison::new([r, run("ok", 1, 2.0)])
            .conclusion(None)
            .html();
        assert!(
            html.contains("<b class=\"arch\">&lt;VM &amp; co&gt;</b>"),
            "{html}"
        );
        assert!(!html.contains("<VM"), "{html}");
        assert!(html.contains("<li data-verdict=\"failed\"><strong>Failed:</strong> "));
        assert!(html.contains(
            "<li data-verdict=\"fastest\"><strong>Fastest that passed:</strong> <b class=\"arch\">ok</b>"
        ));
    }
}
