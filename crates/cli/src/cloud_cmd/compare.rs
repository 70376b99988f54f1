//! The comparison `latency cloud` reports: per row, the measured figures beside the lab's
//! prediction for the same row and the study's figure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use latency_arch::ArchitectureId;
use latency_bench::Report;
use serde::Serialize;

/// The measured side of one row.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Side {
    /// Where the Report was written.
    pub(super) report: PathBuf,
    /// Mean over every answered request, cold start included (the study's figure).
    pub(super) mean_all_ms: Option<f64>,
    pub(super) p50_ms: Option<f64>,
    pub(super) p99_ms: Option<f64>,
    pub(super) cold_start_ms: Option<f64>,
    pub(super) requests: u64,
    pub(super) error_rate: f64,
    pub(super) counter: String,
}

impl Side {
    pub(super) fn of(report: &Report, path: PathBuf) -> Self {
        let r = &report.results;
        Self {
            report: path,
            mean_all_ms: r.mean_all_ms,
            p50_ms: r.latency.as_ref().map(|s| s.p50_ms),
            p99_ms: r.latency.as_ref().map(|s| s.p99_ms),
            cold_start_ms: r.cold_start.as_ref().and_then(|c| c.latency_ms),
            requests: r.requests,
            error_rate: r.error_rate,
            counter: format!("{:?}", r.counter.verdict).to_lowercase(),
        }
    }
}

/// The lab's prediction for one row.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Predicted {
    pub(super) ms: f64,
    /// The lab row it came from (its `--only` selector).
    pub(super) lab_row: String,
    /// The cloud profile the lab ran with, if any.
    pub(super) profile: Option<String>,
    /// `(predicted - measured) / measured`, percent.
    pub(super) error_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct RowResult {
    pub(super) architecture: String,
    pub(super) url: String,
    pub(super) outside: Option<Side>,
    pub(super) inside: Option<Side>,
    pub(super) prediction: Option<Predicted>,
    pub(super) study_ms: Option<f64>,
    pub(super) skipped: Option<String>,
    pub(super) problems: Vec<String>,
}

/// The version of `cloud.json` (`latency cloud --json`); a change that removes or renames
/// a field, or changes its meaning, bumps it.
pub(super) const SCHEMA: &str = "latency-cloud-result/v1";

#[derive(Debug, Clone, Serialize)]
pub(super) struct CloudResult {
    /// Names this document's shape: [`SCHEMA`].
    pub(super) schema: &'static str,
    pub(super) run_id: String,
    pub(super) region: String,
    pub(super) out_dir: PathBuf,
    pub(super) prediction_file: Option<PathBuf>,
    pub(super) notes: Vec<String>,
    pub(super) rows: Vec<RowResult>,
}

/// Per architecture id: the lab's predicted mean (ms), the lab row it is from, and the
/// cloud profile; plus notes on how the file was read.
pub(super) type Predictions = BTreeMap<ArchitectureId, (f64, String, Option<String>)>;

/// Reads what `latency lab --json FILE` wrote: its `cloud.profile` and, per measured
/// sequential row (label = the lab row's title), the mean over every request. Of two lab
/// rows of one id, the atomic one is taken: it is the one Terraform deploys.
pub(super) fn read_prediction(
    path: &Path,
    region: &str,
) -> anyhow::Result<(Predictions, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the lab's results {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (expected what `latency lab --cloud REGION --json FILE` writes)",
            path.display()
        )
    })?;
    let rows = doc["rows"].as_array().with_context(|| {
        format!(
            "{} has no `rows`: it is not what `latency lab --json FILE` writes",
            path.display()
        )
    })?;
    let profile = doc["cloud"]["profile"].as_str().map(str::to_owned);
    let mut notes = Vec::new();
    match &profile {
        None => notes.push(format!(
            "{} holds local figures (the lab ran without --cloud): the \"lab predicts\" column is no cloud prediction",
            path.display()
        )),
        Some(p) if p != region => notes.push(format!(
            "the lab predicted for the profile `{p}`; this run is in {region}"
        )),
        Some(_) => {}
    }
    let catalogue = latency_lab::catalogue();
    let mut found: BTreeMap<ArchitectureId, (f64, String, bool)> = BTreeMap::new();
    for row in rows {
        let report = &row["measured"];
        let (Some(label), Some(ms)) = (
            report["target"]["label"].as_str(),
            report["results"]["mean_all_ms"].as_f64(),
        ) else {
            continue;
        };
        // The sequential run carries the row's title as its label, the concurrent one
        // "TITLE, N concurrent".
        let Some(lab_row) = catalogue.iter().find(|a| a.title == label) else {
            continue;
        };
        let atomic = lab_row.mode() == latency_lab::Mode::Atomic;
        let keep = match found.get(&lab_row.id) {
            None => true,
            Some((_, _, was_atomic)) => atomic && !was_atomic,
        };
        if keep {
            found.insert(lab_row.id, (ms, lab_row.selector(), atomic));
        }
    }
    Ok((
        found
            .into_iter()
            .map(|(id, (ms, sel, _))| (id, (ms, sel, profile.clone())))
            .collect(),
        notes,
    ))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), latency_bench::units::duration_ms)
}

