//! The cost model: rows and a sheet in, a [`CostReport`] out. Pure arithmetic, no I/O.
//!
//! - A provisioned row costs `monthly` whatever the traffic: the sum of its resources'
//!   hours or GB-months times their prices, over the sheet's hours a month.
//! - A per-call row costs `per_million` per million calls: API Gateway, SQS, the Lambda
//!   request and GB-seconds, and the store's requests or request units.
//! - Any row costs `monthly + per_million * calls / 1e6` at a given volume.
//! - Two rows of the same workload, one per-call and one provisioned, cost the same at
//!   their break-even volume `(monthly_p - monthly_s) / (per_call_s - per_call_p)`.
//!
//! Left out, as in the study: free tiers, network transfer, tiered discounts above the
//! first tier, ALB LCUs, storage of the counter itself (bytes), and CloudWatch logs.

use serde::{Deserialize, Serialize};

use crate::CostError;
use crate::rows::{
    Function, Kind, LAMBDA_MAX_DURATION_MS, LAMBDA_MEMORY_MB, Resource, Row, Server, Store,
    StoreMode, StudyFigure, Workload, unknown_row,
};
use crate::sheet::{Figure, Item, PriceSheet};

/// The `schema` field of every [`CostReport`]; bumped when the JSON changes shape.
pub const REPORT_SCHEMA: &str = "latency-cost-report/v1";

/// The committed JSON schema that [`CostReport`]'s JSON satisfies.
pub const REPORT_JSON_SCHEMA: &str = include_str!("../schema/cost-report.v1.schema.json");

/// Volumes priced when the caller gives none: 1, 10 and 100 million calls a month.
pub const DEFAULT_CALLS_PER_MONTH: [f64; 3] = [1e6, 1e7, 1e8];

/// The largest volume accepted, calls a month (about 380 million a second).
pub const MAX_CALLS_PER_MONTH: f64 = 1e15;

/// Public IPv4 addresses an ALB holds: one node per availability zone, two at least.
pub const ALB_PUBLIC_IPV4: u32 = 2;

/// How to price: the volumes, and whether load balancers are included.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Volumes to total each row at, calls a month; each finite and > 0.
    pub calls_per_month: Vec<f64>,
    /// Add an ALB to rows whose deployment has one (the study left it out).
    pub with_load_balancer: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            calls_per_month: DEFAULT_CALLS_PER_MONTH.to_vec(),
            with_load_balancer: false,
        }
    }
}

/// Changes to apply to rows before pricing: what `latency cost --memory-mb`,
/// `--duration-ms` and `--store-mode` set, and what the lab sets from its measurements.
///
/// A per-row value wins over the value for all rows. Memory and durations apply only to
/// per-call rows; naming a provisioned or unknown row is an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Lambda memory for every per-call row, MB.
    pub memory_mb: Option<u32>,
    /// Lambda memory for named rows, MB.
    pub memory_mb_by_row: Vec<(String, u32)>,
    /// Mean billed duration for every per-call row, ms.
    pub duration_ms: Option<f64>,
    /// Mean billed duration for named rows, ms; see [`measured_billed_duration_ms`].
    pub duration_ms_by_row: Vec<(String, f64)>,
    /// Store mode for every per-call row.
    pub store_mode: Option<StoreMode>,
    /// What to record as the duration's basis for rows given a duration here.
    pub duration_basis: Option<String>,
}

impl Overrides {
    /// Applies the overrides to `rows` in place.
    ///
    /// Fails with [`CostError::UnknownRow`] for a row id not in `rows`, and with
    /// [`CostError::InvalidInput`] for a provisioned row, memory outside 128..=10240 MB,
    /// or a duration that is not in (0, 900000] ms.
    pub fn apply(&self, rows: &mut [Row]) -> Result<(), CostError> {
        if let Some(mb) = self.memory_mb {
            check_memory(mb, &mb.to_string())?;
        }
        if let Some(ms) = self.duration_ms {
            check_duration(ms, &ms.to_string())?;
        }
        let basis = self
            .duration_basis
            .clone()
            .unwrap_or_else(|| "given".to_owned());
        for row in rows.iter_mut() {
            if let Kind::PerCall(function) = &mut row.kind {
                if let Some(mb) = self.memory_mb {
                    function.memory_mb = mb;
                }
                if let Some(ms) = self.duration_ms {
                    function.billed_duration_ms = ms;
                    function.duration_basis.clone_from(&basis);
                }
                if let Some(mode) = self.store_mode {
                    function.store_mode = mode;
                }
            }
        }
        for (id, mb) in &self.memory_mb_by_row {
            let shown = format!("{id}={mb}");
            check_memory(*mb, &shown)?;
            function_mut(rows, id, "memory", &shown)?.memory_mb = *mb;
        }
        for (id, ms) in &self.duration_ms_by_row {
            let shown = format!("{id}={ms}");
            check_duration(*ms, &shown)?;
            let function = function_mut(rows, id, "billed duration", &shown)?;
            function.billed_duration_ms = *ms;
            function.duration_basis.clone_from(&basis);
        }
        Ok(())
    }
}

