//! Reading and writing volumes (calls a month) the way people write them.

use crate::CostError;
use crate::model::check_calls;

/// Parses a comma-separated list of volumes, e.g. `1e6,1e7,1e8` or `500k, 2.5M, 1B`.
///
/// Each volume is a number with an optional suffix `k` (thousand), `M` (million) or `B`
/// (billion); `_` may group digits (`1_000_000`). Each must be finite and in
/// (0, 1e15]. Fails with [`CostError::InvalidInput`] naming the bad entry.
pub fn parse_calls_per_month(list: &str) -> Result<Vec<f64>, CostError> {
    if list.trim().is_empty() {
        return Err(CostError::InvalidInput {
            what: "calls per month",
            value: list.to_owned(),
            problem: "give one or more volumes, e.g. 1e6,1e7,1e8".to_owned(),
        });
    }
    list.split(',').map(parse_volume).collect()
}

/// Parses one volume; see [`parse_calls_per_month`].
pub fn parse_volume(text: &str) -> Result<f64, CostError> {
    let trimmed = text.trim();
    let (number, scale) = match trimmed.char_indices().last() {
        Some((at, 'k')) => (&trimmed[..at], 1e3),
        Some((at, 'M')) => (&trimmed[..at], 1e6),
        Some((at, 'B')) => (&trimmed[..at], 1e9),
        _ => (trimmed, 1.0),
    };
    let digits = number.replace('_', "");
    let value = digits
        .trim()
        .parse::<f64>()
        .map_err(|_| CostError::InvalidInput {
            what: "calls per month",
            value: trimmed.to_owned(),
            problem: "not a number; write e.g. 1e6, 1000000, 1_000_000, 500k, 2.5M or 1B"
                .to_owned(),
        })?
        * scale;
    check_calls(value, trimmed)?;
    Ok(value)
}

/// Writes a volume compactly with three significant figures: `3.41M`, `434k`, `1B`, `950`.
pub fn format_calls(calls: f64) -> String {
    // Round to three significant figures first, so that 999,999 becomes "1M", not "1000k".
    let calls = if calls > 0.0 && calls.is_finite() {
        let step = 10f64.powf(calls.log10().floor() - 2.0);
        (calls / step).round() * step
    } else {
        calls
    };
    let (scaled, suffix) = if calls >= 1e9 {
        (calls / 1e9, "B")
    } else if calls >= 1e6 {
        (calls / 1e6, "M")
    } else if calls >= 1e3 {
        (calls / 1e3, "k")
    } else {
        (calls, "")
    };
    let text = if scaled >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    // "1.00M" reads worse than "1M"; keep the significant digits only.
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{suffix}")
}
