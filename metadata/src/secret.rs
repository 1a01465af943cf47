//! [`ClusterSecret`]: the shared secret every member of a metadata cluster (its nodes, the
//! brokers and the admin CLI) presents as `Authorization: Bearer <secret>`, read from a
//! file; and [`generate`], which makes one.
//!
//! The secret is the file's content, trimmed, at least [`MIN_SECRET_BYTES`] bytes. It is
//! kept only as the header value (marked sensitive, so it is not logged) and its SHA-256
//! digest, which the server compares with the digest of what a request presents (so
//! neither the length nor the content of the secret leaks through timing).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// The shortest secret accepted, in bytes (after trimming).
pub const MIN_SECRET_BYTES: usize = 32;
/// Random bytes in a secret made by [`generate`].
const GENERATED_BYTES: usize = 32;

/// Why a cluster secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read the cluster secret file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the cluster secret in {} is {len} bytes; it must be at least {MIN_SECRET_BYTES} (make one with `silt auth cluster-secret`)",
        path.display()
    )]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Its length after trimming.
        len: usize,
    },
    /// The secret holds bytes an HTTP header cannot carry.
    #[error("the cluster secret in {} holds characters an HTTP header cannot carry (use `silt auth cluster-secret`)", path.display())]
    NotHeaderSafe {
        /// The file.
        path: PathBuf,
    },
    /// No random bytes were available.
    #[error("the system random number generator failed")]
    NoRandomness,
}

/// A metadata cluster's shared secret. Its `Debug` shows no part of it.
#[derive(Clone)]
pub struct ClusterSecret {
    /// `Bearer <secret>`, marked sensitive.
    header: HeaderValue,
    /// SHA-256 of the secret.
    digest: [u8; 32],
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(***)")
    }
}

impl ClusterSecret {
    /// Reads the secret from `path`: its content, trimmed, at least [`MIN_SECRET_BYTES`].
    pub fn read(path: &Path) -> Result<ClusterSecret, SecretError> {
        let content = std::fs::read(path).map_err(|source| SecretError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(content.trim_ascii()).map_err(|error| error.at(path))
    }

    /// The secret `bytes` (already trimmed).
    pub fn from_bytes(bytes: &[u8]) -> Result<ClusterSecret, SecretError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                path: PathBuf::new(),
                len: bytes.len(),
            });
        }
        let mut header = [b"Bearer ".as_slice(), bytes].concat();
        let value = HeaderValue::from_bytes(&header);
        header.fill(0);
        let mut header = value.map_err(|_| SecretError::NotHeaderSafe {
            path: PathBuf::new(),
        })?;
        header.set_sensitive(true);
        Ok(ClusterSecret {
            header,
            digest: sha256(bytes),
        })
    }

    /// The headers every request to the cluster carries.
    pub(crate) fn headers(&self) -> HeaderMap {
        HeaderMap::from_iter([(AUTHORIZATION, self.header.clone())])
    }

    /// Whether `presented` is this secret, compared by SHA-256 digest in constant time.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let other = sha256(presented);
        self.digest
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl SecretError {
    /// The same error naming `path`.
    fn at(self, path: &Path) -> SecretError {
        match self {
            SecretError::TooShort { len, .. } => SecretError::TooShort {
                path: path.to_owned(),
                len,
            },
            SecretError::NotHeaderSafe { .. } => SecretError::NotHeaderSafe {
                path: path.to_owned(),
            },
            other => other,
        }
    }
}

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// A new secret: [`GENERATED_BYTES`] random bytes as unpadded base64url (43 characters).
pub fn generate() -> Result<String, SecretError> {
    let mut bytes = [0u8; GENERATED_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::NoRandomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_read_trimmed_and_refused_when_short_or_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let text = generate().unwrap();
        assert_eq!(text.len(), 43);
        std::fs::write(&path, format!("  {text}\n")).unwrap();
        let secret = ClusterSecret::read(&path).unwrap();
        assert!(secret.matches(text.as_bytes()));
        assert!(!secret.matches(format!("{text}x").as_bytes()));
        assert_eq!(format!("{secret:?}"), "ClusterSecret(***)");
        std::fs::write(&path, "short\n").unwrap();
        let short = ClusterSecret::read(&path).unwrap_err().to_string();
        assert!(
            short.contains("is 5 bytes") && short.contains("at least 32"),
            "{short}"
        );
        let missing = ClusterSecret::read(&dir.path().join("nope")).unwrap_err();
        assert!(
            matches!(missing, SecretError::Unreadable { .. }),
            "{missing}"
        );
    }
}
