//! Auto-scaled durations for text output (JSON keeps fixed milliseconds), and the
//! percentile ladder of the bench summary.
//!
//! The unit formatter is the renderer's, so every text output scales units one way.

use std::fmt::Write as _;

use crate::Distribution;

pub use crate::render::format_duration_ms as duration_ms;

/// The percentiles of the summary's ladder, as wrk's `--latency` and HdrHistogram's
/// percentile spectrum show them.
pub const LADDER: [f64; 8] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0];

/// The percentile ladder of a distribution, two lines (names over values), each value
/// right-aligned in 9 columns after a 15-column heading, as the summary's table; empty
/// when the distribution has none of the ladder's percentiles.
pub fn ladder(d: &Distribution) -> String {
    let steps: Vec<(f64, f64)> = LADDER
        .iter()
        .filter_map(|&p| {
            d.percentiles
                .iter()
                .find(|point| (point.percentile - p).abs() < 1e-9)
                .map(|point| (p, point.ms))
        })
        .collect();
    if steps.is_empty() {
        return String::new();
    }
    let mut names = format!("  {:<13}", "percentiles");
    let mut values = format!("  {:<13}", "");
    for (p, ms) in steps {
        let name = if p == 100.0 {
            "100%".to_owned()
        } else {
            format!("{}%", crate::config::trim_float(p))
        };
        let _ = write!(names, "{name:>9}");
        let _ = write!(values, "{:>9}", duration_ms(ms));
    }
    format!("{names}\n{values}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PercentilePoint;

    #[test]
    fn the_ladder_shows_the_stored_percentiles_in_order() {
        let d = Distribution {
            percentiles: [0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0]
                .iter()
                .map(|&p| PercentilePoint {
                    percentile: p,
                    ms: 0.01 * (p + 1.0),
                })
                .collect(),
            bins: Vec::new(),
        };
        let text = ladder(&d);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let names: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            names,
            [
                "percentiles",
                "50%",
                "75%",
                "90%",
                "95%",
                "99%",
                "99.9%",
                "99.99%",
                "100%"
            ]
        );
        let values: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(values[0], "510.0µs");
        assert_eq!(values[7], "1.01ms");
        assert_eq!(ladder(&Distribution::default()), "");
    }

    #[test]
    fn picks_the_unit_after_rounding() {
        assert_eq!(duration_ms(0.019_211), "19.21µs");
        assert_eq!(duration_ms(0.123_4), "123.4µs");
        assert_eq!(duration_ms(0.999_999), "1.00ms");
        assert_eq!(duration_ms(13.024), "13.02ms");
        assert_eq!(duration_ms(999.96), "1.00s");
        assert_eq!(duration_ms(125_000.0), "125.0s");
        assert_eq!(duration_ms(f64::NAN), "n/a");
        assert_eq!(duration_ms(-2.5), "-2.50ms");
    }
}
