//! Counter verification: the values returned by `/hits` must be distinct and, over the
//! run, contiguous.
//!
//! Values are kept in a sparse bitmap of 4096-value blocks, so memory grows with the
//! *range* of values seen (about 1.25 MB for 10 million contiguous values), never with
//! the number of requests times eight bytes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

const BLOCK_BITS: u64 = 4096;
const WORDS: usize = (BLOCK_BITS / 64) as usize;
/// 16384 blocks × 512 B = 8 MB: room for 67 million contiguous values. Values spread
/// wider than that (not a counter) make the check `incomplete` instead of growing.
const MAX_BLOCKS: usize = 16_384;

/// The values seen by one worker, mergeable with other workers' ledgers.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    blocks: HashMap<u64, Box<[u64; WORDS]>>,
    values: u64,
    duplicates: u64,
    min: Option<u64>,
    max: Option<u64>,
    overflowed: bool,
    pub(crate) non_integer: u64,
    pub(crate) unanswered: u64,
}

impl Ledger {
    pub(crate) fn insert(&mut self, value: u64) {
        self.values += 1;
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
        let key = value / BLOCK_BITS;
        let bit = value % BLOCK_BITS;
        if !self.blocks.contains_key(&key) && self.blocks.len() >= MAX_BLOCKS {
            self.overflowed = true;
            return;
        }
        let block = self
            .blocks
            .entry(key)
            .or_insert_with(|| Box::new([0; WORDS]));
        let word = &mut block[(bit / 64) as usize];
        let mask = 1u64 << (bit % 64);
        if *word & mask != 0 {
            self.duplicates += 1;
        }
        *word |= mask;
    }

    pub(crate) fn merge(&mut self, other: Ledger) {
        self.values += other.values;
        self.duplicates += other.duplicates;
        self.non_integer += other.non_integer;
        self.unanswered += other.unanswered;
        self.overflowed |= other.overflowed;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (key, theirs) in other.blocks {
            if let Some(ours) = self.blocks.get_mut(&key) {
                for (a, b) in ours.iter_mut().zip(theirs.iter()) {
                    self.duplicates += u64::from((*a & *b).count_ones());
                    *a |= *b;
                }
            } else if self.blocks.len() < MAX_BLOCKS {
                self.blocks.insert(key, theirs);
            } else {
                self.overflowed = true;
            }
        }
    }

    fn distinct(&self) -> u64 {
        self.blocks
            .values()
            .flat_map(|b| b.iter())
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// The verdict over everything seen, all phases included.
    pub(crate) fn check(&self) -> CounterCheck {
        let mut check = CounterCheck {
            verdict: Verdict::NotApplicable,
            values: self.values,
            distinct: 0,
            duplicates: self.duplicates,
            gaps: 0,
            lost_updates: 0,
            first: self.min,
            last: self.max,
            unanswered: self.unanswered,
            non_integer_bodies: self.non_integer,
            note: String::new(),
        };
        let (Some(min), Some(max)) = (self.min, self.max) else {
            check.note = if self.non_integer > 0 {
                "the 2xx bodies are not integers, so there is no counter to check".to_owned()
            } else {
                "no 2xx answer carried a counter value".to_owned()
            };
            return check;
        };
        if self.overflowed {
            check.verdict = Verdict::Incomplete;
            check.note = "the values are spread too widely to track; not a counter?".to_owned();
            return check;
        }
        let distinct = self.distinct();
        let range = max - min + 1;
        check.distinct = distinct;
        check.gaps = range - distinct;
        check.lost_updates = self.values.saturating_sub(range);
        let mut problems = Vec::new();
        if self.duplicates > 0 {
            problems.push(format!(
                "{} duplicate value{} (two calls got the same count: lost updates)",
                self.duplicates,
                plural(self.duplicates)
            ));
        }
        if check.gaps > self.unanswered {
            problems.push(format!(
                "{} value{} missing between {min} and {max}, more than the {} request{} \
                 that got no value",
                check.gaps,
                plural(check.gaps),
                self.unanswered,
                plural(self.unanswered)
            ));
        }
        if self.non_integer > 0 {
            problems.push(format!(
                "{} 2xx bod{} not an integer",
                self.non_integer,
                if self.non_integer == 1 {
                    "y was"
                } else {
                    "ies were"
                }
            ));
        }
        if problems.is_empty() {
            check.verdict = Verdict::Pass;
            check.note = format!("{distinct} distinct values, {min}..={max}");
            if check.gaps > 0 {
                check.note.push_str(&format!(
                    "; {} gap{} explained by requests that got no value",
                    check.gaps,
                    plural(check.gaps)
                ));
            }
        } else {
            check.verdict = Verdict::Fail;
            check.note = problems.join("; ");
        }
        check
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The outcome of the counter check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every value distinct, and the range contiguous except where requests got no value.
    Pass,
    /// Duplicates, unexplained gaps, or non-integer 2xx bodies among integer ones.
    Fail,
    /// No counter values (the endpoint is not a counter, or the check was off).
    NotApplicable,
    /// The values were too widely spread to track in bounded memory.
    Incomplete,
}

impl Verdict {
    /// `pass`, `FAIL`, `n/a` or `incomplete`, for tables.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::NotApplicable => "n/a",
            Verdict::Incomplete => "incomplete",
        }
    }
}

