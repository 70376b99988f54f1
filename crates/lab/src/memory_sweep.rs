//! The memory sweep (`latency lab --memory 128,256,512,1024,1769`): Lambda Power Tuning
//! without an AWS account. Each function row runs once per memory size, with the CPU
//! budget Lambda gives that size (`memory / 1769` vCPU over 20 ms periods), and each size
//! is reported with its cold start (init duration), p50 and p99, mean billed duration and
//! cost per million calls; per row, the cheapest, the fastest and a balanced size.
//!
//! Power Tuning averages durations after dropping the top and bottom 20%; the sweep
//! reports percentiles instead (p50 and p99 of every warm request of the sequential run,
//! as the client sees them), so a size whose tail is throttled shows it.
//!
//! The choices, over the sizes that were measured and priced:
//! - **cheapest**: the lowest cost per million calls (ties: the lower p50);
//! - **fastest**: the lowest p50 (ties: the lower cost);
//! - **balanced**: the lowest product of cost and p50, each divided by its best value
//!   across the sizes (`cost / min cost × p50 / min p50`, at least 1): the size that
//!   gives up the least in both at once (ties: the lower cost).

use std::fmt::Write as _;

use latency_bench::Report;
use latency_bench::render::{Section, escape_html, format_duration_ms, series_colour};
use latency_cost::PriceSheet;
use latency_platform::cgroup::lambda_vcpu;
use serde::Serialize;

use crate::Phase;
use crate::catalogue::{Architecture, Deployment};
use crate::cost::price_rows;

/// Lambda's smallest memory size, MB.
pub const MIN_MEMORY_MB: u32 = 128;
/// Lambda's largest memory size, MB.
pub const MAX_MEMORY_MB: u32 = 10_240;

/// Why a `--memory` list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadMemoryList {
    /// No size at all.
    #[error("no memory size given: list sizes in MB, e.g. --memory 128,256,512,1024,1769")]
    Empty,
    /// An entry that is not a whole number of MB.
    #[error("`{0}` is not a memory size in whole MB (e.g. --memory 128,256,512)")]
    NotANumber(String),
    /// A size Lambda does not offer.
    #[error("{0} MB is outside Lambda's memory range of 128 to 10240 MB")]
    OutOfRange(u32),
    /// The same size twice.
    #[error("{0} MB is listed twice")]
    Duplicate(u32),
}

/// Parses a comma-separated list of memory sizes in MB (`128,256,512`, spaces and an
/// `MB` suffix allowed), checks each against Lambda's range (128 to 10,240 MB) and
/// returns them in ascending order.
///
/// # Errors
/// [`BadMemoryList`] naming the first bad entry.
pub fn parse_memory_sizes(text: &str) -> Result<Vec<u32>, BadMemoryList> {
    let mut sizes = Vec::new();
    for entry in text.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let number = entry
            .strip_suffix("MB")
            .or_else(|| entry.strip_suffix("mb"))
            .unwrap_or(entry)
            .trim();
        let mb: u32 = number
            .parse()
            .map_err(|_| BadMemoryList::NotANumber(entry.to_owned()))?;
        if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&mb) {
            return Err(BadMemoryList::OutOfRange(mb));
        }
        if sizes.contains(&mb) {
            return Err(BadMemoryList::Duplicate(mb));
        }
        sizes.push(mb);
    }
    if sizes.is_empty() {
        return Err(BadMemoryList::Empty);
    }
    sizes.sort_unstable();
    Ok(sizes)
}

/// One function row at one memory size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The memory size, MB.
    pub memory_mb: u32,
    /// The CPU share it buys (`memory / 1769` vCPU).
    pub vcpu: f64,
    /// Init duration of the sequential run's cold start, ms.
    pub cold_start_ms: Option<f64>,
    /// Median of the sequential run's warm requests, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile of the sequential run's warm requests, ms.
    pub p99_ms: Option<f64>,
    /// Mean billed duration over both runs' invocations, ms.
    pub billed_ms: Option<f64>,
    /// Cost per million calls at this size, USD (the lab's price sheet).
    pub per_million_usd: Option<f64>,
    /// Why this size has no figures (it could not be started or measured).
    pub problem: Option<String>,
}

