//! TLS on the HTTP listeners of `silt broker`, `silt dev` and `silt metadata` (rustls with
//! its ring provider): [`ServerTls`] holds the acceptor, whose certificate and key come
//! from PEM files ([`certificate`]) and are reloaded when the files change or on SIGHUP,
//! so a renewed certificate needs no restart. Connections in progress keep the certificate
//! they were made with; new ones get the new one.
//!
//! Only HTTP/1.1 is offered (ALPN `http/1.1`), as on plain connections.

pub(crate) mod certificate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use certificate::ReloadingCertificate;

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("cannot use the TLS certificate file {path}: {why}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The key file cannot be read or holds no usable PEM private key.
    #[error("cannot use the TLS key file {path}: {why}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The PEM files of a listener's certificate chain (leaf first) and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateFiles {
    /// The certificate chain.
    pub(crate) cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub(crate) key: PathBuf,
}

/// `outcome="…"` of a TLS handshake or certificate reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TlsOutcome {
    /// `ok`, `failed`, `timeout` or `error`.
    pub(crate) outcome: &'static str,
}

/// TLS handshakes and certificate reloads, by outcome; the broker registers them as
/// `silt_tls_handshakes_total` and `silt_tls_reloads_total`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsCounters {
    /// Handshakes: `ok`, `failed`, `timeout`.
    pub(crate) handshakes: Family<TlsOutcome, Counter>,
    /// Reloads of the certificate files: `ok`, `error`.
    pub(crate) reloads: Family<TlsOutcome, Counter>,
}

impl TlsCounters {
    /// Counts one event of `family` with `outcome`.
    pub(crate) fn count(family: &Family<TlsOutcome, Counter>, outcome: &'static str) {
        family.get_or_create(&TlsOutcome { outcome }).inc();
    }
}

/// A listener's TLS: the acceptor and the certificate it serves.
#[derive(Clone)]
pub(crate) struct ServerTls {
    /// Accepts TLS connections with the current certificate.
    acceptor: TlsAcceptor,
    /// The certificate in force, reloaded from its files.
    certificate: Arc<ReloadingCertificate>,
    /// Handshake and reload counters.
    pub(crate) counters: TlsCounters,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the certificate and key; an unusable file is an error naming it.
    pub(crate) fn load(files: CertificateFiles, counters: TlsCounters) -> Result<Self, TlsError> {
        let certificate = Arc::new(ReloadingCertificate::load(files)?);
        let mut config = rustls::ServerConfig::builder_with_provider(certificate::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate,
            counters,
        })
    }

    /// The acceptor for new connections.
    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Starts the task that reloads the certificate when its files change (polled every
    /// `interval`) or on SIGHUP; a bad file keeps the certificate in force.
    pub(crate) fn spawn_reloader(&self, interval: Duration) -> JoinHandle<()> {
        let certificate = self.certificate.clone();
        let counters = self.counters.clone();
        let hangup = crate::reload::hangups();
        tokio::spawn(async move {
            let watched = certificate.paths();
            crate::reload::on_change(watched, interval, hangup, || {
                let outcome = certificate.reload();
                TlsCounters::count(&counters.reloads, outcome);
            })
            .await;
        })
    }
}
