//! What a lab run leaves behind, looked up by the lab's pid: its cgroup directories and
//! its Redis keys (both carry the pid in their names).

/// The cgroup directories named after `pid` (`latency-lab-PID-…`,
/// `latency-platform-PID-…`) anywhere in the cpu and memory hierarchies.
pub fn cgroups_of(pid: u32) -> Vec<String> {
    let prefixes = [
        format!("latency-lab-{pid}-"),
        format!("latency-platform-{pid}-"),
    ];
    let mut found = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory"]
        .iter()
        .map(Into::into)
        .collect();
    // Bounded walk: the lab's groups sit beside the test's own, a few levels down.
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                found.push(entry.path().display().to_string());
            } else {
                stack.push(entry.path());
            }
        }
    }
    found
}

pub fn redis_keys_of(pid: u32) -> Vec<String> {
    let client = redis::Client::open("redis://127.0.0.1:6379/0").expect("redis URL");
    let mut connection = client.get_connection().unwrap_or_else(|err| {
        panic!(
            "Redis is needed on 127.0.0.1:6379 ({err}); start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
        )
    });
    redis::cmd("KEYS")
        .arg(format!("latency-lab-{pid}-*"))
        .query(&mut connection)
        .expect("KEYS")
}
