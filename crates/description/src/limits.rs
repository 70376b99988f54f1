//! The account limits a deployment must fit, checked before anything is created.
//!
//! Lambda keeps at least 100 of an account's concurrency unreserved, so the functions of
//! one account may reserve at most `limit − 100` in all; on an account whose limit is 100
//! or less (new accounts start at 10) nothing can be reserved at all. Source: AWS Lambda
//! Developer Guide, "Configuring reserved concurrency for a function" (read 2026-12-07):
//! "Lambda requires at least 100 units of unreserved concurrency in your account".

use crate::{Description, Function};

/// Concurrency Lambda always leaves unreserved.
pub const UNRESERVED_MINIMUM: u32 = 100;

/// The default concurrency limit of an established account (Lambda's quota page).
pub const DEFAULT_ACCOUNT_LIMIT: u32 = 1000;

/// The limit some new accounts start with.
pub const NEW_ACCOUNT_LIMIT: u32 = 10;

/// What the descriptions reserve does not fit the account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reservations} reserve {total} concurrency in all, but an account with a limit of \
     {limit} can reserve at most {allowed} (Lambda keeps {UNRESERVED_MINIMUM} unreserved); \
     set those to null, or ask AWS for a higher limit"
)]
pub struct ReservedConcurrencyTooHigh {
    /// Each reserving setting, as `file: setting = value`, joined.
    pub reservations: String,
    /// Their sum.
    pub total: u32,
    /// The account's concurrency limit.
    pub limit: u32,
    /// What it allows to be reserved.
    pub allowed: u32,
}

/// Checks that `rows` deployed together with the bench function (when given) fit an
/// account whose concurrency limit is `limit`.
///
/// # Errors
/// [`ReservedConcurrencyTooHigh`], naming every setting that reserves concurrency.
pub fn check_reserved_concurrency(
    rows: &[&Description],
    bench: Option<&Function>,
    limit: u32,
) -> Result<(), ReservedConcurrencyTooHigh> {
    let mut reservations = Vec::new();
    for row in rows {
        if let Some(reserved) = row.function.as_ref().and_then(|f| f.reserved_concurrency) {
            reservations.push((
                format!("{}: function.reserved_concurrency = {reserved}", row.file()),
                reserved,
            ));
        }
    }
    if let Some(reserved) = bench.and_then(|f| f.reserved_concurrency) {
        reservations.push((
            format!("deploy/bench-function.json: reserved_concurrency = {reserved}"),
            reserved,
        ));
    }
    let total: u32 = reservations.iter().map(|(_, n)| *n).sum();
    let allowed = limit.saturating_sub(UNRESERVED_MINIMUM);
    if total <= allowed {
        return Ok(());
    }
    Err(ReservedConcurrencyTooHigh {
        reservations: reservations
            .into_iter()
            .map(|(setting, _)| setting)
            .collect::<Vec<_>>()
            .join(" and "),
        total,
        limit,
        allowed,
    })
}
