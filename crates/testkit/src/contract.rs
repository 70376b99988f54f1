//! The counter app's HTTP contract (docs/serve.md, "HTTP"), checked against any base
//! URL over real connections. `latency serve`, the Rust Lambda function behind the API
//! Gateway front, and every language variant under `variants/` run these same checks, so
//! a comparison in the lab compares implementations of one contract.
//!
//! Each check panics with a message that names the request and what differed: it is meant
//! for tests.

use std::collections::BTreeSet;

/// What to check beyond the basics.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// `GET /` serves the HTML page.
    pub page: bool,
    /// The counter is atomic: under `concurrency` × `per_task` concurrent `GET /hits`, every
    /// answer is distinct and together they are contiguous. `None` skips the check (the
    /// study's read-modify-write modes lose updates on purpose).
    pub concurrent: Option<(usize, usize)>,
}

impl Default for Contract {
    fn default() -> Contract {
        Contract {
            page: true,
            concurrent: Some((16, 25)),
        }
    }
}

/// Runs every check against `base` (e.g. `http://127.0.0.1:8000`, no trailing slash),
/// whose counter nobody else is using meanwhile.
pub async fn check(base: &str, contract: Contract) {
    let client = reqwest::Client::new();
    let first = hit(&client, base).await;
    let second = hit(&client, base).await;
    assert_eq!(second, first + 1, "GET {base}/hits: counts go up by one");

    let healthz = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {base}/healthz: {e}"));
    assert_eq!(healthz.status().as_u16(), 200, "GET /healthz status");
    let text = healthz.text().await.expect("GET /healthz body");
    let body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("GET /healthz is not JSON: {text}"));
    assert_eq!(body["status"], "pass", "GET /healthz body");

    let (status, _, body) = json_error(
        &client,
        reqwest::Method::GET,
        &format!("{base}/no-such-path"),
    )
    .await;
    assert_eq!(status, 404, "GET /no-such-path status; body {body}");

    let (status, allow, body) =
        json_error(&client, reqwest::Method::POST, &format!("{base}/hits")).await;
    assert_eq!(status, 405, "POST /hits status; body {body}");
    assert!(
        allow.as_deref().is_some_and(|a| a.contains("GET")),
        "POST /hits: 405 names GET in Allow, got {allow:?}"
    );

    if contract.page {
        let page = client
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {base}/: {e}"));
        assert_eq!(page.status().as_u16(), 200, "GET / status");
        let content_type = header(&page, "content-type");
        assert!(
            content_type.starts_with("text/html"),
            "GET / content-type {content_type}"
        );
        let text = page.text().await.expect("GET / body");
        assert!(
            text.contains("/hits") || text.contains("hits"),
            "the page calls hits"
        );
    }

    if let Some((tasks, per_task)) = contract.concurrent {
        let before = hit(&client, base).await;
        let mut joins = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            let client = client.clone();
            let base = base.to_owned();
            joins.push(tokio::spawn(async move {
                let mut seen = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    seen.push(hit(&client, &base).await);
                }
                seen
            }));
        }
        let mut values = BTreeSet::new();
        let mut total = 0;
        for join in joins {
            for value in join.await.expect("a request task panicked") {
                total += 1;
                assert!(
                    values.insert(value),
                    "count {value} answered twice: a lost update"
                );
            }
        }
        let expected: BTreeSet<u64> = (before + 1..=before + total as u64).collect();
        assert_eq!(
            values, expected,
            "{total} concurrent hits after {before} are contiguous"
        );
    }
}

/// `GET /hits`: 200, `text/plain`, an integer body. Returns the count.
pub async fn hit(client: &reqwest::Client, base: &str) -> u64 {
    let response = client
        .get(format!("{base}/hits"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {base}/hits: {e}"));
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let body = response.text().await.expect("GET /hits body");
    assert_eq!(status, 200, "GET {base}/hits status; body {body}");
    assert!(
        content_type.starts_with("text/plain"),
        "GET /hits content-type {content_type}"
    );
    body.trim()
        .parse()
        .unwrap_or_else(|_| panic!("GET /hits body is not a count: {body:?}"))
}

/// Sends a request expected to fail, and checks the error body is `{"error": "…"}` JSON.
/// Returns the status, the `Allow` header and the body.
async fn json_error(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
) -> (u16, Option<String>, String) {
    let response = client
        .request(method.clone(), url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.expect("error body");
    assert!(
        content_type.starts_with("application/json"),
        "{method} {url}: errors are JSON, got content-type {content_type} and {body}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("{method} {url}: body is not JSON: {body}"));
    assert!(
        parsed["error"].is_string(),
        "{method} {url}: body has an error message: {body}"
    );
    (status, allow, body)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}
