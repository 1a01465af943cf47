//! [`TestCa`]: a throwaway certificate authority for TLS tests, and the certificates it
//! issues for 127.0.0.1 and `localhost`, written as PEM files the way an operator would
//! hand them to silt.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};

/// A CA with its own key.
pub struct TestCa {
    /// The CA's certificate and key, which sign the certificates it issues.
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Its certificate as a PEM file (what clients are told to trust).
    pub ca_file: PathBuf,
}

/// A certificate and key issued by a [`TestCa`], as PEM files.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name`; its certificate is written to `dir/<name>-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("silt test CA {name}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, issuer.pem())?;
        Ok(TestCa { issuer, ca_file })
    }

    /// A certificate for 127.0.0.1 and `localhost`, written to `dir/<name>.crt` and
    /// `dir/<name>.key`.
    pub fn issue(&self, dir: &Path, name: &str) -> Result<IssuedFiles> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let files = IssuedFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem())?;
        std::fs::write(&files.key, key.serialize_pem())?;
        Ok(files)
    }
}
