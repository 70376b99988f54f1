//! Cloud profiles: the built-in ones are valid and sourced; bad files get errors that name
//! the file and the problem.

use latency_cloud::{CloudError, CloudProfile, Hop};

const GOOD_HOP: &str = r#"
[hops.dynamodb]
what = "one UpdateItem"
p50_ms = 3.0
p99_ms = 9.0
source = "a document"
date = "2026-11-29"
confidence = "documented"
"#;

fn profile_with(hops: &str) -> String {
    format!("name = \"test\"\nregion = \"xx-test-1\"\ndescription = \"a test\"\n{hops}")
}

fn problem(text: &str) -> String {
    match CloudProfile::parse("test.toml", text) {
        Err(CloudError::InvalidProfile { file, problem }) => {
            assert_eq!(file, "test.toml");
            problem
        }
        other => panic!("expected an invalid profile, got {other:?}"),
    }
}

#[test]
fn built_in_profiles_parse_and_every_figure_is_sourced_and_dated() {
    let names: Vec<_> = CloudProfile::builtin_names().collect();
    assert_eq!(names, ["local", "eu-west-2"]);
    let local = CloudProfile::load("local").expect("local");
    assert_eq!(local.figures().count(), 0, "local adds nothing");
    assert_eq!(local.delay(Hop::DynamoDb).p50_ms(), 0.0);

    let london = CloudProfile::load("eu-west-2").expect("eu-west-2");
    assert_eq!(london.region, "eu-west-2");
    for hop in Hop::ALL {
        let figure = london
            .figure(hop)
            .unwrap_or_else(|| panic!("eu-west-2 has no figure for {}", hop.key()));
        assert!(!figure.source.is_empty() && figure.date.len() == 10);
        assert!(figure.p99_ms >= figure.p50_ms && figure.p50_ms > 0.0);
        assert!(
            !figure.source.to_lowercase().contains("original study"),
            "{}: the study's table is the test set, never a source",
            hop.key()
        );
    }
}

#[test]
fn a_good_file_parses() {
    let profile = CloudProfile::parse("test.toml", &profile_with(GOOD_HOP)).expect("valid");
    let delay = profile.delay(Hop::DynamoDb);
    assert!((delay.p50_ms() - 3.0).abs() < 1e-9);
    assert!((delay.quantile_ms(0.99) - 9.0).abs() < 1e-6);
    assert_eq!(
        profile.delay(Hop::S3).p50_ms(),
        0.0,
        "a hop not listed adds nothing"
    );
}

#[test]
fn bad_files_are_refused_with_the_problem_named() {
    let cases: [(String, &str); 8] = [
        (
            profile_with(&GOOD_HOP.replace("p99_ms = 9.0", "p99_ms = 1.0")),
            "below p50_ms",
        ),
        (
            profile_with(&GOOD_HOP.replace("source = \"a document\"", "source = \"\"")),
            "every figure needs one",
        ),
        (
            profile_with(&GOOD_HOP.replace("2026-11-29", "29/11/2026")),
            "YYYY-MM-DD",
        ),
        (
            profile_with(&GOOD_HOP.replace("hops.dynamodb", "hops.dynamo")),
            "unknown variant",
        ),
        (
            profile_with(&GOOD_HOP.replace("what =", "wat =")),
            "unknown field",
        ),
        (
            profile_with(&GOOD_HOP.replace("\"documented\"", "\"estimate\"")),
            "needs a `note`",
        ),
        (
            profile_with(&GOOD_HOP.replace("p50_ms = 3.0", "p50_ms = -1.0")),
            "negative",
        ),
        (
            profile_with(&GOOD_HOP.replace("p50_ms = 3.0", "p50_ms = nan")),
            "finite",
        ),
    ];
    for (text, expected) in cases {
        let problem = problem(&text);
        assert!(
            problem.contains(expected),
            "expected {expected:?} in {problem:?}"
        );
    }
    assert!(problem("name = \"x\"\nregion = \"y\"\n").contains("description"));
}

#[test]
fn an_unknown_name_lists_the_built_in_profiles() {
    match CloudProfile::load("mars-north-1") {
        Err(err @ CloudError::UnknownProfile { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("mars-north-1") && text.contains("local, eu-west-2"),
                "{text}"
            );
        }
        other => panic!("expected UnknownProfile, got {other:?}"),
    }
}

#[test]
fn a_profile_file_on_disk_loads() {
    let dir = tempfile_dir();
    let path = dir.join("custom.toml");
    std::fs::write(&path, profile_with(GOOD_HOP)).expect("write");
    let profile = CloudProfile::load(path.to_str().expect("utf-8")).expect("loads");
    assert_eq!(profile.name, "test");
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("latency-cloud-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