impl SweepPoint {
    /// A size measured by the sequential and concurrent runs in `runs`, whose invocations
    /// were billed `billed_ms`, priced on `sheet`.
    pub(crate) fn measured(
        row: &Architecture,
        memory_mb: u32,
        runs: &[(Phase, Report)],
        billed_ms: &[f64],
        sheet: &PriceSheet,
    ) -> SweepPoint {
        let sequential = runs
            .iter()
            .find(|(phase, _)| *phase == Phase::Sequential)
            .map(|(_, report)| report);
        let latency = sequential.and_then(|r| r.results.latency.as_ref());
        let per_million_usd = price_rows(&[(row, billed_ms)], memory_mb, sheet)
            .figures(row)
            .and_then(|figures| figures.per_million_calls_usd);
        SweepPoint {
            memory_mb,
            vcpu: lambda_vcpu(memory_mb),
            cold_start_ms: sequential
                .and_then(|r| r.function.as_ref())
                .and_then(|f| f.init_duration_ms),
            p50_ms: latency.map(|s| s.p50_ms),
            p99_ms: latency.map(|s| s.p99_ms),
            billed_ms: (!billed_ms.is_empty())
                .then(|| billed_ms.iter().sum::<f64>() / billed_ms.len() as f64),
            per_million_usd,
            problem: None,
        }
    }

    /// A size that was not measured, and why.
    pub(crate) fn failed(memory_mb: u32, problem: String) -> SweepPoint {
        SweepPoint {
            memory_mb,
            vcpu: lambda_vcpu(memory_mb),
            cold_start_ms: None,
            p50_ms: None,
            p99_ms: None,
            billed_ms: None,
            per_million_usd: None,
            problem: Some(problem),
        }
    }
}

/// The cheapest, fastest and balanced memory sizes of one row (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Choices {
    /// The lowest cost per million calls.
    pub cheapest_mb: u32,
    /// The lowest p50.
    pub fastest_mb: u32,
    /// The lowest `cost / min cost × p50 / min p50`.
    pub balanced_mb: u32,
}

/// A memory size (MB) with two of its figures.
type Figures = (u32, f64, f64);

/// Chooses among the points that have both a cost and a p50 (positive and finite);
/// `None` when there is none.
pub fn choose(points: &[SweepPoint]) -> Option<Choices> {
    let usable: Vec<Figures> = points
        .iter()
        .filter_map(|p| Some((p.memory_mb, p.per_million_usd?, p.p50_ms?)))
        .filter(|&(_, cost, p50)| cost.is_finite() && cost > 0.0 && p50.is_finite() && p50 > 0.0)
        .collect();
    let min_cost = usable.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let min_p50 = usable.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let best = |key: &dyn Fn(&Figures) -> (f64, f64)| {
        usable
            .iter()
            .min_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                ka.0.total_cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(a.0.cmp(&b.0))
            })
            .map(|p| p.0)
    };
    Some(Choices {
        cheapest_mb: best(&|p| (p.1, p.2))?,
        fastest_mb: best(&|p| (p.2, p.1))?,
        balanced_mb: best(&|p| ((p.1 / min_cost) * (p.2 / min_p50), p.1))?,
    })
}

/// One function row across the sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowSweep {
    /// The row's selector (`lambda-dynamodb`).
    pub row: String,
    /// Its title.
    pub title: String,
    /// One point per size, ascending.
    pub points: Vec<SweepPoint>,
    /// The choices among the measured sizes.
    pub choices: Option<Choices>,
}

/// Every function row of a lab run across the memory sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySweep {
    /// The sizes, ascending; the lab's main table shows the first.
    pub sizes: Vec<u32>,
    /// One entry per function row that was started at all, in catalogue order.
    pub rows: Vec<RowSweep>,
}

impl MemorySweep {
    /// An empty sweep over `sizes` (ascending, as [`parse_memory_sizes`] returns them).
    pub fn new(sizes: Vec<u32>) -> MemorySweep {
        MemorySweep {
            sizes,
            rows: Vec::new(),
        }
    }

    /// Whether `row` is swept (function rows are; server rows run once).
    pub fn covers(row: &Architecture) -> bool {
        matches!(row.deployment, Deployment::Function { .. })
    }

    /// Adds `point` to `row`'s sweep and updates its choices.
    pub(crate) fn record(&mut self, row: &Architecture, point: SweepPoint) {
        let selector = row.selector();
        let index = match self.rows.iter().position(|r| r.row == selector) {
            Some(index) => index,
            None => {
                self.rows.push(RowSweep {
                    row: selector,
                    title: row.title.to_owned(),
                    points: Vec::new(),
                    choices: None,
                });
                self.rows.len() - 1
            }
        };
        let entry = &mut self.rows[index];
        entry.points.retain(|p| p.memory_mb != point.memory_mb);
        entry.points.push(point);
        entry.points.sort_by_key(|p| p.memory_mb);
        entry.choices = choose(&entry.points);
    }

