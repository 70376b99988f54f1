//! The HTML page. Charts are inline SVG written by hand rather than with `plotters`:
//! the page needs two simple chart types on log axes, text that stays selectable and
//! scales with the page, and no extra dependency tree in the measuring binary.

use std::fmt::Write as _;

use super::{Comparison, Row, fmt_ms};
use crate::Report;

/// Okabe–Ito colours, distinguishable with the common colour-vision deficiencies.
const COLOURS: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999933",
];
const DASHES: &[&str] = &["", "6 3", "2 3"];

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

fn dash(i: usize) -> &'static str {
    DASHES[(i / COLOURS.len()) % DASHES.len()]
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1a1a1a; --muted: #555; --line: #d0d0d0; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fff; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.meta, figcaption, .notes { color: var(--muted); font-size: 14px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: center; }
td { white-space: nowrap; }
td.wrap { white-space: normal; min-width: 9em; }
thead th { background: #f3f3f3; vertical-align: bottom; }
tbody th { font-weight: 600; min-width: 10em; }
td:first-child, th:first-child { text-align: left; }
tr.skipped td { color: var(--muted); font-style: italic; }
td.fail { color: #b00020; font-weight: 600; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
figure { margin: 8px 0 16px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; fill: var(--fg); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 16px; }
.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 14px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 14px; margin: 4px 0 12px; }
dt { color: var(--muted); }
dd { margin: 0; }
"#;

pub(crate) fn page(cmp: &Comparison) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        esc(&cmp.title),
        esc(&cmp.title)
    );
    let measured: Vec<&Report> = cmp.measured().collect();
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} measured run{}, {} skipped. Average latency is the mean of every \
         answered measured request, cold start included, as the original study reported it; \
         percentiles are of warm requests.</p>",
        measured.len(),
        if measured.len() == 1 { "" } else { "s" },
        cmp.rows.len() - measured.len()
    );

    // The table.
    let (header, rows) = cmp.cells();
    out.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for h in &header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut colour_index = 0;
    for (row, cells) in cmp.rows.iter().zip(rows) {
        let skipped = matches!(row, Row::Skipped { .. });
        let _ = write!(
            out,
            "<tr{}>",
            if skipped { " class=\"skipped\"" } else { "" }
        );
        for (i, cell) in cells.iter().enumerate() {
            if i == 0 {
                let swatch = if skipped {
                    String::new()
                } else {
                    let s = format!(
                        "<span class=\"swatch\" style=\"background:{}\"></span>",
                        colour(colour_index)
                    );
                    colour_index += 1;
                    s
                };
                let _ = write!(out, "<th scope=\"row\">{swatch}{}</th>", esc(cell));
            } else if header[i] == "Load" {
                let _ = write!(out, "<td class=\"wrap\">{}</td>", esc(cell));
            } else if cell.starts_with("FAIL") {
                let _ = write!(out, "<td class=\"fail\">{}</td>", esc(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    let notes = cmp.footnotes();
    if !notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in notes {
            let _ = writeln!(out, "<li>{}</li>", esc(&n));
        }
        out.push_str("</ul>\n");
    }

    let with_data: Vec<(usize, &Report)> = measured
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.results.distribution.percentiles.is_empty())
        .map(|(i, r)| (i, *r))
        .collect();
    if let Some(axis) = LogAxis::covering(&with_data) {
        out.push_str("<h2>Latency CDF</h2>\n<figure>\n");
        out.push_str(&cdf_svg(&with_data, &axis));
        out.push_str("<ul class=\"legend\">");
        for (i, r) in &with_data {
            let _ = write!(
                out,
                "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
                colour(*i),
                esc(r.name())
            );
        }
        out.push_str(
            "</ul>\n<figcaption>Share of warm requests answered within a latency (log scale). \
             Further left is faster; a long flat tail to the right is a slow minority.\
             </figcaption>\n</figure>\n",
        );
        out.push_str("<h2>Latency histograms</h2>\n<div class=\"grid\">\n");
        for (i, r) in &with_data {
            out.push_str("<figure>\n");
            out.push_str(&histogram_svg(*i, r, &axis));
            let _ = writeln!(
                out,
                "<figcaption>{}: warm requests per latency bin (ten bins per decade); dashed \
                 lines at p50 and p99.</figcaption>\n</figure>",
                esc(r.name())
            );
        }
        out.push_str("</div>\n");
    }

    out.push_str("<h2>Runs</h2>\n");
    for r in &measured {
        details(&mut out, r);
    }
    out.push_str("</main>\n</body>\n</html>\n");
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
            "Warm latency (ms)",
            s.figures_ms()
                .map(|(name, ms)| format!("{name} {}", fmt_ms(ms)))
                .join(" · "),
        );
    }
    if let Some(s) = &res.latency_uncorrected {
        item(
            "Uncorrected (ms)",
            format!(
                "p50 {} · p99 {} · max {}",
                fmt_ms(s.p50_ms),
                fmt_ms(s.p99_ms),
                fmt_ms(s.max_ms)
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
        let mut add = |name: &str, v: Option<f64>, unit: &str| {
            if let Some(v) = v {
                parts.push(format!("{name} {v:.1} {unit}"));
            }
        };
        add("init", f.init_duration_ms, "ms");
        add("duration", f.duration_ms, "ms");
        add("billed", f.billed_duration_ms, "ms");
        add("max memory", f.max_memory_used_mb, "MB");
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

/// A log10 latency axis in ms, from one decade to another.
struct LogAxis {
    lo: i32,
    hi: i32,
}

impl LogAxis {
    fn covering(reports: &[(usize, &Report)]) -> Option<Self> {
        let floor = 1e-3;
        let mut min = f64::INFINITY;
        let mut max = 0f64;
        for (_, r) in reports {
            let d = &r.results.distribution;
            for p in &d.percentiles {
                min = min.min(p.ms.max(floor));
                max = max.max(p.ms.max(floor));
            }
            for b in &d.bins {
                min = min.min(b.from_ms.max(floor));
                max = max.max(b.to_ms.max(floor));
            }
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

    fn decade_label(k: i32) -> String {
        let v = 10f64.powi(k);
        if k < 0 {
            format!("{v:.*}", usize::try_from(-k).unwrap_or(0))
        } else {
            format!("{v:.0}")
        }
    }

    /// Vertical grid lines and labels along the bottom of a plot area.
    fn draw(&self, out: &mut String, left: f64, top: f64, width: f64, height: f64) {
        for k in self.lo..=self.hi {
            for m in [1.0, 2.0, 5.0] {
                let ms = m * 10f64.powi(k);
                if k == self.hi && m > 1.0 {
                    continue;
                }
                let x = left + self.pos(ms) * width;
                let major = m == 1.0;
                let _ = write!(
                    out,
                    "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"1\"/>",
                    top + height,
                    if major { "#c8c8c8" } else { "#ececec" }
                );
                if major {
                    let _ = write!(
                        out,
                        "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
                        top + height + 18.0,
                        Self::decade_label(k)
                    );
                }
            }
        }
    }
}

fn cdf_svg(reports: &[(usize, &Report)], axis: &LogAxis) -> String {
    let (w, h) = (900.0, 420.0);
    let (left, top, right, bottom) = (64.0, 16.0, 24.0, 56.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         role=\"img\" aria-labelledby=\"cdf-title\" class=\"cdf\"><title id=\"cdf-title\">Latency CDF of warm \
         requests, one line per architecture</title>"
    );
    axis.draw(&mut out, left, top, pw, ph);
    for pct in [0, 25, 50, 75, 90, 100] {
        let y = top + ph * (1.0 - f64::from(pct) / 100.0);
        let _ = write!(
            out,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">{pct}%</text>",
            left + pw,
            left - 8.0,
            y + 4.0
        );
    }
    let _ = write!(
        out,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"middle\">latency (ms, log scale)</text>\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" font-size=\"14\" text-anchor=\"middle\">requests at or below</text>",
        left + pw / 2.0,
        h - 12.0,
        top + ph / 2.0
    );
    for (i, r) in reports {
        let points: Vec<String> = r
            .results
            .distribution
            .percentiles
            .iter()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    left + axis.pos(p.ms) * pw,
                    top + ph * (1.0 - p.percentile / 100.0)
                )
            })
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" stroke-dasharray=\"{}\" \
             points=\"{}\"><title>{}</title></polyline>",
            colour(*i),
            dash(*i),
            points.join(" "),
            esc(r.name())
        );
    }
    out.push_str("</svg>\n");
    out
}

fn histogram_svg(i: usize, r: &Report, axis: &LogAxis) -> String {
    let (w, h) = (440.0, 230.0);
    let (left, top, right, bottom) = (56.0, 30.0, 14.0, 44.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let bins = &r.results.distribution.bins;
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         role=\"img\" class=\"histogram\"><title>Latency histogram: {}</title>\
         <text x=\"{left}\" y=\"18\" font-size=\"15\" font-weight=\"600\">{}</text>",
        esc(r.name()),
        esc(r.name())
    );
    axis.draw(&mut out, left, top, pw, ph);
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">{max}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\">0</text>",
        left - 6.0,
        top + 10.0,
        left - 6.0,
        top + ph
    );
    for b in bins.iter().filter(|b| b.count > 0) {
        let x0 = left + axis.pos(b.from_ms) * pw;
        let x1 = left + axis.pos(b.to_ms) * pw;
        let bh = ph * b.count as f64 / max as f64;
        let _ = write!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\">\
             <title>{}–{} ms: {}</title></rect>",
            top + ph - bh,
            (x1 - x0 - 0.5).max(0.5),
            colour(i),
            fmt_ms(b.from_ms),
            fmt_ms(b.to_ms),
            b.count
        );
    }
    if let Some(s) = &r.results.latency {
        // p50 is labelled on the left of its line and p99 on the right, one text line
        // apart, unless that would run out of the plot.
        for (row, name, ms, left_side) in
            [(1.0, "p50", s.p50_ms, true), (2.0, "p99", s.p99_ms, false)]
        {
            let x = left + axis.pos(ms) * pw;
            let width = 7.0 * (name.len() + 1 + fmt_ms(ms).len()) as f64;
            let left_side = if left_side {
                x - width > left
            } else {
                x + width > left + pw
            };
            let (anchor, dx) = if left_side {
                ("end", -3.0)
            } else {
                ("start", 3.0)
            };
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"{anchor}\">{name} {}</text>",
                top + ph,
                x + dx,
                top + 13.0 * row,
                fmt_ms(ms)
            );
        }
    }
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\">latency (ms, log scale)</text></svg>",
        left + pw / 2.0,
        h - 6.0
    );
    out
}
