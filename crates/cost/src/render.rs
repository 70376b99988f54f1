//! The text form of a [`CostReport`]: the study's table with a total per volume, the
//! inputs and unconfirmed prices behind it, and the break-even points.

use std::fmt::Write as _;

use crate::chart::escape;
use crate::model::{Billing, CostReport, LoadBalancer, Per, RowCost};
use crate::rows::Workload;
use crate::volume::format_calls;

/// Renders `report` as text for a terminal; the tables are Markdown, so they paste
/// into documents as they are.
///
/// With `explain`, every row's arithmetic (its [`crate::Line`]s) follows the tables.
pub fn render_text(report: &CostReport, explain: bool) -> String {
    let mut out = String::new();
    let sheet = &report.sheet;
    let origin = if sheet.origin.starts_with("built-in") {
        "built-in sheet".to_owned()
    } else {
        format!("from {}", sheet.origin)
    };
    let _ = writeln!(
        out,
        "Prices: {} ({origin}), AWS {}, as of {}. USD; no free tiers, no network transfer.",
        sheet.name, sheet.region, sheet.as_of
    );
    out.push_str(
        "Monthly cost: a provisioned row's cost, whatever the traffic. Cost per million calls: a\n\
         per-call row's cost per million calls. Each volume column adds both for that month.\n",
    );

    for workload in [Workload::Hits, Workload::CalcJobs] {
        let rows: Vec<&RowCost> = report
            .rows
            .iter()
            .filter(|r| r.workload == workload)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}\n", heading(workload));
        out.push_str(&cost_table(report, &rows));
    }

    out.push('\n');
    out.push_str(&footnotes(report));

    let pairs: Vec<_> = report.break_even.iter().collect();
    if !pairs.is_empty() {
        out.push_str(
            "\nBreak-even points: the volume a month at which both rows cost the same. Below it\n\
             the per-call row is cheaper, above it the provisioned one.\n",
        );
        for workload in [Workload::Hits, Workload::CalcJobs] {
            if let Some(table) = break_even_matrix(report, workload) {
                let _ = writeln!(out, "\n{}\n", heading(workload));
                out.push_str(&table);
            }
        }
    }

    if explain {
        out.push_str("\nThe arithmetic, row by row:\n");
        for row in &report.rows {
            let _ = writeln!(out, "\n{} ({})", row.label, row.id);
            for line in &row.lines {
                let per = match line.per {
                    Per::Month => "a month",
                    Per::MillionCalls => "per million calls",
                };
                let _ = writeln!(
                    out,
                    "  {:<58} {:>14} {:<20} x ${:<14} = ${:>9.4} {per}",
                    line.what,
                    trim_number(line.quantity),
                    line.quantity_unit,
                    trim_number(line.unit_price),
                    line.cost,
                );
            }
            for note in &row.notes {
                let _ = writeln!(out, "  note: {note}");
            }
        }
    }
    out
}

fn heading(workload: Workload) -> &'static str {
    match workload {
        Workload::Hits => "Web app (a call is one GET /hits):",
        Workload::CalcJobs => "Queue (a call is one calc(x) job):",
    }
}

fn cost_table(report: &CostReport, rows: &[&RowCost]) -> String {
    let mut header = vec![
        "Architecture".to_owned(),
        "Monthly cost ($)".to_owned(),
        "Cost per million calls ($)".to_owned(),
    ];
    header.extend(
        report
            .calls_per_month
            .iter()
            .map(|&v| format!("{} calls ($)", format_calls(v))),
    );
    // The study's figures compare only with its own era's prices.
    let with_study = report.sheet.name == "original-era" && rows.iter().any(|r| r.study.is_some());
    if with_study {
        header.push("Study ($)".to_owned());
    }
    let mut body = Vec::new();
    for row in rows {
        let star = if row.load_balancer == LoadBalancer::Excluded {
            "*"
        } else {
            ""
        };
        let mut cells = vec![
            row.label.clone(),
            match row.billing {
                Billing::Provisioned => format!("{:.2}{star}", row.monthly),
                Billing::PerCall => "N/A".to_owned(),
            },
            match row.billing {
                Billing::PerCall => format!("{:.2}", row.per_million),
                Billing::Provisioned => "N/A".to_owned(),
            },
        ];
        cells.extend(row.totals.iter().map(|t| format!("{:.2}{star}", t.cost)));
        if with_study {
            cells.push(match &row.study {
                Some(study) => match (study.monthly, study.per_million) {
                    (Some(m), _) => format!(
                        "{m:.2}{}",
                        if row.load_balancer == LoadBalancer::None {
                            ""
                        } else {
                            "*"
                        }
                    ),
                    (None, Some(p)) => format!("{p:.2}"),
                    (None, None) => String::new(),
                },
                None => String::new(),
            });
        }
        body.push(cells);
    }
    markdown_table(&header, &body, 1)
}