fn function_mut<'a>(
    rows: &'a mut [Row],
    id: &str,
    what: &'static str,
    shown: &str,
) -> Result<&'a mut Function, CostError> {
    let per_call: Vec<String> = rows
        .iter()
        .filter(|row| row.is_per_call())
        .map(|row| row.id.clone())
        .collect();
    let Some(index) = rows.iter().position(|row| row.id == id) else {
        return Err(unknown_row(rows, id));
    };
    match &mut rows[index].kind {
        Kind::PerCall(function) => Ok(function),
        Kind::Provisioned(_) => Err(CostError::InvalidInput {
            what,
            value: shown.to_owned(),
            problem: format!(
                "row `{id}` is billed by the month; a {what} applies only to per-call rows: {}",
                per_call.join(", ")
            ),
        }),
    }
}

fn check_memory(mb: u32, shown: &str) -> Result<(), CostError> {
    if LAMBDA_MEMORY_MB.contains(&mb) {
        Ok(())
    } else {
        Err(CostError::InvalidInput {
            what: "memory",
            value: shown.to_owned(),
            problem: format!(
                "Lambda memory is {} to {} MB",
                LAMBDA_MEMORY_MB.start(),
                LAMBDA_MEMORY_MB.end()
            ),
        })
    }
}

fn check_duration(ms: f64, shown: &str) -> Result<(), CostError> {
    if ms.is_finite() && ms > 0.0 && ms <= LAMBDA_MAX_DURATION_MS {
        Ok(())
    } else {
        Err(CostError::InvalidInput {
            what: "billed duration",
            value: shown.to_owned(),
            problem: "a billed duration is more than 0 and at most 900000 ms (15 minutes)"
                .to_owned(),
        })
    }
}

/// The mean billed duration of measured invocations, for [`Overrides::duration_ms_by_row`].
///
/// Each duration is rounded up to the sheet's billing step first, as Lambda bills each
/// invocation, so passing raw or already-billed durations gives the same result. Fails
/// on an empty list or a duration that is negative, not finite, or over 15 minutes.
pub fn measured_billed_duration_ms(
    sheet: &PriceSheet,
    durations_ms: &[f64],
) -> Result<f64, CostError> {
    if durations_ms.is_empty() {
        return Err(CostError::InvalidInput {
            what: "measured durations",
            value: "[]".to_owned(),
            problem: "no invocation was measured".to_owned(),
        });
    }
    let mut sum = 0.0;
    for &ms in durations_ms {
        if !(ms.is_finite() && (0.0..=LAMBDA_MAX_DURATION_MS).contains(&ms)) {
            return Err(CostError::InvalidInput {
                what: "measured duration",
                value: ms.to_string(),
                problem: "a duration is between 0 and 900000 ms".to_owned(),
            });
        }
        sum += sheet.billed_duration_ms(ms);
    }
    #[allow(clippy::cast_precision_loss)] // counts of invocations are far below 2^52
    Ok(sum / durations_ms.len() as f64)
}

/// What the lab's function platform measured for one per-call row.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The row's id.
    pub row: String,
    /// Lambda memory the function ran with, MB.
    pub memory_mb: u32,
    /// Each invocation's duration, ms, raw or billed (each is rounded up to the billing
    /// step either way); cold and warm invocations alike, as Lambda bills both.
    pub durations_ms: Vec<f64>,
}

