//! The HTML page. Charts are inline SVG written by hand rather than with `plotters`:
//! the page needs a few simple charts on log axes, text that stays selectable and
//! scales with the page, and no extra dependency tree in the measuring binary.
//!
//! Every chart keeps its text inside its `viewBox` (the browser test checks each
//! `<text>` box against its `<svg>` box at 1280 and 1920 px), so a label is placed on
//! whichever side of its mark has room rather than clipped.

use std::fmt::Write as _;

use super::{Comparison, Phase, Row, STUDY_COLUMNS, Units, format_duration_ms, second_mode};
use crate::Report;

/// Okabe–Ito colours, then four more distinct ones: twelve architectures before a colour
/// repeats (phases of one architecture share a colour and differ by dash).
const COLOURS: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999933",
    "#882255", "#44AA99", "#6A3D9A", "#8C564B",
];
/// The dash of a concurrent phase (sequential ones are solid).
const CONCURRENT_DASH: &str = "7 4";
/// Average width of a character of 12–13 px text, in SVG units, for placing labels.
const CHAR_WIDTH: f64 = 7.2;

/// The `i`-th series colour of the page's charts (Okabe–Ito first), repeating after
/// twelve: sections added with [`Page::section`] use it to match the built-in charts.
pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// `s` with `& < > " '` escaped, for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in HTML text (and end an XML parse of
            // the SVG): shown as their escape instead.
            c if c.is_control() && c != '\n' && c != '\t' => out.extend(c.escape_debug()),
            c => out.push(c),
        }
    }
    out
}

/// A tick label: [`format_duration_ms`] without trailing zeros (`100µs`, `1ms`, `2.5s`).
fn tick(ms: f64) -> String {
    let s = format_duration_ms(ms);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    format!("{number}{unit}")
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1a1a1a; --muted: #555; --line: #d0d0d0; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.meta, figcaption, .notes, p.explain { color: var(--muted); font-size: 14px; }
.table-wrap { overflow-x: auto; margin-bottom: 12px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: right; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 12em; text-align: left; }
thead th { background: #f3f3f3; vertical-align: bottom; text-align: center; }
tbody th { font-weight: 600; min-width: 14em; text-align: left; }
tr.skipped td, tr.skipped th { color: var(--muted); font-style: italic; }
td.fail { color: #b00020; font-weight: 600; }
tbody.arch tr:first-child > * { border-top: 2px solid #999; }
th.phase { font-weight: 400; color: var(--muted); padding-left: 1.6em; }
ul.verdict { font-size: 16px; padding-left: 1.2em; margin: 8px 0 12px; }
ul.verdict li { margin: 4px 0; }
ul.verdict li[data-verdict="failed"] strong { color: #b00020; }
div.notes h3 { font-size: 15px; margin: 12px 0 4px; color: var(--fg); }
details.notes { margin: 2px 0; }
details.notes summary { cursor: pointer; color: var(--fg); }
details.notes .count { color: var(--muted); }
details.notes ul { margin: 4px 0 8px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
figure { margin: 8px 0 16px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; fill: var(--fg); }
svg.key { display: inline-block; vertical-align: middle; margin-right: 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 16px; }
.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 20px; font-size: 14px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 14px; margin: 4px 0 12px; }
dt { color: var(--muted); }
dd { margin: 0; }
"#;

/// A titled part of the page: `<section id=…><h2>title</h2>body</section>`, inside
/// `<main>`. The body is HTML, inserted as given (the caller escapes its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    id: String,
    title: String,
    body: String,
}

impl Section {
    /// A section with this heading (escaped here) and HTML body (inserted as is). Its
    /// `id` is the heading in lower case with runs of other characters as `-`.
    pub fn new(title: impl Into<String>, body_html: impl Into<String>) -> Self {
        let title = title.into();
        let mut id = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                id.push(c.to_ascii_lowercase());
            } else if !id.ends_with('-') {
                id.push('-');
            }
        }
        Self {
            id: id.trim_matches('-').to_owned(),
            title,
            body: body_html.into(),
        }
    }

    fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n{}\n</section>\n",
            esc(&self.id),
            esc(&self.title),
            self.body
        );
    }
}

/// The HTML page of a [`Comparison`], built section by section:
///
/// 1. the verdict ([`Comparison::conclusion`]): cheapest at each traffic level,
///    break-even points, fastest, failed and skipped architectures;
/// 2. the summary (the study's table and a details table, each architecture's runs
///    grouped, then the notes folded under each architecture);
/// 3. the percentile spectrum of every measured row;
/// 4. cold start against warm latency, per architecture;
/// 5. average latency against monthly cost at [`Page::calls_per_month`], when rows
///    carry cost figures;
/// 6. the sections added with [`Page::section`], in the order added;
/// 7. a latency histogram per row, and each run's details.
///
/// Everything is inside `<main>`; the page loads nothing from anywhere.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    cmp: &'a Comparison,
    sections: Vec<Section>,
    calls_per_month: f64,
}

impl<'a> Page<'a> {
    pub(crate) fn new(cmp: &'a Comparison) -> Self {
        Self {
            cmp,
            sections: Vec::new(),
            calls_per_month: 10_000_000.0,
        }
    }

