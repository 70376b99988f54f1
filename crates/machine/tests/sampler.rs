//! The sampler on this machine's real /proc: a child that spins counts as this run's own
//! CPU, not as another process's.

use std::process::Command;
use std::time::{Duration, Instant};

use latency_machine::CpuSampler;

#[test]
fn a_spinning_child_counts_as_this_runs_own_cpu() {
    let sampler = CpuSampler::start().expect("/proc is readable");
    let mut child = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .expect("spawn a busy child");
    // Wait until the child has used some CPU (bounded: 20 s), however loaded the machine.
    let deadline = Instant::now() + Duration::from_secs(20);
    let ticks = || {
        std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .ok()
            .and_then(|s| {
                let rest = s[s.rfind(')')? + 1..].to_owned();
                rest.split_whitespace().nth(11)?.parse::<u64>().ok()
            })
            .unwrap_or(0)
    };
    while ticks() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let used = ticks();
    let cpu = sampler.finish().expect("second sample");
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    assert!(used >= 10, "the child never got CPU in 20 s");
    // At least the child's own ticks (10 ms each) over the interval.
    let child_cores = used as f64 / 100.0 / cpu.elapsed.as_secs_f64();
    assert!(
        cpu.own_cores >= child_cores * 0.99,
        "own {:.3} cores, the child alone {:.3}",
        cpu.own_cores,
        child_cores
    );
    assert!(cpu.other_cores >= 0.0 && cpu.all_cores + 1e-9 >= cpu.own_cores - 0.05);
}
