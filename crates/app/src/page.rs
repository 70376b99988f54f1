//! The page: plain HTML and JavaScript, embedded in the binary so there is nothing to ship.

use axum::http::header;
use axum::response::IntoResponse;

/// The page's HTML, for runtimes that serve `GET /` without the router (the local API
/// Gateway front serves it the way the original study's S3 proxy route did).
pub const PAGE: &str = include_str!("page.html");

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
