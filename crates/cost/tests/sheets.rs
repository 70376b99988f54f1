//! Price sheets: the built-in ones are complete and honest, and a malformed or
//! incomplete sheet is an error naming the file, the key and what is wrong.

use latency_cost::{BuiltinSheet, CostError, Item, PriceSheet};

const FILE: &str = "sheets/mine.toml";

fn original_text() -> &'static str {
    BuiltinSheet::OriginalEra.text()
}

/// Parses `text` as `FILE` and returns the error, which must exist.
#[track_caller]
fn error_of(text: &str) -> CostError {
    match PriceSheet::parse(FILE, text) {
        Ok(_) => panic!("the sheet should have been rejected:\n{text}"),
        Err(err) => err,
    }
}

/// Asserts the error is about `key` in `FILE`, that its problem mentions `problem`, and
/// that its message names the file and the key.
#[track_caller]
fn assert_key_error(err: &CostError, key: &str, problem: &str) {
    let message = err.to_string();
    assert!(message.contains(FILE), "no file name in: {message}");
    assert!(
        message.contains(&format!("`{key}`")),
        "no key `{key}` in: {message}"
    );
    match err {
        CostError::SheetKey {
            file,
            key: k,
            problem: p,
        } => {
            assert_eq!(file, FILE);
            assert_eq!(k, key);
            assert!(
                p.contains(problem),
                "problem {p:?} should mention {problem:?}"
            );
        }
        other => panic!("expected a key error, got {other:?}"),
    }
}

/// Replaces the first `from` in the original-era sheet that follows `after`.
fn edit(after: &str, from: &str, to: &str) -> String {
    let text = original_text();
    let start = text.find(after).expect("anchor in the sheet");
    let at = start + text[start..].find(from).expect("text after the anchor");
    format!("{}{}{}", &text[..at], to, &text[at + from.len()..])
}

