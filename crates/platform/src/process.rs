//! Child processes that cannot outlive their parent.
//!
//! A function instance (or any helper process a caller starts) must not survive the
//! process that started it, even when that process is killed with SIGKILL and gets no
//! chance to clean up. [`die_with_parent`] arranges that in the child itself, between
//! `fork` and `exec`:
//!
//! - `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the child when its parent dies.
//!   SIGKILL also ends a stopped (frozen) process, so no thaw is needed.
//! - A check of `getppid()` right after, because a parent that died between `fork` and the
//!   `prctl` call would otherwise never be noticed.
//! - Its own process group (`setpgid(0, 0)`), so that [`kill_group`] reaches anything the
//!   child starts in turn, and a terminal's Ctrl-C (sent to the foreground group) reaches
//!   only the parent, which then stops its children in order.

use std::io;
use std::os::unix::process::CommandExt;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Makes the process `command` spawns die with the calling process, and puts it in its
/// own process group (see the module docs).
///
/// Contract and caveat: Linux delivers the death signal when the *thread* that spawned the
/// child exits, not only when the whole process does. Spawn from a thread that lives as
/// long as the children should: a tokio worker thread or the main thread, not a
/// `spawn_blocking` thread (those exit after being idle for a while).
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut std::process::Command) -> &mut std::process::Command {
    let parent = nix::unistd::getpid();
    command.process_group(0);
    // SAFETY: the closure runs in the forked child before exec; it only makes two system
    // calls (prctl, getppid) and builds an io::Error from a raw errno, all of which are
    // async-signal-safe and allocate nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))?;
            if nix::unistd::getppid() != parent {
                // The parent is already gone: do not start at all.
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        })
    }
}

/// Sends SIGKILL to the process group led by `pid` (a child started through
/// [`die_with_parent`]), so that its own children die too. Errors (the group is already
/// gone) are ignored: the point is that nothing is left.
pub fn kill_group(pid: u32) {
    if pid != 0 {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
}

/// Whether process `pid` is running. A zombie is not: it has exited and only waits for its
/// parent to collect its status (a SIGKILLed process whose parent has not waited yet), so
/// what it owned may be cleaned up.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
