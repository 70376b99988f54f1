//! `https://` endpoints: a TLS server with a freshly generated self-signed certificate,
//! trusted through `ca_file` (as `latency bench --cacert` does), and refused without it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{counter_after, serve_maybe_tls};
use latency_bench::{BenchConfig, BenchError, Stop, Verdict};

/// A TLS acceptor for `localhost` and `127.0.0.1`, and the PEM of its certificate.
fn self_signed() -> (tokio_rustls::TlsAcceptor, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        certified.cert.pem(),
    )
}

fn plan(url: &str, ca_file: Option<std::path::PathBuf>) -> BenchConfig {
    let mut c = BenchConfig::new(url).expect("url");
    c.stop = Stop::Requests(200);
    c.connections = 4;
    c.ca_file = ca_file;
    c.timeout = Duration::from_secs(5);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_trusted_certificate_is_measured_and_counted() {
    let (acceptor, pem) = self_signed();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).expect("write ca");
    for host in ["localhost", "127.0.0.1"] {
        let (addr, seen) =
            serve_maybe_tls(Some(acceptor.clone()), counter_after(Duration::ZERO)).await;
        let url = format!("https://{host}:{}/hits", addr.port());
        let report = latency_bench::run(plan(&url, Some(ca.clone())))
            .await
            .expect("run");
        assert_eq!(report.results.requests, 200, "{host}");
        assert_eq!(
            report.results.error_count(),
            0,
            "{host}: {:?}",
            report.results.errors
        );
        assert_eq!(
            seen.requests.load(std::sync::atomic::Ordering::SeqCst),
            200,
            "every request (the first is the cold start) went over TLS"
        );
        assert_eq!(
            report.results.counter.verdict,
            Verdict::Pass,
            "{host}: {:?}",
            report.results.counter
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_with_the_fix_named() {
    let (acceptor, _pem) = self_signed();
    let (addr, _seen) = serve_maybe_tls(Some(acceptor), counter_after(Duration::ZERO)).await;
    let url = format!("https://localhost:{}/hits", addr.port());
    let err = latency_bench::run(plan(&url, None))
        .await
        .expect_err("a self-signed certificate is not in the system store");
    let text = err.to_string();
    assert!(matches!(err, BenchError::Unreachable { .. }), "{text}");
    assert!(
        text.contains("TLS handshake failed") && text.contains("--cacert"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let err = latency_bench::run(plan("https://127.0.0.1:9/hits", Some(missing.clone())))
        .await
        .expect_err("missing file");
    let text = err.to_string();
    assert!(matches!(err, BenchError::Tls { .. }), "{text}");
    assert!(text.contains("missing.pem"), "{text}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("write");
    let err = latency_bench::run(plan("https://127.0.0.1:9/hits", Some(junk)))
        .await
        .expect_err("no certificate");
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}
