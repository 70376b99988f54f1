//! Renderers: the human summary and CSV of one Report, and the comparison of several
//! Reports as a Markdown table (the original study's form) and a self-contained HTML page.

mod html;

use std::fmt::Write as _;

use crate::{Report, Summary, Verdict};

/// The original study's one line: the mean of every measured request that got an
/// answer, cold start included, in ms with two decimals (`13.02ms`). `n/a` when no
/// request was answered.
pub fn mean_line(report: &Report) -> String {
    match report.results.mean_all_ms {
        Some(ms) => format!("{ms:.2}ms"),
        None => "n/a (no request was answered)".to_owned(),
    }
}

/// Milliseconds with precision that suits their size: 0.123, 12.35, 1234.6.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.3}")
    } else if ms < 1000.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn fmt_rate(rps: f64) -> String {
    if rps >= 100.0 {
        format!("{rps:.0}")
    } else {
        format!("{rps:.1}")
    }
}

/// The human summary of one run: [`mean_line`] first, then the full picture
/// (distribution, cold start, throughput, statuses, errors by kind, counter check).
pub fn summary(report: &Report) -> String {
    let r = &report.results;
    let p = &report.plan;
    let mut out = String::new();
    let _ = writeln!(out, "{}", mean_line(report));
    let label = report
        .target
        .label
        .as_deref()
        .map(|l| format!(" [{l}]"))
        .unwrap_or_default();
    let _ = writeln!(out, "{}{label}", report.target.url);
    let _ = writeln!(
        out,
        "  {} measured request{} ({}{}){}",
        r.requests,
        if r.requests == 1 { "" } else { "s" },
        p.load_description(),
        if p.keepalive {
            ", keep-alive"
        } else {
            ", new connection per request"
        },
        if r.warmup_requests > 0 {
            format!(" after {} warm-up", r.warmup_requests)
        } else {
            String::new()
        }
    );
    let _ = write!(out, "  {:<13}", "latency");
    for name in Summary::FIGURE_NAMES {
        let _ = write!(out, "{name:>9}");
    }
    out.push('\n');
    let row = |out: &mut String, name: &str, s: &Option<Summary>| match s {
        Some(s) => {
            let _ = write!(out, "  {name:<13}");
            for (_, ms) in s.figures_ms() {
                let _ = write!(out, "{:>9}", crate::units::duration_ms(ms));
            }
            out.push('\n');
        }
        None => {
            let _ = writeln!(out, "  {name:<13}no answered warm request");
        }
    };
    if r.latency_uncorrected.is_some() {
        row(&mut out, "corrected", &r.latency);
        row(&mut out, "uncorrected", &r.latency_uncorrected);
        let _ = writeln!(
            out,
            "  (corrected: from each request's scheduled send time, so waits caused by slow \
             answers count; uncorrected: from the actual send)"
        );
    } else {
        row(&mut out, "warm", &r.latency);
    }
    out.push_str(&crate::units::ladder(&r.distribution));
    if let Some(c) = &r.cold_start {
        let what = match (c.latency_ms, c.status, &c.error) {
            (Some(ms), Some(status), _) => {
                format!("{}, status {status}", crate::units::duration_ms(ms))
            }
            (_, _, Some(e)) => format!("failed ({e})"),
            _ => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {:<13}{what}  (first request, connect included{})",
            "cold start",
            if c.measured {
                ""
            } else {
                "; a warm-up request"
            }
        );
    }
    let _ = writeln!(
        out,
        "  {:<13}{} req/s over {:.3} s{}",
        "throughput",
        fmt_rate(r.throughput_rps),
        r.elapsed_s,
        match p.rate {
            Some(rate) => format!(" (target {} req/s)", crate::config::trim_float(rate)),
            None => String::new(),
        }
    );
    let statuses = if r.status_codes.is_empty() {
        "none".to_owned()
    } else {
        r.status_codes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "  {:<13}{statuses}", "status");
    let errors = if r.errors.is_empty() {
        "none".to_owned()
    } else {
        let list = r
            .errors
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{list} ({:.2}% of requests)", r.error_rate * 100.0)
    };
    let _ = writeln!(out, "  {:<13}{errors}", "errors");
    let _ = writeln!(
        out,
        "  {:<13}{}: {}",
        "counter",
        r.counter.verdict.label(),
        r.counter.note
    );
    out
}

