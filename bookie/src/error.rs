//! The crate's one error type.
//!
//! Callers act on [`Error::code`] (stable snake_case strings the broker maps to HTTP
//! statuses) and [`Error::is_corrupt`]; people debug with the variant and its source
//! chain. `Display` is one lowercase line naming the bad value.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the storage engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes failed a checksum or are malformed (truncated, bad length, bad magic).
    #[error("corrupt data: {what}")]
    Corrupt {
        /// What was being decoded and what was wrong.
        what: String,
    },

    /// Bytes carry a format version this build does not understand.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// Which structure (batch, segment footer, segment trailer).
        what: &'static str,
        /// The version found.
        version: u32,
    },

    /// An object-store request failed.
    #[error("object store: {0}")]
    ObjectStore(#[source] object_store::Error),

    /// A local file-system operation failed.
    #[error("io: {context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An object-store URL could not be understood.
    #[error(
        "invalid store url {url:?}: {reason} (accepted: file:///abs/dir, a plain path, s3://bucket/prefix, memory://)"
    )]
    InvalidStoreUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// An object with this name already exists with different content (a real collision).
    #[error("object {path} already exists with different content")]
    AlreadyExists {
        /// The object path.
        path: String,
    },
}

impl Error {
    /// Stable snake_case code for this error (used in the HTTP error body and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Corrupt { .. } => "corrupt_data",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::ObjectStore(object_store::Error::NotFound { .. }) => "object_not_found",
            Error::ObjectStore(_) => "object_store",
            Error::Io { .. } => "io",
            Error::InvalidStoreUrl { .. } => "invalid_store_url",
            Error::AlreadyExists { .. } => "already_exists",
        }
    }

    /// True when the bytes read cannot be trusted or decoded: checksum mismatch, malformed
    /// data, or an unknown format version.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            Error::Corrupt { .. } | Error::UnsupportedVersion { .. }
        )
    }

    /// True when an object (or local file) was not found.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::ObjectStore(object_store::Error::NotFound { .. }) => true,
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }

    /// Builds an [`Error::Corrupt`].
    pub fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt { what: what.into() }
    }

    /// Builds an [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<object_store::Error> for Error {
    fn from(error: object_store::Error) -> Self {
        Error::ObjectStore(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Error::corrupt("x").code(), "corrupt_data");
        assert!(Error::corrupt("x").is_corrupt());
        let url = Error::InvalidStoreUrl {
            url: "ftp://x".into(),
            reason: "unknown scheme".into(),
        };
        assert_eq!(url.code(), "invalid_store_url");
        assert!(url.to_string().contains("ftp://x"));
        let io = Error::io(
            "reading f",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(io.code(), "io");
        assert!(io.is_not_found());
        let exists = Error::AlreadyExists { path: "p".into() };
        assert_eq!(exists.code(), "already_exists");
    }
}