/// What the counter check saw. Values from warm-up requests are included, because
/// they increment the counter too. The check assumes this run is the counter's only
/// client while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterCheck {
    /// The verdict.
    pub verdict: Verdict,
    /// Integer values received (one per 2xx answer with an integer body).
    pub values: u64,
    /// Distinct values among them.
    pub distinct: u64,
    /// Values received more than once, counting each repeat: two calls that both
    /// got 7 are one duplicate.
    pub duplicates: u64,
    /// Values between `first` and `last` that no call received.
    pub gaps: u64,
    /// Calls whose increment does not show in the counter's advance:
    /// `values - (last - first + 1)` when positive.
    pub lost_updates: u64,
    /// The smallest value received.
    pub first: Option<u64>,
    /// The largest value received.
    pub last: Option<u64>,
    /// Requests that got no value (transport errors, non-2xx); each may or may not have
    /// incremented the counter, so up to this many gaps are explained.
    pub unanswered: u64,
    /// 2xx answers whose body was not an integer.
    pub non_integer_bodies: u64,
    /// One line for humans: what passed, or what failed.
    pub note: String,
}

impl CounterCheck {
    /// The check as it stands when it was turned off.
    pub(crate) fn off() -> Self {
        Self {
            verdict: Verdict::NotApplicable,
            values: 0,
            distinct: 0,
            duplicates: 0,
            gaps: 0,
            lost_updates: 0,
            first: None,
            last: None,
            unanswered: 0,
            non_integer_bodies: 0,
            note: "the counter check was turned off".to_owned(),
        }
    }
}

/// Parses a body as a counter value: ASCII digits, optionally surrounded by whitespace.
pub(crate) fn parse_value(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(values: &[u64]) -> Ledger {
        let mut l = Ledger::default();
        values.iter().for_each(|&v| l.insert(v));
        l
    }

    #[test]
    fn contiguous_distinct_values_pass() {
        let c = ledger(&[3, 1, 2, 4]).check();
        assert_eq!(c.verdict, Verdict::Pass, "{c:?}");
        assert_eq!((c.distinct, c.gaps, c.duplicates), (4, 0, 0));
    }

    #[test]
    fn a_counter_that_skips_and_repeats_fails_with_both_counted() {
        let c = ledger(&[1, 2, 2, 4, 5]).check();
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!((c.duplicates, c.gaps, c.lost_updates), (1, 1, 0));
        assert!(
            c.note.contains("duplicate") && c.note.contains("missing"),
            "{}",
            c.note
        );
    }

    #[test]
    fn lost_updates_are_counted_from_the_advance() {
        // 6 calls, counter advanced by 3: three increments were lost.
        let c = ledger(&[1, 1, 2, 2, 3, 3]).check();
        assert_eq!((c.duplicates, c.lost_updates, c.gaps), (3, 3, 0));
    }

    #[test]
    fn gaps_explained_by_unanswered_requests_pass() {
        let mut l = ledger(&[1, 2, 4]);
        l.unanswered = 1;
        assert_eq!(l.check().verdict, Verdict::Pass);
        l.unanswered = 0;
        assert_eq!(l.check().verdict, Verdict::Fail);
    }

    #[test]
    fn duplicates_across_workers_are_found_on_merge() {
        let mut a = ledger(&[1, 2, 3]);
        a.merge(ledger(&[3, 4, 5_000_000]));
        let c = a.check();
        assert_eq!(c.duplicates, 1);
        assert_eq!(c.last, Some(5_000_000));
        assert_eq!(c.gaps, 5_000_000 - 5);
    }

    #[test]
    fn widely_spread_values_stop_growing_and_say_incomplete() {
        let mut l = Ledger::default();
        for i in 0..(MAX_BLOCKS as u64 + 10) {
            l.insert(i * BLOCK_BITS * 3);
        }
        assert!(l.blocks.len() <= MAX_BLOCKS);
        assert_eq!(l.check().verdict, Verdict::Incomplete);
    }

    #[test]
    fn no_values_is_not_applicable() {
        let l = Ledger {
            non_integer: 3,
            ..Ledger::default()
        };
        let c = l.check();
        assert_eq!(c.verdict, Verdict::NotApplicable);
        assert!(c.note.contains("not integers"));
    }

    #[test]
    fn parses_only_integers() {
        assert_eq!(parse_value(b"42"), Some(42));
        assert_eq!(parse_value(b" 42\n"), Some(42));
        assert_eq!(parse_value(b"-1"), None);
        assert_eq!(parse_value(b"{\"error\":\"x\"}"), None);
    }
}
