//! The environment an instance starts with: Lambda's defined runtime variables
//! (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>),
//! then the function's own variables.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::spec::FunctionSpec;
use crate::util::civil_from_days;

/// Lambda's `PATH` for managed runtimes.
const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

/// Where Lambda keeps the runtime client (`LAMBDA_RUNTIME_DIR`).
const LAMBDA_RUNTIME_DIR: &str = "/var/runtime";

/// Directories, relative to the task root, whose `bin` holds a function's own interpreter
/// or runtime client: a Python virtual environment or `node_modules/.bin`. They go first
/// on `PATH`, so `python -m awslambdaric` or `aws-lambda-ric` resolve to the function's
/// copy without a wrapper script, as the files under `/var/task` would on Lambda.
const LOCAL_BIN_DIRS: [&str; 3] = [".venv/bin", "venv/bin", "node_modules/.bin"];

/// Lambda's environment for one instance of `spec`, talking to the Runtime API at
/// `runtime_api` (`host:port`). The function's own variables come last and win, except
/// that they cannot hide the Runtime API address.
pub(crate) fn lambda_env(
    spec: &FunctionSpec,
    region: &str,
    runtime_api: &str,
) -> Vec<(String, String)> {
    let task_root = spec.resolved_task_root();
    let handler = spec.handler.clone().unwrap_or_else(|| {
        spec.command
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bootstrap".to_owned())
    });
    let mut env: Vec<(String, String)> = vec![
        ("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", spec.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream_name()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_REGION".into(), region.into()),
        ("AWS_DEFAULT_REGION".into(), region.into()),
        ("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into()),
        (
            "AWS_XRAY_DAEMON_ADDRESS".into(),
            "169.254.79.129:2000".into(),
        ),
        ("_HANDLER".into(), handler),
        ("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR".into(), LAMBDA_RUNTIME_DIR.into()),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), path_for(&task_root)),
    ];
    if let Some(runtime) = &spec.runtime {
        // Managed runtimes set it (`AWS_Lambda_python3.12`); `provided.*` runtimes do not.
        if !runtime.starts_with("provided") {
            env.push(("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")));
        }
        if runtime.starts_with("nodejs") {
            // Lambda's NODE_PATH, with the task root's own node_modules first.
            env.push((
                "NODE_PATH".into(),
                format!(
                    "{}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
                    task_root.display()
                ),
            ));
        }
    }
    for (key, value) in &spec.env {
        env.retain(|(existing, _)| existing != key);
        env.push((key.clone(), value.clone()));
    }
    env.retain(|(key, _)| key != "AWS_LAMBDA_RUNTIME_API");
    env.push(("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.into()));
    env
}

/// `PATH`: the task root's own `bin` directories (see [`LOCAL_BIN_DIRS`]) that exist, then
/// Lambda's.
fn path_for(task_root: &Path) -> String {
    let mut parts: Vec<String> = LOCAL_BIN_DIRS
        .iter()
        .map(|dir| task_root.join(dir))
        .filter(|dir| dir.is_dir())
        .map(|dir| dir.display().to_string())
        .collect();
    parts.push(LAMBDA_PATH.to_owned());
    parts.join(":")
}

/// `2026/11/29/[$LATEST]<32 hex digits>`, the shape of Lambda's log stream names.
fn log_stream_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (y, m, d) = civil_from_days((now.as_secs() / 86_400) as i64);
    format!(
        "{y:04}/{m:02}/{d:02}/[$LATEST]{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn managed_runtimes_get_their_execution_env() {
        let scratch = tempfile::tempdir().expect("scratch dir");
        std::fs::create_dir_all(scratch.path().join(".venv/bin")).expect("venv");
        let spec = FunctionSpec::new("f", "python3")
            .task_root(scratch.path())
            .runtime("python3.12")
            .handler("app.handler")
            .env("AWS_ACCESS_KEY_ID", "AKID")
            .env("AWS_LAMBDA_RUNTIME_API", "cannot-override");
        let env = lambda_env(&spec, "eu-west-2", "127.0.0.1:9");
        assert_eq!(
            get(&env, "AWS_EXECUTION_ENV"),
            Some("AWS_Lambda_python3.12")
        );
        assert_eq!(get(&env, "_HANDLER"), Some("app.handler"));
        assert_eq!(get(&env, "AWS_ACCESS_KEY_ID"), Some("AKID"));
        assert_eq!(get(&env, "AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9"));
        assert_eq!(
            get(&env, "LAMBDA_TASK_ROOT"),
            Some(scratch.path().to_str().expect("utf-8"))
        );
        let path = get(&env, "PATH").expect("PATH");
        assert!(
            path.starts_with(&format!("{}/.venv/bin:", scratch.path().display())),
            "{path}"
        );
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
    }

    #[test]
    fn provided_runtimes_have_no_execution_env() {
        let spec = FunctionSpec::new("f", "/opt/fn/bootstrap").runtime("provided.al2023");
        let env = lambda_env(&spec, "eu-west-2", "127.0.0.1:9");
        assert_eq!(get(&env, "AWS_EXECUTION_ENV"), None);
        assert_eq!(get(&env, "_HANDLER"), Some("bootstrap"));
        assert_eq!(get(&env, "LAMBDA_TASK_ROOT"), Some("/opt/fn"));
    }
}