    /// The sweep as aligned text (at most 120 columns): one line per row and size, then
    /// one line of choices per row.
    pub fn text(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.title.chars().count())
            .max()
            .unwrap_or(3)
            .clamp(3, 40);
        let mut out = format!(
            "Memory sweep (p50/p99: warm requests of the sequential run; cold start: init duration; \
             billed: mean per call)\n{:<width$} {:>6} {:>6} {:>10} {:>9} {:>9} {:>9} {:>11}\n",
            "Row", "MB", "vCPU", "Cold start", "p50", "p99", "Billed", "$/M calls"
        );
        for row in &self.rows {
            let title: String = row.title.chars().take(width).collect();
            for (i, p) in row.points.iter().enumerate() {
                let name = if i == 0 { title.as_str() } else { "" };
                match &p.problem {
                    Some(problem) => {
                        let _ = writeln!(
                            out,
                            "{name:<width$} {:>6} {:>6.3} not measured: {}",
                            p.memory_mb,
                            p.vcpu,
                            // 15 columns of size and vCPU, 14 of "not measured: ".
                            clip(problem, 120 - width - 15 - 14)
                        );
                    }
                    None => {
                        let [cold, p50, p99, billed, usd] = figure_cells(p);
                        let _ = writeln!(
                            out,
                            "{name:<width$} {:>6} {:>6.3} {cold:>10} {p50:>9} {p99:>9} {billed:>9} {usd:>11}",
                            p.memory_mb, p.vcpu,
                        );
                    }
                }
            }
        }
        for row in &self.rows {
            let _ = writeln!(out, "{}", choice_line(row));
        }
        out
    }

    /// The sweep as a Markdown table and the choices, for `report.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "\n## Memory sweep\n\nEach function row once per memory size, with that size's CPU \
             budget (`memory / 1769` vCPU over 20 ms periods). p50 and p99 are of the \
             sequential run's warm requests (percentiles, not Power Tuning's trimmed mean); the \
             cold start is the init duration; billed is the mean billed duration per call.\n\n\
             | Row | MB | vCPU | Cold start | p50 | p99 | Billed | $ per million calls |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            for p in &row.points {
                match &p.problem {
                    Some(problem) => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | {:.3} | not measured: {} | | | | |",
                            row.title,
                            p.memory_mb,
                            p.vcpu,
                            problem.replace('|', "/")
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | {:.3} | {} |",
                            row.title,
                            p.memory_mb,
                            p.vcpu,
                            figure_cells(p).join(" | ")
                        );
                    }
                }
            }
        }
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "- {}", choice_line(row));
        }
        out.push_str(
            "\nBalanced: the lowest `cost / min cost × p50 / min p50` across the sizes.\n",
        );
        out
    }

    /// The sweep's section of `report.html`: cost per million calls against p50, one
    /// series per row with each point labelled by its size, then the table.
    pub fn html_section(&self) -> Section {
        let mut body = String::from(
            "<p class=\"explain\">Each function row once per memory size, with that size's \
             CPU budget. p50 and p99 are of the sequential run's warm requests (percentiles, \
             not Power Tuning's trimmed mean). Balanced: the lowest cost ÷ min cost × p50 ÷ \
             min p50.</p>\n",
        );
        body.push_str(&self.chart());
        body.push_str("<ul class=\"legend\">");
        for (i, row) in self.rows.iter().enumerate() {
            let _ = write!(
                body,
                "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
                series_colour(i),
                escape_html(&row.title)
            );
        }
        body.push_str("</ul>\n<div class=\"table-wrap\"><table>\n<thead><tr>");
        for header in [
            "Row",
            "MB",
            "vCPU",
            "Cold start",
            "p50",
            "p99",
            "Billed",
            "$ per million calls",
            "Choice",
        ] {
            let _ = write!(body, "<th scope=\"col\">{header}</th>");
        }
        body.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            for p in &row.points {
                let choice = row
                    .choices
                    .map(|c| marks(&c, p.memory_mb))
                    .unwrap_or_default();
                let cells = match &p.problem {
                    Some(problem) => format!(
                        "<td class=\"wrap\" colspan=\"6\">not measured: {}</td><td></td>",
                        escape_html(problem)
                    ),
                    None => format!(
                        "<td>{}</td><td>{choice}</td>",
                        figure_cells(p).join("</td><td>")
                    ),
                };
                let _ = writeln!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{:.3}</td>{cells}</tr>",
                    escape_html(&row.title),
                    p.memory_mb,
                    p.vcpu
                );
            }
        }
        body.push_str("</tbody></table></div>\n");
        Section::new("Memory sweep", body)
    }

    /// The chart: cost per million calls (y) against p50 (x), linear axes.
    fn chart(&self) -> String {
        const WIDTH: f64 = 900.0;
        const HEIGHT: f64 = 460.0;
        const LEFT: f64 = 84.0;
        const RIGHT: f64 = 24.0;
        const TOP: f64 = 20.0;
        const BOTTOM: f64 = 56.0;
        const CHAR_WIDTH: f64 = 7.2;
        let series: Vec<(usize, Vec<Figures>)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let points = row
                    .points
                    .iter()
                    .filter_map(|p| Some((p.memory_mb, p.p50_ms?, p.per_million_usd?)))
                    .filter(|&(_, x, y)| x.is_finite() && y.is_finite())
                    .collect();
                (i, points)
            })
            .collect();
        let all: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|(_, points)| points.iter().map(|&(_, x, y)| (x, y)))
            .collect();
        let mut svg = format!(
            "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"Cost per million \
             calls against p50 latency, per memory size\" font-size=\"12\">"
        );
        if all.is_empty() {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no size was measured and \
                 priced</text></svg></figure>",
                WIDTH / 2.0,
                HEIGHT / 2.0
            );
            return svg;
        }
        let (x_lo, x_hi, x_step) = axis(all.iter().map(|p| p.0));
        let (y_lo, y_hi, y_step) = axis(all.iter().map(|p| p.1));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w;
        let sy = |y: f64| TOP + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h;
        // Grid and ticks.
        for (i, x) in ticks(x_lo, x_hi, x_step).into_iter().enumerate() {
            let _ = write!(
                svg,
                "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#e3e3e3\"/>\
                 <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"{3}\">{4}</text>",
                sx(x),
                TOP + plot_h,
                TOP + plot_h + 18.0,
                if i == 0 { "start" } else { "middle" },
                escape_html(&format_duration_ms(x))
            );
        }
        for y in ticks(y_lo, y_hi, y_step) {
            let _ = write!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#e3e3e3\"/>\
                 <text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">${4}</text>",
                sy(y),
                LEFT + plot_w,
                LEFT - 6.0,
                sy(y) + 4.0,
                trim_usd(y)
            );
        }
        let _ = write!(
            svg,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" \
             stroke=\"#999\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">p50 latency (sequential run)</text>\
             <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">cost per \
             million calls (USD)</text>",
            LEFT + plot_w / 2.0,
            HEIGHT - 10.0,
            TOP + plot_h / 2.0
        );
        for (i, points) in &series {
            let colour = series_colour(*i);
            if points.len() >= 2 {
                let path: Vec<String> = points
                    .iter()
                    .map(|&(_, x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                    .collect();
                let _ = write!(
                    svg,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
                    path.join(" ")
                );
            }
            for &(mb, x, y) in points {
                let (px, py) = (sx(x), sy(y));
                let label = format!("{mb} MB");
                let width = label.len() as f64 * CHAR_WIDTH;
                // Right of the point when it fits, else left; kept inside the plot.
                let (lx, anchor) = if px + 7.0 + width <= WIDTH - 2.0 {
                    (px + 7.0, "start")
                } else {
                    (px - 7.0, "end")
                };
                let ly = (py - 6.0).clamp(TOP + 12.0, TOP + plot_h - 4.0);
                let _ = write!(
                    svg,
                    "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\" fill=\"{colour}\"/>\
                     <text class=\"size-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\">{label}</text>"
                );
            }
        }
        svg.push_str(
            "</svg><figcaption>Cost per million calls against p50, one line per function \
                      row through its memory sizes (labelled).</figcaption></figure>\n",
        );
        svg
    }
}

