//! The break-even chart: monthly cost against calls a month, both on log scales, as a
//! self-contained SVG string to inline in an HTML page or write to a file.
//!
//! The SVG is written by hand rather than with a plotting crate: the chart is a handful
//! of straight lines (on log-log axes a per-call cost is a line of slope 1 and a
//! provisioned cost is flat), a plotting crate would add build time and font handling
//! for no gain, and hand-written markup keeps the output small, stable for tests, and
//! styled to match the lab's report.

use std::fmt::Write as _;

use crate::model::{Billing, CostReport, LoadBalancer, RowCost};
use crate::rows::Workload;
use crate::volume::format_calls;

/// Size of the chart in SVG user units (pixels when shown at 100%).
const WIDTH: f64 = 930.0;
const HEIGHT: f64 = 560.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 360.0;
const TOP: f64 = 52.0;
const BOTTOM: f64 = 58.0;

/// Distinct, colour-blind-friendly line colours (Tableau 10, then two more).
const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#17becf", "#393b79",
];

/// Renders the break-even chart of `report`'s rows of `workload` as an `<svg>` element.
///
/// Provisioned rows are flat solid lines at their monthly cost, per-call rows dashed
/// lines rising with volume; each break-even point is a ringed dot labelled with its
/// volume, and the report's volumes are faint vertical guides. The axes span whole
/// decades covering the volumes and the break-even points. Rows whose cost is zero are
/// left out (a log axis has no zero). Returns an SVG saying "no rows" if the workload
/// has none.
///
/// Every loop is bounded whatever the data: rows with a non-finite cost are left out
/// ([`price`](crate::price) rejects them anyway), and the axes are clamped to
/// [`MAX_DECADES`] decades within 10^-3 to 10^18, so a hostile report cannot make the
/// chart grow without limit.
pub fn break_even_svg(report: &CostReport, workload: Workload) -> String {
    let rows: Vec<&RowCost> = report
        .rows
        .iter()
        .filter(|r| r.workload == workload && (r.monthly > 0.0 || r.per_million > 0.0))
        .filter(|r| r.monthly.is_finite() && r.per_million.is_finite())
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="cost-chart-title" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">"##
    );
    let title = format!(
        "Monthly cost against {} a month ({} prices, {})",
        match workload {
            Workload::Hits => "calls",
            Workload::CalcJobs => "calc jobs",
        },
        report.sheet.name,
        if report.with_load_balancer {
            "load balancers included"
        } else {
            "load balancers excluded"
        }
    );
    let _ = write!(
        svg,
        r##"<title id="cost-chart-title">{}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##,
        escape(&title)
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="28" font-size="16" font-weight="600" fill="#222">{}</text>"##,
        escape(&title)
    );
    if rows.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">no rows to chart</text></svg>"##,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }

    // Axes: whole decades covering the volumes and every break-even point.
    let mut volumes: Vec<f64> = report.calls_per_month.clone();
    volumes.extend(
        report
            .break_even
            .iter()
            .filter(|b| b.workload == workload)
            .filter_map(|b| b.calls_per_month),
    );
    volumes.retain(|v| v.is_finite() && *v > 0.0);
    let lowest = volumes.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = volumes.iter().copied().fold(0.0, f64::max);
    let x_lo = clamp_exponent(lowest.log10().floor() - 1.0, 0.0);
    let x_hi = clamp_exponent(highest.log10().ceil(), x_lo + 4.0)
        .max(x_lo + 4.0)
        .min(x_lo + MAX_DECADES);
    let cost_at = |row: &RowCost, exp: f64| row.total_at(10f64.powf(exp));
    let costs: Vec<f64> = rows
        .iter()
        .flat_map(|r| [cost_at(r, x_lo), cost_at(r, x_hi)])
        .filter(|c| *c > 0.0)
        .collect();
    let y_lo = clamp_exponent(
        costs
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor(),
        0.0,
    );
    let y_hi = clamp_exponent(
        costs.iter().copied().fold(0.0, f64::max).log10().ceil(),
        y_lo + 1.0,
    )
    .max(y_lo + 1.0)
    .min(y_lo + MAX_DECADES);

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = move |exp: f64| LEFT + (exp - x_lo) / (x_hi - x_lo) * plot_w;
    let py = move |exp: f64| TOP + (y_hi - exp) / (y_hi - y_lo) * plot_h;

    // Grid and tick labels.
    let _ = write!(
        svg,
        r##"<defs><clipPath id="cost-chart-plot"><rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/></clipPath></defs>"##
    );
    let _ = write!(svg, r##"<g stroke="#e6e6e6" stroke-width="1">"##);
    for decade in decades(x_lo, x_hi) {
        for minor in 2..10 {
            let exp = decade + f64::from(minor).log10();
            if exp < x_hi {
                let x = px(exp);
                let _ = write!(
                    svg,
                    r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#f3f3f3"/>"##,
                    TOP + plot_h
                );
            }
        }
    }
    for decade in decades(x_lo, x_hi) {
        let x = px(decade);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/>"##,
            TOP + plot_h
        );
    }
    for decade in decades(y_lo, y_hi) {
        let y = py(decade);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"##,
            LEFT + plot_w
        );
    }
    svg.push_str("</g>");
    let _ = write!(svg, r##"<g fill="#444" font-size="12">"##);
    for decade in decades(x_lo, x_hi) {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            px(decade),
            TOP + plot_h + 18.0,
            format_calls(10f64.powf(decade))
        );
    }
    for decade in decades(y_lo, y_hi) {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="middle">{}</text>"##,
            LEFT - 8.0,
            py(decade),
            dollars(10f64.powf(decade))
        );
    }
    svg.push_str("</g>");
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{} a month (log scale)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 14.0,
        match workload {
            Workload::Hits => "calls",
            Workload::CalcJobs => "jobs",
        }
    );
    let _ = write!(
        svg,
        r##"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" fill="#222">$ a month (log scale)</text>"##,
        TOP + plot_h / 2.0
    );

    // The priced volumes, as faint guides.
    let _ = write!(
        svg,
        r##"<g stroke="#888" stroke-width="1" stroke-dasharray="2 4">"##
    );
    let in_range = |v: f64| v.is_finite() && v > 0.0 && (x_lo..=x_hi).contains(&v.log10());
    for &v in report.calls_per_month.iter().filter(|v| in_range(**v)) {
        let x = px(v.log10());
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"><title>{} a month</title></line>"##,
            TOP + plot_h,
            format_calls(v)
        );
    }
    svg.push_str("</g>");

    // One line per row; provisioned first so per-call lines draw over them.
    let colour = |index: usize| PALETTE[index % PALETTE.len()];
    let mut ordered: Vec<(usize, &RowCost)> = rows.iter().copied().enumerate().collect();
    ordered.sort_by_key(|(_, r)| r.billing == Billing::PerCall);
    let _ = write!(
        svg,
        r##"<g clip-path="url(#cost-chart-plot)" fill="none" stroke-linecap="round">"##
    );
    for (index, row) in &ordered {
        // Sampled per decade: a row with both fixed and per-call costs is not straight.
        // At most 8 * MAX_DECADES steps: the axis is clamped above.
        let steps = ((x_hi - x_lo) * 8.0) as usize;
        let points: Vec<String> = (0..=steps)
            .map(|i| {
                #[allow(clippy::cast_precision_loss)] // a few dozen steps
                let exp = x_lo + (x_hi - x_lo) * i as f64 / steps as f64;
                let cost = cost_at(row, exp)
                    .max(10f64.powf(y_lo - 1.0))
                    .min(10f64.powf(y_hi + 1.0));
                format!("{:.1},{:.1}", px(exp), py(cost.log10()))
            })
            .collect();
        let dash = match row.billing {
            Billing::Provisioned => "",
            Billing::PerCall => r#" stroke-dasharray="7 4""#,
        };
        let _ = write!(
            svg,
            r##"<polyline points="{}" stroke="{}" stroke-width="2.5"{dash}><title>{}</title></polyline>"##,
            points.join(" "),
            colour(*index),
            escape(&row.label)
        );
    }
    svg.push_str("</g>");

    // Break-even points.
    let _ = write!(svg, r##"<g stroke="#222" stroke-width="1.5">"##);
    // Boxes of the volume labels printed so far: (left, right, baseline).
    let mut labels: Vec<(f64, f64, f64)> = Vec::new();
    for b in report.break_even.iter().filter(|b| b.workload == workload) {
        let (Some(v), Some(cost)) = (b.calls_per_month, b.cost) else {
            continue;
        };
        if !(cost.is_finite() && cost > 0.0 && in_range(v)) {
            continue;
        }
        let (Some(s), Some(p)) = (report.row(&b.per_call), report.row(&b.provisioned)) else {
            continue;
        };
        let (x, y) = (px(v.log10()), py(cost.log10()));
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="#fff"><title>{} = {} at {} a month (${:.2})</title></circle>"##,
            escape(&s.label),
            escape(&p.label),
            format_calls(v),
            cost,
        );
        // The volume is printed beside the point, so a PDF or screenshot keeps it: above
        // right, or above left near the plot's right edge, or below if that spot is
        // taken. Points of near-equal rows crowd together; a label with no free spot is
        // left out (the break-even table beside the chart lists every volume).
        let text = format_calls(v);
        let width = 6.5 * text.chars().count() as f64;
        let (label_x, anchor, left) = if x + 7.0 + width < WIDTH - RIGHT {
            (x + 7.0, "start", x + 7.0)
        } else {
            (x - 7.0, "end", x - 7.0 - width)
        };
        let free = |top: f64, placed: &[(f64, f64, f64)]| {
            placed.iter().all(|(l, r, t)| {
                left >= *r + 2.0 || left + width + 2.0 <= *l || (top - t).abs() >= 12.0
            })
        };
        let Some(baseline) = [y - 7.0, y + 15.0]
            .into_iter()
            .find(|&baseline| free(baseline, &labels))
        else {
            continue;
        };
        labels.push((left, left + width, baseline));
        let _ = write!(
            svg,
            r##"<text x="{label_x:.1}" y="{baseline:.1}" text-anchor="{anchor}" font-size="11" stroke="none" fill="#222" class="break-even-value">{text}</text>"##,
        );
    }
    svg.push_str("</g>");

    // Legend, in two groups.
    let legend_x = WIDTH - RIGHT + 20.0;
    let mut y = TOP + 6.0;
    for (billing, heading) in [
        (Billing::Provisioned, "Billed by the month"),
        (Billing::PerCall, "Billed per call"),
    ] {
        let members: Vec<&(usize, &RowCost)> = ordered
            .iter()
            .filter(|(_, r)| r.billing == billing)
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = write!(
            svg,
            r##"<text x="{legend_x}" y="{y:.1}" font-weight="600" fill="#222">{heading}</text>"##
        );
        y += 20.0;
        for (index, row) in members {
            let dash = if billing == Billing::PerCall {
                r#" stroke-dasharray="7 4""#
            } else {
                ""
            };
            let figure = match billing {
                Billing::Provisioned => format!(
                    "${:.2}{}",
                    row.monthly,
                    if row.load_balancer == LoadBalancer::Excluded {
                        "*"
                    } else {
                        ""
                    }
                ),
                Billing::PerCall => format!("${:.2}/M", row.per_million),
            };
            let _ = write!(
                svg,
                r##"<line x1="{legend_x}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{y:.1}" dominant-baseline="middle" font-size="12" fill="#222">{} <tspan fill="#666">{}</tspan></text>"##,
                y,
                legend_x + 26.0,
                y,
                colour(*index),
                legend_x + 32.0,
                escape(&row.label),
                escape(&figure)
            );
            y += 19.0;
        }
        y += 10.0;
    }
    let _ = write!(
        svg,
        r##"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="#fff" stroke="#222" stroke-width="1.5"/><text x="{:.1}" y="{y:.1}" dominant-baseline="middle" font-size="12" fill="#555">break-even point (calls a month)</text>"##,
        legend_x + 13.0,
        y,
        legend_x + 32.0
    );
    y += 19.0;
    let mut notes = Vec::new();
    if rows
        .iter()
        .any(|r| r.load_balancer == LoadBalancer::Excluded)
    {
        notes.push(format!(
            "* load balancer excluded (+${:.2} a month)",
            report.load_balancer_monthly
        ));
    }
    notes.push("dotted verticals: the volumes in the table".to_owned());
    for note in notes {
        let _ = write!(
            svg,
            r##"<text x="{legend_x}" y="{y:.1}" dominant-baseline="middle" font-size="12" fill="#555">{}</text>"##,
            escape(&note)
        );
        y += 17.0;
    }
    svg.push_str("</svg>");
    svg
}

