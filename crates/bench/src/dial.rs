//! Opening connections to the measured endpoint: plain TCP for `http://`, TLS (rustls)
//! for `https://`.
//!
//! The engine speaks HTTP/1.1 only, so TLS offers ALPN `http/1.1` alone. Certificates
//! are verified against the operating system's trust store (`rustls-native-certs`),
//! plus any PEM file given as [`BenchConfig::ca_file`] (a private CA, or a self-signed
//! staging certificate). There is deliberately no "insecure" switch: a bench that does
//! not verify would measure whatever answers.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{BenchConfig, BenchError, redact_url};

/// An opened connection, by kind. An enum rather than a boxed stream so that the
/// plain-TCP path, the one benchmarked against wrk, keeps static dispatch.
pub(crate) enum Opened {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// How to open one connection to the endpoint; built once per run, shared by the
/// workers.
pub(crate) struct Dialer {
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Dialer {
    /// A dialer for `config.url` at the resolved `addr`.
    ///
    /// # Errors
    /// [`BenchError::Tls`] when `config.ca_file` cannot be read or holds no certificate,
    /// or no trusted root is available at all.
    pub(crate) fn new(config: &BenchConfig, addr: SocketAddr) -> Result<Self, BenchError> {
        if config.url.scheme() != "https" {
            return Ok(Self { addr, tls: None });
        }
        let tls_err = |reason: String| BenchError::Tls {
            url: redact_url(&config.url),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        // The system store may be partly unreadable; what loads is used, and an empty
        // result is an error below unless a CA file is given.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &config.ca_file {
            let certs = read_pem_certificates(path).map_err(tls_err)?;
            roots.add_parsable_certificates(certs);
        }
        if roots.is_empty() {
            return Err(tls_err(
                "no trusted root certificate: the system store is empty (install the \
                 ca-certificates package) and no --cacert file was given"
                    .to_owned(),
            ));
        }
        // One crypto provider named explicitly, so that the process-wide default (which
        // is ambiguous when several are compiled in) never matters.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let host = config.url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| tls_err(format!("`{host}` is not a valid TLS server name: {e}")))?;
        Ok(Self {
            addr,
            tls: Some((TlsConnector::from(Arc::new(tls)), name)),
        })
    }

    /// Opens one connection (TCP with `TCP_NODELAY`, then the TLS handshake for
    /// `https`). A handshake failure, such as an untrusted certificate, is an error of
    /// kind `InvalidData` whose text says what the peer presented.
    pub(crate) async fn open(&self) -> io::Result<Opened> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Opened::Plain(tcp)),
            Some((connector, name)) => {
                let stream = connector.connect(name.clone(), tcp).await.map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "TLS handshake failed: {e} (for a private CA or a self-signed \
                             certificate, pass its PEM file with --cacert)"
                        ),
                    )
                })?;
                Ok(Opened::Tls(Box::new(stream)))
            }
        }
    }
}

/// The largest `--cacert` file read: 1 MiB holds hundreds of certificates (the whole
/// Mozilla root bundle is about 220 KB); anything larger is not a CA file.
const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// Every certificate in a PEM file of at most [`MAX_PEM_FILE_BYTES`].
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use std::io::Read as _;
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PEM_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(format!(
            "{shown} is larger than the limit of {MAX_PEM_FILE_BYTES} bytes for a PEM certificate file"
        ));
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} holds no PEM certificate"));
    }
    Ok(certs)
}