/// The CSV header matching [`csv_row`].
pub const CSV_HEADER: &str = "label,url,mode,connections,rate,requests,warmup_requests,\
elapsed_s,throughput_rps,mean_all_ms,min_ms,mean_ms,stdev_ms,p50_ms,p90_ms,p99_ms,\
p99_9_ms,max_ms,uncorrected_p50_ms,uncorrected_p99_ms,cold_start_ms,errors,error_rate,\
counter,duplicates,gaps,started_at";

/// One CSV row (no trailing newline); empty cells where a figure does not apply.
pub fn csv_row(report: &Report) -> String {
    let r = &report.results;
    // Latencies to 0.1 µs (4 decimals of ms), times and rates to what they can resolve:
    // never a float's noise such as 0.020211905999999998.
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let lat = |f: fn(&Summary) -> f64| opt(r.latency.as_ref().map(f));
    let unc = |f: fn(&Summary) -> f64| opt(r.latency_uncorrected.as_ref().map(f));
    let fields = [
        csv_field(report.target.label.as_deref().unwrap_or("")),
        csv_field(&report.target.url),
        format!("{:?}", report.plan.mode).to_lowercase(),
        report.plan.connections.to_string(),
        report
            .plan
            .rate
            .map(crate::config::trim_float)
            .unwrap_or_default(),
        r.requests.to_string(),
        r.warmup_requests.to_string(),
        format!("{:.3}", r.elapsed_s),
        format!("{:.1}", r.throughput_rps),
        opt(r.mean_all_ms),
        lat(|s| s.min_ms),
        lat(|s| s.mean_ms),
        lat(|s| s.stdev_ms),
        lat(|s| s.p50_ms),
        lat(|s| s.p90_ms),
        lat(|s| s.p99_ms),
        lat(|s| s.p99_9_ms),
        lat(|s| s.max_ms),
        unc(|s| s.p50_ms),
        unc(|s| s.p99_ms),
        opt(r.cold_start.as_ref().and_then(|c| c.latency_ms)),
        r.error_count().to_string(),
        format!("{:.6}", r.error_rate),
        r.counter.verdict.label().to_lowercase(),
        r.counter.duplicates.to_string(),
        r.counter.gaps.to_string(),
        report.environment.started_at.clone(),
    ];
    fields.join(",")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A measured architecture.
    Measured(Box<Report>),
    /// An architecture that could not be measured, with the reason (and, ideally, the
    /// command that enables it). Shown in the table, never dropped.
    Skipped {
        /// The architecture's name.
        architecture: String,
        /// Why, and how to enable it.
        reason: String,
    },
}

