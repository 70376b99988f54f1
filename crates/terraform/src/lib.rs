//! Drives the `terraform` binary for `latency cloud`: one workspace per row, so that
//! deploying a second row never touches the first.
//!
//! [`Terraform`] runs one configuration directory (`-chdir`) with its state kept apart
//! from the source tree, in a state directory the caller chooses:
//!
//! | path under the state directory | what |
//! |---|---|
//! | `data/` | `TF_DATA_DIR`: providers, modules, the backend's settings |
//! | `workspaces/NAME/terraform.tfstate` | each workspace's state (local backend `workspace_dir`) |
//! | `default.tfstate` | the default workspace's state (local backend `path`; unused) |
//! | `plans/NAME.tfplan` | the plan [`Terraform::plan`] saved for [`Terraform::apply_plan`] |
//! | `init.lock` | held while [`Terraform::init`] runs, so that two drivers init one at a time |
//!
//! The configuration must declare `backend "local" {}` (with no settings): [`Terraform::init`]
//! fills in `path` and `workspace_dir` with `-backend-config`. Commands name their
//! workspace through `TF_WORKSPACE`, so no command depends on which workspace another
//! selected.
//!
//! Every command runs in its own process group, so a Ctrl-C in the terminal reaches the
//! caller only; the caller decides when to interrupt terraform ([`Hooks::interrupt`]):
//! terraform then gets one SIGINT, which it treats as "finish what is in flight, save
//! the state, stop", and after [`TerraformConfig::interrupt_grace`] a SIGKILL.
//!
//! This crate reads no argv and no environment variable of its own; the child inherits
//! the caller's environment plus [`TerraformConfig::env`].

mod error;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::watch;

pub use error::TerraformError;

/// How many lines of stderr an error keeps.
const TAIL_LINES: usize = 20;

/// Where terraform is and which configuration it runs.
#[derive(Debug, Clone)]
pub struct TerraformConfig {
    /// The program: `terraform`, looked up on the PATH, or a path.
    pub program: PathBuf,
    /// The configuration directory (passed as `-chdir`).
    pub config_dir: PathBuf,
    /// Where state, the data directory and plans live (see the crate docs). Created by
    /// [`Terraform::init`] when missing.
    pub state_dir: PathBuf,
    /// Extra environment variables for every command (e.g. `TF_CLI_CONFIG_FILE`).
    pub env: Vec<(String, String)>,
    /// After an interrupt, how long terraform may take to stop on its own before it is
    /// killed. A cloud apply stops between resources, which can take minutes.
    pub interrupt_grace: Duration,
}

impl TerraformConfig {
    /// `terraform` from the PATH on `config_dir`, state in `state_dir`, no extra
    /// environment, 5 minutes' grace after an interrupt.
    pub fn new(config_dir: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            program: PathBuf::from("terraform"),
            config_dir: config_dir.into(),
            state_dir: state_dir.into(),
            env: Vec::new(),
            interrupt_grace: Duration::from_secs(300),
        }
    }
}

/// Input variables, passed as `-var NAME=VALUE` in name order.
pub type Vars = BTreeMap<String, String>;

/// What a caller may attach to one command. The default attaches nothing.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Called with every line terraform writes on stdout, as it comes (for progress).
    pub on_line: Option<&'a mut (dyn FnMut(&str) + Send)>,
    /// When this becomes `true`, terraform gets SIGINT (once), then SIGKILL after the
    /// grace period. A dropped sender never interrupts.
    pub interrupt: Option<watch::Receiver<bool>>,
    /// Append stdout and stderr to this file (created when missing).
    pub log: Option<PathBuf>,
}

/// One resource in a saved plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// The resource address, e.g. `module.ec2[0].aws_instance.app`.
    pub address: String,
    /// The resource type, e.g. `aws_instance`.
    pub kind: String,
    /// Terraform's actions: `create`, `update`, `delete`, `no-op`, `read`.
    pub actions: Vec<String>,
}

/// What `terraform plan` would do, read from the saved plan (`terraform show -json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The saved plan file, for [`Terraform::apply_plan`].
    pub file: PathBuf,
    /// Every resource the plan touches (no-ops left out).
    pub changes: Vec<PlannedChange>,
}

impl Plan {
    /// Resources the plan creates (replacements included).
    pub fn creates(&self) -> impl Iterator<Item = &PlannedChange> {
        self.changes
            .iter()
            .filter(|c| c.actions.iter().any(|a| a == "create"))
    }

