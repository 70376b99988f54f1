//! Supervision of the processes the lab starts: spawn, wait for the address line, stop.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::LabError;

/// How long a process may take to print its address.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A child process that printed `listening on http://HOST:PORT`; killed when dropped.
pub(crate) struct Supervised {
    child: Child,
    what: String,
    /// `http://HOST:PORT`, as printed.
    pub(crate) base_url: String,
}

impl Supervised {
    /// Spawns `program args…` and waits until its first stdout line carries an
    /// `http://` address (`listening on http://…`, or any line containing one, as
    /// moto's `Running on http://…` does on stderr when `address_on_stderr`).
    pub(crate) async fn start(
        what: &str,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        address_on_stderr: bool,
    ) -> Result<Self, LabError> {
        Self::spawn(what, program, args, envs, address_on_stderr, http_address).await
    }

    /// Spawns `program args…` and waits until a stdout line satisfies `ready` (a worker's
    /// `worker ready`); `base_url` then holds that line.
    pub(crate) async fn start_until(
        what: &str,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        ready: impl Fn(&str) -> bool,
    ) -> Result<Self, LabError> {
        let announced = |line: &str| ready(line).then(|| line.to_owned());
        Self::spawn(what, program, args, envs, false, announced).await
    }

    async fn spawn(
        what: &str,
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        address_on_stderr: bool,
        announced: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, LabError> {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // The child dies with the lab even when the lab is killed with SIGKILL, and leads
        // its own process group so a terminal's Ctrl-C reaches only the lab. The lab
        // spawns from the runtime's worker threads, which live as long as it does.
        latency_platform::process::die_with_parent(command.as_std_mut());
        let mut child = command.spawn().map_err(|err| LabError::StartFailed {
            what: what.to_owned(),
            detail: format!("cannot run {}: {err}", program.display()),
        })?;
        let (announcing, other) = if address_on_stderr {
            (
                child.stderr.take().map(boxed_reader),
                child.stdout.take().map(boxed_reader),
            )
        } else {
            (
                child.stdout.take().map(boxed_reader),
                child.stderr.take().map(boxed_reader),
            )
        };
        let Some(announcing) = announcing else {
            return Err(fail(what, "no output pipe"));
        };
        let mut lines = BufReader::new(announcing).lines();
        let mut seen = Vec::new();
        let found = tokio::time::timeout(READY_DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = announced(&line) {
                    return Some(address);
                }
                seen.push(line);
            }
            None
        })
        .await;
        let base_url = match found {
            Ok(Some(address)) => address,
            Ok(None) => {
                let mut rest = String::new();
                if let Some(mut other) = other {
                    let _ = other.read_to_string(&mut rest).await;
                }
                let status = child.wait().await.ok();
                let words = last_words(&seen, &rest);
                return Err(fail(
                    what,
                    &format!(
                        "exited ({}) before printing its address{words}",
                        status.map_or_else(|| "unknown status".to_owned(), |s| s.to_string())
                    ),
                ));
            }
            Err(_) => {
                return Err(fail(
                    what,
                    &format!("printed no address within {READY_DEADLINE:?}"),
                ));
            }
        };
        // Keep draining both pipes so a chatty child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        if let Some(mut other) = other {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = other.read_to_end(&mut sink).await;
            });
        }
        Ok(Self {
            child,
            what: what.to_owned(),
            base_url,
        })
    }

    /// The process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the process and anything it started (SIGKILL to its process group: the lab
    /// has finished measuring it) and reaps it.
    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // The child leads its own group (see `die_with_parent`); a grandchild such as
            // a server's helper goes with it.
            latency_platform::process::kill_group(pid);
        }
        if let Err(err) = self.child.kill().await {
            tracing::warn!(what = %self.what, %err, "could not stop process");
        }
    }
}

/// The pid in a name the lab gave a resource, `<prefix><pid>-…` (Redis keys, cgroup
/// directories), if it has one.
pub(crate) fn owner_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