    /// Adds a section after the built-in charts (e.g. the cost model's break-even
    /// chart and table).
    #[must_use]
    pub fn section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }

    /// The volume (calls a month) at which the latency-against-cost scatter prices each
    /// row; 10 million unless set. Ignored unless positive and finite.
    #[must_use]
    pub fn calls_per_month(mut self, calls: f64) -> Self {
        if calls.is_finite() && calls > 0.0 {
            self.calls_per_month = calls;
        }
        self
    }

    /// The page.
    pub fn render(&self) -> String {
        let cmp = self.cmp;
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            esc(&cmp.title),
            esc(&cmp.title)
        );
        let rows = Rows::of(cmp);
        let verdict = cmp.conclusion(cmp.costs.as_ref()).html();
        Section::new("Verdict", verdict).write(&mut out);
        let _ = writeln!(
            out,
            "<p class=\"meta\">{} measured run{}, {} skipped. Average latency is the mean of \
             every answered measured request, cold start included, as the original study \
             reported it; percentiles are of warm requests.</p>",
            rows.measured.len(),
            if rows.measured.len() == 1 { "" } else { "s" },
            cmp.rows.len() - rows.measured.len()
        );
        Section::new("Summary", summary(cmp, &rows)).write(&mut out);
        let charted: Vec<&Measured<'_>> = rows
            .measured
            .iter()
            .filter(|m| spectrum_points(m.report).len() >= 2)
            .collect();
        if !charted.is_empty() {
            Section::new("Percentile spectrum", spectrum(&charted, &rows)).write(&mut out);
        }
        if let Some(body) = cold_warm(&rows) {
            Section::new("Cold start against warm", body).write(&mut out);
        }
        if let Some(body) = scatter(&rows, self.calls_per_month) {
            Section::new("Latency against cost", body).write(&mut out);
        }
        for s in &self.sections {
            s.write(&mut out);
        }
        if let Some(body) = histograms(&rows) {
            Section::new("Latency histograms", body).write(&mut out);
        }
        let mut runs = String::new();
        for m in &rows.measured {
            details(&mut runs, m.report);
        }
        Section::new("Runs", runs).write(&mut out);
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

/// A measured row with its architecture's colour index and its phase.
struct Measured<'a> {
    report: &'a Report,
    colour: usize,
    concurrent: bool,
}

impl Measured<'_> {
    fn stroke(&self) -> String {
        let dash = if self.concurrent {
            format!(" stroke-dasharray=\"{CONCURRENT_DASH}\"")
        } else {
            String::new()
        };
        format!("stroke=\"{}\"{dash}", colour(self.colour))
    }
}

/// The measured rows, each architecture ([`Phase`]) given one colour in order of first
/// appearance.
struct Rows<'a> {
    measured: Vec<Measured<'a>>,
    architectures: Vec<&'a str>,
}

impl<'a> Rows<'a> {
    fn of(cmp: &'a Comparison) -> Self {
        let mut architectures: Vec<&'a str> = Vec::new();
        let mut measured = Vec::new();
        for report in cmp.measured() {
            let phase = Phase::of(report);
            let colour = match architectures.iter().position(|a| *a == phase.architecture) {
                Some(i) => i,
                None => {
                    architectures.push(phase.architecture);
                    architectures.len() - 1
                }
            };
            measured.push(Measured {
                report,
                colour,
                concurrent: phase.concurrent,
            });
        }
        Self {
            measured,
            architectures,
        }
    }

    /// One row per architecture: its sequential phase if measured, else its first.
    fn per_architecture(&self) -> Vec<&Measured<'a>> {
        (0..self.architectures.len())
            .filter_map(|i| {
                let mut of = self.measured.iter().filter(|m| m.colour == i);
                let first = of.next()?;
                Some(
                    std::iter::once(first)
                        .chain(of)
                        .find(|m| !m.concurrent)
                        .unwrap_or(first),
                )
            })
            .collect()
    }
}

