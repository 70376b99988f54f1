//! The bench engine alone, as `latency bench URL -n N -c C` runs it (the same
//! `latency_bench::run`, on a multi-threaded runtime with one worker per core), without
//! the CLI. It builds in a fraction of the time of the `latency` binary, which matters
//! for measuring the engine with callgrind on a busy machine.
//!
//! engine_only URL N C   prints `requests throughput_rps p50_ms` on one line

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, n, c] = args.as_slice() else {
        return Err("usage: engine_only URL N C".into());
    };
    let mut plan = latency_bench::BenchConfig::new(url)?;
    plan.stop = latency_bench::Stop::Requests(n.parse()?);
    plan.connections = c.parse()?;
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(latency_bench::run(plan))?;
    let r = &report.results;
    println!(
        "{} {:.0} {:.4}",
        r.requests,
        r.throughput_rps,
        r.latency.as_ref().map_or(f64::NAN, |s| s.p50_ms)
    );
    Ok(())
}
