//! Installing a variant's dependencies into the cache, once per manifest.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{Language, Prepared, Shape, Variant, VariantError};

/// Written last into a cache directory: without it the directory is a half-finished
/// install (an interrupted run) and is redone.
const COMPLETE: &str = ".latency-complete";

const PYTHON_INSTALL: &str = "apt-get install python3 python3-venv";
const NODE_INSTALL: &str = "apt-get install nodejs npm";
const CPP_INSTALL: &str =
    "apt-get install g++ make libcurl4-openssl-dev libssl-dev nlohmann-json3-dev";
/// aws-lambda-ric builds its native Runtime API client with cmake, and its bundled curl
/// with autotools, when it is installed.
const CMAKE_INSTALL: &str = "apt-get install cmake autoconf automake libtool make g++";

/// Installs `variant`'s dependencies under `cache/variants/` (once per manifest: a second
/// call returns at once) and says how to run it. `repo_root` is where `variants/` is.
/// `progress` gets one line before anything slow (an install or a build) starts.
///
/// Blocking: it runs pip, npm or make. Call it from a blocking thread in async code.
pub fn prepare(
    variant: &Variant,
    repo_root: &Path,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Prepared, VariantError> {
    let source = repo_root.join(variant.source_dir);
    let cache = cache.join("variants");
    fs::create_dir_all(&cache).map_err(|e| VariantError::io(&cache, e))?;
    // One install at a time across threads and processes (two tests, two lab runs): a
    // second caller waits, then finds the install complete.
    let lock_path = cache.join(".lock");
    let lock = fs::File::create(&lock_path).map_err(|e| VariantError::io(&lock_path, e))?;
    lock.lock().map_err(|e| VariantError::io(&lock_path, e))?;
    match (variant.language, variant.shape) {
        (Language::Python, shape) => {
            let venv = python_venv(variant, &source, &cache, progress)?;
            let python = venv.join("bin").join("python");
            Ok(match shape {
                Shape::Function => Prepared::Function {
                    command: python,
                    args: vec![
                        "-m".to_owned(),
                        "awslambdaric".to_owned(),
                        variant.handler.unwrap_or("handler.handler").to_owned(),
                    ],
                    handler: variant.handler.map(str::to_owned),
                    task_root: source.clone(),
                    env: vec![
                        task_root_env(&source),
                        ("PYTHONPATH".to_owned(), source.display().to_string()),
                    ],
                },
                Shape::Server => Prepared::Server {
                    command: python,
                    args: vec![source.join("app.py").display().to_string()],
                    env: Vec::new(),
                },
            })
        }
        (Language::JavaScript, _) => {
            let package = node_package(variant, &source, &cache, progress)?;
            let client = package.join("node_modules/aws-lambda-ric/index.mjs");
            Ok(Prepared::Function {
                command: which("node").ok_or(VariantError::ToolchainMissing {
                    tool: "node",
                    install: NODE_INSTALL,
                })?,
                args: vec![
                    client.display().to_string(),
                    variant.handler.unwrap_or("index.handler").to_owned(),
                ],
                handler: variant.handler.map(str::to_owned),
                task_root: package.clone(),
                env: vec![task_root_env(&package)],
            })
        }
        (Language::Cpp, _) => {
            let bootstrap = cpp_bootstrap(variant, &source, &cache, progress)?;
            let task_root = bootstrap
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            Ok(Prepared::Function {
                command: bootstrap,
                args: Vec::new(),
                handler: None,
                env: vec![task_root_env(&task_root)],
                task_root,
            })
        }
    }
}

fn task_root_env(dir: &Path) -> (String, String) {
    ("LAMBDA_TASK_ROOT".to_owned(), dir.display().to_string())
}

/// A venv with the variant's pinned requirements, keyed by them and the interpreter.
fn python_venv(
    variant: &Variant,
    source: &Path,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, VariantError> {
    let python = which("python3").ok_or(VariantError::ToolchainMissing {
        tool: "python3",
        install: PYTHON_INSTALL,
    })?;
    let requirements = source.join("requirements.txt");
    let version = run_output(Command::new(&python).arg("--version"), variant.id)?;
    let key = digest(&[read(&requirements)?, version.into_bytes()]);
    let venv = cache.join(format!("python-{key}"));
    if !venv.join(COMPLETE).exists() {
        progress(&format!(
            "{}: installing {} into {} (first run only)",
            variant.id,
            requirements.display(),
            venv.display()
        ));
        remove_partial(&venv)?;
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            variant.id,
        )?;
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
            variant.id,
        )?;
        mark_complete(&venv)?;
    }
    Ok(venv)
}

