//! Latency statistics: an HDR histogram per worker plus exact moments, merged at the end.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Lowest discernible value in nanoseconds. HdrHistogram rounds it down to a power of
/// two (512 ns), which is the resolution below 1 ms; above that it is 0.1 % of the
/// value (3 significant digits). Choosing 1 µs rather than 1 ns makes each histogram
/// about four times smaller (~60 KB), which matters with many connections.
const LOWEST_NS: u64 = 1_000;
/// Initial highest trackable value; the histogram grows by itself beyond it.
const HIGHEST_NS: u64 = 60_000_000_000;
const SIGFIG: u8 = 3;

/// Latencies of one worker (or, after merging, of the run).
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    hist: Histogram<u64>,
    count: u64,
    sum_ns: u128,
    sum_sq_ns: f64,
    min_ns: u64,
    max_ns: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        let mut hist = Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIG)
            .expect("constant histogram bounds are valid");
        hist.auto(true);
        Self {
            hist,
            count: 0,
            sum_ns: 0,
            sum_sq_ns: 0.0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }
}

impl Recorder {
    pub(crate) fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.sum_sq_ns += (ns as f64) * (ns as f64);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub(crate) fn merge(&mut self, other: &Recorder) {
        // Auto-resize is on, so adding a histogram with a wider range cannot fail.
        let _ = self.hist.add(&other.hist);
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.sum_sq_ns += other.sum_sq_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The histogram in the standard HdrHistogram V2 compressed form, base64 (the form
    /// of HdrHistogram's `.hlog` files and plotters), values in ns; `None` when empty.
    pub(crate) fn encode(&self) -> Option<String> {
        use base64::Engine as _;
        use hdrhistogram::serialization::Serializer as _;
        if self.count == 0 {
            return None;
        }
        let mut bytes = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(&self.hist, &mut bytes)
            .ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// A recorder from an [`encode`](Self::encode)d histogram and the exact figures of its
    /// summary (count, min, max, and the mean and stdev from which the sums follow).
    ///
    /// # Errors
    /// A message saying what is wrong: not base64, not a V2 compressed histogram, too
    /// large once inflated, or a count that disagrees with the summary.
    pub(crate) fn decode(encoded: &str, summary: &Summary) -> Result<Self, String> {
        let mut hist = decode_histogram(encoded)?;
        if hist.len() != summary.count {
            return Err(format!(
                "its histogram holds {} latencies but its summary counts {}",
                hist.len(),
                summary.count
            ));
        }
        hist.auto(true);
        let ns = |ms: f64| ms * 1e6;
        let n = summary.count as f64;
        let (mean, sd) = (ns(summary.mean_ms), ns(summary.stdev_ms));
        Ok(Self {
            hist,
            count: summary.count,
            sum_ns: (mean * n).round() as u128,
            sum_sq_ns: n * (sd * sd + mean * mean),
            min_ns: ns(summary.min_ms).round() as u64,
            max_ns: ns(summary.max_ms).round() as u64,
        })
    }

    pub(crate) fn sum_ns(&self) -> u128 {
        self.sum_ns
    }

    /// Percentile in ns, clamped to the exact min and max (HDR reports a bucket's upper
    /// edge, which may exceed the largest value actually seen).
    fn quantile_ns(&self, q: f64) -> u64 {
        self.hist
            .value_at_quantile(q)
            .clamp(self.min_ns, self.max_ns)
    }

    /// The summary; `None` when nothing was recorded.
    pub(crate) fn summary(&self) -> Option<Summary> {
        if self.count == 0 {
            return None;
        }
        let n = self.count as f64;
        let mean = self.sum_ns as f64 / n;
        let var = (self.sum_sq_ns / n - mean * mean).max(0.0);
        Some(Summary {
            count: self.count,
            min_ms: ms(self.min_ns as f64),
            mean_ms: ms(mean),
            stdev_ms: ms(var.sqrt()),
            p50_ms: ms(self.quantile_ns(0.50) as f64),
            p90_ms: ms(self.quantile_ns(0.90) as f64),
            p99_ms: ms(self.quantile_ns(0.99) as f64),
            p99_9_ms: ms(self.quantile_ns(0.999) as f64),
            max_ms: ms(self.max_ns as f64),
        })
    }

    /// Percentiles and log-spaced bins for the charts.
    pub(crate) fn distribution(&self) -> Distribution {
        if self.count == 0 {
            return Distribution::default();
        }
        let percentiles = CHART_PERCENTILES
            .iter()
            .map(|&p| PercentilePoint {
                percentile: p,
                ms: ms(self.quantile_ns(p / 100.0) as f64),
            })
            .collect();
        // Bins 10^(k/BINS_PER_DECADE) µs wide, from the bin of the min to that of the max.
        let bin_of =
            |ns: u64| ((ns.max(1) as f64 / 1_000.0).log10() * BINS_PER_DECADE).floor() as i64;
        let edge_ms = |k: i64| ms(10f64.powf(k as f64 / BINS_PER_DECADE) * 1_000.0);
        let (lo, hi) = (bin_of(self.min_ns), bin_of(self.max_ns));
        let mut counts = vec![0u64; usize::try_from(hi - lo + 1).unwrap_or(1)];
        for v in self.hist.iter_recorded() {
            let value = v.value_iterated_to().clamp(self.min_ns, self.max_ns);
            let k = (bin_of(value) - lo).clamp(0, counts.len() as i64 - 1);
            counts[k as usize] += v.count_at_value();
        }
        let bins = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let k = lo + i as i64;
                Bin {
                    from_ms: edge_ms(k),
                    to_ms: edge_ms(k + 1),
                    count,
                }
            })
            .collect();
        Distribution { percentiles, bins }
    }
}

/// Cookies of HdrHistogram's V2 encoding, uncompressed and compressed.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// The largest inflated histogram accepted: a 3-digit histogram from 1 µs to an hour
/// encodes in well under 100 KB; 8 MiB leaves room while a hostile file cannot make
/// the reader allocate gigabytes.
const MAX_INFLATED_BYTES: u64 = 8 << 20;
/// V2 header: cookie, payload length, normalizing offset, digits, low, high, ratio.
const V2_HEADER_BYTES: usize = 40;

/// Decodes a base64 HdrHistogram V2 compressed histogram, checking its sizes first:
/// hdrhistogram's own reader trusts the payload length in the header and allocates it.
fn decode_histogram(encoded: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("its histogram is not base64: {e}"))?;
    let not_v2 = || "its histogram is not an HdrHistogram V2 compressed histogram".to_owned();
    let word = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    if word(&bytes, 0) != Some(V2_COMPRESSED_COOKIE) {
        return Err(not_v2());
    }
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(bytes.get(8..).unwrap_or_default())
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| format!("its histogram does not inflate: {e}"))?;
    if inflated.len() as u64 > MAX_INFLATED_BYTES {
        return Err(format!(
            "its histogram inflates to more than {MAX_INFLATED_BYTES} bytes"
        ));
    }
    let payload = word(&inflated, 4).ok_or_else(not_v2)? as usize;
    let digits = word(&inflated, 12).ok_or_else(not_v2)?;
    if word(&inflated, 0) != Some(V2_COOKIE)
        || payload > inflated.len().saturating_sub(V2_HEADER_BYTES)
        || digits > 5
    {
        return Err(not_v2());
    }
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut inflated.as_slice())
        .map_err(|e| format!("its histogram does not decode: {e:?}"))
}