/// `row`'s choices in one line: `Lambda + DynamoDB: cheapest 128 MB, fastest 1769 MB,
/// balanced 512 MB`.
fn choice_line(row: &RowSweep) -> String {
    match row.choices {
        Some(c) => format!(
            "{}: cheapest {} MB, fastest {} MB, balanced {} MB",
            row.title, c.cheapest_mb, c.fastest_mb, c.balanced_mb
        ),
        None => format!("{}: no size was measured and priced", row.title),
    }
}

/// Which of the choices `memory_mb` is, comma-separated.
fn marks(choices: &Choices, memory_mb: u32) -> String {
    [
        (choices.cheapest_mb, "cheapest"),
        (choices.fastest_mb, "fastest"),
        (choices.balanced_mb, "balanced"),
    ]
    .iter()
    .filter(|(mb, _)| *mb == memory_mb)
    .map(|(_, name)| *name)
    .collect::<Vec<_>>()
    .join(", ")
}

/// A measured point's figures as table cells: cold start, p50, p99, billed, $ per million.
fn figure_cells(p: &SweepPoint) -> [String; 5] {
    [
        ms_cell(p.cold_start_ms),
        ms_cell(p.p50_ms),
        ms_cell(p.p99_ms),
        ms_cell(p.billed_ms),
        usd_cell(p.per_million_usd),
    ]
}

