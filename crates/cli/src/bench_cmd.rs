//! `latency bench`: measure a URL the way the original study's `latency.py` did, and the
//! way the best load generators do.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use crate::json_out::JsonOut;
use latency_bench::{BenchConfig, BenchError, CounterCheckMode, Report, Stop, Verdict, Warmup};

const BENCH_HELP: &str = "\
Load models:
  latency bench URL [N] | -n N     N requests (default 1000) one after another over one
                                   keep-alive connection: the original study's latency.py.
  -c C (--concurrency C)           closed loop: C connections, each sending its next
                                   request as soon as its previous one is answered.
  --rate R [-c C]                  open loop: requests scheduled at R per second IN TOTAL
                                   (not per connection), shared by the C connections.
                                   Latency is measured from each request's scheduled send
                                   time, so a stall that delays later requests shows
                                   (corrected for coordinated omission); the latency from
                                   the actual send is printed beside it as uncorrected.
                                   Give enough connections to sustain R at the server's
                                   latency (C ≥ R × latency in s); the achieved rate is
                                   printed as throughput.

Output (stdout):
  first line   the mean of every answered measured request in ms, cold start included,
               exactly as latency.py printed it, e.g. `13.02ms`;
  then         min, mean, stdev, p50, p90, p99, p99.9, max of the warm requests; the
               first request apart as the cold start (its connect included); throughput;
               status codes; errors by kind; the counter check.
  The latency table and the percentile ladder (50% … 99.99%, 100%) scale their unit
  (µs, ms, s) to the value; the JSON keeps ms.
  --csv        a CSV header (none with --no-header) and one row, rounded, instead; --json FILE also writes the full Report
               (schema: crates/bench/schema/) for `latency report`; --json - writes it to
               stdout, and the summary or CSV then goes to stderr.
  A progress bar is drawn on stderr when it is a terminal.

Counter check (on when the 2xx bodies are integers, as GET /hits returns):
  the values must be distinct and, over the run, contiguous. Duplicates mean lost
  updates (a non-atomic store under concurrency); gaps not explained by failed requests
  fail too. Warm-up values are checked as well. Assumes no other client increments the
  counter during the run.

Thresholds (k6-style; each crossed one prints one line and makes the exit code 1):
  --max-p99 5ms           the warm p99 must be at most 5 ms (0.5ms, 250us, 1.5s work);
  --max-error-rate 0.1%   at most 0.1% of requests may fail (or a fraction: 0.001);
                          the default is 0: any failed request fails the run.

Exit codes:
  0  all well;
  1  a threshold crossed (--max-error-rate, --max-p99), a failed counter check, or the
     URL unreachable (a one-line error names it);
  2  usage error, such as a malformed URL or flag.

Examples:
  latency bench http://127.0.0.1:8000/hits 1000
  latency bench http://127.0.0.1:8000/hits -c 64 --duration 10s --warmup 1s
  latency bench http://127.0.0.1:8000/hits -n 10000 -c 8 --max-p99 5ms --max-error-rate 0.1%
  latency bench http://127.0.0.1:8000/hits --rate 2000 -c 16 --duration 30s --json run.json
  latency bench http://127.0.0.1:8000/ --no-keepalive --label 'page, cold connections'
  latency bench https://abc123.execute-api.eu-west-2.amazonaws.com/hits 1000   # from outside
  latency bench https://staging.internal/hits --cacert staging-ca.pem
  latency bench http://ALB/hits 1000 --via-lambda latency-bench          # from inside the region
  latency bench http://ALB/hits 100000 -c 64 --via-lambda latency-bench --fanout 8";

/// Flags of `latency bench`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = BENCH_HELP)]
pub(crate) struct BenchArgs {
    /// The http:// or https:// URL to GET, e.g. http://127.0.0.1:8000/hits or an API
    /// Gateway URL. Credentials (user:pw@) are sent as Basic auth and always shown as
    /// user:***@. https verifies the certificate against the system's trust store (and
    /// --cacert).
    url: String,

    /// For https://: also trust the certificates in this PEM file (a private CA, or a
    /// staging server's self-signed certificate). There is no switch to skip
    /// verification.
    #[arg(long, value_name = "FILE", conflicts_with = "via_lambda")]
    cacert: Option<std::path::PathBuf>,

    /// Number of measured requests [default: 1000, like the original latency.py]; the
    /// same as -n N.
    #[arg(value_name = "N", conflicts_with = "duration")]
    requests_positional: Option<u64>,