    /// Resources the plan deletes (replacements included).
    pub fn deletes(&self) -> impl Iterator<Item = &PlannedChange> {
        self.changes
            .iter()
            .filter(|c| c.actions.iter().any(|a| a == "delete"))
    }
}

/// One configuration directory driven with its state in a state directory.
#[derive(Debug, Clone)]
pub struct Terraform {
    config: TerraformConfig,
}

impl Terraform {
    /// A driver for `config`. Nothing runs until a method is called.
    pub fn new(config: TerraformConfig) -> Self {
        Self { config }
    }

    /// The configuration this driver runs.
    pub fn config(&self) -> &TerraformConfig {
        &self.config
    }

    /// `TF_DATA_DIR`: providers, modules and backend settings.
    pub fn data_dir(&self) -> PathBuf {
        self.config.state_dir.join("data")
    }

    /// The directory holding one `NAME/terraform.tfstate` per workspace.
    pub fn workspace_dir(&self) -> PathBuf {
        self.config.state_dir.join("workspaces")
    }

    /// The installed version, e.g. `1.11.4` (`terraform version -json`).
    ///
    /// # Errors
    /// [`TerraformError::NotFound`] when the program is missing; the others of a command.
    pub async fn version(&self) -> Result<String, TerraformError> {
        #[derive(Deserialize)]
        struct Version {
            terraform_version: String,
        }
        let args = strings(["version", "-json"]);
        let out = self.run(None, &args, Hooks::default()).await?;
        serde_json::from_str::<Version>(&out)
            .map(|v| v.terraform_version)
            .map_err(|e| self.bad_output(None, &args, e))
    }

