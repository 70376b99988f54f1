//! Price sheets: every figure the model uses, as data, with its unit, region, date and
//! source.
//!
//! A sheet is TOML. `[sheet]` holds the header; every other table is one figure, keyed
//! `group.item` (e.g. `[lambda.gb_second]`):
//!
//! ```toml
//! [lambda.gb_second]
//! value = 0.0000166667
//! unit = "USD per GB-second"
//! region = "eu-west-2"
//! date = "2021"                # YYYY, YYYY-MM or YYYY-MM-DD
//! source = "https://aws.amazon.com/lambda/pricing/"
//! confirmed = true             # false: not checked against the source; `note` says why
//! note = "optional, required when confirmed = false"
//! ```
//!
//! Parsing is strict: every key in [`Item::ALL`] must be present, unknown keys and fields
//! are errors (a typo must not silently drop a price), and a unit must fit its item, so a
//! figure written "USD per 1,000 requests" is converted, while "USD per GB-month" on a
//! request price is rejected.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CostError;

/// A price sheet shipped inside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinSheet {
    /// eu-west-2 prices of the original study's era (c. 2021); they reproduce its table.
    OriginalEra,
    /// eu-west-2 prices as last known; figures that could not be confirmed are marked.
    Current,
}

impl BuiltinSheet {
    /// Every built-in sheet, the default first.
    pub const ALL: [BuiltinSheet; 2] = [BuiltinSheet::OriginalEra, BuiltinSheet::Current];

    /// The name used to select it (`--sheet original-era`).
    pub fn name(self) -> &'static str {
        match self {
            BuiltinSheet::OriginalEra => "original-era",
            BuiltinSheet::Current => "current",
        }
    }

    /// The built-in sheet with this name, if any.
    pub fn from_name(name: &str) -> Option<BuiltinSheet> {
        BuiltinSheet::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The sheet's TOML text, as embedded at compile time.
    pub fn text(self) -> &'static str {
        match self {
            BuiltinSheet::OriginalEra => include_str!("../sheets/original-era.toml"),
            BuiltinSheet::Current => include_str!("../sheets/current.toml"),
        }
    }
}

/// What a figure is measured in, which decides the units a sheet may write it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    /// US dollars per one `noun` (singular), e.g. per one "request" or one "GB-second".
    Money(&'static str),
    /// A number in `[0, 1)`, unit "fraction".
    Fraction,
    /// Hours in a billing month, unit "hours per month".
    HoursPerMonth,
    /// A duration in milliseconds, unit "ms".
    Milliseconds,
}

/// One figure a sheet must hold. The model reads prices only through these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// Hours in a billing month (AWS uses 730).
    HoursPerMonth,
    /// API Gateway HTTP API, per request.
    ApiGatewayHttpRequest,
    /// Lambda, per invocation.
    LambdaRequest,
    /// Lambda duration, per GB-second of configured memory.
    LambdaGbSecond,
    /// Lambda duration billing step, in milliseconds.
    LambdaBillingGranularity,
    /// DynamoDB on-demand, per write request unit.
    DynamoDbWrite,
    /// DynamoDB on-demand, per read request unit.
    DynamoDbRead,
    /// S3 Standard PUT, per request.
    S3Put,
    /// S3 Standard GET, per request.
    S3Get,
    /// SQS standard queue, per request.
    SqsRequest,
    /// EC2 t2.micro on-demand Linux, per hour.
    Ec2T2Micro,
    /// EBS gp2, per GB-month.
    EbsGp2,
    /// Fargate on-demand, per vCPU-hour.
    FargateVcpu,
    /// Fargate on-demand, per GB-hour of memory.
    FargateMemory,
    /// Fargate Spot's discount on the on-demand price, a fraction.
    FargateSpotDiscount,
    /// EFS Standard storage, per GB-month.
    EfsStandard,
    /// Application Load Balancer, per hour (LCUs not included).
    Alb,
    /// EKS control plane, per cluster-hour.
    EksControlPlane,
    /// A public IPv4 address, per hour.
    PublicIpv4,
}

