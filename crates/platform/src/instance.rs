//! One function instance: a process, the Runtime API endpoint it talks to, and the
//! supervisor that reaps it.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::sys::signal::Signal;
use std::io::Read;
use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::cgroup::{Cgroup, CpuQuota};
use crate::environment;
use crate::error::PlatformError;
use crate::handoff::{Event, InitState, Reply, Shared};
use crate::outcome::{ErrorCause, FunctionError};
use crate::process::{die_with_parent, kill_group};
use crate::runtime_api;
use crate::spec::{FunctionSpec, InstanceEvent, InstanceObserver};
use crate::util::lock;

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
    /// The CPU quota after init (the cgroup starts with the init burst's).
    pub steady_cpu: Option<CpuQuota>,
    pub observer: Option<InstanceObserver>,
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
    /// See [`Instance::back_in_next`].
    polls_at_hand_off: Mutex<u64>,
    /// One per output forwarder; see [`forward_output`].
    log_syncs: Vec<mpsc::UnboundedSender<SyncRequest>>,
    /// `/proc/<pid>/status`, kept open for the per-invocation `VmHWM` reading.
    status_file: Option<std::fs::File>,
    cgroup: Option<Cgroup>,
    steady_cpu: Option<CpuQuota>,
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
        let shared = Arc::new(Shared::new(spec.freeze_idle));
        let server = tokio::spawn(runtime_api::serve(listener, shared.clone()));

        let mut command = Command::new(&spec.command);
        command
            .args(&spec.args)
            .env_clear()
            .envs(environment::lambda_env(
                spec,
                params.region,
                &addr.to_string(),
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .current_dir(spec.resolved_task_root());
        die_with_parent(command.as_std_mut());
        // The child joins its cgroup before exec, so init runs under the init budget (a
        // full vCPU with the burst, see `FunctionSpec::init_cpu_burst`), as on Lambda.
        if let Some(cgroup) = &params.cgroup {
            cgroup.join_before_exec(command.as_std_mut());
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
        shared.set_pid(pid);
        let observer = params.observer;
        if let Some(observer) = &observer {
            (observer.0)(InstanceEvent::Started(pid));
        }
        let label = format!("{}#{}", spec.name, params.id);
        let mut log_syncs = Vec::new();
        if let Some(out) = child.stdout.take() {
            let (tx, rx) = mpsc::unbounded_channel();
            log_syncs.push(tx);
            tokio::spawn(forward_output(out, label.clone(), shared.clone(), rx));
        }
        if let Some(err) = child.stderr.take() {
            let (tx, rx) = mpsc::unbounded_channel();
            log_syncs.push(tx);
            tokio::spawn(forward_output(err, label, shared.clone(), rx));
        }

        let (exit_tx, exit) = watch::channel(None);
        let (kill, mut kill_rx) = watch::channel(false);
        let supervisor_shared = shared.clone();
        let supervisor = tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = async { let _ = kill_rx.wait_for(|k| *k).await; } => {
                    // The whole group: whatever the runtime started goes too.
                    kill_group(pid);
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            supervisor_shared.mark_exited();
            if let Some(observer) = &observer {
                (observer.0)(InstanceEvent::Reaped(pid));
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
            polls_at_hand_off: Mutex::new(0),
            log_syncs,
            status_file: std::fs::File::open(format!("/proc/{pid}/status")).ok(),
            cgroup: params.cgroup,
            steady_cpu: params.steady_cpu,
        })
    }

    /// Waits for the first `/next`. Returns the init duration, or the init failure.
    pub(crate) async fn wait_ready(&self, limit: Duration) -> Result<Duration, FunctionError> {
        let mut init = self.shared.subscribe_init();
        let mut exit = self.exit.clone();
        let outcome = tokio::time::timeout(limit, async {
            tokio::select! {
                // A runtime that posts `/init/error` and then exits has both signals set
                // by the time this runs under load; its own error says more than the exit.
                biased;
                state = init.wait_for(|s| !matches!(s, InitState::Starting)) => match state {
                    Ok(state) => match &*state {
                        InitState::Ready(at) => {
                            self.end_init_burst();
                            Ok(at.saturating_duration_since(self.spawned_at))
                        }
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

    /// Applies the steady CPU quota once init is over (the runtime waits in its first
    /// `/next`, so nothing runs past the burst). A quota that cannot be written is logged:
    /// the instance would run with more CPU than the budget.
    fn end_init_burst(&self) {
        if let (Some(cgroup), Some(quota)) = (&self.cgroup, self.steady_cpu)
            && let Err(err) = cgroup.set_cpu(Some(quota))
        {
            tracing::warn!(function = %self.function, instance = self.id, %err, "could not end the init CPU burst");
        }
    }

    /// Hands `event` to the runtime and waits for its reply, the process's exit, or the
    /// timeout (which kills the instance). Returns the result and the tail of the
    /// function's output during the invocation.
    pub(crate) async fn invoke(
        &self,
        event: Event,
        timeout: Duration,
    ) -> (Result<Bytes, FunctionError>, Bytes) {
        let (reply_tx, reply_rx) = oneshot::channel();
        let request_id = event.request_id.clone();
        *lock(&self.polls_at_hand_off) = *self.shared.subscribe_polls().borrow();
        self.shared.begin(&request_id, reply_tx);
        let result = if self.shared.hand_off(event).is_err() {
            Err(self.exit_error(&request_id, "the instance is not accepting events"))
        } else {
            self.await_reply(&request_id, reply_rx, timeout).await
        };
        self.sync_logs().await;
        (result, self.shared.end())
    }

    /// What the process wrote during init (its last 64 KB), once both forwarders have
    /// read what the pipes hold: for a failed init, whose reason is usually there.
    pub(crate) async fn take_init_logs(&self) -> Bytes {
        self.sync_logs().await;
        self.shared.take_log()
    }

    /// Waits until both forwarders have taken in what the pipes hold (see
    /// [`forward_output`]); a forwarder that has ended (the process exited) counts as done.
    async fn sync_logs(&self) {
        let mut waits = Vec::with_capacity(self.log_syncs.len());
        for sync in &self.log_syncs {
            let (done, wait) = oneshot::channel();
            if sync.send(done).is_ok() {
                waits.push(wait);
            }
        }
        for wait in waits {
            let _ = wait.await;
        }
    }

    async fn await_reply(
        &self,
        request_id: &str,
        reply_rx: oneshot::Receiver<Reply>,
        timeout: Duration,
    ) -> Result<Bytes, FunctionError> {
        let mut exit = self.exit.clone();
        tokio::select! {
            biased;
            reply = reply_rx => match reply {
                Ok(Reply::Response(body)) => Ok(body),
                Ok(Reply::Error(err)) => Err(err),
                Err(_) => Err(self.exit_error(request_id, "the invocation was dropped")),
            },
            exit = exit.wait_for(Option::is_some) => {
                let description = exit
                    .ok()
                    .and_then(|e| e.as_ref().map(|e| e.description.clone()))
                    .unwrap_or_else(|| "exited".to_owned());
                Err(self.exit_error(request_id, &description))
            }
            _ = tokio::time::sleep(timeout) => {
                self.kill();
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

    /// After an invocation that ended without the runtime asking for more (an oversized
    /// response: the runtime got its 413 and decides for itself whether to go on), waits
    /// until the runtime is back in `/next` (`true`: it can serve again) or has exited,
    /// at most `limit` (`false`).
    pub(crate) async fn back_in_next(&self, limit: Duration) -> bool {
        let mut polls = self.shared.subscribe_polls();
        // The `/next` count when the last event was handed over: the runtime was in that
        // call, so any later call means it is back for more.
        let seen = *lock(&self.polls_at_hand_off);
        let mut exit = self.exit.clone();
        let back = async {
            tokio::select! {
                changed = polls.wait_for(|n| *n > seen) => changed.is_ok(),
                _ = exit.wait_for(Option::is_some) => false,
            }
        };
        tokio::time::timeout(limit, back).await.unwrap_or(false) && !self.has_exited()
    }

    /// `true` once the process has exited.
    pub(crate) fn has_exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// `true` while the process is stopped by the platform.
    pub(crate) fn is_frozen(&self) -> bool {
        self.shared.is_frozen()
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
        if !self.has_exited() {
            kill_group(self.pid);
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

/// A request to a forwarder: read everything already in the pipe, then answer.
type SyncRequest = oneshot::Sender<()>;

/// Forwards a function's stdout or stderr, line by line, to the invocation in flight and
/// to tracing (Lambda sends it to CloudWatch). Ends at EOF, i.e. when the process exits.
///
/// A runtime writes its output before it posts `/response`, but this task may not have
/// been scheduled yet when the reply arrives. A [`SyncRequest`] makes it read whatever
/// the pipe already holds (non-blocking, through a duplicate of the descriptor) before
/// the invocation's log is closed, so the log is complete without any waiting.
async fn forward_output<R>(
    mut stream: R,
    label: String,
    shared: Arc<Shared>,
    mut sync: mpsc::UnboundedReceiver<SyncRequest>,
) where
    R: AsyncRead + AsFd + Unpin,
{
    // The duplicate shares the pipe's non-blocking mode (tokio set it), so reads through
    // it return WouldBlock once the pipe is empty.
    let mut direct = stream
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from);
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => emit_lines(&mut partial, &buf[..n], &shared, &label),
            },
            Some(done) = sync.recv() => {
                if let Some(file) = direct.as_mut() {
                    // Bounded: a pipe holds at most a few hundred KB.
                    for _ in 0..1_000 {
                        match file.read(&mut buf) {
                            Ok(n) if n > 0 => emit_lines(&mut partial, &buf[..n], &shared, &label),
                            _ => break,
                        }
                    }
                }
                flush_partial(&mut partial, &shared, &label);
                let _ = done.send(());
            }
        }
    }
    flush_partial(&mut partial, &shared, &label);
}

/// The longest log line kept whole: CloudWatch Logs takes events of at most 256 KB
/// ("Event size: 256 KB (maximum)",
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html>),
/// so a longer line from a function becomes several log lines of at most this size. It
/// also bounds what one forwarder holds, whatever the function writes.
pub(crate) const MAX_LOG_LINE_BYTES: usize = 256 * 1024;

/// Splits `bytes` into lines, completing the one in `partial`. Linear in `bytes`: only new
/// bytes are searched for a newline (searching `partial` again on every read was
/// quadratic in a long line), and `partial` never grows past [`MAX_LOG_LINE_BYTES`].
fn emit_lines(partial: &mut Vec<u8>, bytes: &[u8], shared: &Shared, label: &str) {
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        append_capped(partial, &rest[..end], shared, label);
        emit_line(partial, shared, label);
        partial.clear();
        rest = &rest[end + 1..];
    }
    append_capped(partial, rest, shared, label);
}

/// Appends `bytes` to the line in `partial`, emitting it each time it reaches
/// [`MAX_LOG_LINE_BYTES`].
fn append_capped(partial: &mut Vec<u8>, mut bytes: &[u8], shared: &Shared, label: &str) {
    while partial.len() + bytes.len() > MAX_LOG_LINE_BYTES {
        let room = MAX_LOG_LINE_BYTES - partial.len();
        partial.extend_from_slice(&bytes[..room]);
        emit_line(partial, shared, label);
        partial.clear();
        bytes = &bytes[room..];
    }
    partial.extend_from_slice(bytes);
}

fn flush_partial(partial: &mut Vec<u8>, shared: &Shared, label: &str) {
    if !partial.is_empty() {
        let line = std::mem::take(partial);
        emit_line(&line, shared, label);
    }
}

fn emit_line(line: &[u8], shared: &Shared, label: &str) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    shared.log_line(line);
    tracing::debug!(target: "latency_platform::function", instance = %label, "{line}");
}