fn footnotes(report: &CostReport) -> String {
    let mut out = String::new();
    let lb_rows: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.load_balancer != LoadBalancer::None)
        .map(|r| r.id.as_str())
        .collect();
    if !lb_rows.is_empty() {
        if report.with_load_balancer {
            let _ = writeln!(
                out,
                "Load balancer included in {}: ${:.2} a month each (an ALB and its public IPv4 addresses).",
                lb_rows.join(", "),
                report.load_balancer_monthly
            );
        } else {
            let _ = writeln!(
                out,
                "* Load balancer excluded, as in the study; it adds ${:.2} a month to each (--with-load-balancer).",
                report.load_balancer_monthly
            );
        }
    }
    if report.sheet.name == "original-era" && report.rows.iter().any(|r| r.study.is_some()) {
        let _ = writeln!(
            out,
            "Study: the figure the original study published for the row (a month, or per million calls)."
        );
    }
    let functions: Vec<&RowCost> = report
        .rows
        .iter()
        .filter(|r| r.function.is_some())
        .collect();
    if !functions.is_empty() {
        let _ = writeln!(
            out,
            "Per-call inputs (Lambda memory, mean billed duration, store mode):"
        );
        for row in functions {
            if let Some(f) = &row.function {
                let _ = writeln!(
                    out,
                    "  {:<30} {:>5} MB {:>8} ms  {:<17}  ({})",
                    row.label,
                    f.memory_mb,
                    trim_number(f.billed_duration_ms),
                    f.store_mode.name(),
                    f.duration_basis
                );
            }
        }
    }
    let unconfirmed: Vec<_> = report
        .sheet
        .figures
        .iter()
        .filter(|f| !f.figure.confirmed)
        .collect();
    if !unconfirmed.is_empty() {
        let _ = writeln!(
            out,
            "Unconfirmed prices in this sheet ({} of {}; check them before relying on the figures):",
            unconfirmed.len(),
            report.sheet.figures.len(),
        );
        for f in unconfirmed {
            let _ = writeln!(
                out,
                "  {:<28} {} {}",
                f.key,
                trim_number(f.figure.value),
                f.figure.unit
            );
        }
    }
    out
}

/// The break-even points of `workload` as one small matrix: a row per per-call
/// architecture, a column per provisioned one, each cell the calls a month at which the
/// two cost the same (or which is always cheaper). Aligned Markdown, so it reads in a
/// terminal and pastes into documents; `None` unless the workload has rows of both
/// kinds. `latency cost` prints it, and the lab prints it instead of one sentence per
/// pair.
pub fn break_even_matrix(report: &CostReport, workload: Workload) -> Option<String> {
    let (header, body) = break_even_cells(report, workload)?;
    Some(markdown_table(&header, &body, 1))
}

/// The header and rows of [`break_even_matrix`]; the HTML section shows the same cells.
fn break_even_cells(
    report: &CostReport,
    workload: Workload,
) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let of = |billing: Billing| -> Vec<&RowCost> {
        report
            .rows
            .iter()
            .filter(|r| r.workload == workload && r.billing == billing)
            .collect()
    };
    let provisioned = of(Billing::Provisioned);
    let per_call = of(Billing::PerCall);
    if provisioned.is_empty() || per_call.is_empty() {
        return None;
    }
    let mut header = vec!["Calls a month where both cost the same".to_owned()];
    header.extend(provisioned.iter().map(|p| {
        let star = if p.load_balancer == LoadBalancer::Excluded {
            "*"
        } else {
            ""
        };
        format!("{} (${:.2}{star})", p.id, p.monthly)
    }));
    let mut body = Vec::new();
    for s in &per_call {
        let mut cells = vec![format!("{} (${:.2}/M)", s.label, s.per_million)];
        for p in &provisioned {
            let cell = match report.break_even_between(&s.id, &p.id) {
                Some(b) => match b.calls_per_month {
                    Some(v) => format_calls(v),
                    None if b.cheaper_below == s.id => "per-call always cheaper".to_owned(),
                    None => "provisioned always cheaper".to_owned(),
                },
                None => String::new(),
            };
            cells.push(cell);
        }
        body.push(cells);
    }
    Some((header, body))
}