impl Item {
    /// Every item, in the order sheets list them.
    pub const ALL: [Item; 19] = [
        Item::HoursPerMonth,
        Item::ApiGatewayHttpRequest,
        Item::LambdaRequest,
        Item::LambdaGbSecond,
        Item::LambdaBillingGranularity,
        Item::DynamoDbWrite,
        Item::DynamoDbRead,
        Item::S3Put,
        Item::S3Get,
        Item::SqsRequest,
        Item::Ec2T2Micro,
        Item::EbsGp2,
        Item::FargateVcpu,
        Item::FargateMemory,
        Item::FargateSpotDiscount,
        Item::EfsStandard,
        Item::Alb,
        Item::EksControlPlane,
        Item::PublicIpv4,
    ];

    /// The dotted key that holds this item in a sheet, e.g. `lambda.gb_second`.
    pub fn key(self) -> &'static str {
        match self {
            Item::HoursPerMonth => "calendar.hours_per_month",
            Item::ApiGatewayHttpRequest => "api_gateway.http_request",
            Item::LambdaRequest => "lambda.request",
            Item::LambdaGbSecond => "lambda.gb_second",
            Item::LambdaBillingGranularity => "lambda.billing_granularity",
            Item::DynamoDbWrite => "dynamodb.write_request_unit",
            Item::DynamoDbRead => "dynamodb.read_request_unit",
            Item::S3Put => "s3.put_request",
            Item::S3Get => "s3.get_request",
            Item::SqsRequest => "sqs.request",
            Item::Ec2T2Micro => "ec2.t2_micro",
            Item::EbsGp2 => "ebs.gp2",
            Item::FargateVcpu => "fargate.vcpu",
            Item::FargateMemory => "fargate.memory",
            Item::FargateSpotDiscount => "fargate.spot_discount",
            Item::EfsStandard => "efs.standard_storage",
            Item::Alb => "elb.alb",
            Item::EksControlPlane => "eks.control_plane",
            Item::PublicIpv4 => "ipv4.public_address",
        }
    }

    /// The item held under `key`, if any.
    pub fn from_key(key: &str) -> Option<Item> {
        Item::ALL.into_iter().find(|item| item.key() == key)
    }

    fn dimension(self) -> Dimension {
        match self {
            Item::HoursPerMonth => Dimension::HoursPerMonth,
            Item::LambdaBillingGranularity => Dimension::Milliseconds,
            Item::FargateSpotDiscount => Dimension::Fraction,
            Item::ApiGatewayHttpRequest
            | Item::LambdaRequest
            | Item::S3Put
            | Item::S3Get
            | Item::SqsRequest => Dimension::Money("request"),
            Item::LambdaGbSecond => Dimension::Money("GB-second"),
            Item::DynamoDbWrite => Dimension::Money("write request unit"),
            Item::DynamoDbRead => Dimension::Money("read request unit"),
            Item::Ec2T2Micro | Item::Alb | Item::EksControlPlane | Item::PublicIpv4 => {
                Dimension::Money("hour")
            }
            Item::EbsGp2 | Item::EfsStandard => Dimension::Money("GB-month"),
            Item::FargateVcpu => Dimension::Money("vCPU-hour"),
            Item::FargateMemory => Dimension::Money("GB-hour"),
        }
    }

    /// The unit the model works in for this item, e.g. `USD per request`.
    pub fn canonical_unit(self) -> String {
        match self.dimension() {
            Dimension::Money(noun) => format!("USD per {noun}"),
            Dimension::Fraction => "fraction".to_owned(),
            Dimension::HoursPerMonth => "hours per month".to_owned(),
            Dimension::Milliseconds => "ms".to_owned(),
        }
    }

    /// The unit forms a sheet may use for this item, for error messages.
    fn accepted_units(self) -> String {
        match self.dimension() {
            Dimension::Money(noun) => format!(
                "\"USD per {noun}\", \"USD per 1,000 {noun}s\" or \"USD per million {noun}s\""
            ),
            Dimension::Fraction => "\"fraction\"".to_owned(),
            Dimension::HoursPerMonth => "\"hours per month\"".to_owned(),
            Dimension::Milliseconds => "\"ms\"".to_owned(),
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One figure of a sheet, as written and in the model's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The value as written in the sheet, in `unit`.
    pub value: f64,
    /// The unit as written, e.g. `USD per 1,000 requests`.
    pub unit: String,
    /// The value in the model's unit ([`Item::canonical_unit`]), e.g. USD per request.
    pub canonical: f64,
    /// The region the figure applies to (`eu-west-2`, or `global`).
    pub region: String,
    /// When the figure was known to hold: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: String,
    /// Where it comes from: a URL, or "inferred from …".
    pub source: String,
    /// Whether it was checked against its source for `date`.
    pub confirmed: bool,
    /// Why the figure is as it is; always present when `confirmed` is false.
    pub note: Option<String>,
}

/// A complete, validated price sheet.
///
/// Holding one means every [`Item`] has a figure in a fitting unit with a non-negative
/// value, so the model never meets a missing price.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSheet {
    /// Where the sheet came from: `built-in original-era`, or the file name given.
    pub origin: String,
    /// The sheet's name, from `[sheet] name`.
    pub name: String,
    /// The region it prices, from `[sheet] region`.
    pub region: String,
    /// The currency; always `USD`.
    pub currency: String,
    /// The date the sheet as a whole describes.
    pub as_of: String,
    /// One line saying what the sheet is.
    pub description: String,
    /// Figures in [`Item::ALL`] order.
    figures: Vec<Figure>,
}

