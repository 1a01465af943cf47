//! TLS for the crate's HTTP clients: reqwest is built without a bundled crypto provider,
//! so every client starts from [`client_builder`], which installs rustls' ring provider
//! first.

/// A reqwest client builder, with rustls' ring provider installed for the process.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
