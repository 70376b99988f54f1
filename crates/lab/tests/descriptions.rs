//! Every architecture's description, stood up here exactly as the lab stands it up (its
//! counter created as Terraform creates it, its environment, arguments and budget from the
//! file), passes the app's HTTP contract. A description that names a variable the code
//! does not read, a key of the wrong type, a counter nobody creates or an argument the
//! server refuses fails here, before any deploy.
//!
//! Needs what `scripts/test` provides: the debug binaries (`cargo build --workspace
//! --bins`), moto and dynalite under `.cache/` (`scripts/services install`), Redis on
//! 127.0.0.1:6379, and the variants' toolchains (`scripts/setup`).

use std::path::{Path, PathBuf};

use latency_cost::{BuiltinSheet, PriceSheet};
use latency_lab::{
    Architecture, Deployment, EndpointTools, FunctionRuntime, LabConfig, Language, Mode,
    ServerProgram, Skip, catalogue, stand_up,
};
use latency_testkit::contract::{Contract, check};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("target"));
    let exe = target.join("debug").join(name);
    assert!(
        exe.is_file(),
        "{} is missing; build it with: cargo build --workspace --bins",
        exe.display()
    );
    exe
}

/// The runtime of each variant language, or the program of the FastAPI row, prepared as
/// `latency lab` prepares them.
fn prepare(id: &str) -> latency_variants::Prepared {
    let variant = latency_variants::find(id).expect("a variant");
    let root = repository();
    latency_variants::prepare(variant, &root, &root.join(".cache"), &mut |line| {
        eprintln!("{line}");
    })
    .unwrap_or_else(|err| panic!("{id}: {err} (scripts/setup installs the toolchains)"))
}

fn config(out: &Path) -> LabConfig {
    let root = repository();
    let tools = EndpointTools {
        cache_dir: root.join(".cache"),
        services_script: Some(root.join("scripts/services")),
    };
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("built-in sheet");
    let mut config = LabConfig::new(binary("latency"), tools, out.to_owned(), sheet);
    config.concurrency = 8;
    config
        .runtimes
        .push(FunctionRuntime::rust(binary("latency-lambda")));
    for (language, id) in [
        (Language::Python, "lambda-python-dynamodb"),
        (Language::NodeJs, "lambda-js-dynamodb"),
        (Language::Cpp, "lambda-cpp-dynamodb"),
    ] {
        match prepare(id) {
            latency_variants::Prepared::Function {
                command,
                args,
                handler,
                env,
                ..
            } => config.runtimes.push(FunctionRuntime {
                language,
                command,
                args,
                handler,
                env,
            }),
            latency_variants::Prepared::Server { .. } => panic!("{id} is a function"),
        }
    }
    if let latency_variants::Prepared::Server { command, args, env } = prepare("ec2-fastapi") {
        config.server_programs.push((
            latency_arch::ArchitectureId::Ec2FastApi,
            Ok(ServerProgram { command, args, env }),
        ));
    }
    config
}

/// The rows that serve the app over HTTP, atomic mode (the read-modify-write rows lose
/// updates on purpose; the queue rows serve no counter).
fn http_rows() -> Vec<Architecture> {
    catalogue()
        .into_iter()
        .filter(|row| row.mode() == Mode::Atomic)
        .filter(|row| {
            matches!(
                row.deployment,
                Deployment::Servers { .. }
                    | Deployment::Program { .. }
                    | Deployment::Function { .. }
            )
        })
        .collect()
}

#[test]
fn every_description_stood_up_here_passes_the_http_contract() {
    let out = tempfile::tempdir().expect("temp dir");
    let config = config(out.path());
    let rows = http_rows();
    assert!(
        rows.len() >= 10,
        "every HTTP row of the catalogue: {}",
        rows.len()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures: Vec<String> = Vec::new();
    for row in &rows {
        let outcome: Result<(), String> = runtime.block_on(async {
            let stood = match stand_up(row, &config).await {
                Ok(Ok(stood)) => stood,
                Ok(Err(Skip { reason, enable })) => {
                    return Err(format!("skipped: {reason} ({enable})"));
                }
                Err(err) => return Err(err.to_string()),
            };
            let base = stood.base_url().trim_end_matches('/').to_owned();
            // The contract panics with what differed; catch it to stop the row first.
            let checked = tokio::spawn(async move {
                check(
                    &base,
                    Contract {
                        page: true,
                        concurrent: Some((8, 10)),
                    },
                )
                .await;
            })
            .await;
            stood.stop().await;
            checked.map_err(|err| format!("the contract failed: {err}"))
        });
        eprintln!(
            "{}: {}",
            row.selector(),
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if let Err(why) = outcome {
            failures.push(format!(
                "{} ({}): {why}",
                row.selector(),
                row.description.file()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