/// Removes the whole `[key]` table from the original-era sheet.
fn without_table(key: &str) -> String {
    let text = original_text();
    let header = format!("[{key}]\n");
    let start = text.find(&header).expect("table in the sheet");
    let end = text[start + header.len()..]
        .find("\n[")
        .map_or(text.len(), |i| start + header.len() + i + 1);
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn both_built_in_sheets_are_complete_and_every_figure_says_where_it_comes_from() {
    for which in BuiltinSheet::ALL {
        let sheet = PriceSheet::builtin(which).expect("the built-in sheet parses");
        assert_eq!(sheet.name, which.name());
        assert_eq!(sheet.region, "eu-west-2");
        assert_eq!(sheet.figures().count(), Item::ALL.len());
        for (item, figure) in sheet.figures() {
            assert!(!figure.unit.is_empty(), "{item} has no unit");
            assert!(!figure.source.is_empty(), "{item} has no source");
            assert!(
                figure.region == "eu-west-2" || figure.region == "global",
                "{item}: region {}",
                figure.region
            );
            if !figure.confirmed {
                assert!(
                    figure.note.as_deref().is_some_and(|n| !n.is_empty()),
                    "unconfirmed {item} must say why"
                );
            }
        }
    }
}

#[test]
fn the_current_sheet_halves_dynamodb_and_charges_for_public_ipv4() {
    let original = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    let current = PriceSheet::builtin(BuiltinSheet::Current).expect("parses");
    for item in [Item::DynamoDbWrite, Item::DynamoDbRead] {
        let ratio = current.price(item) / original.price(item);
        assert!((ratio - 0.5).abs() < 0.001, "{item}: {ratio}");
        assert!(current.figure(item).date.starts_with("2024-11"));
    }
    assert_eq!(original.price(Item::PublicIpv4), 0.0);
    assert!((current.price(Item::PublicIpv4) - 0.005).abs() < 1e-12);
    assert!((current.price(Item::SqsRequest) - 0.40e-6).abs() < 1e-15);
    assert!((current.price(Item::EksControlPlane) - 0.10).abs() < 1e-12);
    // Nothing in the current sheet is claimed confirmed without a dated announcement.
    for (item, figure) in current.figures() {
        if figure.confirmed {
            assert!(
                figure.date.len() == 10 || item == Item::HoursPerMonth,
                "{item} is confirmed but dated only {}",
                figure.date
            );
        }
    }
    assert!(
        current.unconfirmed().count() >= 10,
        "most current prices are unconfirmed"
    );
}

#[test]
fn units_are_converted_to_the_models_unit() {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    // Written "USD per 1,000 requests" and "USD per million requests".
    assert!((sheet.price(Item::S3Put) - 0.0053 / 1e3).abs() < 1e-15);
    assert!((sheet.price(Item::LambdaRequest) - 0.20 / 1e6).abs() < 1e-15);
    let per_request = edit(
        "[s3.put_request]",
        "value = 0.0053\nunit = \"USD per 1,000 requests\"",
        "value = 0.0000053\nunit = \"USD per request\"",
    );
    let converted = PriceSheet::parse(FILE, &per_request).expect("parses");
    assert!((converted.price(Item::S3Put) - sheet.price(Item::S3Put)).abs() < 1e-15);
}

#[test]
fn billed_duration_rounds_up_to_the_billing_step() {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    assert_eq!(sheet.billed_duration_ms(0.2), 1.0);
    assert_eq!(sheet.billed_duration_ms(1.0), 1.0);
    assert_eq!(sheet.billed_duration_ms(61.01), 62.0);
    let per_100ms = edit("[lambda.billing_granularity]", "value = 1", "value = 100");
    let old = PriceSheet::parse(FILE, &per_100ms).expect("parses");
    assert_eq!(old.billed_duration_ms(61.0), 100.0);
}

#[test]
fn invalid_toml_names_the_file_and_the_line() {
    let broken = edit("[lambda.request]", "value = 0.20", "value = = 0.20");
    let err = error_of(&broken);
    let expected_line = broken
        .lines()
        .position(|l| l.contains("value = = 0.20"))
        .expect("the broken line")
        + 1;
    match &err {
        CostError::SheetSyntax { file, line, .. } => {
            assert_eq!(file, FILE);
            assert_eq!(*line, expected_line);
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("price sheet {FILE}:{expected_line}:"))
    );
}

#[test]
fn a_missing_figure_is_named() {
    let err = error_of(&without_table("lambda.gb_second"));
    assert_key_error(&err, "lambda.gb_second", "missing");
}

#[test]
fn several_missing_figures_are_all_listed() {
    let text = without_table("sqs.request");
    let text = {
        let start = text.find("[eks.control_plane]\n").expect("table");
        let end = start + text[start + 1..].find("\n[").expect("next table") + 2;
        format!("{}{}", &text[..start], &text[end..])
    };
    let err = error_of(&text);
    assert_key_error(&err, "sqs.request", "and 1 more: eks.control_plane");
}

#[test]
fn a_missing_field_is_named() {
    let err = error_of(&edit(
        "[ebs.gp2]",
        "source = \"issue 5: EBS gp2; with an 8 GB root volume reproduces the study's EC2 figure\"\n",
        "",
    ));
    assert_key_error(&err, "ebs.gp2.source", "missing");
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let err = error_of(&edit(
        "[ec2.t2_micro]",
        "value = 0.0132",
        "value = \"0.0132\"",
    ));
    assert_key_error(
        &err,
        "ec2.t2_micro.value",
        "expected a number, found the string",
    );
}

#[test]
fn a_negative_price_is_rejected() {
    let err = error_of(&edit("[ec2.t2_micro]", "value = 0.0132", "value = -0.0132"));
    assert_key_error(&err, "ec2.t2_micro.value", ">= 0");
}

#[test]
fn a_unit_that_does_not_fit_the_figure_is_rejected() {
    let err = error_of(&edit(
        "[lambda.gb_second]",
        "unit = \"USD per GB-second\"",
        "unit = \"USD per GB-month\"",
    ));
    assert_key_error(&err, "lambda.gb_second.unit", "does not fit this figure");
    assert!(
        err.to_string().contains("USD per GB-second"),
        "says what fits: {err}"
    );
}

#[test]
fn a_spot_discount_of_100_percent_or_more_is_rejected() {
    let err = error_of(&edit(
        "[fargate.spot_discount]",
        "value = 0.70",
        "value = 70",
    ));
    assert_key_error(&err, "fargate.spot_discount.value", "[0, 1)");
}

#[test]
fn an_unknown_figure_is_rejected_so_a_typo_cannot_drop_a_price() {
    let err = error_of(&edit(
        "[lambda.request]",
        "[lambda.request]",
        "[lambda.requests]",
    ));
    assert_key_error(&err, "lambda.requests", "unknown figure");
    assert!(
        err.to_string().contains("lambda.request,"),
        "lists the known keys: {err}"
    );
}

#[test]
fn an_unknown_group_is_rejected() {
    let text = format!("{}\n[lamda.request]\nvalue = 1\n", original_text());
    let err = error_of(&text);
    assert_key_error(&err, "lamda", "unknown table");
}

#[test]
fn an_unknown_field_is_rejected() {
    let err = error_of(&edit(
        "[ec2.t2_micro]",
        "confirmed = true",
        "confirmed = true\nconfimed = true",
    ));
    assert_key_error(&err, "ec2.t2_micro.confimed", "unknown field");
}

#[test]
fn an_unconfirmed_figure_must_say_why() {
    let err = error_of(&edit(
        "[ec2.t2_micro]",
        "confirmed = true",
        "confirmed = false",
    ));
    assert_key_error(&err, "ec2.t2_micro.note", "must say why");
}

#[test]
fn a_figure_without_a_date_or_with_a_bad_one_is_rejected() {
    let err = error_of(&edit(
        "[ebs.gp2]",
        "date = \"2021\"",
        "date = \"last year\"",
    ));
    assert_key_error(&err, "ebs.gp2.date", "YYYY");
    let err = error_of(&edit("[ebs.gp2]", "date = \"2021\"", "date = 2021-06-01"));
    assert_key_error(
        &err,
        "ebs.gp2.date",
        "expected a string, found the datetime",
    );
}

#[test]
fn the_sheet_header_is_required_and_checked() {
    let err = error_of(&without_table("sheet"));
    assert_key_error(&err, "sheet", "missing");
    let err = error_of(&edit("[sheet]", "currency = \"USD\"", "currency = \"GBP\""));
    assert_key_error(&err, "sheet.currency", "USD");
    let err = error_of(&edit("[sheet]", "region = \"eu-west-2\"\n", ""));
    assert_key_error(&err, "sheet.region", "missing");
}

#[test]
fn hours_per_month_must_be_a_month() {
    let err = error_of(&edit(
        "[calendar.hours_per_month]",
        "value = 730",
        "value = 8760",
    ));
    assert_key_error(&err, "calendar.hours_per_month.value", "744");
}