/// The comparison table (Markdown, which reads as text too).
pub(super) fn render(result: &CloudResult) -> String {
    let mut t = format!(
        "# latency cloud: run {} in {}\n\n\
         | row | measured from | mean (all) | p50 | p99 | cold start | errors | counter | lab predicts | prediction error | study |\n\
         |---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n",
        result.run_id, result.region
    );
    for row in &result.rows {
        let predicted = row.prediction.as_ref();
        let pred = ms(predicted.map(|p| p.ms));
        let err = predicted
            .and_then(|p| p.error_pct)
            .map_or_else(|| "–".to_owned(), |e| format!("{e:+.1}%"));
        let study = ms(row.study_ms);
        if let Some(why) = &row.skipped {
            t.push_str(&format!(
                "| {} | skipped: {why} | | | | | | | {pred} | | {study} |\n",
                row.architecture
            ));
            continue;
        }
        let mut sides: Vec<(&str, &Side)> = Vec::new();
        if let Some(s) = &row.outside {
            sides.push(("this machine", s));
        }
        if let Some(s) = &row.inside {
            sides.push(("inside the region", s));
        }
        if sides.is_empty() {
            t.push_str(&format!(
                "| {} | failed | | | | | | | {pred} | | {study} |\n",
                row.architecture
            ));
        }
        for (i, (from, s)) in sides.iter().enumerate() {
            let first = i == 0;
            t.push_str(&format!(
                "| {} | {from} | {} | {} | {} | {} | {:.2}% | {} | {} | {} | {} |\n",
                if first { row.architecture.as_str() } else { "" },
                ms(s.mean_all_ms),
                ms(s.p50_ms),
                ms(s.p99_ms),
                ms(s.cold_start_ms),
                s.error_rate * 100.0,
                s.counter,
                if first { pred.as_str() } else { "" },
                if first { err.as_str() } else { "" },
                if first { study.as_str() } else { "" },
            ));
        }
    }
    t.push_str(
        "\nmean (all): every answered request one after another, cold start included, as the \
         study's latency.py printed it; the prediction's error is (lab − measured) / measured.\n",
    );
    for note in &result.notes {
        t.push_str(&format!("\nNote: {note}\n"));
    }
    for row in &result.rows {
        for p in &row.problems {
            t.push_str(&format!("\nProblem: {}: {p}\n", row.architecture));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab row's measured Report as `latency lab --json` nests it, reduced to what is read.
    fn measured(label: &str, mean_all_ms: f64) -> serde_json::Value {
        serde_json::json!({"measured": {
            "target": {"label": label, "url": "http://127.0.0.1:1/hits", "method": "GET"},
            "results": {"mean_all_ms": mean_all_ms},
        }})
    }

    fn title(id: ArchitectureId, mode: latency_lab::Mode) -> &'static str {
        latency_lab::catalogue()
            .into_iter()
            .find(|a| a.id == id && a.mode() == mode)
            .expect("a lab row")
            .title
    }

    #[test]
    fn the_prediction_is_the_deployable_rows_sequential_mean() {
        use latency_lab::Mode;
        let dynamo = ArchitectureId::LambdaDynamoDb;
        let doc = serde_json::json!({
            "cloud": {"profile": "eu-west-2", "client_rtt_ms": 12.0},
            "rows": [
                measured(title(dynamo, Mode::ReadModifyWrite), 40.0),
                measured(title(dynamo, Mode::Atomic), 30.0),
                measured(&format!("{}, 32 concurrent", title(dynamo, Mode::Atomic)), 90.0),
                measured(title(ArchitectureId::Ec2, Mode::Atomic), 14.0),
                {"skipped": {"architecture": "k8s", "reason": "no cluster"}},
            ],
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("lab.json");
        std::fs::write(&file, doc.to_string()).expect("write");
        let (predictions, notes) = read_prediction(&file, "eu-west-2").expect("reads");
        assert_eq!(
            predictions[&dynamo],
            (
                30.0,
                "lambda-dynamodb".to_owned(),
                Some("eu-west-2".to_owned())
            ),
            "the atomic row, which Terraform deploys, not the read-modify-write one"
        );
        assert_eq!(predictions[&ArchitectureId::Ec2].0, 14.0);
        assert_eq!(predictions.len(), 2);
        assert!(notes.is_empty(), "{notes:?}");
        let (_, notes) = read_prediction(&file, "us-east-1").expect("reads");
        assert!(notes.iter().any(|n| n.contains("`eu-west-2`")), "{notes:?}");
    }

    #[test]
    fn a_file_that_is_not_the_labs_is_refused_and_local_figures_are_flagged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("x.json");
        std::fs::write(&file, "{\"schema_version\": 2}").expect("write");
        let err = read_prediction(&file, "eu-west-2").expect_err("no rows");
        assert!(err.to_string().contains("latency lab --json"), "{err}");
        std::fs::write(&file, "{\"cloud\": null, \"rows\": []}").expect("write");
        let (_, notes) = read_prediction(&file, "eu-west-2").expect("reads");
        assert!(
            notes.iter().any(|n| n.contains("without --cloud")),
            "{notes:?}"
        );
        assert!(read_prediction(&dir.path().join("missing.json"), "eu-west-2").is_err());
    }

    #[test]
    fn the_table_shows_the_prediction_error_and_skipped_rows() {
        let side = Side {
            report: PathBuf::from("r.json"),
            mean_all_ms: Some(25.0),
            p50_ms: Some(20.0),
            p99_ms: Some(40.0),
            cold_start_ms: Some(300.0),
            requests: 1000,
            error_rate: 0.0,
            counter: "pass".to_owned(),
        };
        let row = |id: &str| RowResult {
            architecture: id.to_owned(),
            url: "https://x".to_owned(),
            outside: Some(side.clone()),
            inside: None,
            prediction: None,
            study_ms: None,
            skipped: None,
            problems: Vec::new(),
        };
        let mut measured = row("lambda-dynamodb");
        measured.prediction = Some(Predicted {
            ms: 30.0,
            lab_row: "lambda-dynamodb".to_owned(),
            profile: Some("eu-west-2".to_owned()),
            error_pct: Some(20.0),
        });
        measured.study_ms = Some(26.0);
        let mut queue = row("lambda-sqs");
        queue.outside = None;
        queue.skipped = Some("a queue row".to_owned());
        let table = render(&CloudResult {
            schema: SCHEMA,
            run_id: "r".to_owned(),
            region: "eu-west-2".to_owned(),
            out_dir: PathBuf::new(),
            prediction_file: None,
            notes: vec!["a note".to_owned()],
            rows: vec![measured, queue],
        });
        assert!(
            table.contains("| lambda-dynamodb | this machine | 25.00ms |"),
            "{table}"
        );
        assert!(table.contains("| 30.00ms | +20.0% | 26.00ms |"), "{table}");
        assert!(
            table.contains("| lambda-sqs | skipped: a queue row |"),
            "{table}"
        );
        assert!(table.contains("Note: a note"), "{table}");
    }
}
