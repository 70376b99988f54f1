//! Renderers: the human summary and CSV of one Report, and the comparison of several
//! Reports as aligned terminal tables, a Markdown table (the original study's form) and a
//! self-contained HTML page.
//!
//! Every duration in text meant for people goes through [`format_duration_ms`], so a
//! page or a terminal never shows `0.02ms` for 19 µs. Machine formats (JSON, CSV) keep
//! fixed milliseconds.

mod html;
mod table;
mod verdict;

use std::fmt::Write as _;

pub use html::{Page, Section, colour as series_colour, esc as escape_html};
pub use table::TextOptions;
pub use verdict::{
    BreakEvenPoint, Cheapest, Conclusion, CostOutlook, DEFAULT_LEVELS, Failure, Fastest, Line,
    Piece, calls_in_words,
};

use crate::{Report, Summary, Verdict};

/// `text` with every control character but newline and tab written as its Rust escape
/// (`\u{1b}`), for a terminal or a Markdown file: a label or note read from a Report (or
/// given with `--label`) must not move the cursor, recolour or clear the screen of
/// whoever reads the output. Everything else is unchanged.
///
/// ```
/// use latency_bench::render::printable;
/// assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\n");
/// ```
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// A duration given in milliseconds, in the unit that suits its size: `19.21µs`,
/// `13.02ms`, `123.4ms`, `1.23s`. Two decimals below 100 of the unit, one below 1000
/// (so three to four significant digits); `n/a` for NaN or infinity.
///
/// ```
/// use latency_bench::render::format_duration_ms;
/// assert_eq!(format_duration_ms(0.019_21), "19.21µs");
/// assert_eq!(format_duration_ms(13.02), "13.02ms");
/// assert_eq!(format_duration_ms(1234.0), "1.23s");
/// ```
pub fn format_duration_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "n/a".to_owned();
    }
    let sign = if ms < 0.0 { "-" } else { "" };
    let ms = ms.abs();
    // Pick the unit from the value as it will be printed, so 999.96 µs becomes
    // `1.00ms` rather than `1000.0µs`.
    let (value, unit) = if round_for_display(ms * 1000.0) < 1000.0 {
        (ms * 1000.0, "µs")
    } else if round_for_display(ms) < 1000.0 {
        (ms, "ms")
    } else {
        (ms / 1000.0, "s")
    };
    let digits = if round_for_display(value) < 100.0 {
        2
    } else {
        1
    };
    format!("{sign}{value:.digits$}{unit}")
}

/// `value` rounded as [`format_duration_ms`] would print it.
fn round_for_display(value: f64) -> f64 {
    if value < 99.995 {
        (value * 100.0).round() / 100.0
    } else {
        (value * 10.0).round() / 10.0
    }
}

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

/// Which architecture a measured Report belongs to, and in which phase.
///
/// Rows named `"X"` and `"X, 4 concurrent"` (the lab's labels) are the sequential and
/// the concurrent phase of one architecture `X`: notes are printed once for `X`, and the
/// HTML charts give both one colour, solid for sequential and dashed for concurrent.
/// A row is concurrent when it ran with more than one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase<'a> {
    /// The row's name without a trailing `, … concurrent`.
    pub architecture: &'a str,
    /// More than one connection.
    pub concurrent: bool,
}

impl<'a> Phase<'a> {
    /// The phase of `report`, from its name and connection count.
    pub fn of(report: &'a Report) -> Self {
        let name = report.name();
        let architecture = match name.rsplit_once(", ") {
            Some((head, tail)) if tail.ends_with("concurrent") && !head.is_empty() => head,
            _ => name,
        };
        Self {
            architecture,
            concurrent: report.plan.connections > 1,
        }
    }
}

/// Several runs side by side, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Heading of the HTML page.
    pub title: String,
    /// The rows.
    pub rows: Vec<Row>,
    /// Rows measured several times (`latency lab --repeat K`), by index in `rows`: the
    /// average latency cell shows the median with the min–max spread.
    pub spreads: std::collections::BTreeMap<usize, Spread>,
    /// The cost model's view of the architectures, for the verdict that opens the HTML
    /// page ([`Comparison::conclusion`]); `None` prices from the Reports' cost figures.
    pub costs: Option<CostOutlook>,
}

