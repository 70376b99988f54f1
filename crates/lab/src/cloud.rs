//! `latency lab --cloud PROFILE`: each row measured with the cloud's per-hop latencies
//! added as real delays, by [`DelayProxy`] instances the lab starts and stops, and the
//! prediction scored against the original study's table.
//!
//! Where the delays go:
//! - **client → front door**: one proxy in front of the row's URL holds every response
//!   for the client's round trip (`--client-rtt`, a constant) plus the front's own hop:
//!   API Gateway for function rows, an ALB for `fargate-efs`, a LoadBalancer Service for
//!   `k8s`, nothing for EC2 (the client reaches the instance).
//! - **the Lambda invoke path** is folded into that front proxy: the local platform's
//!   front hands the event to the instance inside one process, with no connection a
//!   proxy could sit on.
//! - **compute → store**: one proxy before moto (S3), dynalite (DynamoDB) and Redis each;
//!   every store call of every row pays a draw of the hop.
//! - **EFS** (the `file://` counter) is a file on local disk, not a network endpoint: its
//!   operations are folded into the front proxy, [`EFS_OPERATIONS_PER_REQUEST`] draws per
//!   request.
//!
//! The proxies are started even when a hop adds nothing (`--cloud local`), so a run with
//! `--cloud local --client-rtt 0` measures the proxies' own cost against the direct
//! figures of the same run.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use latency_arch::ArchitectureId;
use latency_bench::Report;
use latency_bench::render::{Spread, format_duration_ms};
use latency_cloud::score::Score;
use latency_cloud::{CloudProfile, Delay, DelayProxy, Hop};

use crate::LabError;
use crate::catalogue::{Architecture, CounterBackend, Deployment, Mode};
use crate::error::Skip;

/// The cloud a lab run predicts: a profile and the client's round trip to its region.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudSetup {
    /// Each hop's latency.
    pub profile: CloudProfile,
    /// The client's round trip to the region, ms: it cannot be known, so it is a
    /// parameter, calibrated on the EC2 row (docs/lab.md, "Calibrating `--client-rtt`").
    pub client_rtt_ms: f64,
}

/// Synchronous file-system operations the `file://` store makes per increment, each an
/// NFS round trip on EFS: open and lock the counter, read it, write and fsync a
/// temporary file, rename it over the counter (latency-store's `FileStore` contract).
pub const EFS_OPERATIONS_PER_REQUEST: u32 = 4;

/// The study's targets: mean absolute percentage error and each row's error, percent.
pub const TARGET_MEAN_PCT: f64 = 20.0;
/// See [`TARGET_MEAN_PCT`].
pub const TARGET_ROW_PCT: f64 = 35.0;

impl CloudSetup {
    /// The line that labels predicted figures: `predicted for eu-west-2, client RTT 12 ms`.
    pub fn headline(&self) -> String {
        format!(
            "predicted for {}, client RTT {} ms",
            self.profile.name,
            trim(self.client_rtt_ms)
        )
    }

    /// The front door's hops for `row`, in path order, and whether each was folded into
    /// the front proxy because it has no connection of its own here.
    fn front_hops(row: &Architecture) -> Vec<(Hop, u32, Option<&'static str>)> {
        let mut hops = match (&row.deployment, row.id) {
            (Deployment::Function { .. }, _) => vec![
                (Hop::ApiGatewayHttp, 1, None),
                (
                    Hop::LambdaInvoke,
                    1,
                    Some(
                        "folded into the front proxy: the platform's front hands the event to the instance in-process",
                    ),
                ),
            ],
            (_, ArchitectureId::FargateEfs) => vec![(Hop::Alb, 1, None)],
            (_, ArchitectureId::K8s | ArchitectureId::K8sEks) => {
                vec![(Hop::KubernetesService, 1, None)]
            }
            _ => Vec::new(),
        };
        if row.counter() == Some(CounterBackend::File) {
            hops.push((
                Hop::Efs,
                EFS_OPERATIONS_PER_REQUEST,
                Some("folded into the front proxy: the file:// counter is on local disk, no network endpoint a proxy could sit on"),
            ));
        }
        hops
    }