/// Prices `rows` with the memory and billed durations the lab measured: the one call
/// the lab makes for its cost columns and chart.
///
/// Each [`Measured`] row gets its memory and the mean billed duration of its
/// invocations ([`measured_billed_duration_ms`]), with a basis saying how many were
/// measured; rows not measured keep their own inputs. Fails as [`Overrides::apply`],
/// [`measured_billed_duration_ms`] and [`price`] do.
pub fn price_measured(
    sheet: &PriceSheet,
    rows: &[Row],
    measured: &[Measured],
    options: &Options,
) -> Result<CostReport, CostError> {
    let mut rows = rows.to_vec();
    for m in measured {
        let mean = measured_billed_duration_ms(sheet, &m.durations_ms)?;
        Overrides {
            memory_mb_by_row: vec![(m.row.clone(), m.memory_mb)],
            duration_ms_by_row: vec![(m.row.clone(), mean)],
            duration_basis: Some(format!(
                "measured: mean billed duration of {} invocations",
                m.durations_ms.len()
            )),
            ..Overrides::default()
        }
        .apply(&mut rows)?;
    }
    price(sheet, &rows, options)
}

/// What a [`Line`]'s cost is per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    /// Dollars a month.
    Month,
    /// Dollars per million calls.
    MillionCalls,
}

/// One priced quantity: the arithmetic behind a row's figure, shown by `--explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// What is paid for, e.g. "worker node: t2.micro".
    pub what: String,
    /// The sheet key priced, e.g. `ec2.t2_micro`.
    pub item: String,
    /// How much of it, in `quantity_unit`.
    pub quantity: f64,
    /// The quantity's unit, e.g. "hours" or "GB-seconds".
    pub quantity_unit: String,
    /// Dollars per one `quantity_unit`, after any discount.
    pub unit_price: f64,
    /// `quantity * unit_price`.
    pub cost: f64,
    /// Whether `cost` is a month's or a million calls'.
    pub per: Per,
}

/// Whether a row's load balancer is in its monthly cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancer {
    /// The deployment has none.
    None,
    /// The deployment has one, left out (as the study did).
    Excluded,
    /// The deployment has one, included.
    Included,
}

/// A row's cost at one volume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// Calls a month.
    pub calls_per_month: f64,
    /// Dollars a month at that volume.
    pub cost: f64,
}

/// How a row is billed, in a [`RowCost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Billing {
    /// By the month (serverful).
    Provisioned,
    /// Per call (serverless).
    PerCall,
}

/// One row, priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowCost {
    /// The row's id.
    pub id: String,
    /// The row's label.
    pub label: String,
    /// What a call is.
    pub workload: Workload,
    /// How it is billed.
    pub billing: Billing,
    /// Fixed dollars a month (0 for per-call rows).
    pub monthly: f64,
    /// Dollars per million calls (0 for provisioned rows).
    pub per_million: f64,
    /// Whether a load balancer is in `monthly`.
    pub load_balancer: LoadBalancer,
    /// `monthly + per_million * calls / 1e6` at each volume of [`Options`].
    pub totals: Vec<Total>,
    /// The function inputs priced (memory, billed duration, store mode), for per-call rows.
    pub function: Option<Function>,
    /// The arithmetic: every priced quantity.
    pub lines: Vec<Line>,
    /// The study's published figure for the row, if any.
    pub study: Option<StudyFigure>,
    /// The row's assumptions.
    pub notes: Vec<String>,
}

impl RowCost {
    /// Dollars a month at `calls_per_month`.
    pub fn total_at(&self, calls_per_month: f64) -> f64 {
        self.monthly + self.per_million * calls_per_month / 1e6
    }
}

/// Where a per-call row and a provisioned row of the same workload cost the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakEven {
    /// The per-call (serverless) row's id.
    pub per_call: String,
    /// The provisioned (serverful) row's id.
    pub provisioned: String,
    /// The workload both serve.
    pub workload: Workload,
    /// The volume at which they cost the same, calls a month; `None` if one is cheaper
    /// at every volume.
    pub calls_per_month: Option<f64>,
    /// What each costs a month at that volume.
    pub cost: Option<f64>,
    /// The row that is cheaper below the break-even volume (at every volume if none).
    pub cheaper_below: String,
    /// The row that is cheaper above it (at every volume if none).
    pub cheaper_above: String,
}

/// One figure of the sheet used, in a [`CostReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureUsed {
    /// The sheet key, e.g. `lambda.gb_second`.
    pub key: String,
    /// The model's unit for `canonical`, e.g. "USD per GB-second".
    pub canonical_unit: String,
    /// The figure as in the sheet.
    #[serde(flatten)]
    pub figure: Figure,
}

