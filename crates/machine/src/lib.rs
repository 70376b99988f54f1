//! Was the machine busy? A measurement on a 2-core laptop is only as good as the quiet it
//! ran in. [`CpuSampler`] reads `/proc/stat` (all CPU time) and `/proc/<pid>/stat` (this
//! process and its descendants) at the start and the end of a measurement, and
//! [`CpuUse`] says how many cores *other* processes kept busy meanwhile.
//!
//! Hand-written rather than `procfs`/`sysinfo`: two small, stable line formats, and the
//! descendants walk needs only each process's parent id.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a sample could not be taken (no `/proc`, an unreadable or malformed file).
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// A `/proc` file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `/proc` file did not have the expected shape.
    #[error("unexpected format in {path}: {problem}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        problem: String,
    },
}

/// CPU time counters at one instant, in clock ticks.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    at: Instant,
    /// All CPUs: busy ticks (user, nice, system, irq, softirq, steal).
    machine_busy: u64,
    /// This process and its descendants: user + system, plus what reaped children used.
    own: u64,
}

/// Samples CPU use between [`CpuSampler::start`] and [`CpuSampler::finish`].
#[derive(Debug)]
pub struct CpuSampler {
    root: u32,
    start: Snapshot,
}

/// CPU use over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    /// How long the interval was.
    pub elapsed: Duration,
    /// Online CPUs.
    pub cores: usize,
    /// Cores kept busy, on average, by everything.
    pub all_cores: f64,
    /// Cores kept busy by the sampled process and its descendants.
    pub own_cores: f64,
    /// Cores kept busy by every other process: `all_cores - own_cores`, at least 0.
    pub other_cores: f64,
}

impl CpuUse {
    /// Whether other processes used more than `threshold` of the machine's cores on
    /// average (e.g. `0.25` = a quarter of the machine): then the figures measured in the
    /// interval may be disturbed, and a report should say so.
    ///
    /// The counters' granularity is taken off first ([`CpuUse::resolution_cores`]), so a
    /// short interval is flagged only when others were busy beyond what its few ticks can
    /// tell apart from noise (a 0.05 s run on 2 cores: 0.8 cores).
    pub fn busy(&self, threshold: f64) -> bool {
        self.other_cores - self.resolution_cores() > threshold * self.cores as f64
    }

    /// How coarse `other_cores` is over this interval, in cores: `/proc`'s CPU times move in
    /// whole ticks (`USER_HZ`), so each end of the interval can be off by up to one tick
    /// per CPU. Negligible over seconds (0.004 cores over 10 s on 2 cores), large over
    /// tens of milliseconds.
    pub fn resolution_cores(&self) -> f64 {
        2.0 * self.cores as f64 / ticks_per_second() / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One line for a report, e.g. `other processes used 1.3 of 2 cores`.
    pub fn describe(&self) -> String {
        format!(
            "other processes used {:.2} of {} cores (this run {:.2}) over {:.1} s",
            self.other_cores,
            self.cores,
            self.own_cores,
            self.elapsed.as_secs_f64()
        )
    }
}

impl CpuSampler {
    /// Starts sampling this process and its descendants.
    pub fn start() -> Result<CpuSampler, MachineError> {
        CpuSampler::start_for(std::process::id())
    }

    /// Starts sampling the process `root` and its descendants.
    pub fn start_for(root: u32) -> Result<CpuSampler, MachineError> {
        Ok(CpuSampler {
            root,
            start: snapshot(root)?,
        })
    }

    /// Ends the interval and returns what was used in it.
    pub fn finish(self) -> Result<CpuUse, MachineError> {
        let end = snapshot(self.root)?;
        let elapsed = end.at.duration_since(self.start.at);
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let ticks = ticks_per_second();
        let to_cores = |from: u64, to: u64| to.saturating_sub(from) as f64 / ticks / seconds;
        let all_cores = to_cores(self.start.machine_busy, end.machine_busy);
        let own_cores = to_cores(self.start.own, end.own);
        Ok(CpuUse {
            elapsed,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            all_cores,
            own_cores,
            other_cores: (all_cores - own_cores).max(0.0),
        })
    }
}

/// `USER_HZ`: the unit of /proc's CPU times. Linux fixes it at 100 for user space on every
/// architecture the lab runs on (`sysconf(_SC_CLK_TCK)`), and reading it would need libc.
fn ticks_per_second() -> f64 {
    100.0
}

fn snapshot(root: u32) -> Result<Snapshot, MachineError> {
    let at = Instant::now();
    let stat = read("/proc/stat")?;
    let machine_busy = parse_machine_busy(&stat).ok_or_else(|| MachineError::Format {
        path: "/proc/stat".to_owned(),
        problem: "no `cpu` line with at least 8 counters".to_owned(),
    })?;
    let processes = all_processes();
    Ok(Snapshot {
        at,
        machine_busy,
        own: tree_ticks(root, &processes),
    })
}

fn read(path: &str) -> Result<String, MachineError> {
    std::fs::read_to_string(path).map_err(|source| MachineError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The busy ticks of the aggregate `cpu` line: everything but idle and iowait.
fn parse_machine_busy(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
    Some(values[0] + values[1] + values[2] + values[5] + values[6] + values[7])
}

/// What one `/proc/<pid>/stat` says: parent, and CPU ticks (own and reaped children's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcessTicks {
    parent: u32,
    own: u64,
    reaped_children: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may contain spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_process_stat(text: &str) -> Option<ProcessTicks> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(ProcessTicks {
        parent: u32::try_from(field(4)?).ok()?,
        own: field(14)? + field(15)?,
        reaped_children: field(16)? + field(17)?,
    })
}

fn all_processes() -> HashMap<u32, ProcessTicks> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            // A process may exit between the listing and the read: skip it.
            let text =
                std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
                    .ok()?;
            Some((pid, parse_process_stat(&text)?))
        })
        .collect()
}