/// Several runs side by side, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Heading of the HTML page.
    pub title: String,
    /// The rows.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// A comparison of these Reports, titled "Latency comparison".
    pub fn new(reports: impl IntoIterator<Item = Report>) -> Self {
        Self {
            title: "Latency comparison".to_owned(),
            rows: reports
                .into_iter()
                .map(|r| Row::Measured(Box::new(r)))
                .collect(),
        }
    }

    /// Adds a skipped row.
    pub fn skip(&mut self, architecture: impl Into<String>, reason: impl Into<String>) {
        self.rows.push(Row::Skipped {
            architecture: architecture.into(),
            reason: reason.into(),
        });
    }

    fn measured(&self) -> impl Iterator<Item = &Report> {
        self.rows.iter().filter_map(|r| match r {
            Row::Measured(r) => Some(r.as_ref()),
            Row::Skipped { .. } => None,
        })
    }

    /// The table's cells: header, then one row per entry. Shared by Markdown and HTML.
    fn cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec![
            "Architecture",
            "Average latency (ms)",
            "Monthly cost ($)",
            "Cost per million calls ($)",
            "p50 (ms)",
            "p99 (ms)",
            "Cold start (ms)",
            "Throughput (req/s)",
            "Load",
            "Errors",
            "Counter check",
        ];
        let dash = || "–".to_owned();
        let money = |cost: Option<&crate::CostFigures>,
                     f: fn(&crate::CostFigures) -> Option<f64>| {
            match cost {
                None => dash(),
                Some(c) => f(c).map_or_else(|| "N/A".to_owned(), |v| format!("{v:.2}")),
            }
        };
        let rows = self
            .rows
            .iter()
            .map(|row| match row {
                Row::Skipped { architecture, .. } => {
                    let mut cells = vec![architecture.clone(), "skipped".to_owned()];
                    cells.resize(header.len(), dash());
                    cells
                }
                Row::Measured(rep) => {
                    let r = &rep.results;
                    let lat = |f: fn(&Summary) -> f64| {
                        r.latency.as_ref().map_or_else(dash, |s| fmt_ms(f(s)))
                    };
                    let counter = match r.counter.verdict {
                        Verdict::Fail => format!(
                            "FAIL ({} dup, {} gaps)",
                            r.counter.duplicates, r.counter.gaps
                        ),
                        v => v.label().to_owned(),
                    };
                    vec![
                        rep.name().to_owned(),
                        r.mean_all_ms.map_or_else(dash, |m| format!("{m:.2}")),
                        money(rep.cost.as_ref(), |c| c.monthly_usd),
                        money(rep.cost.as_ref(), |c| c.per_million_calls_usd),
                        lat(|s| s.p50_ms),
                        lat(|s| s.p99_ms),
                        r.cold_start
                            .as_ref()
                            .and_then(|c| c.latency_ms)
                            .map_or_else(dash, fmt_ms),
                        fmt_rate(r.throughput_rps),
                        rep.plan.load_description(),
                        if r.errors.is_empty() {
                            "0".to_owned()
                        } else {
                            format!("{} ({:.1}%)", r.error_count(), r.error_rate * 100.0)
                        },
                        counter,
                    ]
                }
            })
            .collect();
        (header, rows)
    }

    /// Footnotes: skipped rows' reasons, failed counter checks, notes, and where the
    /// runs were measured.
    fn footnotes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for row in &self.rows {
            match row {
                Row::Skipped {
                    architecture,
                    reason,
                } => {
                    notes.push(format!("{architecture}: skipped — {reason}"));
                }
                Row::Measured(rep) => {
                    if rep.results.counter.verdict == Verdict::Fail {
                        notes.push(format!(
                            "{}: counter check failed — {}",
                            rep.name(),
                            rep.results.counter.note
                        ));
                    }
                    for n in &rep.notes {
                        notes.push(format!("{}: {n}", rep.name()));
                    }
                    if let Some(c) = rep.cost.as_ref().and_then(|c| c.note.as_ref()) {
                        notes.push(format!("{}: cost — {c}", rep.name()));
                    }
                }
            }
        }
        let mut machines: Vec<String> = self
            .measured()
            .map(|r| {
                let e = &r.environment;
                format!(
                    "{} ({}, {} CPUs{}), latency-bench {}",
                    e.hostname,
                    e.arch,
                    e.cpus,
                    e.cpu_model
                        .as_deref()
                        .map(|m| format!(", {m}"))
                        .unwrap_or_default(),
                    e.tool_version
                )
            })
            .collect();
        machines.dedup();
        let (first, last) = (
            self.measured()
                .map(|r| r.environment.started_at.clone())
                .min(),
            self.measured()
                .map(|r| r.environment.finished_at.clone())
                .max(),
        );
        if let (Some(first), Some(last)) = (first, last) {
            notes.push(format!(
                "Measured on {} between {first} and {last}.",
                machines.join("; ")
            ));
        }
        notes
    }

    /// The comparison table in the original study's form (`Architecture | Average
    /// latency (ms) | Monthly cost ($) | Cost per million calls ($)`) with p50, p99, cold
    /// start, throughput, load, errors and counter-check columns added, then footnotes.
    /// "Average latency" is [`mean_line`]'s figure. A cost cell is `N/A` when not
    /// applicable and `–` when unknown.
    pub fn markdown(&self) -> String {
        let (header, rows) = self.cells();
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let align: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 || i == 8 { "---" } else { ":---:" })
            .collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for row in rows {
            // A line break inside a cell would end the table row: write it as <br>.
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    c.replace('|', "\\|")
                        .replace("\r\n", "<br>")
                        .replace(['\n', '\r'], "<br>")
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        let notes = self.footnotes();
        if !notes.is_empty() {
            out.push('\n');
            for n in notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// A self-contained HTML page (no scripts, no external resources): the table, a
    /// latency CDF of every measured row, a histogram per row, and each run's details.
    pub fn html(&self) -> String {
        html::page(self)
    }
}
