//! The lab's cost columns and break-even chart: each measured row priced by
//! `latency-cost` from its own cost row (the same [`ArchitectureId`](latency_arch::ArchitectureId)),
//! the function rows with the billed durations the platform measured.

use latency_bench::CostFigures;
use latency_bench::render::{BreakEvenPoint, CostOutlook, Section};
use latency_cost::{
    CostError, CostReport, Kind, Measured, Options, PriceSheet, Row, StoreMode, Workload,
    catalogue_row, price_measured,
};

use crate::catalogue::{Architecture, Deployment, Mode};

/// The priced rows of one lab run, or why pricing failed.
pub(crate) struct Priced {
    outcome: Result<CostReport, CostError>,
}

/// Prices every measured row on `sheet`, as the original study priced its table: load
/// balancers left out, Lambda at `memory_mb` with the measured billed durations. Each
/// row is priced under its [`Architecture::file_stem`], so the atomic and
/// read-modify-write variants of one architecture are two cost rows.
pub(crate) fn price_rows(
    measured: &[(&Architecture, &[f64])],
    memory_mb: u32,
    sheet: &PriceSheet,
) -> Priced {
    let mut rows = Vec::new();
    let mut durations = Vec::new();
    for &(row, billed_ms) in measured {
        let cost_row = cost_row(row, memory_mb);
        if cost_row.is_per_call() {
            if billed_ms.is_empty() {
                // Nothing was billed (every request failed before the function ran):
                // there is no duration to price it by.
                continue;
            }
            durations.push(Measured {
                row: cost_row.id.clone(),
                memory_mb,
                durations_ms: billed_ms.to_vec(),
            });
        }
        rows.push(cost_row);
    }
    let outcome = price_measured(sheet, &rows, &durations, &Options::default());
    Priced { outcome }
}

/// The lab row's cost row: the architecture's own, with the lab's title, memory size and
/// store mode. Every [`ArchitectureId`](latency_arch::ArchitectureId) has one (the cost
/// catalogue's match is exhaustive), so no row can be left unpriced by a typo.
fn cost_row(row: &Architecture, memory_mb: u32) -> Row {
    let mut cost = catalogue_row(row.id);
    cost.id = row.file_stem();
    cost.label = row.title.to_owned();
    if let (Kind::PerCall(function), Deployment::Function { .. }) =
        (&mut cost.kind, &row.deployment)
    {
        function.memory_mb = memory_mb;
        function.store_mode = match row.mode() {
            Mode::Atomic => StoreMode::Atomic,
            Mode::ReadModifyWrite => StoreMode::ReadModifyWrite,
        };
        // Replaced by the measured mean when priced.
        function.duration_basis = "measured by the lab".to_owned();
    }
    cost
}

impl Priced {
    /// The cost columns for the lab row, if it was priced.
    pub(crate) fn figures(&self, row: &Architecture) -> Option<CostFigures> {
        figures_in(self.outcome.as_ref().ok()?, row)
    }

    /// Where the cost columns come from, and the break-even volumes, as Markdown.
    pub(crate) fn markdown_note(&self) -> String {
        let report = match &self.outcome {
            Ok(report) => report,
            Err(err) => return format!("\nCost columns unavailable: {err}\n"),
        };
        let unconfirmed = report
            .sheet
            .figures
            .iter()
            .filter(|f| !f.figure.confirmed)
            .count();
        let mut text = format!(
            "\nCosts: AWS {}, `{}` price sheet (as of {}; {unconfirmed} of {} figures unconfirmed, \
             listed by `latency cost --sheet {}`; choose another with --sheet). Provisioned rows as the original study priced \
             them (load balancers excluded); Lambda rows from the billed durations measured here. \
             Local durations are not cloud durations: the store is on this machine, not across a network.\n",
            report.sheet.region,
            report.sheet.name,
            report.sheet.as_of,
            report.sheet.figures.len(),
            report.sheet.name,
        );
        // One matrix of every per-call/provisioned pair rather than a sentence each.
        if let Some(matrix) = latency_cost::render::break_even_matrix(report, Workload::Hits) {
            text.push_str("\nBreak-even points (calls a month):\n\n");
            text.push_str(&matrix);
            if !matrix.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }

    /// What the cost model says for the verdict that opens the report: every priced
    /// row's total at the model's volumes and its break-even points, rows named by their
    /// title (as the comparison's rows are). `None` if pricing failed or priced nothing.
    pub(crate) fn outlook(&self) -> Option<CostOutlook> {
        let report = self.outcome.as_ref().ok()?;
        outlook_of(report)
    }

    /// The cost model's section of `report.html` (break-even chart and matrix), if
    /// anything was priced.
    pub(crate) fn html_section(&self) -> Option<Section> {
        let report = self.outcome.as_ref().ok()?;
        if report.rows.is_empty() {
            return None;
        }
        Some(Section::new(
            "Cost against traffic",
            latency_cost::render::html_section(report, Workload::Hits),
        ))
    }
}

/// [`Priced::outlook`] of a priced report: the hits workload only (the queue rows have
/// their own table and workload).
fn outlook_of(report: &CostReport) -> Option<CostOutlook> {
    let label = |id: &str| report.row(id).map(|row| row.label.clone());
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|row| row.workload == Workload::Hits)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let totals = rows
        .iter()
        .map(|row| {
            let at: Vec<f64> = report
                .calls_per_month
                .iter()
                .map(|&calls| {
                    // The model's own totals, at the volumes it was asked for.
                    row.totals
                        .iter()
                        .find(|t| t.calls_per_month == calls)
                        .map_or_else(|| row.total_at(calls), |t| t.cost)
                })
                .collect();
            (row.label.clone(), at)
        })
        .collect();
    let break_even = report
        .break_even
        .iter()
        .filter(|b| b.workload == Workload::Hits)
        .filter_map(|b| {
            Some(BreakEvenPoint {
                per_call: label(&b.per_call)?,
                provisioned: label(&b.provisioned)?,
                calls_per_month: b.calls_per_month,
                cost_usd: b.cost,
                cheaper_below: label(&b.cheaper_below)?,
            })
        })
        .collect();
    Some(CostOutlook {
        calls_per_month: report.calls_per_month.clone(),
        totals,
        break_even,
    })
}

