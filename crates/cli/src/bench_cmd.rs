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
  --csv        a CSV header and one row instead; --json FILE also writes the full Report
               (schema: crates/bench/schema/) for `latency report`; --json - writes it to
               stdout, and the summary or CSV then goes to stderr.
  A progress bar is drawn on stderr when it is a terminal.

Counter check (on when the 2xx bodies are integers, as GET /hits returns):
  the values must be distinct and, over the run, contiguous. Duplicates mean lost
  updates (a non-atomic store under concurrency); gaps not explained by failed requests
  fail too. Warm-up values are checked as well. Assumes no other client increments the
  counter during the run.

Exit codes:
  0  all well;
  1  more failed requests than --max-error-rate, a failed counter check, or the URL
     unreachable (a one-line error names it);
  2  usage error, such as a malformed URL.

Examples:
  latency bench http://127.0.0.1:8000/hits 1000
  latency bench http://127.0.0.1:8000/hits -c 64 --duration 10s --warmup 1s
  latency bench http://127.0.0.1:8000/hits --rate 2000 -c 16 --duration 30s --json run.json
  latency bench http://127.0.0.1:8000/ --no-keepalive --label 'page, cold connections'";

/// Flags of `latency bench`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = BENCH_HELP)]
pub(crate) struct BenchArgs {
    /// The http:// URL to GET, e.g. http://127.0.0.1:8000/hits. Credentials
    /// (user:pw@) are sent as Basic auth and always shown as user:***@.
    url: String,

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

    /// Also write the full Report as JSON to FILE; `-` (or no value) writes it to stdout,
    /// and the human summary then goes to stderr.
    #[arg(
        long,
        value_name = "FILE|-",
        num_args = 0..=1,
        default_missing_value = "-",
        value_parser = crate::json_out::parse
    )]
    json: Option<JsonOut>,

    /// Print a CSV header and one row on stdout instead of the human summary.
    #[arg(long)]
    csv: bool,

    /// What is being measured (e.g. the architecture), shown in reports.
    #[arg(long, value_name = "NAME")]
    label: Option<String>,

    /// Fail (exit 1) when more than this share of requests fail: 0.01 or 1%. Failures are
    /// transport errors, timeouts and 4xx/5xx answers.
    #[arg(long, default_value = "0", value_parser = parse_fraction, value_name = "RATE")]
    max_error_rate: f64,
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
            reason: format!("{reason} (write it as http://HOST:PORT/PATH)"),
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

    let human = if args.csv {
        format!(
            "{}\n{}\n",
            latency_bench::render::CSV_HEADER,
            latency_bench::render::csv_row(&report)
        )
    } else {
        latency_bench::render::summary(&report)
    };
    // With the Report on stdout, stdout stays pure JSON and the human output moves.
    if args.json.as_ref().is_some_and(JsonOut::is_stdout) {
        eprint!("{human}");
    } else {
        print!("{human}");
    }
    if let Some(out) = &args.json {
        out.write(&report.to_json())?;
    }
    Ok(verdict(&report, args.max_error_rate))
}

/// Exit 1 with one line per reason when the run failed its checks.
fn verdict(report: &Report, max_error_rate: f64) -> ExitCode {
    let r = &report.results;
    let mut failed = false;
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

fn progress_bar(config: &BenchConfig) -> indicatif::ProgressBar {
    let (len, template) = match config.stop {
        Stop::Requests(n) => (
            n,
            "{bar:40.cyan/blue} {pos}/{len} requests · {msg} · {elapsed}",
        ),
        Stop::Duration(d) => (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "{bar:40.cyan/blue} {msg} · {elapsed}/{duration}",
        ),
    };
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn update_bar(bar: &indicatif::ProgressBar, p: &latency_bench::Progress) {
    let warm = if p.completed == 0 && p.warmup_completed > 0 {
        format!("warming up ({})", p.warmup_completed)
    } else {
        format!("{} done, {} errors", p.completed, p.errors)
    };
    bar.set_message(warm);
    match (p.total, p.planned) {
        (Some(_), _) => bar.set_position(p.completed),
        (None, Some(planned)) => {
            let ms = p.elapsed.min(planned).as_millis();
            bar.set_position(u64::try_from(ms).unwrap_or(u64::MAX));
        }
        (None, None) => {}
    }
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
    fn error_rates_are_fractions_or_percentages() {
        assert_eq!(parse_fraction("0.01"), Ok(0.01));
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-1").is_err());
    }
}