/// The spread of one row's average latency over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median of the runs' averages, ms.
    pub median_ms: f64,
    /// The smallest, ms.
    pub min_ms: f64,
    /// The largest, ms.
    pub max_ms: f64,
    /// How many runs.
    pub runs: usize,
}

/// A Report note starting with this says the machine was busy with other work while the
/// run was measured; the table marks the row with [`BUSY_MARK`] and the note is its
/// footnote.
pub const BUSY_NOTE_PREFIX: &str = "busy machine:";

/// The mark of a row measured on a busy machine.
pub const BUSY_MARK: &str = "†";

/// Whether a note of `report` says it was measured on a busy machine.
pub fn measured_busy(report: &Report) -> bool {
    report
        .notes
        .iter()
        .any(|note| note.starts_with(BUSY_NOTE_PREFIX))
}

/// How durations are written in table cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Units {
    /// Milliseconds with the unit in the header: the study's Markdown form.
    FixedMs,
    /// Each value in its own unit ([`format_duration_ms`]).
    Auto,
}

/// The table's columns: (header with fixed units, header with auto units).
const COLUMNS: [(&str, &str); 11] = [
    ("Architecture", "Architecture"),
    ("Average latency (ms)", "Average latency"),
    ("Monthly cost ($)", "Monthly cost ($)"),
    ("Cost per million calls ($)", "Cost per million calls ($)"),
    ("p50 (ms)", "p50"),
    ("p99 (ms)", "p99"),
    ("Cold start (ms)", "Cold start"),
    ("Throughput (req/s)", "Throughput (req/s)"),
    ("Load", "Load"),
    ("Errors", "Errors"),
    ("Counter check", "Counter check"),
];

/// The original study's columns, which come first (Architecture, Average latency,
/// Monthly cost, Cost per million calls).
const STUDY_COLUMNS: usize = 4;

/// The index of the free-text "Load" column (left-aligned, may wrap).
const LOAD_COLUMN: usize = 8;

impl Comparison {
    /// A comparison of these Reports, titled "Latency comparison".
    pub fn new(reports: impl IntoIterator<Item = Report>) -> Self {
        Self {
            title: "Latency comparison".to_owned(),
            rows: reports
                .into_iter()
                .map(|r| Row::Measured(Box::new(r)))
                .collect(),
            spreads: std::collections::BTreeMap::new(),
            costs: None,
        }
    }

