"""Shared by the benchmark scripts (bench-serve, bench-loadgen, bench-period): starting a
server that announces its address, and how busy the machine was.

A benchmark's timings mean little if other processes competed for the CPU while they
were taken. LoadSampler samples, once a second while the timings run, the CPU used by
every process *except* the benchmark's own (this script, its children such as wrk or
`latency bench`, and the servers it started), from /proc/stat and /proc/PID/stat.
"""
import os
import re
import statistics
import subprocess
import sys
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def start_server(cmd, stderr=subprocess.DEVNULL):
    """Starts `cmd`, a server that prints `listening on [http://]ADDR` as its first line
    (RUST_LOG=warn, so that logs stay out of the way); returns (process, ADDR). Anything
    else on that line ends the script with a message naming the program."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env={**os.environ, "RUST_LOG": "warn"})
    line = proc.stdout.readline().strip()
    match = re.match(r"listening on (?:http://)?(\S+)$", line)
    if not match:
        proc.kill()
        script = os.path.basename(sys.argv[0])
        sys.exit(f"{script}: {cmd[0]} printed {line!r}, not its address")
    return proc, match.group(1)


def machine_busy_jiffies():
    """Busy (non-idle, non-iowait) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle


def process_jiffies(pid):
    """utime + stime of a live process, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        return 0


def live_children():
    """PIDs of this script's running child processes (wrk while it runs)."""
    me, kids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def own_jiffies(pids):
    """CPU of this script, its children (reaped, or still running like wrk) and its
    servers. A child's CPU moves from "running" to "reaped" when it exits, so the sum
    does not jump."""
    me = os.times()
    total = me.user + me.system + me.children_user + me.children_system
    live = set(pids) | set(live_children())
    return total * CLK_TCK + sum(process_jiffies(pid) for pid in live)


def descendants(root):
    """Every live process below `root` (children, grandchildren, ...)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class LoadSampler:
    """Samples, once a second, the share of the machine's CPU used by processes other
    than this benchmark's own, so a report can say whether its timings were disturbed."""

    def __init__(self, pids):
        self.pids = pids
        self.samples = []  # other processes' CPU, in cores, per second
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def own_pids(self):
        """The benchmark's own processes: a list, or a callable returning one (for
        processes that come and go, such as a platform's function instances)."""
        return self.pids() if callable(self.pids) else self.pids

    def run(self):
        busy, own = machine_busy_jiffies(), own_jiffies(self.own_pids())
        while not self.stop.wait(1.0):
            busy2, own2 = machine_busy_jiffies(), own_jiffies(self.own_pids())
            self.samples.append(max(0.0, ((busy2 - busy) - (own2 - own)) / CLK_TCK))
            busy, own = busy2, own2

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def summary(self):
        cores = os.cpu_count()
        if not self.samples:
            return "machine load: no samples", False
        med = statistics.median(self.samples)
        high = sorted(self.samples)[int(0.9 * (len(self.samples) - 1))]
        busy = med > 0.1 * cores
        verdict = ("BUSY: other processes competed for the CPU; the timings below are "
                   "disturbed (the callgrind figures are not)") if busy else "quiet"
        return (f"machine load: other processes used a median {med:.2f} of {cores} cores "
                f"(90th percentile {high:.2f}) over {len(self.samples)} one-second samples, "
                f"load average {os.getloadavg()[0]:.1f}: {verdict}."), busy
