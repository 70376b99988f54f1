//! The lab's cost columns and break-even chart: each measured row priced by
//! `latency-cost`, the function rows from the billed durations the platform measured.

use latency_bench::CostFigures;
use latency_cost::{
    BuiltinSheet, CostReport, Measured, Options, PriceSheet, Row, Store, StoreMode, Workload,
    break_even_svg, catalogue_row, format_calls, price_measured,
};

use crate::catalogue::{Architecture, CounterBackend, Deployment};

/// The priced rows of one lab run, or why pricing failed.
pub(crate) struct Priced {
    outcome: Result<CostReport, String>,
    /// (lab row id, cost row id)
    ids: Vec<(&'static str, String)>,
}

/// Prices every measured row on the built-in `current` sheet, as the original study
/// priced its table: load balancers left out, Lambda at `memory_mb`.
pub(crate) fn price_rows(measured: &[(&Architecture, &[f64])], memory_mb: u32) -> Priced {
    let mut rows = Vec::new();
    let mut durations = Vec::new();
    let mut ids = Vec::new();
    for &(row, billed_ms) in measured {
        let cost_row = match (row.cost_row, &row.deployment) {
            (Some(id), _) => catalogue_row(id).ok(),
            (None, Deployment::Function { counter }) if !billed_ms.is_empty() => {
                durations.push(Measured {
                    row: row.id.to_owned(),
                    memory_mb,
                    durations_ms: billed_ms.to_vec(),
                });
                function_row(row, *counter, memory_mb)
            }
            _ => None,
        };
        if let Some(cost_row) = cost_row {
            ids.push((row.id, cost_row.id.clone()));
            rows.push(cost_row);
        }
    }
    let outcome = PriceSheet::builtin(BuiltinSheet::Current)
        .and_then(|sheet| price_measured(&sheet, &rows, &durations, &Options::default()))
        .map_err(|err| err.to_string());
    Priced { outcome, ids }
}

fn function_row(row: &Architecture, counter: CounterBackend, memory_mb: u32) -> Option<Row> {
    let (store, read_modify_write) = match counter {
        CounterBackend::S3 { read_modify_write } => (Store::S3, read_modify_write),
        CounterBackend::DynamoDb { read_modify_write } => (Store::DynamoDb, read_modify_write),
        _ => return None,
    };
    let mode = if read_modify_write {
        StoreMode::ReadModifyWrite
    } else {
        StoreMode::Atomic
    };
    // The billed duration is replaced by the measured one when priced.
    Some(Row::api_lambda(
        row.id,
        row.title,
        store,
        mode,
        memory_mb,
        1.0,
        "measured by the lab",
    ))
}

impl Priced {
    /// The cost columns for the lab row `id`, if it was priced.
    pub(crate) fn figures(&self, id: &str) -> Option<CostFigures> {
        let report = self.outcome.as_ref().ok()?;
        let (_, cost_id) = self.ids.iter().find(|(lab_id, _)| *lab_id == id)?;
        let row = report.row(cost_id)?;
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

    /// Where the cost columns come from, and the break-even volumes, as Markdown.
    pub(crate) fn markdown_note(&self) -> String {
        let report = match &self.outcome {
            Ok(report) => report,
            Err(reason) => return format!("\nCost columns unavailable: {reason}\n"),
        };
        let unconfirmed = report
            .sheet
            .figures
            .iter()
            .filter(|f| !f.figure.confirmed)
            .count();
        let mut text = format!(
            "\nCosts: AWS {}, `{}` price sheet (as of {}; {unconfirmed} of {} figures unconfirmed, \
             listed by `latency cost --sheet {}`). Provisioned rows as the original study priced \
             them (load balancers excluded); Lambda rows from the billed durations measured here. \
             Local durations are not cloud durations: the store is on this machine, not across a network.\n",
            report.sheet.region,
            report.sheet.name,
            report.sheet.as_of,
            report.sheet.figures.len(),
            report.sheet.name,
        );
        let crossings: Vec<String> = report
            .break_even
            .iter()
            .filter(|b| b.workload == Workload::Hits)
            .filter_map(|b| {
                let calls = b.calls_per_month?;
                Some(format!(
                    "- {} vs {}: break-even at {} calls a month (below it, {} is cheaper)",
                    label(report, &b.per_call),
                    label(report, &b.provisioned),
                    format_calls(calls),
                    label(report, &b.cheaper_below),
                ))
            })
            .collect();
        if !crossings.is_empty() {
            text.push_str("\nBreak-even points:\n");
            text.push_str(&crossings.join("\n"));
            text.push('\n');
        }
        text
    }

    /// The break-even chart as an HTML section (inline SVG), if anything was priced.
    pub(crate) fn html_section(&self) -> Option<String> {
        let report = self.outcome.as_ref().ok()?;
        if report.rows.is_empty() {
            return None;
        }
        Some(format!(
            "<section class=\"break-even\"><h2>Cost against traffic</h2>{}</section>\n",
            break_even_svg(report, Workload::Hits)
        ))
    }
}

fn label<'a>(report: &'a CostReport, id: &'a str) -> &'a str {
    report.row(id).map_or(id, |row| row.label.as_str())
}