    /// `terraform init`, with the backend's `path` and `workspace_dir` in the state
    /// directory (`-reconfigure`: the settings are always these, so nothing migrates).
    /// Idempotent; downloads providers only when the configuration needs some that the
    /// data directory lacks.
    ///
    /// Inits on one state directory run one at a time (a lock file, `init.lock`).
    ///
    /// # Errors
    /// [`TerraformError::Io`] when the state directory cannot be created or locked; the
    /// errors of a command (a configuration without `backend "local" {}` fails here).
    pub async fn init(&self, hooks: Hooks<'_>) -> Result<(), TerraformError> {
        for dir in [self.data_dir(), self.workspace_dir()] {
            std::fs::create_dir_all(&dir).map_err(|source| TerraformError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        // Two drivers on one state directory (two `latency cloud` commands at once) would
        // rewrite the data directory together: one init at a time. The lock goes with the
        // file when this function returns.
        let lock_path = self.config.state_dir.join("init.lock");
        let io = |source| TerraformError::Io {
            path: lock_path.clone(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        let _lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(io)?;
        let args = vec![
            "init".to_owned(),
            "-input=false".to_owned(),
            "-no-color".to_owned(),
            "-reconfigure".to_owned(),
            format!(
                "-backend-config=path={}",
                self.config.state_dir.join("default.tfstate").display()
            ),
            format!(
                "-backend-config=workspace_dir={}",
                self.workspace_dir().display()
            ),
        ];
        self.run(None, &args, hooks).await.map(drop)
    }

    /// The workspaces that exist, `default` left out, sorted.
    ///
    /// # Errors
    /// The errors of a command.
    pub async fn workspaces(&self) -> Result<Vec<String>, TerraformError> {
        let out = self
            .run(None, &strings(["workspace", "list"]), Hooks::default())
            .await?;
        let mut names: Vec<String> = out
            .lines()
            .map(|line| line.trim_start_matches('*').trim().to_owned())
            .filter(|name| !name.is_empty() && name != "default")
            .collect();
        names.sort();
        Ok(names)
    }

    /// Creates the workspace `name` unless it exists.
    ///
    /// # Errors
    /// [`TerraformError::InvalidWorkspace`]; the errors of a command.
    pub async fn ensure_workspace(&self, name: &str) -> Result<(), TerraformError> {
        check_workspace(name)?;
        if self.workspaces().await?.iter().any(|w| w == name) {
            return Ok(());
        }
        let args = vec!["workspace".into(), "new".into(), name.to_owned()];
        self.run(None, &args, Hooks::default()).await.map(drop)
    }

    /// Deletes the workspace `name`; terraform refuses while it still holds resources.
    ///
    /// # Errors
    /// [`TerraformError::InvalidWorkspace`]; the errors of a command.
    pub async fn delete_workspace(&self, name: &str) -> Result<(), TerraformError> {
        check_workspace(name)?;
        let args = vec!["workspace".into(), "delete".into(), name.to_owned()];
        // Run from `default`: terraform will not delete the selected workspace.
        self.run(Some("default"), &args, Hooks::default())
            .await
            .map(drop)
    }

    /// The addresses of the resources in `workspace`'s state (`terraform state list`);
    /// empty when it has no state yet.
    ///
    /// # Errors
    /// [`TerraformError::InvalidWorkspace`]; the errors of a command.
    pub async fn resources(&self, workspace: &str) -> Result<Vec<String>, TerraformError> {
        check_workspace(workspace)?;
        match self
            .run(
                Some(workspace),
                &strings(["state", "list"]),
                Hooks::default(),
            )
            .await
        {
            Ok(out) => Ok(out
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(TerraformError::Failed { stderr_tail, .. })
                if stderr_tail.contains("No state file was found") =>
            {
                Ok(Vec::new())
            }
            Err(err) => Err(err),
        }
    }

    /// `workspace`'s outputs by name: each output's `value` from `terraform output
    /// -json` (null outputs included). Empty when nothing was applied.
    ///
    /// # Errors
    /// [`TerraformError::BadOutput`] when the JSON cannot be read; the errors of a command.
    pub async fn outputs(
        &self,
        workspace: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, TerraformError> {
        #[derive(Deserialize)]
        struct Output {
            value: serde_json::Value,
        }
        check_workspace(workspace)?;
        let args = strings(["output", "-json", "-no-color"]);
        let out = self.run(Some(workspace), &args, Hooks::default()).await?;
        serde_json::from_str::<BTreeMap<String, Output>>(&out)
            .map(|m| m.into_iter().map(|(k, o)| (k, o.value)).collect())
            .map_err(|e| self.bad_output(Some(workspace), &args, e))
    }

    /// `terraform plan -out=FILE` in `workspace`, then the saved plan read back with
    /// `terraform show -json`. The plan file goes to `plans/WORKSPACE.tfplan` in the
    /// state directory; [`apply_plan`](Self::apply_plan) applies exactly it.
    ///
    /// # Errors
    /// [`TerraformError::Io`] when the plans directory cannot be created;
    /// [`TerraformError::BadOutput`] when the plan cannot be read; the errors of a command.
    pub async fn plan(
        &self,
        workspace: &str,
        vars: &Vars,
        hooks: Hooks<'_>,
    ) -> Result<Plan, TerraformError> {
        check_workspace(workspace)?;
        let dir = self.config.state_dir.join("plans");
        std::fs::create_dir_all(&dir).map_err(|source| TerraformError::Io {
            path: dir.clone(),
            source,
        })?;
        let file = dir.join(format!("{workspace}.tfplan"));
        let mut args = strings(["plan", "-input=false", "-no-color", "-lock-timeout=60s"]);
        args.push(format!("-out={}", file.display()));
        args.extend(var_args(vars));
        self.run(Some(workspace), &args, hooks).await?;
        let show = vec![
            "show".to_owned(),
            "-json".to_owned(),
            "-no-color".to_owned(),
            file.display().to_string(),
        ];
        let out = self.run(Some(workspace), &show, Hooks::default()).await?;
        let changes =
            parse_plan(&out).map_err(|reason| self.bad_output(Some(workspace), &show, reason))?;
        Ok(Plan { file, changes })
    }

    /// Applies a plan saved by [`plan`](Self::plan): exactly what it showed, nothing
    /// else (terraform refuses a plan whose state has moved on).
    ///
    /// # Errors
    /// [`TerraformError::Interrupted`] after an interrupt; the errors of a command.
    pub async fn apply_plan(
        &self,
        workspace: &str,
        plan: &Plan,
        hooks: Hooks<'_>,
    ) -> Result<(), TerraformError> {
        check_workspace(workspace)?;
        let args = vec![
            "apply".to_owned(),
            "-input=false".to_owned(),
            "-no-color".to_owned(),
            "-lock-timeout=60s".to_owned(),
            "-auto-approve".to_owned(),
            plan.file.display().to_string(),
        ];
        self.run(Some(workspace), &args, hooks).await.map(drop)
    }

    /// `terraform destroy -auto-approve` in `workspace` with `vars` (the configuration
    /// still needs its required variables to plan the destroy).
    ///
    /// # Errors
    /// [`TerraformError::Interrupted`] after an interrupt; the errors of a command.
    pub async fn destroy(
        &self,
        workspace: &str,
        vars: &Vars,
        hooks: Hooks<'_>,
    ) -> Result<(), TerraformError> {
        check_workspace(workspace)?;
        let args = self.destroy_args(vars);
        self.run(Some(workspace), &args, hooks).await.map(drop)
    }

    /// The exact shell command that destroys `workspace` with `vars`, for a human to run
    /// when [`destroy`](Self::destroy) could not finish.
    pub fn destroy_command(&self, workspace: &str, vars: &Vars) -> String {
        self.command_line(Some(workspace), &self.destroy_args(vars))
    }

    fn destroy_args(&self, vars: &Vars) -> Vec<String> {
        let mut args = strings([
            "destroy",
            "-input=false",
            "-no-color",
            "-lock-timeout=60s",
            "-auto-approve",
        ]);
        args.extend(var_args(vars));
        args
    }

    /// `args` as one shell command line, with the environment this driver sets
    /// (`TF_DATA_DIR`, `TF_WORKSPACE`, the configured extras) in front, quoted for a
    /// POSIX shell.
    pub fn command_line(&self, workspace: Option<&str>, args: &[String]) -> String {
        let mut words = vec![format!(
            "TF_DATA_DIR={}",
            shell_quote(&self.data_dir().display().to_string())
        )];
        if let Some(ws) = workspace {
            words.push(format!("TF_WORKSPACE={}", shell_quote(ws)));
        }
        for (key, value) in &self.config.env {
            words.push(format!("{key}={}", shell_quote(value)));
        }
        words.push(shell_quote(&self.config.program.display().to_string()));
        words.push(shell_quote(&format!(
            "-chdir={}",
            self.config.config_dir.display()
        )));
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }

    fn bad_output(
        &self,
        workspace: Option<&str>,
        args: &[String],
        reason: impl ToString,
    ) -> TerraformError {
        TerraformError::BadOutput {
            command: self.command_line(workspace, args),
            reason: reason.to_string(),
        }
    }

    /// Runs one command and returns its stdout.
    async fn run(
        &self,
        workspace: Option<&str>,
        args: &[String],
        hooks: Hooks<'_>,
    ) -> Result<String, TerraformError> {
        let command = self.command_line(workspace, args);
        let mut cmd = tokio::process::Command::new(&self.config.program);
        cmd.arg(format!("-chdir={}", self.config.config_dir.display()))
            .args(args)
            .env("TF_DATA_DIR", self.data_dir())
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // No call home for version news: commands must work offline.
            .env("CHECKPOINT_DISABLE", "1")
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches the caller, which
            // decides whether and when terraform is interrupted.
            .process_group(0);
        match workspace {
            Some(ws) => cmd.env("TF_WORKSPACE", ws),
            None => cmd.env_remove("TF_WORKSPACE"),
        };
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TerraformError::NotFound {
                    program: self.config.program.display().to_string(),
                }
            } else {
                TerraformError::Spawn {
                    command: command.clone(),
                    source,
                }
            }
        })?;
        let spawn_err = |source| TerraformError::Spawn {
            command: command.clone(),
            source,
        };
        let log = match &hooks.log {
            Some(path) => Some(open_log(path).await?),
            None => None,
        };
        let stdout = child.stdout.take().ok_or_else(|| {
            spawn_err(std::io::Error::other("the child's stdout was not captured"))
        })?;
        let stderr = child.stderr.take().ok_or_else(|| {
            spawn_err(std::io::Error::other("the child's stderr was not captured"))
        })?;
        let stderr_task = tokio::spawn(read_stderr(stderr, log.clone()));

        let Hooks {
            mut on_line,
            mut interrupt,
            ..
        } = hooks;
        let mut out = String::new();
        let mut lines = BufReader::new(stdout).lines();
        let mut interrupted = false;
        let mut killed = false;
        // Armed by an interrupt; until then a year away.
        let kill_at = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
        tokio::pin!(kill_at);
        loop {
            tokio::select! {
                line = lines.next_line() => match line.map_err(spawn_err)? {
                    Some(line) => {
                        if let Some(f) = on_line.as_mut() {
                            f(&line);
                        }
                        if let Some(log) = &log {
                            write_log(log, &line).await;
                        }
                        out.push_str(&line);
                        out.push('\n');
                    }
                    None => break,
                },
                () = wait_interrupt(&mut interrupt), if !interrupted => {
                    interrupted = true;
                    signal(&child, nix::sys::signal::Signal::SIGINT, false);
                    kill_at.as_mut().reset(tokio::time::Instant::now() + self.config.interrupt_grace);
                }
                () = &mut kill_at, if interrupted && !killed => {
                    killed = true;
                    signal(&child, nix::sys::signal::Signal::SIGKILL, true);
                }
            }
        }
        let status = tokio::select! {
            status = child.wait() => status.map_err(spawn_err)?,
            () = &mut kill_at, if interrupted && !killed => {
                signal(&child, nix::sys::signal::Signal::SIGKILL, true);
                child.wait().await.map_err(spawn_err)?
            }
        };
        let stderr_lines = stderr_task.await.unwrap_or_default();
        if status.success() {
            return Ok(out);
        }
        if interrupted {
            return Err(TerraformError::Interrupted { command });
        }
        let tail_source: Vec<&str> = if stderr_lines.iter().any(|l| !l.trim().is_empty()) {
            stderr_lines.iter().map(String::as_str).collect()
        } else {
            out.lines().collect()
        };
        Err(TerraformError::Failed {
            command,
            status: status.to_string(),
            stderr_tail: tail(&tail_source),
        })
    }
}

type SharedLog = std::sync::Arc<tokio::sync::Mutex<tokio::fs::File>>;

async fn open_log(path: &Path) -> Result<SharedLog, TerraformError> {
    let io = |source| TerraformError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(io)?;
    Ok(std::sync::Arc::new(tokio::sync::Mutex::new(file)))
}

/// Appends one line; a log that cannot be written does not fail the command.
async fn write_log(log: &SharedLog, line: &str) {
    let mut file = log.lock().await;
    let _ = file.write_all(format!("{line}\n").as_bytes()).await;
}

async fn read_stderr(stderr: tokio::process::ChildStderr, log: Option<SharedLog>) -> Vec<String> {
    let mut lines = BufReader::new(stderr).lines();
    let mut kept = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(log) = &log {
            write_log(log, &line).await;
        }
        kept.push(line);
        // Only the tail is reported; keep a bounded window.
        if kept.len() > 4 * TAIL_LINES {
            kept.drain(..2 * TAIL_LINES);
        }
    }
    kept
}

async fn wait_interrupt(rx: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = rx
        && rx.wait_for(|&stop| stop).await.is_ok()
    {
        return;
    }
    // No receiver, or the sender is gone: never.
    std::future::pending().await
}

/// Sends `sig` to the child (or, with `group`, to its whole process group: its
/// provisioners' shells and providers too). A child that has exited is left alone.
fn signal(child: &tokio::process::Child, sig: nix::sys::signal::Signal, group: bool) {
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = if group {
        nix::sys::signal::killpg(pid, sig)
    } else {
        nix::sys::signal::kill(pid, sig)
    };
}

/// The last [`TAIL_LINES`] non-blank lines, without terminal colour codes.
fn tail(lines: &[&str]) -> String {
    let kept: Vec<String> = lines
        .iter()
        .map(|l| strip_ansi(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = kept.len().saturating_sub(TAIL_LINES);
    kept[start..].join("\n")
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (@ to ~).
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn strings<const N: usize>(words: [&str; N]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn var_args(vars: &Vars) -> Vec<String> {
    vars.iter()
        .flat_map(|(k, v)| ["-var".to_owned(), format!("{k}={v}")])
        .collect()
}

fn check_workspace(name: &str) -> Result<(), TerraformError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(TerraformError::InvalidWorkspace {
            name: name.to_owned(),
        })
    }
}

/// `word` as one word of a POSIX shell command: as it is when it holds only characters
/// no shell treats specially, else in single quotes (a `'` inside written `'\''`).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The changes of `terraform show -json PLANFILE`.
fn parse_plan(json: &str) -> Result<Vec<PlannedChange>, String> {
    #[derive(Deserialize)]
    struct ShowPlan {
        #[serde(default)]
        resource_changes: Vec<ResourceChange>,
    }
    #[derive(Deserialize)]
    struct ResourceChange {
        address: String,
        #[serde(rename = "type")]
        kind: String,
        change: Change,
    }
    #[derive(Deserialize)]
    struct Change {
        actions: Vec<String>,
    }
    let plan: ShowPlan = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(plan
        .resource_changes
        .into_iter()
        .filter(|rc| {
            !rc.change
                .actions
                .iter()
                .all(|a| a == "no-op" || a == "read")
        })
        .map(|rc| PlannedChange {
            address: rc.address,
            kind: rc.kind,
            actions: rc.change.actions,
        })
        .collect())
}

#[cfg(test)]
mod tests;
