//! Reading request bodies on the platform's HTTP listeners: bounded in size and in time,
//! and answerable whatever the client does about `Expect: 100-continue`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt as _;

/// How much of an oversized body is read and thrown away before the answer: a client
/// that sends its body without waiting for `100 Continue` (or without `Expect`) must find
/// its bytes read, or the kernel answers the close with a reset and the client sees no
/// answer at all. Past this the connection is closed.
const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over the limit (declared or sent).
    TooLarge,
    /// Not complete within the body-read timeout.
    TimedOut,
    /// The connection failed while the body was read.
    Failed,
}

/// Reads `body` whole if it is at most `limit` bytes and arrives within `timeout`.
///
/// An oversized body is read (at most [`DRAIN_MAX_BYTES`]) and discarded before the
/// caller answers, so the answer reaches the client; only when the client declared the
/// oversized length and waits for `100 Continue` is nothing read (hyper then answers
/// without asking for the body).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let waits_for_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let oversized = declared.is_some_and(|n| n > limit as u64);
    if oversized && waits_for_continue {
        return Err(BodyError::TooLarge);
    }
    let read = async move {
        let mut body = body;
        let mut kept: Vec<u8> = Vec::new();
        let mut seen: u64 = 0;
        let mut too_large = oversized;
        // Bounded: each frame adds bytes, and more than DRAIN_MAX_BYTES ends the loop.
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Failed)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            seen = seen.saturating_add(data.len() as u64);
            if seen > limit as u64 {
                too_large = true;
                kept = Vec::new();
            }
            if too_large {
                if seen > DRAIN_MAX_BYTES {
                    return Err(BodyError::TooLarge);
                }
                continue;
            }
            kept.extend_from_slice(&data);
        }
        if too_large {
            Err(BodyError::TooLarge)
        } else {
            Ok(Bytes::from(kept))
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(BodyError::TimedOut),
    }
}