const BINS_PER_DECADE: f64 = 10.0;

/// The percentiles stored for the CDF chart.
const CHART_PERCENTILES: &[f64] = &[
    0.0, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0,
    97.0, 98.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// Nanoseconds to milliseconds, rounded to the nanosecond (6 decimals).
fn ms(ns: f64) -> f64 {
    ns.round() / 1_000_000.0
}

/// A latency distribution in milliseconds. `min`, `mean`, `stdev` and `max` are exact;
/// percentiles come from the HDR histogram (exact to 0.512 µs below 1 ms, to 0.1 %
/// above) and are clamped to `[min, max]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of latencies.
    pub count: u64,
    /// Smallest.
    pub min_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Population standard deviation.
    pub stdev_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p99_9_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Summary {
    /// The short names of [`figures_ms`](Self::figures_ms), in order.
    pub const FIGURE_NAMES: [&'static str; 8] =
        ["min", "mean", "stdev", "p50", "p90", "p99", "p99.9", "max"];

    /// The figures in the order every renderer shows them (min, mean, stdev, p50, p90,
    /// p99, p99.9, max), each with its short name.
    pub fn figures_ms(&self) -> [(&'static str, f64); 8] {
        let values = [
            self.min_ms,
            self.mean_ms,
            self.stdev_ms,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p99_9_ms,
            self.max_ms,
        ];
        std::array::from_fn(|i| (Self::FIGURE_NAMES[i], values[i]))
    }
}

/// One point of the CDF: `percentile` % of latencies were at most `ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// In percent, 0 to 100.
    pub percentile: f64,
    /// Latency in ms.
    pub ms: f64,
}

/// One histogram bin: `count` latencies in `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge, ms.
    pub from_ms: f64,
    /// Upper edge, ms.
    pub to_ms: f64,
    /// Latencies in the bin.
    pub count: u64,
}

/// The data behind the charts: percentiles for the CDF, and log-spaced bins (ten per
/// decade) from the minimum's bin to the maximum's, empty bins included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// CDF points, by increasing percentile.
    pub percentiles: Vec<PercentilePoint>,
    /// Histogram bins, by increasing latency.
    pub bins: Vec<Bin>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_exact_where_it_can_be() {
        let mut r = Recorder::default();
        for us in 1..=1000u64 {
            r.record(Duration::from_micros(us));
        }
        let s = r.summary().expect("recorded");
        assert_eq!(s.count, 1000);
        assert_eq!(s.min_ms, 0.001);
        assert_eq!(s.max_ms, 1.0);
        assert!((s.mean_ms - 0.5005).abs() < 1e-9, "{}", s.mean_ms);
        assert!((s.p50_ms - 0.5).abs() <= 0.0015, "{}", s.p50_ms);
        assert!((s.p99_ms - 0.99).abs() <= 0.0015, "{}", s.p99_ms);
        assert!((s.stdev_ms - 0.288_675).abs() < 1e-3, "{}", s.stdev_ms);
    }

    #[test]
    fn resolution_is_a_microsecond_or_better_at_a_millisecond() {
        let mut r = Recorder::default();
        r.record(Duration::from_nanos(1_000_000));
        r.record(Duration::from_nanos(1_001_000));
        r.record(Duration::from_nanos(1_001_000));
        let s = r.summary().expect("recorded");
        assert!((s.p50_ms - 1.001).abs() <= 0.001, "{}", s.p50_ms);
        assert_eq!(s.min_ms, 1.0);
    }

    #[test]
    fn merging_equals_recording_in_one() {
        let (mut a, mut b, mut all) = (
            Recorder::default(),
            Recorder::default(),
            Recorder::default(),
        );
        for i in 0..500u64 {
            let d = Duration::from_micros(100 + i * 7);
            if i % 2 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn distribution_bins_sum_to_the_count_and_percentiles_increase() {
        let mut r = Recorder::default();
        for i in 0..10_000u64 {
            r.record(Duration::from_micros(50 + (i * i) % 20_000));
        }
        r.record(Duration::from_secs(2));
        let d = r.distribution();
        assert_eq!(d.bins.iter().map(|b| b.count).sum::<u64>(), r.count());
        assert!(d.percentiles.windows(2).all(|w| w[0].ms <= w[1].ms));
        assert_eq!(d.percentiles.last().map(|p| p.ms), Some(2000.0));
        assert!(
            d.bins
                .windows(2)
                .all(|w| (w[0].to_ms - w[1].from_ms).abs() < 1e-6)
        );
    }

    #[test]
    fn a_histogram_survives_encoding_exactly() {
        let mut r = Recorder::default();
        for i in 0..5_000u64 {
            r.record(Duration::from_nanos(20_000 + i * i * 13));
        }
        let encoded = r.encode().expect("not empty");
        assert!(
            encoded.starts_with("HISTFAA"),
            "the standard .hlog form: {encoded}"
        );
        let summary = r.summary().expect("summary");
        let back = Recorder::decode(&encoded, &summary).expect("decodes");
        assert_eq!(back.summary(), Some(summary));
        assert_eq!(back.distribution(), r.distribution());
        assert!(Recorder::default().encode().is_none());
    }

    #[test]
    fn a_hostile_histogram_is_an_error_not_an_allocation() {
        use base64::Engine as _;
        let summary = Summary {
            count: 1,
            min_ms: 1.0,
            mean_ms: 1.0,
            stdev_ms: 0.0,
            p50_ms: 1.0,
            p90_ms: 1.0,
            p99_ms: 1.0,
            p99_9_ms: 1.0,
            max_ms: 1.0,
        };
        // A V2 header that claims a 4 GB payload, compressed.
        let mut header = Vec::new();
        for word in [V2_COOKIE, u32::MAX, 0, 3] {
            header.extend(word.to_be_bytes());
        }
        header.extend(1u64.to_be_bytes());
        header.extend(1_000_000u64.to_be_bytes());
        header.extend(1f64.to_be_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &header).expect("deflate");
        let mut bytes = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        bytes.extend(0u32.to_be_bytes());
        bytes.extend(z.finish().expect("deflate"));
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        for (bad, why) in [
            (b64(&bytes), "not an HdrHistogram"),
            ("%%%".to_owned(), "not base64"),
            (b64(b"HISTFAA"), "not an HdrHistogram"),
        ] {
            let err = Recorder::decode(&bad, &summary).expect_err("rejected");
            assert!(err.contains(why), "{err}");
        }
        let mut r = Recorder::default();
        r.record(Duration::from_millis(1));
        r.record(Duration::from_millis(2));
        let err =
            Recorder::decode(&r.encode().expect("encoded"), &summary).expect_err("count mismatch");
        assert!(err.contains("holds 2 latencies"), "{err}");
    }

    #[test]
    fn values_beyond_the_initial_range_are_kept() {
        let mut r = Recorder::default();
        r.record(Duration::from_secs(600));
        assert_eq!(r.summary().map(|s| s.p50_ms), Some(600_000.0));
    }
}