    /// hyperfine's relative line for exactly two measured rows, per percentile:
    /// `A is 25.93× faster than B at p50 (142.3µs vs 3.69ms); A is 26.80× faster than B
    /// at p99 (…)`. `None` unless the comparison holds two measured rows with latencies.
    pub fn relative(&self) -> Option<String> {
        let measured: Vec<&Report> = self
            .rows
            .iter()
            .filter_map(|row| match row {
                Row::Measured(report) => Some(report.as_ref()),
                Row::Skipped { .. } => None,
            })
            .collect();
        let [a, b] = measured.as_slice() else {
            return None;
        };
        let (sa, sb) = (a.results.latency.as_ref()?, b.results.latency.as_ref()?);
        let name = |r: &Report| {
            r.target
                .label
                .clone()
                .unwrap_or_else(|| r.target.url.clone())
        };
        let parts: Vec<String> = [("p50", sa.p50_ms, sb.p50_ms), ("p99", sa.p99_ms, sb.p99_ms)]
            .into_iter()
            .filter(|(_, x, y)| *x > 0.0 && *y > 0.0)
            .map(|(p, x, y)| {
                let (fast, slow, fv, sv) = if x <= y {
                    (name(a), name(b), x, y)
                } else {
                    (name(b), name(a), y, x)
                };
                format!(
                    "{fast} is {:.2}× faster than {slow} at {p} ({} vs {})",
                    sv / fv,
                    format_duration_ms(fv),
                    format_duration_ms(sv)
                )
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
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

    /// The table's cells: header, then one row per entry. Shared by every renderer.
    fn cells(&self, units: Units) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header: Vec<&'static str> = COLUMNS
            .iter()
            .map(|(fixed, auto)| match units {
                Units::FixedMs => *fixed,
                Units::Auto => *auto,
            })
            .collect();
        let duration = |ms: f64| match units {
            Units::FixedMs => fmt_ms(ms),
            Units::Auto => format_duration_ms(ms),
        };
        let dash = || "–".to_owned();
        let money = |cost: Option<&crate::CostFigures>,
                     f: fn(&crate::CostFigures) -> Option<f64>| {
            match cost {
                None => dash(),
                Some(c) => f(c).map_or_else(|| "N/A".to_owned(), |v| format!("{v:.2}")),
            }
        };
        let average = |m: f64| match units {
            // The study's own precision.
            Units::FixedMs => format!("{m:.2}"),
            Units::Auto => format_duration_ms(m),
        };
        let rows = self
            .rows
            .iter()
            .enumerate()
            .map(|(index, row)| match row {
                Row::Skipped { architecture, .. } => {
                    let mut cells = vec![architecture.clone(), "skipped".to_owned()];
                    cells.resize(header.len(), dash());
                    cells
                }
                Row::Measured(rep) => {
                    let r = &rep.results;
                    let lat = |f: fn(&Summary) -> f64| {
                        r.latency.as_ref().map_or_else(dash, |s| duration(f(s)))
                    };
                    let counter = match r.counter.verdict {
                        Verdict::Fail => format!(
                            "FAIL ({} dup, {} gaps)",
                            r.counter.duplicates, r.counter.gaps
                        ),
                        v => v.label().to_owned(),
                    };
                    let name = if measured_busy(rep) {
                        format!("{} {BUSY_MARK}", rep.name())
                    } else {
                        rep.name().to_owned()
                    };
                    let mean = match self.spreads.get(&index) {
                        Some(s) => format!(
                            "{} ({}–{})",
                            average(s.median_ms),
                            average(s.min_ms),
                            average(s.max_ms)
                        ),
                        None => r.mean_all_ms.map_or_else(dash, average),
                    };
                    vec![
                        name,
                        mean,
                        money(rep.cost.as_ref(), |c| c.monthly_usd),
                        money(rep.cost.as_ref(), |c| c.per_million_calls_usd),
                        lat(|s| s.p50_ms),
                        lat(|s| s.p99_ms),
                        r.cold_start
                            .as_ref()
                            .and_then(|c| c.latency_ms)
                            .map_or_else(dash, duration),
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

    /// Footnotes: skipped rows' reasons, failed counter checks, notes, explanations of
    /// a second latency mode, and where the runs were measured. A note shared by the
    /// phases of one architecture ([`Phase`]) is given once, under the architecture.
    fn footnotes(&self) -> Vec<String> {
        self.notes().into_iter().map(|n| n.text).collect()
    }

    /// [`Comparison::footnotes`] with the architecture each is about (`None` for where
    /// the runs were measured), for the HTML page's notes grouped by architecture.
    fn notes(&self) -> Vec<Note> {
        let mut notes: Vec<Note> = Vec::new();
        let mut add = |architecture: &str, text: String| {
            if !notes.iter().any(|n| n.text == text) {
                notes.push(Note {
                    architecture: Some(architecture.to_owned()),
                    text,
                });
            }
        };
        for row in &self.rows {
            match row {
                Row::Skipped {
                    architecture,
                    reason,
                } => add(architecture, format!("{architecture}: skipped — {reason}")),
                Row::Measured(rep) => {
                    let arch = Phase::of(rep).architecture;
                    if rep.results.counter.verdict == Verdict::Fail {
                        add(
                            arch,
                            format!(
                                "{}: counter check failed — {}",
                                rep.name(),
                                rep.results.counter.note
                            ),
                        );
                    }
                    for n in &rep.notes {
                        if n.starts_with(BUSY_NOTE_PREFIX) {
                            add(arch, format!("{BUSY_MARK} {}: {n}", rep.name()));
                        } else {
                            add(arch, format!("{arch}: {n}"));
                        }
                    }
                    if let Some(c) = rep.cost.as_ref().and_then(|c| c.note.as_ref()) {
                        add(arch, format!("{arch}: cost — {c}"));
                    }
                    if let Some(mode) = second_mode(rep) {
                        add(arch, mode.explanation(rep.name()));
                    }
                }
            }
        }
        if let Some(line) = self.measured_on() {
            notes.push(Note {
                architecture: None,
                text: line,
            });
        }
        notes
    }

    /// "Measured on HOST (…) between FIRST and LAST.", if anything was measured.
    fn measured_on(&self) -> Option<String> {
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
        let first = self
            .measured()
            .map(|r| r.environment.started_at.clone())
            .min()?;
        let last = self
            .measured()
            .map(|r| r.environment.finished_at.clone())
            .max()?;
        Some(format!(
            "Measured on {} between {first} and {last}.",
            machines.join("; ")
        ))
    }

    /// The comparison table in the original study's form (`Architecture | Average
    /// latency (ms) | Monthly cost ($) | Cost per million calls ($)`) with p50, p99, cold
    /// start, throughput, load, errors and counter-check columns added, then footnotes.
    /// "Average latency" is [`mean_line`]'s figure. A cost cell is `N/A` when not
    /// applicable and `–` when unknown. Durations are in fixed milliseconds, as in the
    /// study; `|` in a cell is escaped and a line break becomes `<br>`, so a label
    /// cannot break the table.
    pub fn markdown(&self) -> String {
        let (header, rows) = self.cells(Units::FixedMs);
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let align: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i == 0 || i == LOAD_COLUMN {
                    "---"
                } else {
                    ":---:"
                }
            })
            .collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push_str(&markdown_notes(&self.notes()));
        out
    }

    /// The comparison for a terminal: aligned tables that fit `options.width` columns
    /// (the study's columns first, the rest in a second table) or one wide table, then
    /// the notes. Durations are auto-scaled ([`format_duration_ms`]).
    pub fn text(&self, options: &TextOptions) -> String {
        table::text(self, options)
    }

    /// A self-contained HTML page (no scripts, no external resources) with the default
    /// sections; [`Comparison::page`] adds more.
    pub fn html(&self) -> String {
        self.page().render()
    }

    /// The HTML page as a builder, to add [`Section`]s (e.g. the cost model's) inside
    /// its `<main>` before rendering.
    pub fn page(&self) -> Page<'_> {
        Page::new(self)
    }
}

/// A footnote and the architecture it is about.
#[derive(Debug, Clone, PartialEq)]
struct Note {
    /// The architecture ([`Phase::architecture`], or a skipped row's name); `None` for
    /// a note about the whole comparison.
    architecture: Option<String>,
    /// The note as the flat list prints it, starting with the name it is about.
    text: String,
}

/// The notes as Markdown: each architecture's folded in a `<details>` block (GitHub and
/// most previews fold it; as text it still reads), every note a whole bullet that names
/// its row, so a line copied out stands alone; then the notes about the whole
/// comparison as bullets.
fn markdown_notes(notes: &[Note]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut general = Vec::new();
    for note in notes {
        match &note.architecture {
            Some(arch) => match groups.iter_mut().find(|(a, _)| a == arch) {
                Some((_, texts)) => texts.push(&note.text),
                None => groups.push((arch, vec![&note.text])),
            },
            None => general.push(note.text.as_str()),
        }
    }
    let mut out = String::new();
    for (arch, texts) in &groups {
        let _ = writeln!(
            out,
            "\n<details><summary>{} ({} note{})</summary>\n",
            html::esc(&one_line(arch)),
            texts.len(),
            if texts.len() == 1 { "" } else { "s" }
        );
        for text in texts {
            let _ = writeln!(out, "- {}", one_line(text));
        }
        out.push_str("\n</details>\n");
    }
    if !general.is_empty() {
        out.push('\n');
        for text in general {
            let _ = writeln!(out, "- {}", one_line(text));
        }
    }
    out
}

/// A table cell made safe for Markdown: `|` escaped, line breaks as `<br>`.
fn markdown_cell(cell: &str) -> String {
    cell.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// Text on one line: line breaks become spaces (for bullet notes).
fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// Two peaks in a function row's warm latencies: the slower one is what a CPU quota
/// period adds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SecondMode {
    /// Middle of the faster peak's bin, ms.
    pub(crate) fast_ms: f64,
    /// Middle of the slower peak's bin, ms.
    pub(crate) slow_ms: f64,
    /// Share of warm requests above the dip between the peaks, 0 to 1.
    pub(crate) share: f64,
}

impl SecondMode {
    fn explanation(&self, name: &str) -> String {
        format!(
            "{name}: warm latencies have two modes, near {} and {} ({:.0}% in the slower). \
             The function's CPU is capped in proportion to its memory size (a CFS quota per \
             period, as Lambda scales CPU with memory): a request that uses up the quota \
             waits for the next period, which adds about one period. More memory, or less \
             CPU per request, removes the slower mode.",
            format_duration_ms(self.fast_ms),
            format_duration_ms(self.slow_ms),
            self.share * 100.0,
        )
    }
}

/// The second latency mode of a function row (a Report with `function` figures): the
/// two biggest histogram peaks at least half a decade apart (five bins at ten a decade),
/// with a dip under half the smaller between them, the slower holding at least 0.5% of
/// warm requests, and the two 20 ms to 1 s apart — the delay a CPU quota period adds.
/// Wider gaps (seconds of queueing under concurrency) and server rows are not flagged:
/// the explanation would be wrong for them.
pub(crate) fn second_mode(report: &Report) -> Option<SecondMode> {
    report.function.as_ref()?;
    let bins = &report.results.distribution.bins;
    let total: u64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let (main, _) = bins.iter().enumerate().max_by_key(|(_, b)| b.count)?;
    let (other, _) = bins
        .iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(main) >= 5)
        .max_by_key(|(_, b)| b.count)?;
    let (fast, slow) = (main.min(other), main.max(other));
    let (dip_at, dip) = bins[fast + 1..slow]
        .iter()
        .enumerate()
        .min_by_key(|(_, b)| b.count)?;
    let smaller = bins[fast].count.min(bins[slow].count);
    let middle = |i: usize| (bins[i].from_ms * bins[i].to_ms).sqrt();
    let slower: u64 = bins[fast + 1 + dip_at + 1..].iter().map(|b| b.count).sum();
    let share = slower as f64 / total as f64;
    let gap_ms = middle(slow) - middle(fast);
    (share >= 0.005 && dip.count * 2 < smaller && (20.0..=1000.0).contains(&gap_ms)).then_some(
        SecondMode {
            fast_ms: middle(fast),
            slow_ms: middle(slow),
            share,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bin, FunctionFigures};

    fn function_report(counts: &[u64]) -> Report {
        let path = format!(
            "{}/tests/fixtures/server-vm.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut r = Report::read(std::path::Path::new(&path)).expect("fixture");
        r.results.distribution.bins = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| Bin {
                from_ms: 10f64.powf(i as f64 / 10.0),
                to_ms: 10f64.powf((i + 1) as f64 / 10.0),
                count,
            })
            .collect();
        r.function = Some(FunctionFigures {
            invocations: counts.iter().sum(),
            cold_starts: 1,
            init_duration_ms: None,
            duration_ms: None,
            billed_duration_ms: None,
            max_memory_used_mb: None,
            memory_size_mb: Some(128),
        });
        r
    }

    #[test]
    fn units_scale_with_the_value_and_round_up_into_the_next_unit() {
        assert_eq!(format_duration_ms(0.019_211), "19.21µs");
        assert_eq!(format_duration_ms(0.123_45), "123.5µs");
        assert_eq!(format_duration_ms(0.999_999), "1.00ms");
        assert_eq!(format_duration_ms(13.024), "13.02ms");
        assert_eq!(format_duration_ms(999.96), "1.00s");
        assert_eq!(format_duration_ms(125_000.0), "125.0s");
        assert_eq!(format_duration_ms(f64::NAN), "n/a");
    }

    #[test]
    fn a_function_with_a_slow_second_peak_is_explained_and_one_peak_is_not() {
        // Ten bins a decade from 1 ms: a peak at 10–12.6 ms and a bigger one at 79–100 ms
        // (the shape of a real Lambda + S3 row under a CPU quota).
        let mut counts = vec![0u64; 20];
        counts[10] = 300;
        counts[11] = 100;
        counts[13] = 10;
        counts[19] = 590;
        let mode = second_mode(&function_report(&counts)).expect("a second mode");
        // Above the first empty bin after the fast peak: 10 + 590 of 1000.
        assert!((mode.share - 0.60).abs() < 1e-9, "{mode:?}");
        assert!(mode.fast_ms > 10.0 && mode.fast_ms < 12.6, "{mode:?}");
        assert!(mode.slow_ms > 79.0 && mode.slow_ms < 100.0, "{mode:?}");
        let cmp = Comparison::new([function_report(&counts)]);
        assert!(
            cmp.markdown()
                .contains("two modes, near 11.22ms and 89.13ms (60% in the slower)")
        );

        // A smooth tail (no dip), peaks seconds apart (queueing) and a server row are not
        // flagged.
        let smooth: Vec<u64> = (0..20).map(|i| 1000 / (i + 1)).collect();
        assert_eq!(second_mode(&function_report(&smooth)), None);
        let mut far = vec![0u64; 40];
        far[20] = 500;
        far[39] = 50;
        assert_eq!(second_mode(&function_report(&far)), None, "100 ms and 8 s");
        let mut server = function_report(&counts);
        server.function = None;
        assert_eq!(second_mode(&server), None);
    }

    #[test]
    fn a_busy_run_is_marked_with_its_footnote_and_a_repeated_row_shows_its_spread() {
        let mut busy = function_report(&[1]);
        busy.function = None;
        busy.target.label = Some("ec2".into());
        busy.results.mean_all_ms = Some(2.5);
        busy.notes.push(format!(
            "{BUSY_NOTE_PREFIX} other processes used 1.20 of 2 cores"
        ));
        let mut quiet = busy.clone();
        quiet.target.label = Some("k8s".into());
        quiet.notes.clear();
        assert!(measured_busy(&busy) && !measured_busy(&quiet));
        let mut cmp = Comparison::new([busy, quiet]);
        cmp.spreads.insert(
            1,
            Spread {
                median_ms: 2.31,
                min_ms: 2.2,
                max_ms: 2.6,
                runs: 3,
            },
        );
        let md = cmp.markdown();
        let rows: Vec<&str> = md.lines().skip(2).take(2).collect();
        assert!(rows[0].starts_with("| ec2 † | 2.50 |"), "{}", rows[0]);
        assert!(
            rows[1].starts_with("| k8s | 2.31 (2.20–2.60) |"),
            "{}",
            rows[1]
        );
        assert!(
            md.contains("- † ec2: busy machine: other processes used 1.20 of 2 cores"),
            "{md}"
        );
    }

    #[test]
    fn markdown_notes_fold_under_their_architecture() {
        let mut seq = function_report(&[1]);
        seq.function = None;
        seq.target.label = Some("VM <1>".into());
        seq.notes = vec!["shared note".into()];
        let mut conc = seq.clone();
        conc.target.label = Some("VM <1>, 8 concurrent".into());
        conc.plan.connections = 8;
        let mut cmp = Comparison::new([seq, conc]);
        cmp.skip("Fargate", "needs docker");
        let md = cmp.markdown();
        let notes = &md[md.find("\n\n").expect("a blank line after the table")..];
        assert!(
            notes.starts_with(
                "\n\n<details><summary>VM &lt;1&gt; (1 note)</summary>\n\n- VM <1>: shared note\n\n</details>\n"
            ),
            "{notes}"
        );
        assert!(
            notes.contains(
                "<details><summary>Fargate (1 note)</summary>\n\n- Fargate: skipped — needs docker\n\n</details>\n"
            ),
            "{notes}"
        );
        // Where it was measured is about every row: after the groups, in none.
        let measured = notes.find("- Measured on ").expect("measured on");
        assert!(
            measured > notes.rfind("</details>").expect("groups"),
            "{notes}"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_line_breaks_in_labels() {
        let mut r = function_report(&[1]);
        r.function = None;
        r.target.label = Some("a | b\nc".into());
        let md = Comparison::new([r]).markdown();
        let row = md.lines().nth(2).expect("a row");
        assert!(row.starts_with("| a \\| b<br>c |"), "{row}");
    }
}