/// The study's table, a details table, and the notes grouped by architecture.
///
/// Both tables group each architecture's runs in one `<tbody class="arch">`: its first
/// run (the sequential one, in the lab) names the architecture, the others follow as
/// sub-rows named by their phase (`↳ 32 concurrent`), and a cost cell that is the same
/// for every run of the group spans them all. Groups keep the order of their first row.
fn summary(cmp: &Comparison, rows: &Rows<'_>) -> String {
    let (header, cells) = cmp.cells(Units::Auto);
    let mut out = String::new();
    let study: Vec<usize> = (0..STUDY_COLUMNS).collect();
    let rest: Vec<usize> = std::iter::once(0)
        .chain(STUDY_COLUMNS..header.len())
        .collect();
    // Per row: its architecture's colour (measured rows) and its group.
    let mut measured_index = 0;
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut swatches: Vec<Option<usize>> = Vec::new();
    for (index, row) in cmp.rows.iter().enumerate() {
        let (architecture, swatch) = match row {
            Row::Skipped { architecture, .. } => (architecture.clone(), None),
            Row::Measured(report) => {
                let c = rows.measured.get(measured_index).map(|m| m.colour);
                measured_index += 1;
                (Phase::of(report).architecture.to_owned(), c)
            }
        };
        swatches.push(swatch);
        // A skipped row is a group of its own even if a measured one shares its name.
        let skipped = matches!(row, Row::Skipped { .. });
        match groups
            .iter_mut()
            .find(|(a, members)| *a == architecture && !skipped && !is_skipped(cmp, members[0]))
        {
            Some((_, members)) => members.push(index),
            None => groups.push((architecture, vec![index])),
        }
    }
    for (columns, with_skipped) in [(&study, true), (&rest, false)] {
        out.push_str("<div class=\"table-wrap\"><table class=\"summary\">\n<thead><tr>");
        for &c in columns {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(header[c]));
        }
        out.push_str("</tr></thead>\n");
        for (architecture, members) in &groups {
            let skipped = is_skipped(cmp, members[0]);
            if skipped && !with_skipped {
                continue;
            }
            let _ = writeln!(
                out,
                "<tbody class=\"arch{}\" data-architecture=\"{}\">",
                if skipped { " skipped" } else { "" },
                esc(architecture)
            );
            for (k, &index) in members.iter().enumerate() {
                let row_cells = &cells[index];
                let _ = write!(
                    out,
                    "<tr{}>",
                    if skipped {
                        " class=\"skipped\""
                    } else if k > 0 {
                        " class=\"sub\""
                    } else {
                        ""
                    }
                );
                for &c in columns {
                    let cell = &row_cells[c];
                    let spans = (c == 2 || c == 3)
                        && members.len() > 1
                        && members.iter().all(|&m| cells[m][c] == *cell);
                    if spans && k > 0 {
                        continue;
                    }
                    let rowspan = if spans {
                        format!(" rowspan=\"{}\"", members.len())
                    } else {
                        String::new()
                    };
                    if c == 0 {
                        if k == 0 {
                            let swatch = swatches[index].map_or_else(String::new, |i| {
                                format!(
                                    "<span class=\"swatch\" style=\"background:{}\"></span>",
                                    colour(i)
                                )
                            });
                            let _ = write!(out, "<th scope=\"row\">{swatch}{}</th>", esc(cell));
                        } else {
                            // The run's name without its architecture: `32 concurrent`.
                            let phase = cell
                                .strip_prefix(architecture.as_str())
                                .and_then(|t| t.strip_prefix(", "))
                                .unwrap_or(cell);
                            let _ = write!(
                                out,
                                "<th scope=\"row\" class=\"phase\" title=\"{}\">↳ {}</th>",
                                esc(cell),
                                esc(phase)
                            );
                        }
                    } else if c == super::LOAD_COLUMN {
                        let _ = write!(out, "<td class=\"wrap\">{}</td>", esc(cell));
                    } else if cell.starts_with("FAIL") {
                        let _ = write!(out, "<td class=\"fail\">{}</td>", esc(cell));
                    } else {
                        let _ = write!(out, "<td{rowspan}>{}</td>", esc(cell));
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n");
        }
        out.push_str("</table></div>\n");
    }
    out.push_str(&notes(cmp, rows));
    out
}

/// Whether row `index` of `cmp` is skipped.
fn is_skipped(cmp: &Comparison, index: usize) -> bool {
    matches!(cmp.rows.get(index), Some(Row::Skipped { .. }))
}

/// The notes, one folded `<details class="notes">` per architecture (in the order of
/// the rows, its summary naming it and counting its notes), then the notes about the
/// whole comparison (where it was measured) as paragraphs.
fn notes(cmp: &Comparison, rows: &Rows<'_>) -> String {
    let notes = cmp.notes();
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut general = Vec::new();
    for note in &notes {
        match &note.architecture {
            Some(arch) => {
                // Under its architecture's heading the note need not repeat the name.
                let text = note
                    .text
                    .strip_prefix(arch.as_str())
                    .and_then(|t| t.strip_prefix(": "))
                    .unwrap_or(&note.text);
                match groups.iter_mut().find(|(a, _)| a == arch) {
                    Some((_, texts)) => texts.push(text),
                    None => groups.push((arch, vec![text])),
                }
            }
            None => general.push(note.text.as_str()),
        }
    }
    let mut out = String::new();
    if !groups.is_empty() {
        out.push_str("<div class=\"notes\">\n<h3>Notes by architecture</h3>\n");
    }
    for (arch, texts) in &groups {
        let swatch = rows
            .architectures
            .iter()
            .position(|a| a == arch)
            .map_or_else(String::new, |i| {
                format!(
                    "<span class=\"swatch\" style=\"background:{}\"></span>",
                    colour(i)
                )
            });
        let _ = write!(
            out,
            "<details class=\"notes\" data-architecture=\"{}\"><summary>{swatch}{} \
             <span class=\"count\">({} note{})</span></summary>\n<ul>\n",
            esc(arch),
            esc(arch),
            texts.len(),
            if texts.len() == 1 { "" } else { "s" }
        );
        for t in texts {
            let _ = writeln!(out, "<li>{}</li>", esc(t));
        }
        out.push_str("</ul>\n</details>\n");
    }
    if !groups.is_empty() {
        out.push_str("</div>\n");
    }
    for text in general {
        let _ = writeln!(out, "<p class=\"notes\">{}</p>", esc(text));
    }
    out
}

/// A log10 latency axis in ms, spanning whole decades.
struct LogAxis {
    lo: i32,
    hi: i32,
}

impl LogAxis {
    /// The decades covering `values` (ms); `None` if there is none. Values below 1 ns
    /// count as 1 ns (a log axis has no zero).
    fn covering(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let floor = 1e-6;
        let (mut min, mut max) = (f64::INFINITY, 0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            min = min.min(v.max(floor));
            max = max.max(v.max(floor));
        }
        if !min.is_finite() {
            return None;
        }
        let lo = min.log10().floor() as i32;
        let hi = (max.log10().ceil() as i32).max(lo + 1);
        Some(Self { lo, hi })
    }

    /// Position in [0, 1].
    fn pos(&self, ms: f64) -> f64 {
        let v = ms.max(10f64.powi(self.lo)).log10();
        ((v - f64::from(self.lo)) / f64::from(self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// The 1-2-5 steps of the axis with whether each is a decade.
    fn steps(&self) -> Vec<(f64, bool)> {
        let mut steps = Vec::new();
        for k in self.lo..=self.hi {
            for m in [1.0, 2.0, 5.0] {
                if k == self.hi && m > 1.0 {
                    continue;
                }
                steps.push((m * 10f64.powi(k), m == 1.0));
            }
        }
        steps
    }

    /// Grid lines across the plot area at the axis's 1-2-5 steps, and a label (from
    /// `label`) at each decade: along the bottom for [`Side::Bottom`] (values grow to
    /// the right), along the left for [`Side::Left`] (values grow upwards).
    fn draw(&self, out: &mut String, plot: &Plot, side: Side, label: impl Fn(f64) -> String) {
        for (v, major) in self.steps() {
            let at = self.pos(v);
            let (x1, y1, x2, y2) = match side {
                Side::Bottom => {
                    let x = plot.left + at * plot.width;
                    (x, plot.top, x, plot.top + plot.height)
                }
                Side::Left => {
                    let y = plot.top + (1.0 - at) * plot.height;
                    (plot.left, y, plot.left + plot.width, y)
                }
            };
            let _ = write!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{}\"/>",
                if major { "#c8c8c8" } else { "#ececec" }
            );
            if !major {
                continue;
            }
            let text = label(v);
            let (x, y, anchor) = match side {
                Side::Bottom => {
                    // Centred under its line, unless that would run past the chart's edge.
                    let half = CHAR_WIDTH * text.chars().count() as f64 / 2.0;
                    let anchor = if x1 + half > plot.w - 2.0 {
                        "end"
                    } else if x1 - half < 2.0 {
                        "start"
                    } else {
                        "middle"
                    };
                    (x1, plot.top + plot.height + 18.0, anchor)
                }
                Side::Left => (plot.left - 8.0, y1 + 4.0, "end"),
            };
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"13\" text-anchor=\"{anchor}\">{}</text>",
                esc(&text)
            );
        }
    }
}

/// Where an axis is drawn.
#[derive(Clone, Copy)]
enum Side {
    Bottom,
    Left,
}

/// A chart's size and its plot area, in SVG units.
struct Plot {
    w: f64,
    h: f64,
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Plot {
    fn new(w: f64, h: f64, left: f64, top: f64, right: f64, bottom: f64) -> Self {
        Self {
            w,
            h,
            left,
            top,
            width: w - left - right,
            height: h - top - bottom,
        }
    }

    /// The opening `<svg>` with a title, and a frame around the plot area is drawn by
    /// [`Plot::close`].
    fn open(&self, out: &mut String, class: &str, title: &str) {
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" \
             height=\"{}\" role=\"img\" class=\"{class}\"><title>{}</title>",
            self.w,
            self.h,
            self.w,
            self.h,
            esc(title)
        );
    }

    fn close(&self, out: &mut String, x_label: &str, y_label: &str) {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"middle\">{}</text>",
            self.left,
            self.top,
            self.width,
            self.height,
            self.left + self.width / 2.0,
            self.h - 10.0,
            esc(x_label)
        );
        if !y_label.is_empty() {
            let _ = write!(
                out,
                "<text transform=\"translate(18 {:.1}) rotate(-90)\" font-size=\"14\" \
                 text-anchor=\"middle\">{}</text>",
                self.top + self.height / 2.0,
                esc(y_label)
            );
        }
        out.push_str("</svg>\n");
    }
}

/// The percentiles the spectrum's x axis marks, as on HdrHistogram and wrk2 plots.
const SPECTRUM_TICKS: [(f64, &str); 5] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (99.99, "p99.99"),
];

/// "Nines" of a percentile: 50 → 0.30, 90 → 1, 99 → 2, 99.9 → 3.
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// A row's (percentile, ms) points from p50 to p99.99 (p100 has infinite nines).
fn spectrum_points(r: &Report) -> Vec<(f64, f64)> {
    r.results
        .distribution
        .percentiles
        .iter()
        .filter(|p| p.percentile >= 50.0 && p.percentile <= 99.99 + 1e-9)
        .map(|p| (p.percentile, p.ms))
        .collect()
}

/// Latency against percentile on the log "nines" axis: one colour per architecture,
/// solid for sequential and dashed for concurrent, with a legend showing the dashes.
fn spectrum(charted: &[&Measured<'_>], rows: &Rows<'_>) -> String {
    let mut out = String::from("<figure>\n");
    let plot = Plot::new(1000.0, 440.0, 76.0, 16.0, 28.0, 58.0);
    let axis = LogAxis::covering(
        charted
            .iter()
            .flat_map(|m| spectrum_points(m.report).into_iter().map(|(_, ms)| ms)),
    );
    let Some(axis) = axis else {
        return String::new();
    };
    let (x0, x1) = (nines(50.0), nines(99.99));
    let x_of = |p: f64| plot.left + (nines(p) - x0) / (x1 - x0) * plot.width;
    plot.open(
        &mut out,
        "spectrum",
        "Latency by percentile of warm requests, one line per run",
    );
    axis.draw(&mut out, &plot, Side::Left, tick);
    for (p, name) in SPECTRUM_TICKS {
        let x = x_of(p);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#c8c8c8\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"{}\">{name}</text>",
            plot.top,
            plot.top + plot.height,
            plot.top + plot.height + 18.0,
            // The last tick sits on the right edge: anchor it there so it stays inside.
            if p >= 99.99 { "end" } else { "middle" }
        );
    }
    for m in charted {
        let points: Vec<String> = spectrum_points(m.report)
            .iter()
            .map(|&(p, ms)| {
                format!(
                    "{:.1},{:.1}",
                    x_of(p),
                    plot.top + (1.0 - axis.pos(ms)) * plot.height
                )
            })
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"series\" fill=\"none\" {} stroke-width=\"2.5\" points=\"{}\">\
             <title>{}</title></polyline>",
            m.stroke(),
            points.join(" "),
            esc(m.report.name())
        );
    }
    plot.close(
        &mut out,
        "percentile (log scale of nines: each step right is ten times rarer)",
        "latency (log scale)",
    );
    out.push_str("<ul class=\"legend\">");
    for m in charted {
        let _ = write!(
            out,
            "<li><svg class=\"key\" width=\"36\" height=\"12\" viewBox=\"0 0 36 12\" \
             aria-hidden=\"true\"><line x1=\"0\" y1=\"6\" x2=\"36\" y2=\"6\" {} \
             stroke-width=\"2.5\"/></svg>{}</li>",
            m.stroke(),
            esc(m.report.name())
        );
    }
    out.push_str("</ul>\n");
    let dashed = rows.measured.iter().any(|m| m.concurrent);
    let _ = writeln!(
        out,
        "<figcaption>How slow the slowest requests are: the latency at or below which each \
         share of warm requests was answered. Lower is faster; a line that rises steeply \
         to the right has a slow tail.{}</figcaption>\n</figure>",
        if dashed {
            " Solid lines are sequential runs (one connection), dashed lines concurrent ones."
        } else {
            ""
        }
    );
    out
}

