//! The Report's JSON against the committed schemas, `schema/report.v2.schema.json` (what
//! this build writes) and `schema/report.v1.schema.json` (the committed fixtures, written
//! by an older build and still read).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{counter_after, plan, serve};
use latency_bench::{CostFigures, FunctionFigures, Report, SCHEMA_JSON, SCHEMA_V1_JSON};
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    validator_of(SCHEMA_JSON)
}

fn validator_of(schema: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the schema is a valid 2020-12 schema")
}

fn errors(v: &jsonschema::Validator, json: &Value) -> Vec<String> {
    v.iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn reports_of_real_runs_match_the_schema_and_round_trip() {
    let v = validator();
    let (addr, _) = serve(counter_after(Duration::ZERO)).await;
    let closed = latency_bench::run(plan(addr, 50)).await.expect("run");
    let mut open = plan(addr, 50);
    open.rate = Some(1000.0);
    open.connections = 2;
    open.label = Some("open loop".into());
    let mut open = latency_bench::run(open).await.expect("run");
    assert!(open.results.latency_uncorrected.is_some());
    // What the lab adds for function rows and costs must fit the schema too.
    open.function = Some(FunctionFigures {
        invocations: 50,
        cold_starts: 1,
        init_duration_ms: Some(12.5),
        billed_duration_ms: Some(2.0),
        ..FunctionFigures::default()
    });
    open.cost = Some(CostFigures {
        monthly_usd: None,
        per_million_calls_usd: Some(3.09),
        note: Some("eu-west-2".into()),
    });
    open.notes.push("ran without a CPU quota".into());
    for report in [closed, open] {
        let text = report.to_json();
        let json: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(errors(&v, &json), Vec::<String>::new());
        let back = Report::from_json(&text, Path::new("mem")).expect("reads back");
        assert_eq!(back, report);
    }
}

#[test]
fn committed_fixtures_match_the_schema_and_parse() {
    let v = validator_of(SCHEMA_V1_JSON);
    let files = fixtures();
    assert!(files.len() >= 2);
    for path in files {
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(
            errors(&v, &json),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        Report::read(&path).expect("parses");
    }
}

#[test]
fn the_schema_rejects_unknown_missing_and_mistyped_fields() {
    let v = validator_of(SCHEMA_V1_JSON);
    let path = &fixtures()[0];
    let good: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut extra = good.clone();
    extra["results"]["surprise"] = Value::from(1);
    let mut missing = good.clone();
    missing["results"]
        .as_object_mut()
        .expect("object")
        .remove("counter");
    let mut mistyped = good.clone();
    mistyped["results"]["latency"]["p99_ms"] = Value::from("fast");
    let mut version = good;
    version["schema_version"] = Value::from(2);
    for (what, bad) in [
        ("extra", extra),
        ("missing", missing),
        ("mistyped", mistyped),
        ("version", version),
    ] {
        assert!(!v.is_valid(&bad), "{what} should be rejected");
    }
}

#[test]
fn another_schema_version_is_refused_with_a_clear_message() {
    let path = &fixtures()[0];
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    json["schema_version"] = Value::from(3);
    let err = Report::from_json(&json.to_string(), Path::new("new.json")).expect_err("v3");
    let msg = err.to_string();
    assert!(
        msg.contains("new.json") && msg.contains("schema version 3"),
        "{msg}"
    );
    let err = Report::from_json("{\"x\":", Path::new("cut.json")).expect_err("not json");
    assert!(err.to_string().contains("cut.json"));
}

#[tokio::test]
async fn this_build_writes_version_2_with_histograms_and_the_v2_schema_rejects_bad_ones() {
    let v = validator();
    let (addr, _) = serve(counter_after(Duration::ZERO)).await;
    let report = latency_bench::run(plan(addr, 30)).await.expect("run");
    let mut json: Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["schema_version"], 2);
    let hist = json["results"]["latency_histogram"]
        .as_str()
        .expect("histogram");
    assert!(hist.starts_with("HISTFAA"), "{hist}");
    assert_eq!(errors(&v, &json), Vec::<String>::new());
    json["results"]["latency_histogram"] = Value::from("not base64!");
    assert!(!v.is_valid(&json));
}
