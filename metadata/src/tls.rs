//! TLS for the crate's HTTP clients: reqwest is built without a bundled crypto provider,
//! so every client starts from [`client_builder`], which installs rustls' ring provider
//! first. [`cluster_client`] adds the cluster secret to every request and, for a cluster
//! that serves HTTPS ([`ClusterTls`]), trusts its CA.

use std::path::{Path, PathBuf};

/// How this process reaches metadata nodes that serve HTTPS: their addresses (`host:port`)
/// become `https://` URLs and their certificates must chain to the CA given (or, without
/// one, to the system's roots).
#[derive(Debug, Clone, Default)]
pub struct ClusterTls {
    /// The CA certificates trusted, the only roots when not empty.
    roots: Vec<reqwest::Certificate>,
}

/// A CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the CA file {}: {why}", path.display())]
pub struct CaFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

impl ClusterTls {
    /// HTTPS with certificates checked against the system's roots.
    pub fn system_roots() -> ClusterTls {
        ClusterTls::default()
    }

    /// HTTPS with certificates checked against the CA certificates of the PEM file `path`
    /// (at least one), the only roots trusted.
    pub fn with_ca_file(path: &Path) -> Result<ClusterTls, CaFileError> {
        let failed = |why: String| CaFileError {
            path: path.to_path_buf(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| failed(format!("not a PEM certificate bundle: {e}")))?;
        if roots.is_empty() {
            return Err(failed("no PEM certificate in it".to_owned()));
        }
        Ok(ClusterTls { roots })
    }
}

/// The URL scheme of the metadata nodes: `https` with TLS, else `http`.
pub(crate) fn scheme(tls: Option<&ClusterTls>) -> &'static str {
    if tls.is_some() { "https" } else { "http" }
}

/// A reqwest client builder for the cluster's own routes: [`client_builder`] with every
/// request carrying `secret` (if any) as its bearer token, trusting `tls`'s CA (if any).
pub(crate) fn cluster_client(
    secret: Option<&crate::ClusterSecret>,
    tls: Option<&ClusterTls>,
) -> reqwest::ClientBuilder {
    let mut builder = client_builder();
    if let Some(secret) = secret {
        builder = builder.default_headers(secret.headers());
    }
    match tls {
        Some(tls) if !tls.roots.is_empty() => builder.tls_certs_only(tls.roots.clone()),
        _ => builder,
    }
}

/// A reqwest client builder, with rustls' ring provider installed for the process.
fn client_builder() -> reqwest::ClientBuilder {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