    /// Number of measured requests [default: 1000].
    #[arg(
        short = 'n',
        long = "requests",
        value_name = "N",
        conflicts_with_all = ["duration", "requests_positional"]
    )]
    requests: Option<u64>,

    /// Concurrent connections. Without --rate, each sends its next request as soon as its
    /// previous one is answered (closed loop). `--connections` is an old spelling.
    #[arg(
        short = 'c',
        long = "concurrency",
        alias = "connections",
        default_value_t = 1,
        value_name = "C"
    )]
    concurrency: usize,

    /// Open loop: the TOTAL target rate in requests per second, shared by all connections
    /// (not per connection). Latency is then corrected for coordinated omission.
    #[arg(long, value_name = "REQ_PER_S")]
    rate: Option<f64>,

    /// Measure for this long instead of N requests (e.g. 10s, 1m).
    #[arg(short = 'd', long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,

    /// Warm-up before measuring, not counted in any figure: a number of requests (100) or
    /// a duration (2s).
    #[arg(long, value_parser = parse_warmup, value_name = "N|DURATION")]
    warmup: Option<Warmup>,

    /// Per-request timeout, connect included; a request past it counts as a `timeout`
    /// error.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// Open a new connection for every request (and send `Connection: close`).
    #[arg(long)]
    no_keepalive: bool,

    /// Do not check the counter values.
    #[arg(long)]
    no_counter_check: bool,

    #[command(flatten)]
    json: crate::json_out::JsonArg,

    /// Print a CSV header and one row on stdout instead of the human summary. Latencies
    /// are in ms to 4 decimals (0.1 µs).
    #[arg(long)]
    csv: bool,

    /// With --csv, leave out the header: rows of several runs then append to one file.
    #[arg(long, requires = "csv")]
    no_header: bool,

    /// What is being measured (e.g. the architecture), shown in reports.
    #[arg(long, value_name = "NAME")]
    label: Option<String>,

    /// Fail (exit 1) when more than this share of requests fail: 0.01 or 1%. Failures are
    /// transport errors, timeouts and 4xx/5xx answers.
    #[arg(long, default_value = "0", value_parser = parse_fraction, value_name = "RATE")]
    max_error_rate: f64,

    /// Measure from inside the region: invoke this bench Lambda (name or ARN; the
    /// bench_function output of deploy/terraform), which runs the same engine and returns
    /// its Report.
    #[arg(long, value_name = "FUNCTION")]
    via_lambda: Option<String>,

    /// With --via-lambda: K invocations at once, each driving 1/K of the load (requests,
    /// -c and --rate are divided); their Reports are merged.
    #[arg(long, value_name = "K", default_value_t = 1, requires = "via_lambda")]
    fanout: usize,

    /// With --via-lambda: the Lambda API endpoint, for a local function platform's Invoke
    /// API (default: AWS's, for the region of the standard AWS configuration).
    #[arg(long, value_name = "URL", requires = "via_lambda")]
    lambda_endpoint: Option<String>,
    /// Fail (exit 1) when the p99 of the warm requests is above this, e.g. 5ms, 0.5ms,
    /// 250us (a k6-style threshold). A run with no answered warm request fails it too.
    #[arg(long, value_parser = parse_latency, value_name = "DURATION")]
    max_p99: Option<Duration>,
}

fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(if n == 0 {
            Warmup::None
        } else {
            Warmup::Requests(n)
        });
    }
    humantime::parse_duration(s)
        .map(|d| {
            if d.is_zero() {
                Warmup::None
            } else {
                Warmup::Duration(d)
            }
        })
        .map_err(|e| format!("expected a number of requests or a duration like 2s ({e})"))
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a fraction like 0.01 or a percentage like 1%, not `{s}`"))?;
    let v = v / scale;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 1 (0% and 100%)"))
    }
}