/// A text label beside a mark spanning `from..to` that stays inside `[min_x, max_x]`:
/// after the mark if it fits, else before it (never over it).
fn label_beside(from: f64, to: f64, text: &str, min_x: f64, max_x: f64) -> (f64, &'static str) {
    let width = CHAR_WIDTH * text.chars().count() as f64;
    if to + 6.0 + width <= max_x {
        (to + 6.0, "start")
    } else {
        ((from - 6.0).max(min_x + width), "end")
    }
}

/// [`label_beside`] a point.
fn label_at(x: f64, text: &str, min_x: f64, max_x: f64) -> (f64, &'static str) {
    label_beside(x, x, text, min_x, max_x)
}

/// Per architecture, the first request (cold) against warm p50 and p99, on one log axis.
fn cold_warm(rows: &Rows<'_>) -> Option<String> {
    let list: Vec<(&Measured<'_>, f64, f64, f64)> = rows
        .per_architecture()
        .into_iter()
        .filter_map(|m| {
            let r = &m.report.results;
            let cold = r.cold_start.as_ref()?.latency_ms?;
            let warm = r.latency.as_ref()?;
            Some((m, cold, warm.p50_ms, warm.p99_ms))
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    let axis = LogAxis::covering(list.iter().flat_map(|(_, c, p50, p99)| [*c, *p50, *p99]))?;
    let band = 54.0;
    let plot = Plot::new(
        1000.0,
        16.0 + band * list.len() as f64 + 52.0,
        24.0,
        16.0,
        24.0,
        52.0,
    );
    let mut out = String::from("<figure>\n");
    plot.open(
        &mut out,
        "cold-warm",
        "First request (cold) against warm p50 and p99, per architecture",
    );
    axis.draw(&mut out, &plot, Side::Bottom, tick);
    let (min_x, max_x) = (plot.left + 4.0, plot.left + plot.width - 4.0);
    for (k, (m, cold, p50, p99)) in list.iter().enumerate() {
        let y = plot.top + band * k as f64;
        let name = Phase::of(m.report).architecture;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"600\">{}</text>",
            plot.left + 6.0,
            y + 16.0,
            esc(name)
        );
        let x_of = |ms: f64| plot.left + axis.pos(ms) * plot.width;
        // Warm: a bar from p50 to p99, so the spread of warm requests shows.
        let (a, b) = (x_of(*p50), x_of(*p99));
        let warm_label = format!("warm p50 {} · p99 {}", tick(*p50), tick(*p99));
        let (lx, anchor) = label_beside(a, b, &warm_label, min_x, max_x);
        let _ = write!(
            out,
            "<rect x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{}\" \
             opacity=\"0.55\"><title>{}</title></rect>\
             <line x1=\"{a:.1}\" y1=\"{:.1}\" x2=\"{a:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\"/>\
             <text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\">{}</text>",
            y + 22.0,
            (b - a).max(2.0),
            colour(m.colour),
            esc(&warm_label),
            y + 20.0,
            y + 34.0,
            colour(m.colour),
            y + 31.0,
            esc(&warm_label)
        );
        // Cold: a diamond at the first request's latency.
        let c = x_of(*cold);
        let cold_label = format!("cold {}", tick(*cold));
        let (lx, anchor) = label_beside(c - 5.0, c + 5.0, &cold_label, min_x, max_x);
        let cy = y + 44.0;
        let _ = write!(
            out,
            "<path d=\"M{:.1} {cy:.1} l5 -5 l5 5 l-5 5 z\" fill=\"{}\"><title>{}</title></path>\
             <text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\">{}</text>",
            c - 5.0,
            colour(m.colour),
            esc(&cold_label),
            cy + 4.0,
            esc(&cold_label)
        );
    }
    plot.close(&mut out, "latency (log scale)", "");
    out.push_str(
        "<figcaption>The first request of each architecture's sequential run (a diamond: it \
         opens the connection and meets the server or function cold) against its warm \
         requests (a bar from p50 to p99).</figcaption>\n</figure>\n",
    );
    Some(out)
}

/// Average latency against monthly cost at `calls` calls a month, one point per run that
/// carries cost figures (monthly cost plus per-call cost times the volume).
fn scatter(rows: &Rows<'_>, calls: f64) -> Option<String> {
    let points: Vec<(&Measured<'_>, f64, f64)> = rows
        .measured
        .iter()
        .filter_map(|m| {
            let cost = m.report.cost.as_ref()?;
            let usd = cost.monthly_usd.unwrap_or(0.0)
                + cost.per_million_calls_usd.unwrap_or(0.0) * calls / 1e6;
            let ms = m.report.results.mean_all_ms?;
            (usd > 0.0 && usd.is_finite()).then_some((m, usd, ms))
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let x_axis = LogAxis::covering(points.iter().map(|(_, usd, _)| *usd))?;
    let y_axis = LogAxis::covering(points.iter().map(|(_, _, ms)| *ms))?;
    let plot = Plot::new(1000.0, 460.0, 76.0, 16.0, 28.0, 58.0);
    let volume = if calls >= 1e6 {
        format!(
            "{} million",
            crate::config::trim_float((calls / 1e4).round() / 100.0)
        )
    } else {
        crate::config::trim_float(calls.round())
    };
    let mut out = String::from("<figure>\n");
    plot.open(
        &mut out,
        "scatter",
        &format!("Average latency against monthly cost at {volume} calls a month"),
    );
    x_axis.draw(&mut out, &plot, Side::Bottom, |usd| {
        format!("${}", crate::config::trim_float(usd))
    });
    y_axis.draw(&mut out, &plot, Side::Left, tick);
    // Labels go right of their point, or left near the right edge; a label that would
    // sit on one already placed moves down a line.
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    let (min_x, max_x) = (plot.left + 2.0, plot.left + plot.width - 2.0);
    for (m, usd, ms) in &points {
        let x = plot.left + x_axis.pos(*usd) * plot.width;
        let y = plot.top + (1.0 - y_axis.pos(*ms)) * plot.height;
        let fill = if m.concurrent {
            "#fff".to_owned()
        } else {
            colour(m.colour).to_owned()
        };
        let name = m.report.name();
        let _ = write!(
            out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{fill}\" stroke=\"{}\" \
             stroke-width=\"2.5\"><title>{}: {} at ${usd:.2} a month</title></circle>",
            colour(m.colour),
            esc(name),
            tick(*ms)
        );
        let (lx, anchor) = label_at(x + 2.0, name, min_x, max_x);
        let width = CHAR_WIDTH * name.chars().count() as f64;
        let span = if anchor == "start" {
            (lx, lx + width)
        } else {
            (lx - width, lx)
        };
        let mut ly = y + 4.0;
        while placed
            .iter()
            .any(|(a, b, py)| (ly - py).abs() < 14.0 && span.0 < *b && *a < span.1)
        {
            ly += 14.0;
        }
        ly = ly.min(plot.top + plot.height - 4.0);
        placed.push((span.0, span.1, ly));
        let _ = write!(
            out,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"12\" text-anchor=\"{anchor}\">{}</text>",
            esc(name)
        );
    }
    plot.close(
        &mut out,
        &format!("monthly cost at {volume} calls a month (log scale)"),
        "average latency (log scale)",
    );
    let _ = writeln!(
        out,
        "<figcaption>Each run's average latency against what its architecture costs a month \
         at {volume} calls (its monthly cost plus its cost per call). Down and left is \
         faster and cheaper. Filled dots are sequential runs, hollow ones concurrent.\
         </figcaption>\n</figure>"
    );
    Some(out)
}

/// A histogram per measured row, in a grid.
fn histograms(rows: &Rows<'_>) -> Option<String> {
    let with_bins: Vec<&Measured<'_>> = rows
        .measured
        .iter()
        .filter(|m| !m.report.results.distribution.bins.is_empty())
        .collect();
    let axis = LogAxis::covering(with_bins.iter().flat_map(|m| {
        m.report
            .results
            .distribution
            .bins
            .iter()
            .flat_map(|b| [b.from_ms, b.to_ms])
    }))?;
    let mut out = String::from("<div class=\"grid\">\n");
    for m in with_bins {
        out.push_str("<figure>\n");
        out.push_str(&histogram_svg(m, &axis));
        let explain = second_mode(m.report).map_or_else(String::new, |mode| {
            format!(
                " Two modes, near {} and {}: see the notes for why.",
                tick(mode.fast_ms),
                tick(mode.slow_ms)
            )
        });
        let _ = writeln!(
            out,
            "<figcaption>{}: warm requests per latency bin (ten bins per decade); dashed \
             lines at p50 and p99.{explain}</figcaption>\n</figure>",
            esc(m.report.name())
        );
    }
    out.push_str("</div>\n");
    Some(out)
}

fn histogram_svg(m: &Measured<'_>, axis: &LogAxis) -> String {
    let r = m.report;
    let plot = Plot::new(440.0, 250.0, 56.0, 50.0, 14.0, 44.0);
    let bins = &r.results.distribution.bins;
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut out = String::new();
    plot.open(
        &mut out,
        "histogram",
        &format!("Latency histogram: {}", r.name()),
    );
    // The name is cut to the chart's width (the full name is in the caption below).
    // A 14 px bold title: about 1.25 of the 12 px CHAR_WIDTH per character.
    let room = ((plot.w - plot.left - 8.0) / (CHAR_WIDTH * 1.25)) as usize;
    let name: String = if r.name().chars().count() > room {
        let mut s: String = r.name().chars().take(room.saturating_sub(1)).collect();
        s.push('…');
        s
    } else {
        r.name().to_owned()
    };
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"18\" font-size=\"14\" font-weight=\"600\">{}</text>",
        plot.left,
        esc(&name)
    );
    axis.draw(&mut out, &plot, Side::Bottom, tick);
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">{max}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">0</text>",
        plot.left - 6.0,
        plot.top + 10.0,
        plot.left - 6.0,
        plot.top + plot.height
    );
    for b in bins.iter().filter(|b| b.count > 0) {
        let x0 = plot.left + axis.pos(b.from_ms) * plot.width;
        let x1 = plot.left + axis.pos(b.to_ms) * plot.width;
        let bh = plot.height * b.count as f64 / max as f64;
        let _ = write!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\">\
             <title>{}–{}: {}</title></rect>",
            plot.top + plot.height - bh,
            (x1 - x0 - 0.5).max(0.5),
            colour(m.colour),
            tick(b.from_ms),
            tick(b.to_ms),
            b.count
        );
    }
    if let Some(s) = &r.results.latency {
        // The p50 and p99 labels sit on their own lines above the plot, so they never
        // collide with each other or the bars, and each stays inside the chart.
        for (row, name, ms) in [(0.0, "p50", s.p50_ms), (1.0, "p99", s.p99_ms)] {
            let x = plot.left + axis.pos(ms) * plot.width;
            let text = format!("{name} {}", tick(ms));
            let (lx, anchor) = label_at(x - 6.0, &text, 2.0, plot.w - 2.0);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333\" \
                 stroke-dasharray=\"4 3\"/>\
                 <text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\">{}</text>",
                plot.top - 22.0 + 14.0 * row,
                plot.top + plot.height,
                plot.top - 12.0 + 14.0 * row,
                esc(&text)
            );
        }
    }
    plot.close(&mut out, "latency (log scale)", "");
    out
}

fn details(out: &mut String, r: &Report) {
    let e = &r.environment;
    let res = &r.results;
    let _ = writeln!(out, "<h3>{}</h3>\n<dl>", esc(r.name()));
    let mut item = |k: &str, v: String| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    };
    item("URL", format!("{} {}", r.target.method, r.target.url));
    item(
        "Load",
        format!(
            "{}, {} measured requests{}, {}",
            r.plan.load_description(),
            res.requests,
            if res.warmup_requests > 0 {
                format!(" after {} warm-up", res.warmup_requests)
            } else {
                String::new()
            },
            if r.plan.keepalive {
                "keep-alive"
            } else {
                "new connection per request"
            }
        ),
    );
    if let Some(s) = &res.latency {
        item(
            "Warm latency",
            s.figures_ms()
                .map(|(name, ms)| format!("{name} {}", format_duration_ms(ms)))
                .join(" · "),
        );
    }
    if let Some(s) = &res.latency_uncorrected {
        item(
            "Uncorrected",
            format!(
                "p50 {} · p99 {} · max {}",
                format_duration_ms(s.p50_ms),
                format_duration_ms(s.p99_ms),
                format_duration_ms(s.max_ms)
            ),
        );
    }
    let statuses: Vec<String> = res
        .status_codes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    item("Status codes", statuses.join(", "));
    let errors: Vec<String> = res
        .errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    item(
        "Errors",
        if errors.is_empty() {
            "none".to_owned()
        } else {
            errors.join(", ")
        },
    );
    item(
        "Counter",
        format!("{}: {}", res.counter.verdict.label(), res.counter.note),
    );
    if let Some(f) = &r.function {
        let mut parts = vec![format!(
            "{} invocations, {} cold",
            f.invocations, f.cold_starts
        )];
        let mut add = |name: &str, v: Option<f64>| {
            if let Some(v) = v {
                parts.push(format!("{name} {}", format_duration_ms(v)));
            }
        };
        add("init", f.init_duration_ms);
        add("duration", f.duration_ms);
        add("billed", f.billed_duration_ms);
        if let Some(mb) = f.max_memory_used_mb {
            parts.push(format!("max memory {mb:.1} MB"));
        }
        item("Function", parts.join(" · "));
    }
    item(
        "Measured",
        format!(
            "on {} ({} {}, {} CPUs) from {} to {}, latency-bench {}",
            e.hostname, e.os, e.arch, e.cpus, e.started_at, e.finished_at, e.tool_version
        ),
    );
    out.push_str("</dl>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_drop_trailing_zeros() {
        assert_eq!(tick(0.1), "100µs");
        assert_eq!(tick(1.0), "1ms");
        assert_eq!(tick(2500.0), "2.5s");
        assert_eq!(tick(0.001), "1µs");
    }

    #[test]
    fn a_section_gets_an_id_from_its_title_and_an_escaped_heading() {
        let mut out = String::new();
        Section::new("Cost <against> traffic", "<p>x</p>").write(&mut out);
        assert!(
            out.starts_with(
                "<section id=\"cost-against-traffic\">\n<h2>Cost &lt;against&gt; traffic</h2>"
            ),
            "{out}"
        );
        assert!(out.contains("<p>x</p>"));
    }

    #[test]
    fn added_sections_go_inside_main_after_the_built_in_charts() {
        let path = format!(
            "{}/tests/fixtures/server-vm.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let report = Report::read(std::path::Path::new(&path)).expect("fixture");
        let cmp = Comparison::new([report]);
        let html = cmp
            .page()
            .section(Section::new(
                "Cost against traffic",
                "<p id=\"cost\">chart</p>",
            ))
            .render();
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("<main>") < at("<section id=\"summary\">"));
        assert!(at("<section id=\"percentile-spectrum\">") < at("<p id=\"cost\">"));
        assert!(at("<p id=\"cost\">") < at("<section id=\"latency-histograms\">"));
        assert!(at("<section id=\"runs\">") < at("</main>"));
        assert_eq!(html.matches("</main>").count(), 1);
        assert!(html.ends_with("</main>\n</body>\n</html>\n"));
        // No cost figures in the Report: no scatter.
        assert!(!html.contains("latency-against-cost"));
    }

    #[test]
    fn a_label_near_the_right_edge_goes_left_of_its_mark() {
        assert_eq!(label_at(100.0, "abc", 0.0, 1000.0), (106.0, "start"));
        let (x, anchor) = label_at(990.0, "abcdef", 0.0, 1000.0);
        assert_eq!(anchor, "end");
        assert!(x <= 990.0);
        // A bar's label goes before the bar's start, not over the bar.
        assert_eq!(
            label_beside(700.0, 990.0, "abcdef", 0.0, 1000.0),
            (694.0, "end")
        );
    }
}

