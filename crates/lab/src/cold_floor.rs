//! The cold-start floor among the lab's function figures: the hello-world Rust function
//! (`latency-hello`: the Runtime API, no SDK, no store) started cold on the same platform
//! and CPU budget as the function rows, set against lambda-perf's published init duration
//! for a Rust hello-world at the same memory size. The ratio says how much of the lab's
//! cold start is the machine and platform rather than the function.

use std::fmt::Write as _;
use std::path::Path;

use latency_bench::render::{Section, escape_html};
use serde::Serialize;

/// Cold starts measured per memory size.
pub const FLOOR_ROUNDS: usize = 5;

/// The floor at one memory size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloorPoint {
    /// The memory size, MB.
    pub memory_mb: u32,
    /// Cold starts measured.
    pub rounds: usize,
    /// Their median init duration, ms.
    pub init_p50_ms: f64,
    /// The shortest, ms.
    pub init_min_ms: f64,
    /// The longest, ms.
    pub init_max_ms: f64,
    /// The published median init duration at this size, ms, if published.
    pub published_p50_ms: Option<f64>,
    /// `init_p50_ms / published_p50_ms`.
    pub ratio: Option<f64>,
    /// Whether the CPU budget was enforced, or why not.
    pub throttling: String,
}

/// The hello-world function's cold starts at each size, or why they were not measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColdStartFloor {
    /// The binary measured.
    pub binary: String,
    /// The published figures' source (`lambda-perf, rust (prov.al2023) x86_64 zip, 2025-12-21`).
    pub published_source: String,
    /// One point per size measured.
    pub points: Vec<FloorPoint>,
    /// What stopped the measurement, if anything.
    pub problem: Option<String>,
}

/// Measures `binary`'s cold starts, [`FLOOR_ROUNDS`] per size, throttled like the
/// function rows unless `throttled` is false. Stops at the first failure and says why.
pub(crate) async fn measure(binary: &Path, sizes: &[u32], throttled: bool) -> ColdStartFloor {
    let published = latency_lambda_hello::published();
    let mut floor = ColdStartFloor {
        binary: binary.display().to_string(),
        published_source: published.citation(),
        points: Vec::new(),
        problem: None,
    };
    for &memory_mb in sizes {
        match latency_lambda_hello::cold_starts(binary, memory_mb, FLOOR_ROUNDS, throttled).await {
            Ok(starts) => {
                let (min, max) = starts.range_ms();
                let init_p50_ms = starts.median_ms();
                let published_p50_ms = published.at(memory_mb).map(|p| p.median_ms());
                floor.points.push(FloorPoint {
                    memory_mb,
                    rounds: starts.init_ms.len(),
                    init_p50_ms,
                    init_min_ms: min,
                    init_max_ms: max,
                    published_p50_ms,
                    ratio: published_p50_ms.map(|p| init_p50_ms / p),
                    throttling: starts.throttling,
                });
            }
            Err(problem) => {
                floor.problem = Some(problem);
                break;
            }
        }
    }
    floor
}

impl ColdStartFloor {
    /// One line per size: `Cold-start floor (latency-hello, Runtime API, no SDK) at 128 MB:
    /// init p50 41.2 ms over 5 (38.0–45.1); lambda-perf 16.8 ms; ratio 2.45×`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.points {
            let _ = write!(
                out,
                "Cold-start floor (latency-hello: Runtime API, no SDK) at {} MB: init p50 {:.1} ms \
                 over {} ({:.1}–{:.1})",
                p.memory_mb, p.init_p50_ms, p.rounds, p.init_min_ms, p.init_max_ms
            );
            match (p.published_p50_ms, p.ratio) {
                (Some(published), Some(ratio)) => {
                    let _ = writeln!(out, "; published {published:.1} ms; ratio {ratio:.2}×");
                }
                _ => out.push_str("; no published figure at this size\n"),
            }
        }
        if !self.points.is_empty() {
            let _ = writeln!(
                out,
                "  (published: median of {}; docs/fidelity.md explains the gap)",
                self.published_source
            );
        }
        if let Some(problem) = &self.problem {
            let _ = writeln!(out, "Cold-start floor not measured: {problem}");
        }
        out
    }

    /// The floor as a Markdown table, for `report.md`.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "\n## Cold-start floor\n\nThe hello-world Rust function (`latency-hello`: the Runtime \
             API, no SDK) started cold on the same platform and CPU budget as the function rows, \
             against the published init duration of a Rust hello-world on Lambda ({}).\n\n\
             | MB | Cold starts | Init p50 | Min–max | Published p50 | Ratio |\n\
             |---:|---:|---:|---:|---:|---:|\n",
            self.published_source
        );
        for p in &self.points {
            let _ = writeln!(out, "| {} |", cells(p).join(" | "));
        }
        if let Some(problem) = &self.problem {
            let _ = writeln!(out, "\nNot measured: {problem}");
        }
        out
    }

    /// The floor's section of `report.html`.
    pub fn html_section(&self) -> Section {
        let mut body = format!(
            "<p class=\"explain\">The hello-world Rust function (Runtime API, no SDK) started \
             cold on the same platform and CPU budget as the function rows, against the published \
             init duration of a Rust hello-world on Lambda ({}).</p>\n<div class=\"table-wrap\">\
             <table>\n<thead><tr><th scope=\"col\">MB</th><th scope=\"col\">Cold starts</th>\
             <th scope=\"col\">Init p50</th><th scope=\"col\">Min–max</th>\
             <th scope=\"col\">Published p50</th><th scope=\"col\">Ratio</th></tr></thead>\n<tbody>\n",
            escape_html(&self.published_source)
        );
        for p in &self.points {
            let _ = writeln!(body, "<tr><td>{}</td></tr>", cells(p).join("</td><td>"));
        }
        body.push_str("</tbody></table></div>\n");
        if let Some(problem) = &self.problem {
            let _ = writeln!(
                body,
                "<p class=\"notes\">Not measured: {}</p>",
                escape_html(problem)
            );
        }
        Section::new("Cold-start floor", body)
    }
}

/// A point's table cells: size, cold starts, init p50, min–max, published p50, ratio.
fn cells(p: &FloorPoint) -> [String; 6] {
    [
        p.memory_mb.to_string(),
        p.rounds.to_string(),
        format!("{:.1} ms", p.init_p50_ms),
        format!("{:.1}–{:.1} ms", p.init_min_ms, p.init_max_ms),
        p.published_p50_ms
            .map_or_else(|| "not published".to_owned(), |ms| format!("{ms:.1} ms")),
        p.ratio
            .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}×")),
    ]
}
