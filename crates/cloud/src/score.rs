//! Scoring a prediction against the original study's measured averages (the test set).

use std::collections::BTreeMap;

use serde::Deserialize;

const STUDY: &str = include_str!("../study/original-study.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    average_ms: BTreeMap<String, f64>,
}

/// The original study's average latency per architecture id, ms (from its README's
/// results table). It is the test set: never a source for a profile figure.
pub fn study_averages() -> BTreeMap<String, f64> {
    // The file is part of the crate and checked by a test: a parse failure is a build defect.
    toml::from_str::<StudyFile>(STUDY)
        .map(|file| file.average_ms)
        .unwrap_or_default()
}

/// One architecture's predicted average beside the study's.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRow {
    /// The architecture id.
    pub id: String,
    /// The study's measured average, ms.
    pub study_ms: f64,
    /// The lab's prediction, ms.
    pub predicted_ms: f64,
    /// `(predicted - study) / study`, in percent.
    pub error_pct: f64,
}

/// The prediction's score over the rows the study has.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// One entry per predicted row the study also measured, in id order.
    pub rows: Vec<ScoredRow>,
    /// Mean absolute percentage error over `rows`; `None` when there are none.
    pub mean_abs_error_pct: Option<f64>,
    /// The largest absolute percentage error.
    pub max_abs_error_pct: Option<f64>,
}

impl Score {
    /// Whether the prediction meets the targets: mean absolute error at most `mean_pct`
    /// and every row within `row_pct`.
    pub fn meets(&self, mean_pct: f64, row_pct: f64) -> bool {
        matches!(
            (self.mean_abs_error_pct, self.max_abs_error_pct),
            (Some(mean), Some(max)) if mean <= mean_pct && max <= row_pct
        )
    }
}

/// Scores `predicted` (architecture id → predicted average ms) against the study. Rows the
/// study did not measure are left out; so are the study's rows with no prediction.
pub fn score(predicted: &BTreeMap<String, f64>) -> Score {
    let study = study_averages();
    let rows: Vec<ScoredRow> = predicted
        .iter()
        .filter_map(|(id, &predicted_ms)| {
            let study_ms = *study.get(id)?;
            Some(ScoredRow {
                id: id.clone(),
                study_ms,
                predicted_ms,
                error_pct: (predicted_ms - study_ms) / study_ms * 100.0,
            })
        })
        .collect();
    let abs: Vec<f64> = rows.iter().map(|r| r.error_pct.abs()).collect();
    Score {
        mean_abs_error_pct: (!abs.is_empty()).then(|| abs.iter().sum::<f64>() / abs.len() as f64),
        max_abs_error_pct: abs.iter().copied().reduce(f64::max),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_table_loads_with_its_eight_rows() {
        let study = study_averages();
        assert_eq!(study.len(), 8);
        assert_eq!(study["ec2"], 13.0);
        assert_eq!(study["lambda-dynamodb"], 26.0);
    }

    #[test]
    fn errors_are_signed_percentages_and_the_mean_is_absolute() {
        let predicted = BTreeMap::from([
            ("ec2".to_owned(), 13.0),
            ("lambda-dynamodb".to_owned(), 31.2),
            ("fargate-efs".to_owned(), 12.0),
            ("lambda-s3-rmw".to_owned(), 99.0),
        ]);
        let score = score(&predicted);
        assert_eq!(score.rows.len(), 3, "rows the study lacks are left out");
        let by_id = |id: &str| {
            score
                .rows
                .iter()
                .find(|r| r.id == id)
                .expect("row")
                .error_pct
        };
        assert!((by_id("lambda-dynamodb") - 20.0).abs() < 1e-9);
        assert!((by_id("fargate-efs") + 25.0).abs() < 1e-9);
        assert!((score.mean_abs_error_pct.expect("mean") - 15.0).abs() < 1e-9);
        assert!((score.max_abs_error_pct.expect("max") - 25.0).abs() < 1e-9);
        assert!(score.meets(20.0, 35.0));
        assert!(!score.meets(10.0, 35.0));
        assert!(
            !super::score(&BTreeMap::new()).meets(20.0, 35.0),
            "no rows meet nothing"
        );
    }
}