pub(crate) use latency_platform::process::is_alive;

/// The arguments of the `latency` binary that run the lab's reaper: it waits until its
/// stdin closes (the lab exited, however: even SIGKILL closes a process's pipes). If the
/// lab wrote [`REAPER_ALL_CLEAN`] first, it cleaned up itself and the reaper just exits;
/// otherwise the reaper removes what the lab left
/// ([`crate::remove_leftovers_of_dead_runs`]).
pub const REAPER_ARGS: [&str; 2] = ["lab", "--reap"];

/// What a lab that cleaned up after itself writes to its reaper before it exits.
pub const REAPER_ALL_CLEAN: &[u8] = b"clean\n";

/// The reaper of one lab run: a process that outlives the lab by a moment.
pub(crate) struct Reaper {
    child: Child,
    /// Closing it (on drop, or when the lab dies) starts the clean-up.
    lifeline: Option<tokio::process::ChildStdin>,
}

impl Reaper {
    /// How long the reaper may take once the lab is done.
    const DEADLINE: Duration = Duration::from_secs(15);

    /// Starts `latency_exe lab --reap`. It is deliberately not tied to the lab's life
    /// (no `die_with_parent`): its job starts when the lab's ends. Its own process group
    /// keeps a terminal's Ctrl-C from ending it early.
    pub(crate) fn start(latency_exe: &Path) -> Result<Reaper, LabError> {
        let mut child = Command::new(latency_exe)
            .args(REAPER_ARGS)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|err| {
                fail(
                    "the lab's reaper",
                    &format!("cannot run {}: {err}", latency_exe.display()),
                )
            })?;
        let lifeline = child.stdin.take();
        Ok(Reaper { child, lifeline })
    }

    /// Tells the reaper the lab cleaned up after itself, and waits for it, bounded.
    pub(crate) async fn finish(mut self) {
        if let Some(mut lifeline) = self.lifeline.take() {
            use tokio::io::AsyncWriteExt;
            // If this fails the reaper is gone or will sweep: both are fine.
            let _ = lifeline.write_all(REAPER_ALL_CLEAN).await;
        }
        if tokio::time::timeout(Self::DEADLINE, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!("the lab's reaper did not finish in {:?}", Self::DEADLINE);
            let _ = self.child.kill().await;
        }
    }
}

type BoxedReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

fn boxed_reader(reader: impl tokio::io::AsyncRead + Send + Unpin + 'static) -> BoxedReader {
    Box::new(reader)
}

fn fail(what: &str, detail: &str) -> LabError {
    LabError::StartFailed {
        what: what.to_owned(),
        detail: detail.to_owned(),
    }
}

/// What a process said before dying: its `error:` line when it printed one (the
/// `latency` binary does), else its last three lines.
fn last_words(lines: &[String], rest: &str) -> String {
    let text: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .chain(rest.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if let Some(error) = text.iter().find(|l| l.starts_with("error:")) {
        return format!(": {error}");
    }
    let tail = &text[text.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join(" | "))
    }
}

/// The first `http://host:port` in `line`, without a trailing slash.
fn http_address(line: &str) -> Option<String> {
    let start = line.find("http://")?;
    let address: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(address.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::{http_address, is_alive, owner_pid};

    #[test]
    fn names_carry_their_owners_pid() {
        assert_eq!(
            owner_pid("latency-lab-4242-17-ec2", "latency-lab-"),
            Some(4242)
        );
        assert_eq!(owner_pid("latency-lab-x-17", "latency-lab-"), None);
        assert_eq!(owner_pid("hits", "latency-lab-"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_one_is_not() {
        assert!(is_alive(std::process::id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("reap");
        assert!(!is_alive(pid));
    }

    #[test]
    fn finds_the_address_in_announcements() {
        assert_eq!(
            http_address("listening on http://127.0.0.1:4000").as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(
            http_address(" * Running on http://127.0.0.1:5000/ (Press CTRL+C)").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(http_address("starting up"), None);
    }
}
