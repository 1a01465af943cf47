//! TLS for the crate's HTTP clients: reqwest is built without a bundled crypto provider,
//! so every client starts from [`client_builder`], which installs rustls' ring provider
//! first. [`cluster_client`] adds the cluster secret to every request.

/// A reqwest client builder for the cluster's own routes: [`client_builder`] with every
/// request carrying `secret` (if any) as its bearer token.
pub(crate) fn cluster_client(secret: Option<&crate::ClusterSecret>) -> reqwest::ClientBuilder {
    match secret {
        Some(secret) => client_builder().default_headers(secret.headers()),
        None => client_builder(),
    }
}

/// A reqwest client builder, with rustls' ring provider installed for the process.
fn client_builder() -> reqwest::ClientBuilder {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
