//! `latency cost --json` matches the committed schema,
//! crates/cost/schema/cost-report.v1.schema.json, for every sheet and option.

use latency_cost::{
    BuiltinSheet, CostReport, Options, Overrides, PriceSheet, REPORT_JSON_SCHEMA, REPORT_SCHEMA,
    StoreMode, catalogue, price,
};
use serde_json::Value;

fn schema() -> Value {
    serde_json::from_str(REPORT_JSON_SCHEMA).expect("the committed schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the committed schema is a valid JSON Schema")
}

#[track_caller]
fn assert_valid(report: &CostReport) -> Value {
    let json = serde_json::to_value(report).expect("a report serializes");
    let validator = validator();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema:\n{}",
        errors.join("\n")
    );
    json
}

#[test]
fn the_committed_schema_is_valid_and_names_this_version() {
    jsonschema::meta::validate(&schema()).expect("a valid draft 2020-12 schema");
    assert_eq!(schema()["properties"]["schema"]["const"], REPORT_SCHEMA);
    // The file on disk is the one compiled in, so the committed copy cannot drift.
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/cost-report.v1.schema.json"
    ))
    .expect("the schema file exists");
    assert_eq!(on_disk, REPORT_JSON_SCHEMA);
}

#[test]
fn reports_match_the_schema_for_every_sheet_and_option() {
    for which in BuiltinSheet::ALL {
        let sheet = PriceSheet::builtin(which).expect("the built-in sheet parses");
        for with_load_balancer in [false, true] {
            for store_mode in [None, Some(StoreMode::Atomic)] {
                let mut rows = catalogue();
                Overrides {
                    store_mode,
                    memory_mb: Some(512),
                    duration_ms_by_row: vec![("lambda-python-s3".to_owned(), 12.5)],
                    ..Overrides::default()
                }
                .apply(&mut rows)
                .expect("applies");
                let options = Options {
                    calls_per_month: vec![1.0, 2.5e6, 1e9],
                    with_load_balancer,
                };
                let report = price(&sheet, &rows, &options).expect("prices");
                let json = assert_valid(&report);
                assert_eq!(json["rows"].as_array().map(Vec::len), Some(rows.len()));
            }
        }
    }
}

#[test]
fn a_report_round_trips_through_json() {
    let sheet = PriceSheet::builtin(BuiltinSheet::Current).expect("parses");
    let report = price(&sheet, &catalogue(), &Options::default()).expect("prices");
    let text = serde_json::to_string(&report).expect("serializes");
    let back: CostReport = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, report);
}

/// The validator is live: a report with a wrong field fails it.
#[test]
fn the_schema_rejects_reports_that_break_it() {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    let report = price(&sheet, &catalogue(), &Options::default()).expect("prices");
    let good = serde_json::to_value(&report).expect("serializes");
    let validator = validator();
    assert!(validator.is_valid(&good));

    let mut negative = good.clone();
    negative["rows"][0]["monthly"] = Value::from(-1.0);
    assert!(!validator.is_valid(&negative), "a negative cost");

    let mut extra = good.clone();
    extra["rows"][0]["surprise"] = Value::from(1);
    assert!(!validator.is_valid(&extra), "an unknown field");

    let mut missing_note = good.clone();
    let figure = missing_note["sheet"]["figures"]
        .as_array_mut()
        .and_then(|f| f.iter_mut().find(|f| f["confirmed"] == Value::Bool(false)))
        .expect("the original-era sheet has an unconfirmed figure");
    figure["note"] = Value::Null;
    assert!(
        !validator.is_valid(&missing_note),
        "an unconfirmed figure without a note"
    );

    let mut no_function = good;
    let per_call = no_function["rows"]
        .as_array_mut()
        .and_then(|rows| rows.iter_mut().find(|r| r["billing"] == "per-call"))
        .expect("a per-call row");
    per_call["function"] = Value::Null;
    assert!(
        !validator.is_valid(&no_function),
        "a per-call row without its inputs"
    );
}
