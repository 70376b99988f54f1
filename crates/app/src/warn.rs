//! Warnings that repeat, logged at most once per interval with a count.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Lets one warning through per `interval` and counts the ones it holds back, so that an
/// outage answered thousands of times a second logs a line every few seconds, not one a
/// request. The exact number of failures is in the metrics, not the log.
///
/// Uses tokio's clock, so tests can drive it with a paused clock.
pub(crate) struct RateLimitedWarning {
    interval: Duration,
    /// When the last warning went out, and how many were held back since.
    state: Mutex<Option<(Instant, u64)>>,
}

impl RateLimitedWarning {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(None),
        }
    }

    /// Calls `log` with the number of warnings held back since the last one if a
    /// warning is due, otherwise counts this one as held back.
    pub(crate) fn warn(&self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        let suppressed = {
            // The state is two plain numbers, valid whatever a panicking holder did.
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *state {
                Some((last, held)) if now.duration_since(*last) < self.interval => {
                    *held += 1;
                    return;
                }
                Some((last, held)) => {
                    let suppressed = *held;
                    (*last, *held) = (now, 0);
                    suppressed
                }
                None => {
                    *state = Some((now, 0));
                    0
                }
            }
        };
        log(suppressed);
    }
}
