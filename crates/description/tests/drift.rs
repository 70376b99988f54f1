//! Drift between the descriptions and everything that reads them: the entry points'
//! environment, the template variables, the counter each store URL names, the generated
//! Kubernetes patches and the account limits. Each test fails on the kind of defect a
//! review of the first `deploy/` found (a variable set under another name than the one
//! read, a key typed differently from the item, a counter nothing creates, a reservation
//! the account refuses).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use latency_arch::ArchitectureId;
use latency_description::limits::{
    DEFAULT_ACCOUNT_LIMIT, NEW_ACCOUNT_LIMIT, check_reserved_concurrency,
};
use latency_description::template::variables;
use latency_description::{
    Counter, CreatedBy, Description, Function, KeyType, TEMPLATE_VARIABLES, kubernetes, render,
};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn all() -> Vec<Description> {
    Description::all().expect("every description parses and validates")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repository().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

#[test]
fn every_architecture_id_has_exactly_one_description_file() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repository().join("deploy/architectures"))
        .expect("deploy/architectures")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && name != "schema.json")
        .collect();
    let ids: BTreeSet<String> = ArchitectureId::ALL
        .iter()
        .map(|id| format!("{id}.json"))
        .collect();
    assert_eq!(on_disk, ids, "one file per architecture id, named by it");
    let embedded = all();
    assert_eq!(embedded.len(), ArchitectureId::ALL.len());
    for description in &embedded {
        let text = read(&description.file());
        let from_disk = Description::parse(&description.file(), &text).expect("parses");
        assert_eq!(
            &from_disk, description,
            "the binary embeds the file as it is"
        );
    }
}

/// The environment variables an entry point reads: `(required, optional)`, found in its
/// own code. Rust entry points publish theirs (`ENVIRONMENT`); the variants' are read out
/// of their sources, so a rename there is seen here.
fn variables_read_by(artifact: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = |list: &[&str]| {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    match artifact {
        "latency-lambda" => split(latency_lambda::ENVIRONMENT),
        "latency-calc" => split(latency_lambda_calc::ENVIRONMENT),
        "latency-lambda-bench" => (BTreeSet::new(), names(latency_lambda_bench::ENVIRONMENT)),
        "lambda-python" => scan(
            &[
                "variants/lambda-python/handler.py",
                "variants/lambda-python/counters.py",
            ],
            r#"os\.environ\[\s*"([A-Z_]+)"\s*\]"#,
            r#"os\.environ\.get\(\s*"([A-Z_]+)""#,
        ),
        "python-fastapi" => scan(
            &["variants/python-fastapi/app.py"],
            r#"os\.environ\[\s*"([A-Z_]+)"\s*\]"#,
            r#"os\.environ\.get\(\s*"([A-Z_]+)""#,
        ),
        "lambda-js-dynamodb" => scan(
            &["variants/lambda-js-dynamodb/index.mjs"],
            r"process\.env\.([A-Z_]+)",
            r"$^",
        ),
        "latency-cpp-dynamodb" => scan(
            &["variants/lambda-cpp-dynamodb/src/main.cpp"],
            r#"env\("([A-Z_]+)"\)"#,
            r"$^",
        ),
        other => panic!("no known entry point for artifact `{other}`"),
    }
}

/// An entry point's published variables, as (required, optional) names.
fn split(variables: &[latency_lambda_start::Variable]) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = |required: bool| {
        variables
            .iter()
            .filter(|v| v.required == required)
            .map(|v| v.name.to_owned())
            .collect()
    };
    (names(true), names(false))
}