impl PriceSheet {
    /// Parses and validates the built-in sheet `which`.
    ///
    /// The built-in sheets are tested to parse, so this fails only if one was edited
    /// into an invalid state.
    pub fn builtin(which: BuiltinSheet) -> Result<PriceSheet, CostError> {
        PriceSheet::parse(&format!("built-in {}", which.name()), which.text())
    }

    /// Parses and validates a sheet. `file` names it in errors (a path, or
    /// `built-in <name>`); nothing is read from disk.
    ///
    /// Errors name the file and the offending key: [`CostError::SheetSyntax`] for
    /// invalid TOML, [`CostError::SheetKey`] for a missing, unknown or ill-typed key, a
    /// unit that does not fit its item, or a value out of range.
    pub fn parse(file: &str, text: &str) -> Result<PriceSheet, CostError> {
        let root: toml::Table = toml::from_str(text).map_err(|err| {
            let (line, column) = err
                .span()
                .map_or((1, 1), |span| line_column(text, span.start));
            CostError::SheetSyntax {
                file: file.to_owned(),
                line,
                column,
                message: err.message().trim().to_owned(),
            }
        })?;
        let fail = |key: &str, problem: String| CostError::SheetKey {
            file: file.to_owned(),
            key: key.to_owned(),
            problem,
        };

        let mut figures: Vec<Option<Figure>> = vec![None; Item::ALL.len()];
        let mut header = None;
        for (group, value) in &root {
            let Some(table) = value.as_table() else {
                return Err(fail(
                    group,
                    format!(
                        "expected a table such as [{group}.<item>], found {}",
                        describe(value)
                    ),
                ));
            };
            if group == "sheet" {
                header = Some(parse_header(table, &fail)?);
                continue;
            }
            let known: Vec<&str> = Item::ALL
                .iter()
                .filter_map(|item| item.key().strip_prefix(group.as_str()))
                .filter_map(|rest| rest.strip_prefix('.'))
                .collect();
            if known.is_empty() {
                return Err(fail(
                    group,
                    format!(
                        "unknown table; a sheet holds [sheet] and the figures {}",
                        Item::ALL.map(Item::key).join(", ")
                    ),
                ));
            }
            for (name, value) in table {
                let key = format!("{group}.{name}");
                let Some(item) = Item::from_key(&key) else {
                    return Err(fail(
                        &key,
                        format!(
                            "unknown figure; [{group}] holds {}",
                            known
                                .iter()
                                .map(|k| format!("{group}.{k}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                let Some(table) = value.as_table() else {
                    return Err(fail(
                        &key,
                        format!(
                            "expected a table with value, unit, region, date, source and confirmed, found {}",
                            describe(value)
                        ),
                    ));
                };
                figures[item as usize] = Some(parse_figure(item, &key, table, &fail)?);
            }
        }

        let Some(header) = header else {
            return Err(fail(
                "sheet",
                "missing; a sheet starts with [sheet] holding name, region, currency, as_of and description".to_owned(),
            ));
        };
        let missing: Vec<&str> = Item::ALL
            .iter()
            .zip(&figures)
            .filter(|(_, figure)| figure.is_none())
            .map(|(item, _)| item.key())
            .collect();
        if let Some(first) = missing.first() {
            let others = match missing.len() {
                1 => String::new(),
                n => format!(" (and {} more: {})", n - 1, missing[1..].join(", ")),
            };
            return Err(fail(
                first,
                format!("missing; every sheet must price every figure{others}"),
            ));
        }
        Ok(PriceSheet {
            origin: file.to_owned(),
            name: header.name,
            region: header.region,
            currency: header.currency,
            as_of: header.as_of,
            description: header.description,
            figures: figures.into_iter().flatten().collect(),
        })
    }

    /// The figure for `item`.
    pub fn figure(&self, item: Item) -> &Figure {
        &self.figures[item as usize]
    }

    /// The price of `item` in the model's unit ([`Item::canonical_unit`]).
    pub fn price(&self, item: Item) -> f64 {
        self.figure(item).canonical
    }

    /// Every figure, with its item, in [`Item::ALL`] order.
    pub fn figures(&self) -> impl Iterator<Item = (Item, &Figure)> {
        Item::ALL.into_iter().zip(&self.figures)
    }

    /// The figures marked `confirmed = false`.
    pub fn unconfirmed(&self) -> impl Iterator<Item = (Item, &Figure)> {
        self.figures().filter(|(_, figure)| !figure.confirmed)
    }

    /// Rounds one invocation's duration up to the billing step, as Lambda bills it.
    ///
    /// `raw_ms` is what the function ran for; the result is a whole number of
    /// [`Item::LambdaBillingGranularity`] steps, never less than one step.
    pub fn billed_duration_ms(&self, raw_ms: f64) -> f64 {
        let step = self.price(Item::LambdaBillingGranularity);
        ((raw_ms / step).ceil() * step).max(step)
    }
}

struct Header {
    name: String,
    region: String,
    currency: String,
    as_of: String,
    description: String,
}

fn parse_header(
    table: &toml::Table,
    fail: &dyn Fn(&str, String) -> CostError,
) -> Result<Header, CostError> {
    const FIELDS: [&str; 5] = ["name", "region", "currency", "as_of", "description"];
    reject_unknown_fields("sheet", table, &FIELDS, fail)?;
    let text = |field: &str| required_text("sheet", table, field, fail);
    let header = Header {
        name: text("name")?,
        region: text("region")?,
        currency: text("currency")?,
        as_of: text("as_of")?,
        description: text("description")?,
    };
    if header.currency != "USD" {
        return Err(fail(
            "sheet.currency",
            format!(
                "`{}` is not supported; the model computes in USD",
                header.currency
            ),
        ));
    }
    check_date("sheet.as_of", &header.as_of, fail)?;
    Ok(header)
}

fn parse_figure(
    item: Item,
    key: &str,
    table: &toml::Table,
    fail: &dyn Fn(&str, String) -> CostError,
) -> Result<Figure, CostError> {
    const FIELDS: [&str; 7] = [
        "value",
        "unit",
        "region",
        "date",
        "source",
        "confirmed",
        "note",
    ];
    reject_unknown_fields(key, table, &FIELDS, fail)?;
    let value_key = format!("{key}.value");
    let value = match table.get("value") {
        None => return Err(fail(&value_key, "missing; expected a number".to_owned())),
        Some(toml::Value::Float(v)) => *v,
        #[allow(clippy::cast_precision_loss)] // prices are far below 2^52
        Some(toml::Value::Integer(v)) => *v as f64,
        Some(other) => {
            return Err(fail(
                &value_key,
                format!("expected a number, found {}", describe(other)),
            ));
        }
    };
    if !value.is_finite() || value < 0.0 {
        return Err(fail(
            &value_key,
            format!("{value} is not a price; expected a finite number >= 0"),
        ));
    }

    let unit = required_text(key, table, "unit", fail)?;
    let unit_key = format!("{key}.unit");
    let canonical = match item.dimension() {
        Dimension::Money(noun) => {
            let per = money_unit_divisor(&unit, noun).ok_or_else(|| {
                fail(
                    &unit_key,
                    format!(
                        "\"{unit}\" does not fit this figure; expected {}",
                        item.accepted_units()
                    ),
                )
            })?;
            value / per
        }
        dimension => {
            let expected = match dimension {
                Dimension::Fraction => "fraction",
                Dimension::HoursPerMonth => "hours per month",
                _ => "ms",
            };
            if unit != expected {
                return Err(fail(
                    &unit_key,
                    format!(
                        "\"{unit}\" does not fit this figure; expected {}",
                        item.accepted_units()
                    ),
                ));
            }
            let range_problem = match dimension {
                Dimension::Fraction if value >= 1.0 => {
                    Some("a fraction must be in [0, 1), e.g. 0.70 for 70% off")
                }
                Dimension::HoursPerMonth if !(672.0..=744.0).contains(&value) => {
                    Some("hours in a month must lie between 672 (28 days) and 744 (31 days)")
                }
                Dimension::Milliseconds if value <= 0.0 => {
                    Some("a billing step must be longer than 0 ms")
                }
                _ => None,
            };
            if let Some(problem) = range_problem {
                return Err(fail(&value_key, format!("{value}: {problem}")));
            }
            value
        }
    };

    let region = required_text(key, table, "region", fail)?;
    let date = required_text(key, table, "date", fail)?;
    check_date(&format!("{key}.date"), &date, fail)?;
    let source = required_text(key, table, "source", fail)?;
    let confirmed = match table.get("confirmed") {
        Some(toml::Value::Boolean(b)) => *b,
        None => {
            return Err(fail(
                &format!("{key}.confirmed"),
                "missing; say true if the figure was checked against its source, false (with a note) if not".to_owned(),
            ));
        }
        Some(other) => {
            return Err(fail(
                &format!("{key}.confirmed"),
                format!("expected true or false, found {}", describe(other)),
            ));
        }
    };
    let note = match table.get("note") {
        None => None,
        Some(_) => Some(required_text(key, table, "note", fail)?),
    };
    if !confirmed && note.is_none() {
        return Err(fail(
            &format!("{key}.note"),
            "missing; an unconfirmed figure must say why it is used anyway".to_owned(),
        ));
    }
    Ok(Figure {
        value,
        unit,
        canonical,
        region,
        date,
        source,
        confirmed,
        note,
    })
}

/// How many `noun`s the written unit prices at once: 1, 1,000 or 1,000,000.
/// `None` if the unit does not read "USD per [1,000 | million] <noun>[s]".
fn money_unit_divisor(unit: &str, noun: &str) -> Option<f64> {
    let rest = unit.strip_prefix("USD per ")?;
    let (per, thing) = [
        ("1,000,000 ", 1e6),
        ("1000000 ", 1e6),
        ("million ", 1e6),
        ("1,000 ", 1e3),
        ("1000 ", 1e3),
        ("thousand ", 1e3),
    ]
    .into_iter()
    .find_map(|(prefix, per)| rest.strip_prefix(prefix).map(|thing| (per, thing)))
    .unwrap_or((1.0, rest));
    let singular = thing.strip_suffix('s').unwrap_or(thing);
    singular.eq_ignore_ascii_case(noun).then_some(per)
}

fn reject_unknown_fields(
    key: &str,
    table: &toml::Table,
    fields: &[&str],
    fail: &dyn Fn(&str, String) -> CostError,
) -> Result<(), CostError> {
    match table.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(unknown) => Err(fail(
            &format!("{key}.{unknown}"),
            format!("unknown field; expected {}", fields.join(", ")),
        )),
        None => Ok(()),
    }
}

fn required_text(
    key: &str,
    table: &toml::Table,
    field: &str,
    fail: &dyn Fn(&str, String) -> CostError,
) -> Result<String, CostError> {
    let full = format!("{key}.{field}");
    match table.get(field) {
        None => Err(fail(&full, "missing; expected a string".to_owned())),
        Some(toml::Value::String(s)) if s.trim().is_empty() => {
            Err(fail(&full, "empty; expected a non-empty string".to_owned()))
        }
        Some(toml::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(fail(
            &full,
            format!("expected a string, found {}", describe(other)),
        )),
    }
}

/// Accepts `YYYY`, `YYYY-MM` and `YYYY-MM-DD` with a plausible month and day.
fn check_date(
    key: &str,
    date: &str,
    fail: &dyn Fn(&str, String) -> CostError,
) -> Result<(), CostError> {
    let parts: Vec<&str> = date.split('-').collect();
    let number = |s: &str, len: usize, range: std::ops::RangeInclusive<u32>| {
        s.len() == len
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| range.contains(&n))
    };
    let ok = match parts.as_slice() {
        [y] => number(y, 4, 1990..=2999),
        [y, m] => number(y, 4, 1990..=2999) && number(m, 2, 1..=12),
        [y, m, d] => number(y, 4, 1990..=2999) && number(m, 2, 1..=12) && number(d, 2, 1..=31),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(fail(
            key,
            format!("\"{date}\" is not a date; expected YYYY, YYYY-MM or YYYY-MM-DD"),
        ))
    }
}

fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the datetime {d} (quote dates: \"2021-06\")"),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}