/// Ticks used by `root` and its live descendants, plus what their reaped children used.
fn tree_ticks(root: u32, processes: &HashMap<u32, ProcessTicks>) -> u64 {
    let mut in_tree = HashSet::from([root]);
    // Parents usually have lower pids, but pids wrap: repeat until nothing is added
    // (bounded by the number of processes).
    for _ in 0..processes.len() {
        let before = in_tree.len();
        for (pid, ticks) in processes {
            if in_tree.contains(&ticks.parent) {
                in_tree.insert(*pid);
            }
        }
        if in_tree.len() == before {
            break;
        }
    }
    in_tree
        .iter()
        .filter_map(|pid| processes.get(pid))
        .map(|t| t.own + t.reaped_children)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregate_cpu_line_counts_everything_but_idle_and_iowait() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n";
        assert_eq!(parse_machine_busy(stat), Some(100 + 5 + 50 + 3 + 2 + 1));
        assert_eq!(parse_machine_busy("cpu  1 2 3\n"), None, "too few counters");
        assert_eq!(parse_machine_busy("intr 5\n"), None, "no cpu line");
    }

    #[test]
    fn a_process_stat_with_spaces_and_parentheses_in_its_name_parses() {
        let text = "4242 (tricky) name (x)) S 17 4242 4242 0 -1 4194304 100 0 0 0 \
                    250 30 7 3 20 0 1 0 5000 100000 200 18446744073709551615";
        let ticks = parse_process_stat(text).expect("parses");
        assert_eq!(
            ticks,
            ProcessTicks {
                parent: 17,
                own: 280,
                reaped_children: 10
            }
        );
        assert_eq!(parse_process_stat("garbage"), None);
    }

    #[test]
    fn a_tree_sums_its_descendants_and_nothing_else() {
        let p = |parent, own| ProcessTicks {
            parent,
            own,
            reaped_children: 1,
        };
        let processes = HashMap::from([
            (10, p(1, 100)),
            (11, p(10, 20)),
            (12, p(11, 3)),
            (20, p(1, 5000)),
        ]);
        assert_eq!(tree_ticks(10, &processes), 100 + 20 + 3 + 3);
        assert_eq!(tree_ticks(20, &processes), 5001);
    }

    #[test]
    fn busy_compares_other_processes_with_a_share_of_the_machine() {
        let use_with = |other| CpuUse {
            elapsed: Duration::from_secs(1),
            cores: 2,
            all_cores: 1.5,
            own_cores: 1.5 - other,
            other_cores: other,
        };
        assert!(use_with(0.9).busy(0.25));
        assert!(!use_with(0.3).busy(0.25));
        assert!(use_with(0.9).describe().contains("0.90 of 2 cores"));
    }

    /// Regression: a concurrent run of 0.05 s was flagged busy on a few stray ticks.
    #[test]
    fn a_short_interval_is_flagged_only_beyond_its_tick_resolution() {
        let use_over = |seconds, other| CpuUse {
            elapsed: Duration::from_secs_f64(seconds),
            cores: 2,
            all_cores: 1.0 + other,
            own_cores: 1.0,
            other_cores: other,
        };
        assert!((use_over(0.05, 0.0).resolution_cores() - 0.8).abs() < 1e-9);
        assert!(!use_over(0.05, 1.2).busy(0.25), "within 0.8 + 0.5 cores");
        assert!(use_over(0.05, 1.4).busy(0.25));
        assert!(
            use_over(10.0, 0.6).busy(0.25),
            "0.004 cores of noise over 10 s"
        );
    }
}
