//! One function instance: a process, the Runtime API endpoint it talks to, and the
//! freeze/thaw and hand-off protocol between them.

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::cgroup::Cgroup;
use crate::error::PlatformError;
use crate::outcome::{ErrorCause, FunctionError};
use crate::runtime_api;
use crate::spec::FunctionSpec;

/// An event on its way to an instance through `/next`.
#[derive(Debug)]
pub(crate) struct Event {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: Arc<str>,
    pub trace_id: String,
}

/// What the runtime posted for the event in flight.
#[derive(Debug)]
pub(crate) enum Reply {
    Response(Bytes),
    Error(FunctionError),
}

struct Pending {
    request_id: String,
    reply: oneshot::Sender<Reply>,
}

/// Init progress, as seen by the Runtime API.
#[derive(Debug, Clone)]
pub(crate) enum InitState {
    Starting,
    /// The first `/next` arrived at this instant.
    Ready(Instant),
    /// The runtime posted `/init/error`.
    Failed(FunctionError),
}

/// Freeze state, guarded together with event hand-off so the two cannot race.
struct Control {
    frozen: bool,
}

/// The state the Runtime API handlers share with the pool.
pub(crate) struct Shared {
    control: Mutex<Control>,
    events_tx: mpsc::Sender<Event>,
    pub(crate) events_rx: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    pending: Mutex<Option<Pending>>,
    init: watch::Sender<InitState>,
    pid: AtomicU32,
    exited: AtomicBool,
    freeze_idle: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Called by `/next`: the first call ends init.
    pub(crate) fn mark_ready(&self) {
        self.init.send_if_modified(|state| {
            if matches!(state, InitState::Starting) {
                *state = InitState::Ready(Instant::now());
                true
            } else {
                false
            }
        });
    }

    /// Called by `/init/error`.
    pub(crate) fn fail_init(&self, error: FunctionError) {
        self.init.send_if_modified(|state| {
            if matches!(state, InitState::Starting) {
                *state = InitState::Failed(error);
                true
            } else {
                false
            }
        });
    }

    /// Called by `/next` with the event receiver locked: returns a waiting event, or
    /// freezes the process (when configured) because it is idle in `/next`.
    pub(crate) fn take_event_or_freeze(&self, rx: &mut mpsc::Receiver<Event>) -> Option<Event> {
        let mut control = lock(&self.control);
        if let Ok(event) = rx.try_recv() {
            return Some(event);
        }
        if self.freeze_idle && !control.frozen {
            let pid = self.pid.load(Ordering::Acquire);
            if pid != 0 && !self.exited.load(Ordering::Acquire) {
                if let Err(err) = kill(Pid::from_raw(pid as i32), Signal::SIGSTOP) {
                    tracing::debug!(pid, %err, "cannot freeze instance");
                } else {
                    control.frozen = true;
                }
            }
        }
        None
    }

    /// Thaws the process if frozen and hands `event` over, under the control lock.
    fn hand_off(&self, event: Event) -> Result<(), ()> {
        let mut control = lock(&self.control);
        if control.frozen {
            let pid = self.pid.load(Ordering::Acquire);
            if !self.exited.load(Ordering::Acquire) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGCONT);
            }
            control.frozen = false;
        }
        self.events_tx.try_send(event).map_err(|_| ())
    }

    /// Called by `/response` and `/error`. Returns `false` when `request_id` is not the
    /// invocation in flight.
    pub(crate) fn complete(&self, request_id: &str, reply: Reply) -> bool {
        let mut pending = lock(&self.pending);
        match pending.take() {
            Some(p) if p.request_id == request_id => {
                let _ = p.reply.send(reply);
                true
            }
            other => {
                *pending = other;
                false
            }
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone)]
pub(crate) struct Exit {
    /// Lambda's wording: `exit status 3`, `signal: killed`.
    pub description: String,
}

fn describe_exit(status: std::io::Result<ExitStatus>) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    let description = match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(Signal::SIGKILL) => "signal: killed".to_owned(),
                Ok(sig) => format!("signal: {}", sig.as_str()),
                Err(_) => format!("signal: {signal}"),
            },
            (None, None) => "exited".to_owned(),
        },
        Err(err) => format!("wait failed: {err}"),
    };
    Exit { description }
}

/// Everything needed to spawn an instance of one function.
pub(crate) struct SpawnParams<'a> {
    pub spec: &'a FunctionSpec,
    pub id: u64,
    pub region: &'a str,
    pub cgroup: Option<Cgroup>,
}