#[cfg(test)]
mod grouping_tests {
    use super::*;

    /// Two architectures of two runs each (the lab's shape, one note shared by both
    /// phases, one failed counter check), and a skipped row.
    fn lab_shaped() -> Comparison {
        let path = format!(
            "{}/tests/fixtures/server-vm.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let base = Report::read(std::path::Path::new(&path)).expect("fixture");
        let mut rows = Vec::new();
        for (name, monthly) in [("VM <a>", 10.0), ("Cluster", 40.0)] {
            let mut seq = base.clone();
            seq.target.label = Some(name.into());
            seq.plan.connections = 1;
            seq.notes = vec![format!("note of {name}")];
            seq.cost = Some(crate::CostFigures {
                monthly_usd: Some(monthly),
                per_million_calls_usd: None,
                note: None,
            });
            let mut conc = seq.clone();
            conc.target.label = Some(format!("{name}, 32 concurrent"));
            conc.plan.connections = 32;
            rows.push(seq);
            rows.push(conc);
        }
        let mut cmp = Comparison::new(rows);
        if let Row::Measured(r) = &mut cmp.rows[3] {
            r.results.counter.verdict = crate::Verdict::Fail;
        }
        cmp.skip("Fargate", "needs <docker>");
        cmp
    }

    #[test]
    fn each_architectures_runs_are_one_group_with_the_cost_spanning_them() {
        let html = lab_shaped().html();
        let summary = &html[html.find("<section id=\"summary\">").expect("summary")..];
        let study = &summary[..summary.find("</table>").expect("a table")];
        // Three groups in the study's table: two measured architectures and the skipped row.
        assert_eq!(study.matches("<tbody class=\"arch").count(), 3, "{study}");
        assert!(study.contains("<tbody class=\"arch\" data-architecture=\"VM &lt;a&gt;\">"));
        assert!(study.contains("<tbody class=\"arch skipped\" data-architecture=\"Fargate\">"));
        // The concurrent run is a sub-row named by its phase; the monthly cost, the same
        // for both runs, is one cell spanning both.
        assert!(
            study.contains("<th scope=\"row\" class=\"phase\" title=\"VM &lt;a&gt;, 32 concurrent\">↳ 32 concurrent</th>"),
            "{study}"
        );
        assert_eq!(
            study.matches("<td rowspan=\"2\">10.00</td>").count(),
            1,
            "{study}"
        );
        assert_eq!(
            study.matches("<tr").count(),
            6,
            "a header, four runs, one skipped: {study}"
        );
        // The details table leaves the skipped row out.
        let rest = &summary[summary.find("</table>").expect("a table") + 8..];
        let rest = &rest[..rest.find("</table>").expect("a second table")];
        assert_eq!(rest.matches("<tbody class=\"arch").count(), 2, "{rest}");
    }

    #[test]
    fn notes_are_folded_under_their_architecture() {
        let html = lab_shaped().html();
        let details: Vec<&str> = html.split("<details class=\"notes\"").skip(1).collect();
        assert_eq!(details.len(), 3, "VM, Cluster and the skipped Fargate");
        assert!(details[0].starts_with(" data-architecture=\"VM &lt;a&gt;\">"));
        // The shared note once, without the architecture's name repeated.
        assert_eq!(
            details[0].matches("<li>note of VM &lt;a&gt;</li>").count(),
            1,
            "{}",
            details[0]
        );
        assert!(
            details[1].contains("Cluster, 32 concurrent: counter check failed"),
            "{}",
            details[1]
        );
        assert!(details[1].contains("(2 notes)"), "{}", details[1]);
        assert!(
            details[2].contains("<li>skipped — needs &lt;docker&gt;</li>"),
            "{}",
            details[2]
        );
        assert!(!html.contains("<details open"), "folded");
        // The page-wide line is not under any architecture.
        assert!(html.contains("<p class=\"notes\">Measured on "), "{html}");
    }

    #[test]
    fn the_verdict_opens_the_page() {
        let html = lab_shaped().html();
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("<section id=\"verdict\">") < at("<section id=\"summary\">"));
        assert!(at("<h1>") < at("<section id=\"verdict\">"));
        let verdict = &html[at("<section id=\"verdict\">")..at("<section id=\"summary\">")];
        assert!(
            verdict.contains(
                "data-verdict=\"failed\"><strong>Failed:</strong> <b class=\"arch\">Cluster</b>"
            ),
            "{verdict}"
        );
        // Cluster failed, so VM is the cheapest and fastest.
        assert!(verdict.contains("data-verdict=\"cheapest\"><strong>Cheapest that passed:</strong> at 1 million, 10 million and 100 million calls a month, <b class=\"arch\">VM &lt;a&gt;</b> ($10.00 a month)"), "{verdict}");
        assert!(
            verdict.contains("<b class=\"arch\">Fargate</b>"),
            "{verdict}"
        );
    }
}
