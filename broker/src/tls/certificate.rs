//! [`ReloadingCertificate`]: the certificate chain and key a TLS listener serves, read from
//! PEM files and swapped in place when they are read again.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{CertificateFiles, TlsError};

/// rustls' ring provider, the one crypto provider of the project.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate a listener serves, reloadable.
#[derive(Debug)]
pub(crate) struct ReloadingCertificate {
    /// Where it is read from.
    files: CertificateFiles,
    /// The chain and key in force.
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCertificate {
    /// Reads the files; an unusable one is an error naming it.
    pub(crate) fn load(files: CertificateFiles) -> Result<Self, TlsError> {
        let key = read(&files)?;
        Ok(ReloadingCertificate {
            files,
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// The certificate and key files.
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        vec![self.files.cert.clone(), self.files.key.clone()]
    }

    /// Reads the files again and serves them from the next handshake on; a file that no
    /// longer reads (or a key that does not match, as while the two are being replaced)
    /// keeps the certificate in force. Answers the outcome, `ok` or `error`, and logs it.
    pub(crate) fn reload(&self) -> &'static str {
        match read(&self.files) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                "ok"
            }
            Err(error) => {
                tracing::error!(%error, "TLS certificate not reloaded; the previous one stays in force");
                "error"
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The chain and key of `files`, checked to belong together.
fn read(files: &CertificateFiles) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(files)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        why: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        why: format!("{e} (is it the key of {}?)", files.cert.display()),
    })
}

/// The certificate chain of `files`, leaf first; at least one certificate.
fn read_chain(files: &CertificateFiles) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |why: String| TlsError::Certificate {
        path: files.cert.clone(),
        why,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| failed(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    if chain.is_empty() {
        return Err(failed("no PEM certificate in it".to_owned()));
    }
    Ok(chain)
}