/// A running instance.
pub(crate) struct Instance {
    pub id: u64,
    pub pid: u32,
    pub spawned_at: Instant,
    function: String,
    shared: Arc<Shared>,
    exit: watch::Receiver<Option<Exit>>,
    kill: watch::Sender<bool>,
    server: JoinHandle<()>,
    supervisor: JoinHandle<()>,
    last_used: Mutex<Instant>,
    /// `/proc/<pid>/status`, kept open for the per-invocation `VmHWM` reading.
    status_file: Option<std::fs::File>,
    _cgroup: Option<Cgroup>,
}

impl Instance {
    /// Binds the instance's Runtime API, spawns the process with Lambda's environment and
    /// places it in its cgroup.
    pub(crate) async fn spawn(params: SpawnParams<'_>) -> Result<Instance, PlatformError> {
        let spec = params.spec;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| PlatformError::Bind {
                what: "the instance Runtime API",
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| PlatformError::Bind {
                what: "the instance Runtime API",
                source,
            })?;
        let (events_tx, events_rx) = mpsc::channel(1);
        let (init, _) = watch::channel(InitState::Starting);
        let shared = Arc::new(Shared {
            control: Mutex::new(Control { frozen: false }),
            events_tx,
            events_rx: tokio::sync::Mutex::new(events_rx),
            pending: Mutex::new(None),
            init,
            pid: AtomicU32::new(0),
            exited: AtomicBool::new(false),
            freeze_idle: spec.freeze_idle,
        });
        let server = tokio::spawn(runtime_api::serve(listener, shared.clone()));

        let mut command = Command::new(&spec.command);
        command
            .args(&spec.args)
            .env_clear()
            .envs(lambda_env(spec, params.region, &addr.to_string()))
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = task_root(spec) {
            command.current_dir(dir);
        }
        let spawned_at = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                server.abort();
                return Err(PlatformError::Spawn {
                    function: spec.name.clone(),
                    command: spec.command.clone(),
                    source,
                });
            }
        };
        let pid = child.id().unwrap_or(0);
        shared.pid.store(pid, Ordering::Release);
        // The process is moved into its cgroup right after exec, before it can do any
        // appreciable work (spawn returns once exec has happened; this write follows
        // within microseconds).
        if let Some(cgroup) = &params.cgroup
            && let Err(err) = cgroup.add_process(pid)
        {
            let _ = child.start_kill();
            server.abort();
            return Err(PlatformError::Cgroup(err));
        }
        let label = format!("{}#{}", spec.name, params.id);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, label.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, label));
        }

        let (exit_tx, exit) = watch::channel(None);
        let (kill, mut kill_rx) = watch::channel(false);
        let supervisor_shared = shared.clone();
        let supervisor = tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = async { let _ = kill_rx.wait_for(|k| *k).await; } => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            {
                let _control = lock(&supervisor_shared.control);
                supervisor_shared.exited.store(true, Ordering::Release);
            }
            let _ = exit_tx.send(Some(describe_exit(status)));
        });

        Ok(Instance {
            id: params.id,
            pid,
            spawned_at,
            function: spec.name.clone(),
            shared,
            exit,
            kill,
            server,
            supervisor,
            last_used: Mutex::new(spawned_at),
            status_file: std::fs::File::open(format!("/proc/{pid}/status")).ok(),
            _cgroup: params.cgroup,
        })
    }

    /// Waits for the first `/next`. Returns the init duration, or the init failure.
    pub(crate) async fn wait_ready(&self, limit: Duration) -> Result<Duration, FunctionError> {
        let mut init = self.shared.init.subscribe();
        let mut exit = self.exit.clone();
        let outcome = tokio::time::timeout(limit, async {
            tokio::select! {
                // A runtime that posts `/init/error` and then exits has both signals set
                // by the time this runs under load; its own error says more than the exit.
                biased;
                state = init.wait_for(|s| !matches!(s, InitState::Starting)) => match state {
                    Ok(state) => match &*state {
                        InitState::Ready(at) => Ok(at.saturating_duration_since(self.spawned_at)),
                        InitState::Failed(err) => Err(err.clone()),
                        InitState::Starting => Err(init_exit_error("init state lost")),
                    },
                    Err(_) => Err(init_exit_error("init state lost")),
                },
                exit = exit.wait_for(Option::is_some) => {
                    let description = exit
                        .ok()
                        .and_then(|e| e.as_ref().map(|e| e.description.clone()))
                        .unwrap_or_else(|| "exited".to_owned());
                    Err(init_exit_error(&description))
                }
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => Err(FunctionError::new(
                ErrorCause::Init,
                "Runtime.InitTimeout",
                format!("Init timed out after {:.2} seconds", limit.as_secs_f64()),
            )),
        }
    }

    /// Hands `event` to the runtime and waits for its reply, the process's exit, or the
    /// timeout (which kills the instance).
    pub(crate) async fn invoke(
        &self,
        event: Event,
        timeout: Duration,
    ) -> Result<Bytes, FunctionError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let request_id = event.request_id.clone();
        *lock(&self.shared.pending) = Some(Pending {
            request_id: request_id.clone(),
            reply: reply_tx,
        });
        if self.shared.hand_off(event).is_err() {
            lock(&self.shared.pending).take();
            return Err(self.exit_error(&request_id, "the instance is not accepting events"));
        }
        let mut exit = self.exit.clone();
        tokio::select! {
            biased;
            reply = reply_rx => match reply {
                Ok(Reply::Response(body)) => Ok(body),
                Ok(Reply::Error(err)) => Err(err),
                Err(_) => Err(self.exit_error(&request_id, "the invocation was dropped")),
            },
            exit = exit.wait_for(Option::is_some) => {
                let description = exit
                    .ok()
                    .and_then(|e| e.as_ref().map(|e| e.description.clone()))
                    .unwrap_or_else(|| "exited".to_owned());
                Err(self.exit_error(&request_id, &description))
            }
            _ = tokio::time::sleep(timeout) => {
                self.kill();
                lock(&self.shared.pending).take();
                Err(FunctionError::new(
                    ErrorCause::Timeout,
                    "Sandbox.Timedout",
                    format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
                ))
            }
        }
    }

    fn exit_error(&self, request_id: &str, description: &str) -> FunctionError {
        FunctionError::new(
            ErrorCause::ProcessExit,
            "Runtime.ExitError",
            format!("RequestId: {request_id} Error: Runtime exited with error: {description}"),
        )
    }

    /// `true` once the process has exited.
    pub(crate) fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// `true` while the process is stopped by the platform.
    pub(crate) fn is_frozen(&self) -> bool {
        lock(&self.shared.control).frozen
    }

    /// Asks the supervisor to kill the process (SIGKILL); see [`Instance::exited`].
    pub(crate) fn kill(&self) {
        let _ = self.kill.send(true);
    }

    /// Waits until the process has exited and been reaped.
    pub(crate) async fn exited(&self) {
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(Option::is_some).await;
    }

    /// The process's peak resident set (`VmHWM`), in MB rounded up.
    pub(crate) fn max_memory_used_mb(&self) -> Option<u64> {
        if self.has_exited() {
            return None;
        }
        // One open file, re-read from offset 0 (procfs regenerates it): this runs on
        // every invocation's critical path, and open/close is half the cost.
        use std::os::unix::fs::FileExt;
        let file = self.status_file.as_ref()?;
        let mut buf = [0u8; 4096];
        let len = file.read_at(&mut buf, 0).ok()?;
        let status = std::str::from_utf8(&buf[..len]).ok()?;
        let kb: u64 = status.lines().find_map(|line| {
            line.strip_prefix("VmHWM:")
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })?;
        Some(kb.div_ceil(1024))
    }

    pub(crate) fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    pub(crate) fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    pub(crate) fn function(&self) -> &str {
        &self.function
    }
}