    /// The delay the front proxy adds to each response of `row`, and the notes that say
    /// what it is made of.
    pub(crate) fn front(&self, row: &Architecture) -> (Delay, Vec<String>) {
        let mut delay = Delay::constant(self.client_rtt_ms);
        let mut parts = vec![format!("client RTT {} ms", trim(self.client_rtt_ms))];
        let mut folded = Vec::new();
        for (hop, times, fold) in Self::front_hops(row) {
            let hop_delay = self.profile.delay(hop);
            for _ in 0..times {
                delay = delay.plus(hop_delay);
            }
            let times_text = if times > 1 {
                format!("{times} × ")
            } else {
                String::new()
            };
            parts.push(format!("{times_text}{}", describe(hop, hop_delay)));
            if let Some(why) = fold {
                folded.push(format!("{}: {why}", hop.key()));
            }
        }
        let mut notes = vec![format!(
            "cloud {}: client → front door: {} (p50 {}, p99 {} together)",
            self.profile.name,
            parts.join(" + "),
            format_duration_ms(delay.p50_ms()),
            format_duration_ms(delay.quantile_ms(0.99)),
        )];
        notes.extend(
            folded
                .into_iter()
                .map(|line| format!("cloud {}: {line}", self.profile.name)),
        );
        if let Some(hop) = row.counter().and_then(store_hop) {
            notes.push(format!(
                "cloud {}: compute → store: {} per store call, through a delay proxy",
                self.profile.name,
                describe(hop, self.profile.delay(hop))
            ));
        }
        (delay, notes)
    }
}

/// The hop a row's store calls cross, where a proxy can sit on it.
pub(crate) fn store_hop(counter: CounterBackend) -> Option<Hop> {
    match counter {
        CounterBackend::S3(_) => Some(Hop::S3),
        CounterBackend::DynamoDb(_) => Some(Hop::DynamoDb),
        CounterBackend::Redis => Some(Hop::Redis),
        CounterBackend::Memory | CounterBackend::File => None,
    }
}

fn describe(hop: Hop, delay: Delay) -> String {
    format!(
        "{} (p50 {}, p99 {})",
        hop.key(),
        format_duration_ms(delay.p50_ms()),
        format_duration_ms(delay.quantile_ms(0.99))
    )
}