/// Names matched by `required` and `optional` in `files`, less those Lambda itself sets.
fn scan(files: &[&str], required: &str, optional: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    // What Lambda sets for every function (AWS_*, LAMBDA_TASK_ROOT, _HANDLER, …) is no
    // description's business.
    let lambda_sets = |name: &String| {
        !name.starts_with("AWS_") && !name.starts_with("LAMBDA_") && name != "_HANDLER"
    };
    let find = |pattern: &str| -> BTreeSet<String> {
        let pattern = regex::Regex::new(pattern).expect("pattern");
        files
            .iter()
            .flat_map(|file| {
                let text = read(file);
                pattern
                    .captures_iter(&text)
                    .map(|c| c[1].to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(lambda_sets)
            .collect()
    };
    let required = find(required);
    let optional = find(optional).difference(&required).cloned().collect();
    (required, optional)
}

fn check_environment(file: &str, artifact: &str, set: &BTreeMap<String, String>) -> Vec<String> {
    let (required, optional) = variables_read_by(artifact);
    let mut problems = Vec::new();
    for name in set.keys() {
        if !required.contains(name) && !optional.contains(name) {
            problems.push(format!(
                "{file}: sets {name}, which {artifact} never reads (it reads {:?})",
                required.union(&optional).collect::<Vec<_>>()
            ));
        }
    }
    for name in &required {
        if !set.contains_key(name) {
            problems.push(format!(
                "{file}: does not set {name}, which {artifact} requires"
            ));
        }
    }
    problems
}

#[test]
fn every_function_and_instance_sets_exactly_the_variables_its_entry_point_reads() {
    let mut problems = Vec::new();
    for description in all() {
        let file = description.file();
        if let Some(function) = &description.function {
            problems.extend(check_environment(
                &file,
                &function.artifact,
                &function.environment,
            ));
        }
        if let Some(instance) = &description.instance
            && instance.artifact != "latency"
        {
            problems.extend(check_environment(
                &file,
                &instance.artifact,
                &instance.environment,
            ));
        }
    }
    let bench = Description::bench_function().expect("bench function parses");
    problems.extend(check_environment(
        "deploy/bench-function.json",
        &bench.artifact,
        &bench.environment,
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_renamed_variable_is_caught() {
    // The review's lambda-sqs defect: Terraform set LATENCY_STORE, latency-calc reads
    // LATENCY_DONE_STORE.
    let wrong = BTreeMap::from([
        ("LATENCY_STORE".to_owned(), "dynamodb://t".to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    let problems = check_environment("lambda-sqs.json", "latency-calc", &wrong);
    assert!(
        problems.iter().any(|p| p.contains("sets LATENCY_STORE"))
            && problems
                .iter()
                .any(|p| p.contains("does not set LATENCY_DONE_STORE")),
        "{problems:?}"
    );
    // RUST_LOG on a Python function is a setting nothing reads.
    let python = BTreeMap::from([
        ("LATENCY_STORE".to_owned(), "s3://b/hits".to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    let problems = check_environment("lambda-python-s3.json", "lambda-python", &python);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

/// Every template in a description.
fn templates(description: &Description) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(f) = &description.function {
        out.extend(
            f.environment
                .iter()
                .map(|(k, v)| (format!("function.environment.{k}"), v.clone())),
        );
    }
    if let Some(i) = &description.instance {
        out.extend(
            i.command
                .iter()
                .map(|v| ("instance.command".to_owned(), v.clone())),
        );
        out.extend(
            i.environment
                .iter()
                .map(|(k, v)| (format!("instance.environment.{k}"), v.clone())),
        );
    }
    if let Some(c) = &description.container {
        out.extend(
            c.args
                .iter()
                .map(|v| ("container.args".to_owned(), v.clone())),
        );
        out.extend(
            c.environment
                .iter()
                .map(|(k, v)| (format!("container.environment.{k}"), v.clone())),
        );
    }
    if let Some(Counter::File { path, .. }) = &description.counter {
        out.push(("counter.path".to_owned(), path.clone()));
    }
    out
}

#[test]
fn templates_name_only_the_documented_variables() {
    let known: BTreeSet<&str> = TEMPLATE_VARIABLES.iter().map(|(name, _)| *name).collect();
    let mut problems = Vec::new();
    for description in all() {
        for (setting, template) in templates(&description) {
            match variables(&template) {
                Ok(names) => {
                    for name in names.iter().filter(|n| !known.contains(n.as_str())) {
                        problems.push(format!(
                            "{}: {setting}: unknown ${{{name}}}",
                            description.file()
                        ));
                    }
                }
                Err(err) => problems.push(format!("{}: {setting}: {err}", description.file())),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn dummy_values() -> BTreeMap<&'static str, String> {
    TEMPLATE_VARIABLES
        .iter()
        .map(|(name, _)| (*name, format!("x-{name}")))
        .collect()
}

fn query(url: &str) -> BTreeMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The counter a function's store URL names is the one the description creates, with the
/// key the table has, and the function is not asked to create what the deploy creates.
fn check_store_url(description: &Description) -> Vec<String> {
    let file = description.file();
    let Some(function) = &description.function else {
        return Vec::new();
    };
    let Some(template) = function.environment.get("LATENCY_STORE") else {
        return Vec::new();
    };
    let url = render(template, &dummy_values()).expect("renders");
    let params = query(&url);
    let mut problems = Vec::new();
    if params.contains_key("create") {
        problems.push(format!("{file}: LATENCY_STORE asks the function to create the counter; the description's counter.created_by says who does"));
    }
    match &description.counter {
        Some(Counter::DynamodbItem {
            table,
            key_value,
            attribute,
            created_by,
        }) => {
            let declared = &description.tables[table];
            if !url.starts_with("dynamodb://x-counter_table?") {
                problems.push(format!(
                    "{file}: LATENCY_STORE does not name the counter table: {template}"
                ));
            }
            let expect = [
                ("key", &declared.key),
                ("key_value", key_value),
                ("attribute", attribute),
            ];
            for (param, value) in expect {
                if params.get(param) != Some(value) {
                    problems.push(format!(
                        "{file}: LATENCY_STORE's {param} is {:?}, the counter's is {value:?}",
                        params.get(param)
                    ));
                }
            }
            if *created_by != CreatedBy::Deploy {
                problems.push(format!("{file}: a DynamoDB counter must be created by the deploy (aws_dynamodb_table_item)"));
            }
            if declared.key_type == KeyType::N && key_value.parse::<f64>().is_err() {
                problems.push(format!("{file}: numeric key with key_value {key_value}"));
            }
        }
        Some(Counter::S3Object {
            key, created_by, ..
        }) => {
            let path = url.split_once('?').map_or(url.as_str(), |(p, _)| p);
            if path != format!("s3://x-counter_bucket/{key}") {
                problems.push(format!("{file}: LATENCY_STORE names {path}, the counter is s3://${{counter_bucket}}/{key}"));
            }
            if *created_by != CreatedBy::Deploy {
                problems.push(format!(
                    "{file}: an S3 counter must be created by the deploy (aws_s3_object)"
                ));
            }
        }
        other => problems.push(format!(
            "{file}: a function's LATENCY_STORE with counter {other:?}"
        )),
    }
    problems
}

#[test]
fn every_store_url_names_the_counter_the_deploy_creates() {
    let problems: Vec<String> = all().iter().flat_map(check_store_url).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The review's defects, as they were: a string key on a numeric table, and no
    // counter created.
    let mut wrong = Description::of(ArchitectureId::LambdaPythonDynamoDb).expect("parses");
    wrong
        .function
        .as_mut()
        .expect("function")
        .environment
        .insert(
            "LATENCY_STORE".to_owned(),
            "dynamodb://${counter_table}?key=pk&key_value=0&attribute=hits&create=true".to_owned(),
        );
    let problems = check_store_url(&wrong);
    assert!(
        problems.iter().any(|p| p.contains("create")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("key is")),
        "{problems:?}"
    );
}

#[test]
fn the_generated_kubernetes_patches_are_current() {
    let generated = kubernetes::patches(&all()).expect("patches render");
    assert_eq!(
        generated.len(),
        6,
        "deployment and scaler patches of three rows"
    );
    let bless = std::env::var_os("LATENCY_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, text) in generated {
        let full = repository().join(&path);
        let committed = std::fs::read_to_string(&full).unwrap_or_default();
        if committed != text {
            if bless {
                std::fs::write(&full, &text).expect("write the patch");
            } else {
                stale.push(path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated Kubernetes patches differ from the descriptions: {stale:?}; regenerate with \
         LATENCY_BLESS=1 cargo test -p latency-description --test drift"
    );
}

#[test]
fn the_kubernetes_rows_share_the_servers_settings_the_lab_runs() {
    // k8s and k8s-eks deploy the same manifests (one base): their containers must agree.
    let k8s = Description::of(ArchitectureId::K8s).expect("parses");
    let eks = Description::of(ArchitectureId::K8sEks).expect("parses");
    assert_eq!(k8s.container, eks.container);
}

#[test]
fn the_reservations_fit_an_established_and_a_new_account() {
    let descriptions = all();
    let rows: Vec<&Description> = descriptions.iter().collect();
    let bench = Description::bench_function().expect("parses");
    for limit in [DEFAULT_ACCOUNT_LIMIT, NEW_ACCOUNT_LIMIT] {
        if let Err(err) = check_reserved_concurrency(&rows, Some(&bench), limit) {
            panic!("every row with the bench function on an account limited to {limit}: {err}");
        }
    }
}

#[test]
fn the_reservations_the_review_found_are_refused_with_the_settings_named() {
    let mut sqs = Description::of(ArchitectureId::LambdaSqs).expect("parses");
    sqs.function
        .as_mut()
        .expect("function")
        .reserved_concurrency = Some(1000);
    let bench = Function {
        reserved_concurrency: Some(50),
        ..Description::bench_function().expect("parses")
    };
    let err = check_reserved_concurrency(&[&sqs], Some(&bench), DEFAULT_ACCOUNT_LIMIT)
        .expect_err("1050 of 1000");
    let message = err.to_string();
    assert!(
        message.contains("lambda-sqs.json: function.reserved_concurrency = 1000"),
        "{message}"
    );
    assert!(
        message.contains("bench-function.json: reserved_concurrency = 50"),
        "{message}"
    );
    assert!(message.contains("at most 900"), "{message}");
    let one = Function {
        reserved_concurrency: Some(1),
        ..bench
    };
    let err = check_reserved_concurrency(&[], Some(&one), NEW_ACCOUNT_LIMIT).expect_err("any");
    assert!(err.to_string().contains("at most 0"), "{err}");
}

#[test]
fn a_description_that_contradicts_itself_is_refused_naming_the_setting() {
    let text = read("deploy/architectures/lambda-dynamodb.json");
    let cases = [
        (
            "\"memory_mb\": 128",
            "\"memory_mb\": 64",
            "function.memory_mb",
        ),
        (
            "\"key_type\": \"N\"",
            "\"key_type\": \"X\"",
            "unknown variant",
        ),
        (
            "\"handler\": \"bootstrap\"",
            "\"handler\": \"main\"",
            "function.handler",
        ),
        (
            "\"table\": \"counter\"",
            "\"table\": \"count\"",
            "counter.table",
        ),
        (
            "\"timeout_s\": 10",
            "\"timeout_s\": 10, \"tymeout\": 1",
            "unknown field",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(text.contains(from), "{from}");
        let err = Description::parse(
            "deploy/architectures/lambda-dynamodb.json",
            &text.replace(from, to),
        )
        .expect_err(to);
        assert!(err.to_string().contains(expected), "{to}: {err}");
    }
    let err = Description::parse("deploy/architectures/k8s.json", &text).expect_err("wrong file");
    assert!(err.to_string().contains("lambda-dynamodb.json"), "{err}");
}