impl Instance {
    /// SIGKILL right now, without waiting for the supervisor task: for `Drop`, where the
    /// runtime may be going away.
    pub(crate) fn kill_now(&self) {
        if !self.has_exited() && self.pid != 0 {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
        self.kill();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Last resort: no process outlives its instance.
        self.kill_now();
        self.server.abort();
        // The supervisor reaps the child; if the runtime is shutting down, dropping it
        // kills (kill_on_drop) and tokio reaps the orphan.
        let _ = &self.supervisor;
    }
}

fn init_exit_error(description: &str) -> FunctionError {
    FunctionError::new(
        ErrorCause::Init,
        "Runtime.ExitError",
        format!("Runtime exited during init: {description}"),
    )
}

fn task_root(spec: &FunctionSpec) -> Option<std::path::PathBuf> {
    spec.command
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
}

/// Lambda's standard environment for an instance.
fn lambda_env(spec: &FunctionSpec, region: &str, runtime_api: &str) -> Vec<(String, String)> {
    let handler = spec.handler.clone().unwrap_or_else(|| {
        spec.command
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bootstrap".to_owned())
    });
    let task_root = task_root(spec)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/var/task".to_owned());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (y, m, d) = civil_from_days((now.as_secs() / 86_400) as i64);
    let stream = format!(
        "{y:04}/{m:02}/{d:02}/[$LATEST]{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    vec![
        ("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.into()),
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
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_REGION".into(), region.into()),
        ("AWS_DEFAULT_REGION".into(), region.into()),
        ("_HANDLER".into(), handler),
        ("LAMBDA_TASK_ROOT".into(), task_root),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
    ]
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Forwards a function's stdout/stderr to tracing (Lambda sends it to CloudWatch). Ends at
/// EOF, i.e. when the process exits.
async fn forward_lines(stream: impl AsyncRead + Unpin, label: String) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "latency_platform::function", instance = %label, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }
}