fn config(args: &BenchArgs) -> Result<BenchConfig, BenchError> {
    let mut config = BenchConfig::new(&args.url).map_err(|e| match e {
        BenchError::InvalidUrl { url, reason } if !url.contains("://") => BenchError::InvalidUrl {
            url,
            reason: format!("{reason} (write it as http://HOST:PORT/PATH or https://…)"),
        },
        e => e,
    })?;
    config.connections = args.concurrency;
    config.rate = args.rate;
    config.stop = match (args.duration, args.requests.or(args.requests_positional)) {
        (Some(d), _) => Stop::Duration(d),
        (None, n) => Stop::Requests(n.unwrap_or(1000)),
    };
    config.warmup = args.warmup.unwrap_or_default();
    config.timeout = args.timeout;
    config.keepalive = !args.no_keepalive;
    config.counter_check = if args.no_counter_check {
        CounterCheckMode::Off
    } else {
        CounterCheckMode::Auto
    };
    config.label = args.label.clone();
    config.ca_file = args.cacert.clone();
    config.validate()?;
    Ok(config)
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(function) = &args.via_lambda {
        let report = via_lambda(&config, function, &args)?;
        return finish(&args, report);
    }
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(&config));
    let report = crate::runtime::block_on(async {
        let on_progress = |p: &latency_bench::Progress| {
            if let Some(bar) = &bar {
                update_bar(bar, p);
            }
        };
        latency_bench::run_with_progress(config, on_progress)
            .await
            // The error's message already includes its cause; one line, naming the URL.
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    finish(&args, report)
}

#[cfg(feature = "lambda-bench")]
fn via_lambda(config: &BenchConfig, function: &str, args: &BenchArgs) -> anyhow::Result<Report> {
    let via = crate::fanout::Via {
        function: function.to_owned(),
        fanout: args.fanout,
        endpoint: args.lambda_endpoint.clone(),
        region: None,
    };
    crate::runtime::block_on(crate::fanout::run(config, &via))
}

#[cfg(not(feature = "lambda-bench"))]
fn via_lambda(_: &BenchConfig, _: &str, _: &BenchArgs) -> anyhow::Result<Report> {
    anyhow::bail!("--via-lambda needs the `lambda-bench` cargo feature (on in the released binary)")
}

/// Prints the Report, writes --json, and turns the checks into the exit code.
fn finish(args: &BenchArgs, report: Report) -> anyhow::Result<ExitCode> {
    let human = if args.csv {
        let row = latency_bench::render::csv_row(&report);
        if args.no_header {
            format!("{row}\n")
        } else {
            format!("{}\n{row}\n", latency_bench::render::CSV_HEADER)
        }
    } else {
        latency_bench::render::summary(&report)
    };
    // `--label` may hold anything: no control character reaches a terminal.
    let human = latency_bench::render::printable(&human);
    // With the Report on stdout, stdout stays pure JSON and the human output moves.
    if args.json.json.as_ref().is_some_and(JsonOut::is_stdout) {
        eprint!("{human}");
    } else {
        print!("{human}");
    }
    if let Some(out) = &args.json.json {
        out.write(&report.to_json())?;
    }
    Ok(verdict(&report, args.max_error_rate, args.max_p99))
}

/// Exit 1 with one line per reason when the run failed its checks.
fn verdict(report: &Report, max_error_rate: f64, max_p99: Option<Duration>) -> ExitCode {
    let r = &report.results;
    let mut failed = false;
    if let Some(max) = max_p99 {
        let limit_ms = max.as_secs_f64() * 1e3;
        match &r.latency {
            Some(s) if s.p99_ms <= limit_ms => {}
            Some(s) => {
                eprintln!(
                    "error: p99 latency {} is above --max-p99 {}",
                    latency_bench::units::duration_ms(s.p99_ms),
                    latency_bench::units::duration_ms(limit_ms)
                );
                failed = true;
            }
            None => {
                eprintln!("error: no warm request was answered, so --max-p99 cannot hold");
                failed = true;
            }
        }
    }
    if r.error_rate > max_error_rate {
        eprintln!(
            "error: {} of {} requests failed ({:.2}%), above --max-error-rate {}%",
            r.error_count(),
            r.requests,
            r.error_rate * 100.0,
            max_error_rate * 100.0
        );
        failed = true;
    }
    if r.counter.verdict == Verdict::Fail {
        eprintln!("error: counter check failed: {}", r.counter.note);
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn progress_bar(config: &BenchConfig) -> indicatif::ProgressBar {
    let template = match config.stop {
        Stop::Requests(_) => "{bar:40.cyan/blue} {pos}/{len} requests · {msg} · {elapsed}",
        // Our own seconds in {msg}, not indicatif's {duration}: that one is an ETA
        // estimate, which jumped (1s/23m, 2s/41s, 5s/5s) while the warm-up ran.
        Stop::Duration(_) => "{bar:40.cyan/blue} {msg}",
    };
    let bar = indicatif::ProgressBar::new(bar_length(config));
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// The bar's length: requests for a count, else milliseconds of the whole run, a
/// timed warm-up included, so that the total never changes while the run goes on.
fn bar_length(config: &BenchConfig) -> u64 {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    match (config.stop, config.warmup) {
        (Stop::Requests(n), _) => n,
        (Stop::Duration(d), Warmup::Duration(w)) => ms(d).saturating_add(ms(w)),
        (Stop::Duration(d), _) => ms(d),
    }
}

/// Where the bar stands: completed requests for a count; for a duration, time since
/// the start (a timed warm-up included) or since measuring began (after a counted
/// warm-up), never past `len`.
fn bar_position(p: &latency_bench::Progress, len: u64) -> u64 {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let pos = match (p.total, p.warmup_planned) {
        (Some(_), _) => p.completed,
        (None, Some(_)) => ms(p.since_start),
        (None, None) => ms(p.elapsed),
    };
    pos.min(len)
}

pub(crate) fn update_bar(bar: &indicatif::ProgressBar, p: &latency_bench::Progress) {
    let counts = if p.completed == 0 && p.warmup_completed > 0 {
        format!("warming up ({})", p.warmup_completed)
    } else {
        let p99 = p.p99.map_or_else(String::new, |d| {
            format!(
                ", p99 {}",
                latency_bench::units::duration_ms(d.as_secs_f64() * 1e3)
            )
        });
        format!("{} done, {} errors{p99}", p.completed, p.errors)
    };
    let len = bar.length().unwrap_or(0);
    let pos = bar_position(p, len);
    bar.set_position(pos);
    match p.total {
        Some(_) => bar.set_message(counts),
        #[allow(clippy::cast_precision_loss)] // milliseconds of a run: far below 2^52
        None => bar.set_message(format!(
            "{:.1}s/{:.1}s · {counts}",
            pos as f64 / 1000.0,
            len as f64 / 1000.0
        )),
    }
}

/// The `--max-p99` threshold: a duration with a unit, fractions allowed (`5ms`,
/// `0.5ms`, `250us`, `250µs`, `1.5s`).
fn parse_latency(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return Err(format!("`{s}` needs a unit: ns, us, ms or s (e.g. 5ms)")),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 5ms or 0.5ms"))?;
    Duration::try_from_secs_f64(v * scale)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}` is not a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_a_count_or_a_duration() {
        assert_eq!(parse_warmup("100"), Ok(Warmup::Requests(100)));
        assert_eq!(
            parse_warmup("2s"),
            Ok(Warmup::Duration(Duration::from_secs(2)))
        );
        assert_eq!(parse_warmup("0"), Ok(Warmup::None));
        assert!(parse_warmup("soon").is_err());
    }

    #[test]
    fn latency_thresholds_take_units_and_fractions() {
        assert_eq!(parse_latency("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_latency("0.5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_latency("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_latency("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["5", "ms", "0ms", "-1ms", "5 parsecs"] {
            assert!(parse_latency(bad).is_err(), "{bad}");
        }
    }

    fn progress(
        since_start_ms: u64,
        elapsed_ms: u64,
        warmup: Option<u64>,
    ) -> latency_bench::Progress {
        latency_bench::Progress {
            warmup_completed: 0,
            completed: 0,
            total: None,
            errors: 0,
            elapsed: Duration::from_millis(elapsed_ms),
            planned: Some(Duration::from_secs(4)),
            since_start: Duration::from_millis(since_start_ms),
            warmup_planned: warmup.map(Duration::from_millis),
            p99: None,
        }
    }

    #[test]
    fn a_timed_run_with_a_warmup_has_one_total_and_a_position_that_only_grows() {
        let mut config = BenchConfig::new("http://127.0.0.1:1/hits").expect("url");
        config.stop = Stop::Duration(Duration::from_secs(4));
        config.warmup = Warmup::Duration(Duration::from_secs(1));
        let len = bar_length(&config);
        assert_eq!(len, 5_000, "warm-up plus duration");
        // During the warm-up the measured clock is at zero; the bar still moves.
        let mut last = 0;
        for (since, elapsed) in [(0, 0), (500, 0), (1_000, 0), (1_200, 150), (5_100, 4_050)] {
            let pos = bar_position(&progress(since, elapsed, Some(1_000)), len);
            assert!(pos >= last && pos <= len, "{pos} after {last}");
            last = pos;
        }
        assert_eq!(last, len);
        config.warmup = Warmup::Requests(100);
        assert_eq!(
            bar_length(&config),
            4_000,
            "a counted warm-up has no duration"
        );
        assert_eq!(bar_position(&progress(900, 0, None), 4_000), 0);
    }

    #[test]
    fn error_rates_are_fractions_or_percentages() {
        assert_eq!(parse_fraction("0.01"), Ok(0.01));
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-1").is_err());
    }
}