/// The sheet a report was priced with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetUsed {
    /// `built-in original-era`, or the file given.
    pub origin: String,
    /// The sheet's name.
    pub name: String,
    /// The region it prices.
    pub region: String,
    /// The date it describes.
    pub as_of: String,
    /// What it is.
    pub description: String,
    /// Every figure, confirmed or not.
    pub figures: Vec<FigureUsed>,
}

/// Everything `latency cost` prints, and what `--json` writes (see
/// [`REPORT_JSON_SCHEMA`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// The prices used.
    pub sheet: SheetUsed,
    /// Whether load balancers are included.
    pub with_load_balancer: bool,
    /// What a load balancer adds to a row that has one, dollars a month.
    pub load_balancer_monthly: f64,
    /// The volumes totalled, calls a month.
    pub calls_per_month: Vec<f64>,
    /// Every row, priced, in the order given.
    pub rows: Vec<RowCost>,
    /// Every (per-call, provisioned) pair of the same workload.
    pub break_even: Vec<BreakEven>,
}

impl CostReport {
    /// The priced row with this id.
    pub fn row(&self, id: &str) -> Option<&RowCost> {
        self.rows.iter().find(|row| row.id == id)
    }

    /// The break-even point of a per-call and a provisioned row.
    pub fn break_even_between(&self, per_call: &str, provisioned: &str) -> Option<&BreakEven> {
        self.break_even
            .iter()
            .find(|b| b.per_call == per_call && b.provisioned == provisioned)
    }
}

/// Prices `rows` with `sheet`.
///
/// Fails with [`CostError::InvalidInput`] if a volume is not finite and in
/// (0, [`MAX_CALLS_PER_MONTH`]], if no volume is given, if two rows share an id, if a
/// function row's memory or duration is out of Lambda's range, or if a cost overflows to
/// a non-finite number (a sheet figure far too large).
pub fn price(sheet: &PriceSheet, rows: &[Row], options: &Options) -> Result<CostReport, CostError> {
    if options.calls_per_month.is_empty() {
        return Err(CostError::InvalidInput {
            what: "calls per month",
            value: String::new(),
            problem: "give at least one volume".to_owned(),
        });
    }
    for &calls in &options.calls_per_month {
        check_calls(calls, &calls.to_string())?;
    }
    for (index, row) in rows.iter().enumerate() {
        if rows[..index].iter().any(|other| other.id == row.id) {
            return Err(CostError::InvalidInput {
                what: "rows",
                value: row.id.clone(),
                problem: "two rows share this id".to_owned(),
            });
        }
        if let Some(function) = row.function() {
            check_memory(
                function.memory_mb,
                &format!("{}={}", row.id, function.memory_mb),
            )?;
            check_duration(
                function.billed_duration_ms,
                &format!("{}={}", row.id, function.billed_duration_ms),
            )?;
        }
    }

    let priced: Vec<RowCost> = rows
        .iter()
        .map(|row| price_row(sheet, row, options))
        .collect();
    for row in &priced {
        check_finite(row)?;
    }
    let mut break_even = Vec::new();
    for provisioned in priced.iter().filter(|r| r.billing == Billing::Provisioned) {
        for per_call in priced.iter().filter(|r| r.billing == Billing::PerCall) {
            if per_call.workload == provisioned.workload {
                break_even.push(break_even_of(per_call, provisioned));
            }
        }
    }
    Ok(CostReport {
        schema: REPORT_SCHEMA.to_owned(),
        sheet: SheetUsed {
            origin: sheet.origin.clone(),
            name: sheet.name.clone(),
            region: sheet.region.clone(),
            as_of: sheet.as_of.clone(),
            description: sheet.description.clone(),
            figures: sheet
                .figures()
                .map(|(item, figure)| FigureUsed {
                    key: item.key().to_owned(),
                    canonical_unit: item.canonical_unit(),
                    figure: figure.clone(),
                })
                .collect(),
        },
        with_load_balancer: options.with_load_balancer,
        load_balancer_monthly: load_balancer_lines(sheet).iter().map(|l| l.cost).sum(),
        calls_per_month: options.calls_per_month.clone(),
        rows: priced,
        break_even,
    })
}

