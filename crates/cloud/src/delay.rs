//! A hop's added latency as a distribution to draw from.

use std::time::Duration;

/// z of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874;

/// A latency distribution: a constant floor (a fixed round trip, which no request can
/// beat) plus a log-normal part through a given p50 and p99 (latencies above the floor
/// are positive and right-skewed; two quantiles fix a log-normal).
///
/// Contract: every draw is at least [`Delay::floor_ms`], and folding hops with
/// [`Delay::plus`] adds their floors exactly, so a constant client round trip stays a
/// hard lower bound of a folded path (an earlier version fitted the whole sum with one
/// log-normal, whose lower tail drew below the round trip: CI saw a 14.7 ms request on a
/// 15 ms RTT path).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delay {
    floor_ms: f64,
    /// The median of the log-normal part; 0 means that part is absent.
    spread_p50_ms: f64,
    sigma: f64,
}

impl Delay {
    /// No delay at all.
    pub const ZERO: Delay = Delay {
        floor_ms: 0.0,
        spread_p50_ms: 0.0,
        sigma: 0.0,
    };

    /// The log-normal through `p50_ms` and `p99_ms`, with no floor. The caller has
    /// validated `0 <= p50 <= p99` and both finite ([`crate::CloudProfile`] does).
    /// `p50 == p99` is a constant delay, the same as [`Delay::constant`].
    pub fn from_quantiles(p50_ms: f64, p99_ms: f64) -> Delay {
        if p50_ms <= 0.0 {
            return Delay::ZERO;
        }
        if p99_ms <= p50_ms {
            return Delay::constant(p50_ms);
        }
        Delay {
            floor_ms: 0.0,
            spread_p50_ms: p50_ms,
            sigma: (p99_ms / p50_ms).ln() / Z_P99,
        }
    }

    /// A constant delay: every draw is exactly `ms` (0 or less is [`Delay::ZERO`]).
    pub fn constant(ms: f64) -> Delay {
        Delay {
            floor_ms: ms.max(0.0),
            ..Delay::ZERO
        }
    }

    /// The least any draw can be, ms.
    pub fn floor_ms(&self) -> f64 {
        self.floor_ms
    }

    /// The distribution's median, ms.
    pub fn p50_ms(&self) -> f64 {
        self.floor_ms + self.spread_p50_ms
    }

    /// The distribution's quantile `q` (0 < q < 1), ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.floor_ms + self.spread_quantile_ms(q)
    }

    fn spread_quantile_ms(&self, q: f64) -> f64 {
        if self.spread_p50_ms <= 0.0 {
            return 0.0;
        }
        self.spread_p50_ms * (self.sigma * standard_normal_quantile(q)).exp()
    }

    /// The sum of two independent hops: the floors add exactly; the log-normal parts are
    /// approximated by one log-normal with their summed p50 and p99 (an upper bound on
    /// the p99: the two tails rarely meet). Used to fold a request path's hops into one
    /// delay where they sit on one connection.
    pub fn plus(self, other: Delay) -> Delay {
        let spread = Delay::from_quantiles(
            self.spread_p50_ms + other.spread_p50_ms,
            self.spread_quantile_ms(0.99) + other.spread_quantile_ms(0.99),
        );
        Delay {
            floor_ms: self.floor_ms + other.floor_ms + spread.floor_ms,
            spread_p50_ms: spread.spread_p50_ms,
            sigma: spread.sigma,
        }
    }

    /// One draw, using `rng`: the floor plus a draw of the log-normal part.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        let mut ms = self.floor_ms;
        if self.spread_p50_ms > 0.0 {
            // Box-Muller: two uniforms in (0, 1] give one standard normal. Hand-written
            // because it is four lines and adding rand_distr for it would pull in rand.
            let u1 = 1.0 - rng.f64();
            let u2 = rng.f64();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            ms += self.spread_p50_ms * (self.sigma * z).exp();
        }
        Duration::from_secs_f64(ms / 1000.0)
    }
}

/// Acklam's rational approximation of the standard normal quantile (relative error below
/// 1.2e-9), for reporting a distribution's percentiles.
fn standard_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_back_through_the_fit() {
        let delay = Delay::from_quantiles(4.0, 12.0);
        assert!((delay.quantile_ms(0.5) - 4.0).abs() < 1e-9);
        assert!((delay.quantile_ms(0.99) - 12.0).abs() < 1e-6);
        assert!(delay.quantile_ms(0.9) > 4.0 && delay.quantile_ms(0.9) < 12.0);
    }

    #[test]
    fn samples_follow_the_distribution() {
        let delay = Delay::from_quantiles(4.0, 12.0);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| delay.sample(&mut rng).as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let p50 = draws[10_000];
        let p99 = draws[19_800];
        assert!((p50 - 4.0).abs() < 0.2, "sampled p50 {p50}");
        assert!((p99 - 12.0).abs() < 1.5, "sampled p99 {p99}");
        assert!(draws[0] > 0.0);
    }

    #[test]
    fn a_constant_delay_never_varies_and_zero_is_zero() {
        let mut rng = fastrand::Rng::with_seed(1);
        let constant = Delay::constant(5.0);
        for _ in 0..100 {
            assert_eq!(constant.sample(&mut rng), Duration::from_millis(5));
        }
        assert_eq!(Delay::ZERO.sample(&mut rng), Duration::ZERO);
        assert_eq!(Delay::from_quantiles(0.0, 3.0), Delay::ZERO);
    }

    #[test]
    fn hops_add_up() {
        let path = Delay::constant(2.0).plus(Delay::from_quantiles(3.0, 9.0));
        assert!((path.p50_ms() - 5.0).abs() < 1e-9);
        assert!((path.quantile_ms(0.99) - 11.0).abs() < 1e-6);
    }

    #[test]
    fn a_constant_round_trip_stays_a_hard_floor_of_a_folded_path() {
        // The lab's Fargate + EFS front: a 15 ms round trip, an ALB and four EFS draws.
        let mut path = Delay::constant(15.0);
        path = path.plus(Delay::from_quantiles(1.0, 4.0));
        for _ in 0..4 {
            path = path.plus(Delay::from_quantiles(2.7, 10.0));
        }
        assert!((path.floor_ms() - 15.0).abs() < 1e-9);
        assert!((path.p50_ms() - (15.0 + 1.0 + 4.0 * 2.7)).abs() < 1e-9);
        let mut rng = fastrand::Rng::with_seed(11);
        let least = (0..50_000)
            .map(|_| path.sample(&mut rng).as_secs_f64() * 1000.0)
            .fold(f64::INFINITY, f64::min);
        assert!(
            least >= 15.0,
            "a draw of {least} ms beat the 15 ms round trip"
        );
    }
}