/// `12`, `12.5`: a number of ms without trailing zeros.
fn trim(ms: f64) -> String {
    let text = format!("{ms:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The proxy in front of one row's URL, for the row's cloud runs.
pub(crate) struct FrontProxy {
    proxy: DelayProxy,
    /// What the front proxy and the store proxies add, for every cloud Report.
    pub(crate) notes: Vec<String>,
}

impl FrontProxy {
    /// Starts the proxy before `base_url` (`http://IP:PORT`).
    pub(crate) async fn start(
        setup: &CloudSetup,
        row: &Architecture,
        base_url: &str,
    ) -> Result<FrontProxy, LabError> {
        let upstream = address_of(base_url).ok_or_else(|| LabError::StartFailed {
            what: "cloud front proxy".to_owned(),
            detail: format!("the row's URL is not http://IP:PORT: {base_url}"),
        })?;
        let (delay, notes) = setup.front(row);
        let proxy = DelayProxy::bind(upstream, delay, 0x00c1_0d00)
            .await
            .map_err(|err| LabError::StartFailed {
                what: "cloud front proxy".to_owned(),
                detail: err.to_string(),
            })?;
        Ok(FrontProxy { proxy, notes })
    }

    /// The URL clients use instead of the row's.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.proxy.local_addr())
    }
}

/// `http://IP:PORT[/…]` → `IP:PORT`.
fn address_of(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("http://")?;
    rest.split('/').next()?.parse().ok()
}

/// The store proxies of one lab run: one per store endpoint (moto, dynalite, Redis),
/// started on first use, shared by the rows, stopped with the run.
pub(crate) struct StoreProxies {
    profile: CloudProfile,
    proxies: Vec<(Hop, SocketAddr, DelayProxy)>,
    delays_on: bool,
}

impl StoreProxies {
    pub(crate) fn new(profile: CloudProfile) -> Self {
        Self {
            profile,
            proxies: Vec::new(),
            delays_on: true,
        }
    }

    /// Where to reach `upstream` (`IP:PORT`) across `hop`: a proxy that adds the hop's
    /// delay while the delays are on.
    pub(crate) async fn address(
        &mut self,
        hop: Hop,
        upstream: SocketAddr,
    ) -> Result<SocketAddr, Skip> {
        if let Some((_, _, proxy)) = self
            .proxies
            .iter()
            .find(|(h, up, _)| *h == hop && *up == upstream)
        {
            return Ok(proxy.local_addr());
        }
        let delay = if self.delays_on {
            self.profile.delay(hop)
        } else {
            Delay::ZERO
        };
        let seed = 0x5707_e000 + self.proxies.len() as u64;
        let proxy = DelayProxy::bind(upstream, delay, seed)
            .await
            .map_err(|err| {
                Skip::new(
                    format!("cannot start the {} delay proxy: {err}", hop.key()),
                    "run without --cloud",
                )
            })?;
        let address = proxy.local_addr();
        self.proxies.push((hop, upstream, proxy));
        Ok(address)
    }

    /// Turns every store proxy's delay on (the cloud runs) or off (the local runs).
    pub(crate) fn set_delays(&mut self, on: bool) {
        self.delays_on = on;
        for (hop, _, proxy) in &self.proxies {
            proxy.set_delay(if on {
                self.profile.delay(*hop)
            } else {
                Delay::ZERO
            });
        }
    }

    /// A store endpoint URL (`http://IP:PORT`) through its proxy.
    pub(crate) async fn url(&mut self, hop: Hop, endpoint: &str) -> Result<String, Skip> {
        let upstream = address_of(endpoint).ok_or_else(|| {
            Skip::new(
                format!("the store endpoint is not http://IP:PORT: {endpoint}"),
                "run without --cloud",
            )
        })?;
        Ok(format!("http://{}", self.address(hop, upstream).await?))
    }
}

/// The note of a local run made while the cloud's proxies were in place.
pub(crate) const LOCAL_NOTE: &str =
    "local figures (no cloud delays): store calls pass the lab's delay proxies with nothing added";

/// What each study row is predicted at: the sequential run's average latency (the
/// study's latency.py sent its requests one after another), the median over repeats.
/// For an id with two rows the read-modify-write one is taken: the study's handlers
/// read the counter, then wrote it.
pub(crate) fn predictions<'a>(
    rows: impl IntoIterator<Item = (&'a Architecture, &'a Report, Option<&'a Spread>)>,
) -> BTreeMap<String, f64> {
    let mut predicted = BTreeMap::new();
    for (row, report, spread) in rows {
        let Some(ms) = spread.map(|s| s.median_ms).or(report.results.mean_all_ms) else {
            continue;
        };
        let id = row.id.to_string();
        if row.mode() == Mode::ReadModifyWrite || !predicted.contains_key(&id) {
            predicted.insert(id, ms);
        }
    }
    predicted
}

/// The score as aligned text lines, for the terminal and report.md: one line per study
/// row with the study's figure, the prediction and the signed error, then the mean.
pub fn score_lines(score: &Score, headline: &str) -> Vec<String> {
    let mut lines = vec![
        format!("Score against the original study (its table is the test set; {headline}):"),
        format!(
            "  {:<24} {:>10} {:>11} {:>8}",
            "row", "study", "predicted", "error"
        ),
    ];
    for row in &score.rows {
        lines.push(format!(
            "  {:<24} {:>10} {:>11} {:>+7.1}%",
            row.id,
            format_duration_ms(row.study_ms),
            format_duration_ms(row.predicted_ms),
            row.error_pct
        ));
    }
    match (score.mean_abs_error_pct, score.max_abs_error_pct) {
        (Some(mean), Some(max)) => lines.push(format!(
            "  mean absolute error {mean:.1}% (target ≤ {TARGET_MEAN_PCT}%), largest {max:.1}% (target ±{TARGET_ROW_PCT}%): {}",
            if score.meets(TARGET_MEAN_PCT, TARGET_ROW_PCT) {
                "met"
            } else {
                "NOT met"
            }
        )),
        _ => lines.push("  no measured row is in the study's table".to_owned()),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::catalogue;

    fn row(selector: &str) -> Architecture {
        catalogue()
            .into_iter()
            .find(|row| row.selector() == selector)
            .expect("a row")
    }

    fn eu_west_2(rtt: f64) -> CloudSetup {
        CloudSetup {
            profile: CloudProfile::load("eu-west-2").expect("built-in"),
            client_rtt_ms: rtt,
        }
    }

    #[test]
    fn each_row_gets_its_front_doors_hops() {
        let setup = eu_west_2(12.0);
        let (ec2, notes) = setup.front(&row("ec2"));
        assert_eq!(
            ec2,
            Delay::constant(12.0),
            "EC2: the client's round trip only"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (lambda, notes) = setup.front(&row("lambda-dynamodb"));
        // 12 + API Gateway 5 + invoke 1.
        assert!((lambda.p50_ms() - 18.0).abs() < 1e-9);
        assert!(notes.iter().any(|n| n.contains("lambda-invoke: folded")));
        assert!(
            notes
                .iter()
                .any(|n| n.contains("compute → store: dynamodb"))
        );
        let (fargate, notes) = setup.front(&row("fargate-efs"));
        // 12 + ALB 1 + 4 EFS operations of 2.7.
        assert!((fargate.p50_ms() - (13.0 + 4.0 * 2.7)).abs() < 1e-9);
        assert!(notes.iter().any(|n| n.contains("efs: folded")));
        let (k8s, _) = setup.front(&row("k8s"));
        assert!((k8s.p50_ms() - 12.5).abs() < 1e-9);
        assert_eq!(
            setup.headline(),
            "predicted for eu-west-2, client RTT 12 ms"
        );
        assert_eq!(
            eu_west_2(12.5).headline(),
            "predicted for eu-west-2, client RTT 12.5 ms"
        );
    }

    #[test]
    fn the_local_profile_adds_nothing_but_the_client_round_trip() {
        let local = CloudSetup {
            profile: CloudProfile::load("local").expect("built-in"),
            client_rtt_ms: 0.0,
        };
        assert_eq!(local.front(&row("lambda-s3")).0, Delay::ZERO);
    }

    #[test]
    fn predictions_prefer_the_read_modify_write_row_and_the_median() {
        let report = crate::repeat::tests::report;
        let (atomic, rmw, ec2) = (
            row("lambda-dynamodb"),
            row("lambda-dynamodb?mode=read-modify-write"),
            row("ec2"),
        );
        let (a, b, c) = (report(20.0), report(30.0), report(99.0));
        let spread = Spread {
            median_ms: 13.0,
            min_ms: 12.0,
            max_ms: 15.0,
            runs: 3,
        };
        let predicted = predictions([
            (&rmw, &b, None),
            (&atomic, &a, None),
            (&ec2, &c, Some(&spread)),
        ]);
        assert_eq!(predicted["lambda-dynamodb"], 30.0);
        assert_eq!(predicted["ec2"], 13.0);
        let score = latency_cloud::score::score(&predicted);
        let lines = score_lines(&score, "predicted for eu-west-2, client RTT 12 ms");
        assert!(lines[0].contains("client RTT 12 ms"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("lambda-dynamodb") && l.contains("+15.4%"))
        );
        assert!(
            lines
                .last()
                .expect("a mean")
                .contains("mean absolute error 7.7%")
        );
    }
}