/// The widest axis drawn, in decades; wider data is cut at the top.
pub const MAX_DECADES: f64 = 24.0;

/// A decade exponent kept within 10^-3 to 10^18; `fallback` when it is not finite.
fn clamp_exponent(exp: f64, fallback: f64) -> f64 {
    let exp = if exp.is_finite() { exp } else { fallback };
    exp.clamp(-3.0, 18.0)
}

fn decades(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
    #[allow(clippy::cast_possible_truncation)] // clamped to small whole numbers above
    (lo.round() as i32..=hi.round() as i32)
        .take(MAX_DECADES as usize + 1)
        .map(f64::from)
}

fn dollars(value: f64) -> String {
    if value >= 1000.0 {
        format!("${}k", value / 1000.0)
    } else if value >= 1.0 {
        format!("${value:.0}")
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 to 3 decimals
        let decimals = (-value.log10()).round().max(0.0) as usize;
        format!("${value:.decimals$}")
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuiltinSheet, Options, PriceSheet, catalogue, price};

    #[test]
    fn hostile_figures_give_a_small_chart_not_an_endless_loop() {
        let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
        let mut report = price(&sheet, &catalogue(), &Options::default()).expect("prices");
        // What an overflowing sheet would produce, had price() not rejected it.
        report.rows[0].monthly = f64::INFINITY;
        report.rows[1].per_million = f64::NAN;
        report.rows[2].monthly = 1e300;
        report.calls_per_month = vec![f64::MIN_POSITIVE, 1e300, f64::INFINITY];
        for b in &mut report.break_even {
            b.calls_per_month = Some(1e-300);
        }
        let svg = break_even_svg(&report, Workload::Hits);
        assert!(svg.ends_with("</svg>"));
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        for bad in ["inf", "NaN"] {
            let at = svg.find(bad).map(|i| &svg[i.saturating_sub(200)..i + 20]);
            assert!(at.is_none(), "non-finite coordinates: {at:?}");
        }
    }
}
