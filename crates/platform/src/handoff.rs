//! The hand-off between the pool and one instance's Runtime API: the event waiting for
//! `/next`, the invocation in flight, init progress and the freeze state.
//!
//! Both sides depend on this module and not on each other: the Runtime API handlers
//! ([`crate::runtime_api`]) complete what the pool ([`crate::instance`]) hands over.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::{mpsc, oneshot, watch};

use crate::outcome::FunctionError;
use crate::util::lock;

/// An event on its way to an instance through `/next`.
#[derive(Debug)]
pub(crate) struct Event {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: Arc<str>,
    pub trace_id: String,
    /// The caller's client context, JSON, for `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
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
    /// How many `/next` calls the runtime has made.
    polls: watch::Sender<u64>,
    /// The output of init, then of the invocation in flight (`None` between
    /// invocations).
    log: Mutex<Option<LogTail>>,
}

/// The last [`LOG_KEEP_BYTES`] of an invocation's output.
#[derive(Debug, Default)]
struct LogTail {
    bytes: std::collections::VecDeque<u8>,
}

/// How much of an invocation's output is kept: Lambda's `LogType=Tail` returns the last
/// 4 KB ([Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)).
pub(crate) const LOG_TAIL_BYTES: usize = 4 * 1024;

/// How much of an invocation's output is kept for its observer (`latency platform
/// --logs`): the last 64 KB.
const LOG_KEEP_BYTES: usize = 64 * 1024;

impl LogTail {
    fn push_line(&mut self, line: &str) {
        self.bytes.extend(line.as_bytes());
        self.bytes.push_back(b'\n');
        let excess = self.bytes.len().saturating_sub(LOG_KEEP_BYTES);
        self.bytes.drain(..excess);
    }

    fn into_bytes(self) -> Bytes {
        Bytes::from(Vec::from(self.bytes))
    }
}

impl Shared {
    /// The state for a new instance whose process is not started yet.
    pub(crate) fn new(freeze_idle: bool) -> Shared {
        let (events_tx, events_rx) = mpsc::channel(1);
        let (init, _) = watch::channel(InitState::Starting);
        let (polls, _) = watch::channel(0);
        Shared {
            control: Mutex::new(Control { frozen: false }),
            events_tx,
            events_rx: tokio::sync::Mutex::new(events_rx),
            pending: Mutex::new(None),
            init,
            polls,
            pid: AtomicU32::new(0),
            exited: AtomicBool::new(false),
            freeze_idle,
            // Init's output is collected too: Lambda writes it to the log stream, and an
            // init failure's reason is usually in it.
            log: Mutex::new(Some(LogTail::default())),
        }
    }

    /// Records the process id once the process is spawned.
    pub(crate) fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::Release);
    }

    /// Records that the process has exited, under the control lock so that no freeze or
    /// thaw signal can be sent to a reused pid afterwards.
    pub(crate) fn mark_exited(&self) {
        let _control = lock(&self.control);
        self.exited.store(true, Ordering::Release);
    }

    /// Follows init progress.
    pub(crate) fn subscribe_init(&self) -> watch::Receiver<InitState> {
        self.init.subscribe()
    }

    /// `true` while the process is stopped by the platform.
    pub(crate) fn is_frozen(&self) -> bool {
        lock(&self.control).frozen
    }

    /// Registers the invocation `request_id` as in flight (its reply goes to `reply`) and
    /// starts collecting the function's log lines for it.
    pub(crate) fn begin(&self, request_id: &str, reply: oneshot::Sender<Reply>) {
        *lock(&self.pending) = Some(Pending {
            request_id: request_id.to_owned(),
            reply,
        });
        *lock(&self.log) = Some(LogTail::default());
    }

    /// Ends the invocation in flight (if still pending, its reply is dropped) and returns
    /// the log lines collected for it. Lines the process writes after this go to the
    /// platform's log only: a runtime may still be flushing output when its `/response`
    /// arrives, and no later invocation must be blamed for it.
    pub(crate) fn end(&self) -> Bytes {
        lock(&self.pending).take();
        lock(&self.log)
            .take()
            .map(LogTail::into_bytes)
            .unwrap_or_default()
    }

    /// The output collected so far outside any invocation (during init), taken.
    pub(crate) fn take_log(&self) -> Bytes {
        lock(&self.log)
            .take()
            .map(LogTail::into_bytes)
            .unwrap_or_default()
    }

    /// Appends one line of function output to the invocation in flight, if any.
    pub(crate) fn log_line(&self, line: &str) {
        if let Some(tail) = lock(&self.log).as_mut() {
            tail.push_line(line);
        }
    }

    /// Follows the count of `/next` calls.
    pub(crate) fn subscribe_polls(&self) -> watch::Receiver<u64> {
        self.polls.subscribe()
    }

    /// Called by `/next`: the first call ends init.
    pub(crate) fn mark_ready(&self) {
        self.polls.send_modify(|n| *n += 1);
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
    pub(crate) fn hand_off(&self, event: Event) -> Result<(), ()> {
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