/// Rejects a row whose costs overflowed: a sheet's figures are each finite, but a huge
/// one times hours or volumes can reach infinity, and every table, chart and break-even
/// point downstream needs finite numbers.
fn check_finite(row: &RowCost) -> Result<(), CostError> {
    let figures = [
        ("monthly cost", row.monthly),
        ("cost per million calls", row.per_million),
    ]
    .into_iter()
    .chain(row.totals.iter().map(|t| ("total", t.cost)))
    .chain(row.lines.iter().map(|l| ("line", l.cost)));
    for (what, value) in figures {
        if !value.is_finite() {
            return Err(CostError::InvalidInput {
                what: "price sheet",
                value: format!("{}: {what} = {value}", row.id),
                problem: "a cost overflowed to a non-finite number; a figure in the sheet is \
                          far too large"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// The measured usage of one Lambda function, as an Infracost usage file states it.
///
/// Infracost prices `aws_lambda_function` from two usage keys, `monthly_requests` and
/// `request_duration_ms`, both whole numbers (infracost/infracost,
/// `internal/resources/aws/lambda_function.go`: `MonthlyRequests *int64
/// infracost_usage:"monthly_requests"`, `RequestDurationMS *int64
/// infracost_usage:"request_duration_ms"`), in a YAML file of `version: 0.1` whose
/// `resource_type_default_usage` applies them to every function of that type.
#[derive(Debug, Clone, PartialEq)]
pub struct InfracostUsage {
    /// Calls a month.
    pub monthly_requests: f64,
    /// Mean duration of a call, ms (rounded up to whole ms in the file, as Lambda
    /// bills).
    pub request_duration_ms: f64,
    /// Where the figures come from, for the file's comments (one line).
    pub source: String,
}

impl InfracostUsage {
    /// The usage file's text. The YAML is written by hand: it is seven fixed lines, and
    /// a YAML library would be a dependency for nothing.
    ///
    /// # Errors
    /// [`CostError::InvalidInput`] when a figure is not finite and positive, or the
    /// volume is above [`MAX_CALLS_PER_MONTH`].
    pub fn to_yaml(&self) -> Result<String, CostError> {
        check_calls(self.monthly_requests, &self.monthly_requests.to_string())?;
        let duration = self.request_duration_ms;
        if !(duration.is_finite() && duration > 0.0 && duration <= 900_000.0) {
            return Err(CostError::InvalidInput {
                what: "request duration",
                value: duration.to_string(),
                problem: "a Lambda call lasts more than 0 ms and at most 15 minutes".to_owned(),
            });
        }
        // A comment is one line: a line break in the source would end it.
        let source: String = self
            .source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
        let (requests, ms) = (self.monthly_requests.round() as u64, duration.ceil() as u64);
        Ok(format!(
            "# Infracost usage file written by `latency cost --infracost-usage`.\n\
             # {source}\n\
             # Use: infracost breakdown --path . --usage-file <this file>\n\
             version: 0.1\n\
             resource_type_default_usage:\n\
             \x20 aws_lambda_function:\n\
             \x20   monthly_requests: {requests}\n\
             \x20   request_duration_ms: {ms}\n"
        ))
    }
}

pub(crate) fn check_calls(calls: f64, shown: &str) -> Result<(), CostError> {
    if calls.is_finite() && calls > 0.0 && calls <= MAX_CALLS_PER_MONTH {
        Ok(())
    } else {
        Err(CostError::InvalidInput {
            what: "calls per month",
            value: shown.to_owned(),
            problem: "a volume is a number of calls a month, more than 0 and at most 1e15"
                .to_owned(),
        })
    }
}

/// The break-even point of a per-call row and a provisioned row.
///
/// With fixed costs `F` and per-call costs `p`, they cost the same at
/// `V = (F_provisioned - F_per_call) / (p_per_call - p_provisioned)`, if that is positive.
/// Otherwise one row is cheaper at every volume and `calls_per_month` is `None`.
pub fn break_even_of(per_call: &RowCost, provisioned: &RowCost) -> BreakEven {
    let fixed_gap = provisioned.monthly - per_call.monthly;
    let slope_gap = (per_call.per_million - provisioned.per_million) / 1e6;
    let (calls, below, above) = if fixed_gap > 0.0 && slope_gap > 0.0 {
        (Some(fixed_gap / slope_gap), per_call, provisioned)
    } else if fixed_gap > 0.0 || (fixed_gap == 0.0 && slope_gap < 0.0) {
        (None, per_call, per_call)
    } else {
        (None, provisioned, provisioned)
    };
    BreakEven {
        per_call: per_call.id.clone(),
        provisioned: provisioned.id.clone(),
        workload: per_call.workload,
        calls_per_month: calls,
        cost: calls.map(|v| provisioned.total_at(v)),
        cheaper_below: below.id.clone(),
        cheaper_above: above.id.clone(),
    }
}

fn price_row(sheet: &PriceSheet, row: &Row, options: &Options) -> RowCost {
    let (billing, lines, load_balancer, function) = match &row.kind {
        Kind::Provisioned(server) => {
            let (lines, lb) = server_lines(sheet, server, options.with_load_balancer);
            (Billing::Provisioned, lines, lb, None)
        }
        Kind::PerCall(function) => (
            Billing::PerCall,
            function_lines(sheet, function),
            LoadBalancer::None,
            Some(function.clone()),
        ),
    };
    let sum = |per: Per| -> f64 {
        lines
            .iter()
            .filter(|line| line.per == per)
            .map(|line| line.cost)
            .sum()
    };
    let mut cost = RowCost {
        id: row.id.clone(),
        label: row.label.clone(),
        workload: row.workload,
        billing,
        monthly: sum(Per::Month),
        per_million: sum(Per::MillionCalls),
        load_balancer,
        totals: Vec::new(),
        function,
        lines,
        study: row.study.clone(),
        notes: row.notes.clone(),
    };
    cost.totals = options
        .calls_per_month
        .iter()
        .map(|&calls| Total {
            calls_per_month: calls,
            cost: cost.total_at(calls),
        })
        .collect();
    cost
}

fn line(sheet: &PriceSheet, what: String, item: Item, quantity: f64, unit: &str, per: Per) -> Line {
    line_at(what, item, quantity, unit, sheet.price(item), per)
}

fn line_at(what: String, item: Item, quantity: f64, unit: &str, unit_price: f64, per: Per) -> Line {
    Line {
        what,
        item: item.key().to_owned(),
        quantity,
        quantity_unit: unit.to_owned(),
        unit_price,
        cost: quantity * unit_price,
        per,
    }
}

fn server_lines(
    sheet: &PriceSheet,
    server: &Server,
    with_load_balancer: bool,
) -> (Vec<Line>, LoadBalancer) {
    let hours = sheet.price(Item::HoursPerMonth);
    let mut lines = Vec::new();
    for part in &server.parts {
        let what = &part.what;
        match &part.resource {
            Resource::Ec2T2Micro { count } => lines.push(line(
                sheet,
                format!("{what}: {count} x t2.micro"),
                Item::Ec2T2Micro,
                f64::from(*count) * hours,
                "instance-hours",
                Per::Month,
            )),
            Resource::Gp2 { gb } => lines.push(line(
                sheet,
                format!("{what}: {gb} GB gp2"),
                Item::EbsGp2,
                *gb,
                "GB-months",
                Per::Month,
            )),
            Resource::Fargate {
                vcpu,
                memory_gb,
                spot,
            } => {
                let (factor, tag) = if *spot {
                    let discount = sheet.price(Item::FargateSpotDiscount);
                    (
                        1.0 - discount,
                        format!(" (Spot, {:.0}% off)", discount * 100.0),
                    )
                } else {
                    (1.0, String::new())
                };
                lines.push(line_at(
                    format!("{what}: {vcpu} vCPU{tag}"),
                    Item::FargateVcpu,
                    vcpu * hours,
                    "vCPU-hours",
                    sheet.price(Item::FargateVcpu) * factor,
                    Per::Month,
                ));
                lines.push(line_at(
                    format!("{what}: {memory_gb} GB memory{tag}"),
                    Item::FargateMemory,
                    memory_gb * hours,
                    "GB-hours",
                    sheet.price(Item::FargateMemory) * factor,
                    Per::Month,
                ));
            }
            Resource::Efs { gb } => lines.push(line(
                sheet,
                format!("{what}: EFS Standard"),
                Item::EfsStandard,
                *gb,
                "GB-months",
                Per::Month,
            )),
            Resource::EksControlPlane => lines.push(line(
                sheet,
                format!("{what}: EKS"),
                Item::EksControlPlane,
                hours,
                "cluster-hours",
                Per::Month,
            )),
            Resource::PublicIpv4 { count } => lines.push(line(
                sheet,
                format!("{what}: {count} x public IPv4"),
                Item::PublicIpv4,
                f64::from(*count) * hours,
                "address-hours",
                Per::Month,
            )),
        }
    }
    let load_balancer = match (server.load_balancer, with_load_balancer) {
        (false, _) => LoadBalancer::None,
        (true, false) => LoadBalancer::Excluded,
        (true, true) => {
            lines.extend(load_balancer_lines(sheet));
            LoadBalancer::Included
        }
    };
    (lines, load_balancer)
}

fn load_balancer_lines(sheet: &PriceSheet) -> Vec<Line> {
    let hours = sheet.price(Item::HoursPerMonth);
    vec![
        line(
            sheet,
            "load balancer: ALB".to_owned(),
            Item::Alb,
            hours,
            "ALB-hours",
            Per::Month,
        ),
        line(
            sheet,
            format!("load balancer: {ALB_PUBLIC_IPV4} x public IPv4"),
            Item::PublicIpv4,
            f64::from(ALB_PUBLIC_IPV4) * hours,
            "address-hours",
            Per::Month,
        ),
    ]
}

fn function_lines(sheet: &PriceSheet, function: &Function) -> Vec<Line> {
    const MILLION: f64 = 1e6;
    let mut lines = Vec::new();
    let per_million = |what: String, item: Item, per_call: f64, unit: &str| {
        line(
            sheet,
            what,
            item,
            per_call * MILLION,
            unit,
            Per::MillionCalls,
        )
    };
    if function.api_gateway_requests > 0.0 {
        lines.push(per_million(
            "API Gateway HTTP API".to_owned(),
            Item::ApiGatewayHttpRequest,
            function.api_gateway_requests,
            "requests",
        ));
    }
    if function.sqs_requests > 0.0 {
        lines.push(per_million(
            format!("SQS: {} requests per call", function.sqs_requests),
            Item::SqsRequest,
            function.sqs_requests,
            "requests",
        ));
    }
    lines.push(per_million(
        "Lambda invocation".to_owned(),
        Item::LambdaRequest,
        1.0,
        "requests",
    ));
    let gb_seconds = f64::from(function.memory_mb) / 1024.0 * function.billed_duration_ms / 1000.0;
    lines.push(per_million(
        format!(
            "Lambda duration: {} MB x {} ms billed",
            function.memory_mb, function.billed_duration_ms
        ),
        Item::LambdaGbSecond,
        gb_seconds,
        "GB-seconds",
    ));
    match (function.store, function.store_mode) {
        (Store::S3, mode) => {
            let why = match mode {
                StoreMode::Atomic => "conditional write: GET for the ETag",
                StoreMode::ReadModifyWrite => "read-modify-write",
            };
            lines.push(per_million(
                format!("S3 GET ({why})"),
                Item::S3Get,
                1.0,
                "requests",
            ));
            lines.push(per_million(
                "S3 PUT".to_owned(),
                Item::S3Put,
                1.0,
                "requests",
            ));
        }
        (Store::DynamoDb, StoreMode::ReadModifyWrite) => {
            lines.push(per_million(
                "DynamoDB GetItem (strongly consistent)".to_owned(),
                Item::DynamoDbRead,
                1.0,
                "read request units",
            ));
            lines.push(per_million(
                "DynamoDB PutItem".to_owned(),
                Item::DynamoDbWrite,
                1.0,
                "write request units",
            ));
        }
        (Store::DynamoDb, StoreMode::Atomic) => lines.push(per_million(
            "DynamoDB UpdateItem ADD".to_owned(),
            Item::DynamoDbWrite,
            1.0,
            "write request units",
        )),
    }
    lines
}

#[cfg(test)]
mod infracost_tests {
    use super::*;

    #[test]
    fn the_usage_file_has_infracosts_keys_in_whole_numbers() {
        let usage = InfracostUsage {
            monthly_requests: 2.5e6,
            request_duration_ms: 12.2,
            source: "from run.json:\nmean billed duration".to_owned(),
        };
        let yaml = usage.to_yaml().expect("valid");
        let lines: Vec<&str> = yaml.lines().collect();
        assert_eq!(lines[1], "# from run.json: mean billed duration");
        assert_eq!(
            &lines[3..],
            [
                "version: 0.1",
                "resource_type_default_usage:",
                "  aws_lambda_function:",
                "    monthly_requests: 2500000",
                "    request_duration_ms: 13",
            ]
        );
        for bad in [f64::NAN, 0.0, -1.0, 1e9] {
            let usage = InfracostUsage {
                request_duration_ms: bad,
                ..usage.clone()
            };
            assert!(usage.to_yaml().is_err(), "{bad}");
        }
    }
}