/// The cost columns of the lab row `row` in `report`, if it was priced: monthly for a
/// provisioned row, per million calls (jobs, for a queue row) for a per-call one.
pub(crate) fn figures_in(report: &CostReport, row: &Architecture) -> Option<CostFigures> {
    let row = report.row(&row.file_stem())?;
    let per_call = row.per_million > 0.0;
    Some(CostFigures {
        monthly_usd: (!per_call).then_some(row.monthly),
        per_million_calls_usd: per_call.then_some(row.per_million),
        note: Some(format!(
            "{} ({}, {} prices)",
            row.label, report.sheet.region, report.sheet.as_of
        )),
    })
}

#[cfg(test)]
mod tests {
    use latency_cost::BuiltinSheet;

    use super::*;
    use crate::catalogue::catalogue;

    /// Every lab row that can run gets cost columns: a row left unpriced would be a
    /// silent gap in the table.
    #[test]
    fn every_runnable_row_is_priced() {
        let rows: Vec<Architecture> = catalogue()
            .into_iter()
            // The queue rows are priced by `queue_rows` (workload CalcJobs).
            .filter(|row| {
                !matches!(
                    row.deployment,
                    Deployment::NotBuilt { .. } | Deployment::Queue(_)
                )
            })
            .collect();
        let billed = [3.0, 4.0, 2.0];
        let measured: Vec<(&Architecture, &[f64])> =
            rows.iter().map(|row| (row, &billed[..])).collect();
        let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
        let priced = price_rows(&measured, 128, &sheet);
        for row in &rows {
            let figures = priced
                .figures(row)
                .unwrap_or_else(|| panic!("{} is not priced", row.selector()));
            let function = matches!(row.deployment, Deployment::Function { .. });
            assert_eq!(
                figures.per_million_calls_usd.is_some(),
                function,
                "{}",
                row.selector()
            );
            assert_eq!(
                figures.monthly_usd.is_some(),
                !function,
                "{}",
                row.selector()
            );
        }
    }

    /// The verdict's costs are the model's: its volumes, its totals and its break-even
    /// points, named by the rows' titles as the comparison names them.
    #[test]
    fn the_outlook_names_rows_by_title_and_carries_the_models_break_even_points() {
        let rows: Vec<Architecture> = catalogue()
            .into_iter()
            .filter(|row| ["ec2", "lambda-dynamodb"].contains(&row.selector().as_str()))
            .collect();
        assert_eq!(rows.len(), 2);
        let billed = [3.0, 4.0, 2.0];
        let measured: Vec<(&Architecture, &[f64])> =
            rows.iter().map(|row| (row, &billed[..])).collect();
        let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
        let priced = price_rows(&measured, 128, &sheet);
        let outlook = priced.outlook().expect("an outlook");
        let report = priced.outcome.as_ref().expect("priced");
        assert_eq!(outlook.calls_per_month, report.calls_per_month);
        let (ec2, lambda) = (&rows[0], &rows[1]);
        assert_eq!(ec2.selector(), "ec2");
        let names: Vec<&str> = outlook.totals.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [ec2.title, lambda.title]);
        // EC2 is flat, Lambda rises tenfold per level.
        let ec2_totals = &outlook.totals[0].1;
        assert!(
            ec2_totals.windows(2).all(|w| w[0] == w[1]),
            "{ec2_totals:?}"
        );
        let lambda_totals = &outlook.totals[1].1;
        assert!(
            (lambda_totals[1] / lambda_totals[0] - 10.0).abs() < 1e-9,
            "{lambda_totals:?}"
        );
        let model = report
            .break_even_between(&lambda.file_stem(), &ec2.file_stem())
            .expect("the model's point");
        assert_eq!(outlook.break_even.len(), 1);
        let point = &outlook.break_even[0];
        assert_eq!(
            (point.per_call.as_str(), point.provisioned.as_str()),
            (lambda.title, ec2.title)
        );
        assert_eq!(point.calls_per_month, model.calls_per_month);
        assert!(point.calls_per_month.is_some_and(|v| v > 0.0));
        assert_eq!(
            point.cheaper_below, lambda.title,
            "per call is cheaper below"
        );
    }

    #[test]
    fn the_note_names_the_sheet_used() {
        let row = catalogue().remove(0);
        let sheet = PriceSheet::builtin(BuiltinSheet::Current).expect("built-in sheet");
        let note = price_rows(&[(&row, &[])], 128, &sheet).markdown_note();
        assert!(note.contains("`current` price sheet"), "{note}");
    }
}