fn ms_cell(ms: Option<f64>) -> String {
    ms.map_or_else(|| "n/a".to_owned(), format_duration_ms)
}

fn usd_cell(usd: Option<f64>) -> String {
    usd.map_or_else(|| "n/a".to_owned(), |usd| format!("{usd:.4}"))
}

/// A tick's dollar value without trailing zeros (`0.5`, `1.25`).
fn trim_usd(usd: f64) -> String {
    let text = format!("{usd:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(chars - 1).collect();
    clipped.push('…');
    clipped
}

/// A linear axis covering `values`: (low, high, tick step), on a 1-2-5 step with about
/// five ticks and some room either side; a single value gets ±10%.
fn axis(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi - lo <= hi.abs() * 1e-9 {
        let pad = (hi.abs() * 0.1).max(1e-3);
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let lo = ((lo / step).floor() * step).max(0.0);
    let hi = (hi / step).ceil() * step;
    (lo, if hi > lo { hi } else { lo + step }, step)
}

/// The tick values from `lo` to `hi` by `step` (at most 50).
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    (0..=50)
        .map(|i| lo + f64::from(i) * step)
        .take_while(|v| *v <= hi + step * 1e-6)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(memory_mb: u32, cost: f64, p50: f64) -> SweepPoint {
        SweepPoint {
            memory_mb,
            vcpu: lambda_vcpu(memory_mb),
            cold_start_ms: Some(20.0),
            p50_ms: Some(p50),
            p99_ms: Some(p50 * 3.0),
            billed_ms: Some(p50 / 2.0),
            per_million_usd: Some(cost),
            problem: None,
        }
    }

    #[test]
    fn sizes_parse_sorted_and_bad_ones_are_named() {
        assert_eq!(
            parse_memory_sizes("1769, 128,512MB,256").expect("valid"),
            [128, 256, 512, 1769]
        );
        assert_eq!(parse_memory_sizes("10240").expect("valid"), [10_240]);
        assert_eq!(
            parse_memory_sizes("128,64"),
            Err(BadMemoryList::OutOfRange(64))
        );
        assert_eq!(
            parse_memory_sizes("128,10241"),
            Err(BadMemoryList::OutOfRange(10_241))
        );
        assert_eq!(
            parse_memory_sizes("128,big"),
            Err(BadMemoryList::NotANumber("big".to_owned()))
        );
        assert_eq!(
            parse_memory_sizes("256,256"),
            Err(BadMemoryList::Duplicate(256))
        );
        assert_eq!(parse_memory_sizes(" , "), Err(BadMemoryList::Empty));
        let message = parse_memory_sizes("128,99999")
            .expect_err("too big")
            .to_string();
        assert!(
            message.contains("99999 MB") && message.contains("128 to 10240"),
            "{message}"
        );
    }

    /// Known data: cost rises with memory while p50 falls then flattens, as a
    /// CPU-bound function's does.
    #[test]
    fn cheapest_fastest_and_balanced_on_known_data() {
        let points = [
            point(128, 1.00, 40.0),  // cheapest; 1.00 × 4.0 = 4.0
            point(256, 1.10, 20.0),  // 1.10 × 2.0 = 2.2
            point(512, 1.30, 11.0),  // 1.30 × 1.1 = 1.43  <- balanced
            point(1024, 2.00, 10.0), // fastest; 2.00 × 1.0 = 2.0
        ];
        let choices = choose(&points).expect("choices");
        assert_eq!(
            choices,
            Choices {
                cheapest_mb: 128,
                fastest_mb: 1024,
                balanced_mb: 512
            }
        );
    }

    #[test]
    fn ties_and_unmeasured_sizes() {
        // Same cost: the faster one is the cheapest; same p50: the cheaper one is fastest.
        let points = [
            point(128, 1.0, 30.0),
            point(256, 1.0, 20.0),
            point(512, 2.0, 20.0),
            SweepPoint::failed(1024, "could not start".to_owned()),
        ];
        let choices = choose(&points).expect("choices");
        assert_eq!(choices.cheapest_mb, 256);
        assert_eq!(choices.fastest_mb, 256);
        assert_eq!(choices.balanced_mb, 256);
        assert_eq!(
            choose(&points[3..]),
            None,
            "nothing measured, nothing chosen"
        );
    }

    #[test]
    fn the_text_fits_120_columns_and_marks_the_choices() {
        let mut sweep = MemorySweep::new(vec![128, 256, 512, 1024]);
        sweep.rows.push(RowSweep {
            row: "lambda-dynamodb".to_owned(),
            title: "Lambda (JavaScript) + DynamoDB, read-modify-write, a long title".to_owned(),
            points: vec![
                point(128, 1.00, 40.0),
                point(256, 1.10, 20.0),
                point(512, 1.30, 11.0),
                SweepPoint::failed(1024, "x".repeat(200)),
            ],
            choices: None,
        });
        sweep.rows[0].choices = choose(&sweep.rows[0].points);
        let text = sweep.text();
        for line in text.lines() {
            assert!(
                line.chars().count() <= 120,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(
            text.contains("cheapest 128 MB, fastest 512 MB, balanced 512 MB"),
            "{text}"
        );
        assert!(text.contains("not measured: xxx"), "{text}");
        let html = sweep.html_section();
        let page_text = format!("{html:?}");
        for label in ["128 MB", "256 MB", "512 MB"] {
            assert!(page_text.contains(label), "{label} labelled");
        }
    }

    /// Every size label stays inside the chart's 900-unit width, at the page's estimate
    /// of a character's width (the browser suite checks rendered boxes on the
    /// `latency report` page; this chart is only in the lab's).
    #[test]
    fn size_labels_stay_inside_the_chart() {
        let mut sweep = MemorySweep::new(vec![128, 10_240]);
        for (i, title) in ["a", "b"].iter().enumerate() {
            let scale = (i + 1) as f64;
            sweep.rows.push(RowSweep {
                row: (*title).to_owned(),
                title: (*title).to_owned(),
                // The extremes of both axes: labels at the plot's corners.
                points: vec![
                    point(128, 9.0 * scale, 0.5),
                    point(10_240, 0.1, 900.0 * scale),
                ],
                choices: None,
            });
        }
        let svg = sweep.chart();
        let mut labels = 0;
        for part in svg.split("<text class=\"size-label\" ").skip(1) {
            let attr = |name: &str| -> String {
                let start = part.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
                part[start..].split('"').next().expect("value").to_owned()
            };
            let x: f64 = attr("x").parse().expect("x");
            let y: f64 = attr("y").parse().expect("y");
            let label = part
                .split('>')
                .nth(1)
                .expect("text")
                .split('<')
                .next()
                .expect("text");
            let width = label.len() as f64 * 7.2;
            let (left, right) = match attr("text-anchor").as_str() {
                "start" => (x, x + width),
                _ => (x - width, x),
            };
            assert!(
                left >= 0.0 && right <= 900.0,
                "{label} at {x}: {left}..{right}"
            );
            assert!((12.0..=460.0).contains(&y), "{label} at y {y}");
            labels += 1;
        }
        assert_eq!(labels, 4, "one label per point");
    }

    #[test]
    fn axes_cover_their_values_with_round_ticks() {
        let (lo, hi, step) = axis([3.2, 7.9].into_iter());
        assert!(lo <= 3.2 && hi >= 7.9 && step == 1.0, "{lo} {hi} {step}");
        let (lo, hi, _) = axis([2.5].into_iter());
        assert!(lo < 2.5 && hi > 2.5);
        assert!(ticks(lo, hi, 0.1).len() <= 51);
    }
}