/// The cost of `workload` for an HTML page (the body of a section; the lab adds it to
/// `report.html` with `latency_bench::render::Page::section`): the chart of monthly
/// cost against calls a month with each break-even volume printed beside its point,
/// then the same break-even points as a table, so nothing is only on hover. Text is
/// HTML-escaped; the markup uses no script or external resource.
pub fn html_section(report: &CostReport, workload: Workload) -> String {
    let mut out = String::from("<figure class=\"break-even\">\n");
    out.push_str(&crate::chart::break_even_svg(report, workload));
    let _ = writeln!(
        out,
        "<figcaption>Monthly cost against calls a month ({} prices, AWS {}, as of {}). \
         Provisioned rows are flat, per-call rows rise with traffic; a ringed point is where \
         a pair costs the same, labelled with its volume.</figcaption>\n</figure>",
        escape(&report.sheet.name),
        escape(&report.sheet.region),
        escape(&report.sheet.as_of)
    );
    if let Some((header, body)) = break_even_cells(report, workload) {
        out.push_str(
            "<p>Break-even points: below the volume the per-call row is cheaper, above it \
             the provisioned one.</p>\n<div class=\"table-wrap\"><table class=\"break-even\">\n<thead><tr>",
        );
        for h in &header {
            let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &body {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let tag = if i == 0 { "th scope=\"row\"" } else { "td" };
                let close = if i == 0 { "th" } else { "td" };
                let _ = write!(out, "<{tag}>{}</{close}>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
    }
    out
}

/// A Markdown table with padded columns; columns from `first_numeric` on align right.
fn markdown_table(header: &[String], body: &[Vec<String>], first_numeric: usize) -> String {
    let columns = header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            std::iter::once(&header[c])
                .chain(body.iter().filter_map(|row| row.get(c)))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let mut out = String::new();
    let pad = |cell: &str, c: usize| {
        let fill = " ".repeat(widths[c].saturating_sub(cell.chars().count()));
        if c >= first_numeric {
            format!("{fill}{cell}")
        } else {
            format!("{cell}{fill}")
        }
    };
    let row_line = |cells: &[String]| {
        let inner: Vec<String> = (0..columns)
            .map(|c| pad(cells.get(c).map_or("", String::as_str), c))
            .collect();
        format!("| {} |\n", inner.join(" | "))
    };
    out.push_str(&row_line(header));
    let rule: Vec<String> = (0..columns)
        .map(|c| {
            if c >= first_numeric {
                format!("{}:", "-".repeat(widths[c] - 1))
            } else {
                "-".repeat(widths[c])
            }
        })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for row in body {
        out.push_str(&row_line(row));
    }
    out
}

/// A number without float noise: up to 10 significant decimals, trailing zeros cut.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuiltinSheet, Options, PriceSheet, catalogue, price};

    fn priced() -> CostReport {
        let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
        price(&sheet, &catalogue(), &Options::default()).expect("priced")
    }

    #[test]
    fn the_break_even_matrix_has_a_row_per_per_call_row_and_a_column_per_provisioned_one() {
        let report = priced();
        let matrix = break_even_matrix(&report, Workload::Hits).expect("a matrix");
        let count = |billing: Billing| {
            report
                .rows
                .iter()
                .filter(|r| r.workload == Workload::Hits && r.billing == billing)
                .count()
        };
        let lines: Vec<&str> = matrix.lines().collect();
        // Header, rule, then one line per per-call row.
        assert_eq!(lines.len(), 2 + count(Billing::PerCall), "{matrix}");
        assert_eq!(
            lines[0].matches(" | ").count(),
            count(Billing::Provisioned),
            "{}",
            lines[0]
        );
        let pair = report
            .break_even
            .iter()
            .find(|b| b.workload == Workload::Hits && b.calls_per_month.is_some())
            .expect("a crossing");
        let volume = format_calls(pair.calls_per_month.expect("volume"));
        assert!(matrix.contains(&volume), "{volume} not in\n{matrix}");
        // The text report prints the same matrix.
        assert!(render_text(&report, false).contains(&matrix));
    }

    #[test]
    fn the_html_section_prints_break_even_volumes_on_the_chart_and_all_in_a_table() {
        let report = priced();
        let html = html_section(&report, Workload::Hits);
        assert!(
            html.starts_with("<figure class=\"break-even\">\n<svg"),
            "{html}"
        );
        let (chart, table) = html.split_once("<table").expect("a table after the chart");
        let volumes: Vec<String> = report
            .break_even
            .iter()
            .filter(|b| b.workload == Workload::Hits)
            .filter_map(|b| b.calls_per_month.map(format_calls))
            .collect();
        assert!(!volumes.is_empty());
        // Every volume is in the table; the chart prints those that have room (crowded
        // points of near-equal rows leave some out), and no label that is not a volume.
        for v in &volumes {
            assert!(
                table.contains(&format!(">{v}</td>")),
                "{v} not in the table"
            );
        }
        let printed: Vec<&str> = chart
            .split("class=\"break-even-value\">")
            .skip(1)
            .filter_map(|rest| rest.split_once("</text>").map(|(v, _)| v))
            .collect();
        assert!(printed.len() >= 4, "{printed:?}");
        assert!(
            printed.iter().all(|p| volumes.iter().any(|v| v == p)),
            "{printed:?}"
        );
        // `url(#id)` (a clip path in the same SVG) is local; nothing may load from outside.
        for forbidden in ["<script", "src=", "url(http", "href=\"http"] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
    }
}