/// A directory holding the function's code and its `node_modules`, as a Lambda package:
/// ES modules resolve packages from the importing file's directory upwards, so the code
/// must sit beside `node_modules`.
fn node_package(
    variant: &Variant,
    source: &Path,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, VariantError> {
    for (tool, install) in [
        ("node", NODE_INSTALL),
        ("npm", NODE_INSTALL),
        ("cmake", CMAKE_INSTALL),
        ("autoreconf", CMAKE_INSTALL),
        ("libtoolize", CMAKE_INSTALL),
    ] {
        if which(tool).is_none() {
            return Err(VariantError::ToolchainMissing { tool, install });
        }
    }
    let manifest = source.join("package.json");
    let lock = source.join("package-lock.json");
    let key = digest(&[read(&manifest)?, read(&lock)?]);
    let package = cache.join(format!("node-{key}"));
    if !package.join(COMPLETE).exists() {
        progress(&format!(
            "{}: installing npm packages into {} (first run only; builds aws-lambda-ric's native client)",
            variant.id,
            package.display()
        ));
        remove_partial(&package)?;
        fs::create_dir_all(&package).map_err(|e| VariantError::io(&package, e))?;
        copy(&manifest, &package.join("package.json"))?;
        copy(&lock, &package.join("package-lock.json"))?;
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&package);
        // node-gyp would download Node's headers; Debian's nodejs ships them in /usr.
        if Path::new("/usr/include/node/node_api.h").exists() {
            npm.env("npm_config_nodedir", "/usr");
        }
        run(&mut npm, variant.id)?;
        mark_complete(&package)?;
    }
    // The code is copied on every prepare, so an edit shows without a reinstall.
    for entry in fs::read_dir(source).map_err(|e| VariantError::io(source, e))? {
        let path = entry.map_err(|e| VariantError::io(source, e))?.path();
        if path
            .extension()
            .is_some_and(|ext| ext == "mjs" || ext == "js")
        {
            copy(&path, &package.join(path.file_name().unwrap_or_default()))?;
        }
    }
    Ok(package)
}

/// `bootstrap`, built by the variant's Makefile, keyed by its sources.
fn cpp_bootstrap(
    variant: &Variant,
    source: &Path,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, VariantError> {
    for tool in ["g++", "make"] {
        if which(tool).is_none() {
            return Err(VariantError::ToolchainMissing {
                tool: if tool == "make" { "make" } else { "g++" },
                install: CPP_INSTALL,
            });
        }
    }
    for header in [
        "/usr/include/nlohmann/json.hpp",
        "/usr/include/openssl/hmac.h",
    ] {
        if !Path::new(header).exists() {
            return Err(VariantError::ToolchainMissing {
                tool: "a header the C++ variant needs (nlohmann/json.hpp or openssl/hmac.h)",
                install: CPP_INSTALL,
            });
        }
    }
    let mut parts = vec![read(&source.join("Makefile"))?];
    let src = source.join("src");
    let mut files: Vec<PathBuf> = fs::read_dir(&src)
        .map_err(|e| VariantError::io(&src, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in &files {
        parts.push(read(file)?);
    }
    let out = cache.join(format!("cpp-{}", digest(&parts)));
    let bootstrap = out.join("bootstrap");
    if !out.join(COMPLETE).exists() {
        progress(&format!(
            "{}: building {} (first run only)",
            variant.id,
            bootstrap.display()
        ));
        remove_partial(&out)?;
        fs::create_dir_all(&out).map_err(|e| VariantError::io(&out, e))?;
        run(
            Command::new("make")
                .arg("-C")
                .arg(source)
                .arg(format!("OUT={}", out.display()))
                .arg(&bootstrap),
            variant.id,
        )?;
        mark_complete(&out)?;
    }
    Ok(bootstrap)
}

/// The first 16 hex digits of the SHA-256 of `parts`, each length-prefixed.
fn digest(parts: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, VariantError> {
    fs::read(path).map_err(|e| VariantError::io(path, e))
}

fn copy(from: &Path, to: &Path) -> Result<(), VariantError> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| VariantError::io(from, e))
}

fn remove_partial(dir: &Path) -> Result<(), VariantError> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(VariantError::io(dir, err)),
        _ => Ok(()),
    }
}

fn mark_complete(dir: &Path) -> Result<(), VariantError> {
    let marker = dir.join(COMPLETE);
    fs::write(&marker, b"").map_err(|e| VariantError::io(&marker, e))
}

/// The executable `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to completion; a failure carries the last lines of its output.
fn run(command: &mut Command, variant: &'static str) -> Result<(), VariantError> {
    run_output(command, variant).map(drop)
}

fn run_output(command: &mut Command, variant: &'static str) -> Result<String, VariantError> {
    let output = command.output().map_err(|e| VariantError::InstallFailed {
        variant,
        command: describe(command),
        status: "an error".to_owned(),
        output: e.to_string(),
    })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        return Ok(text);
    }
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(VariantError::InstallFailed {
        variant,
        command: describe(command),
        status: output.status.to_string(),
        output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}
