//! Tokens: 32 random bytes, base64url, behind a `silt_` prefix (so a leaked one is easy to
//! recognise in logs and by secret scanners). The broker keeps only their SHA-256.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// The prefix of every token `silt auth token` prints.
pub(crate) const TOKEN_PREFIX: &str = "silt_";

/// The SHA-256 of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash([u8; 32]);

/// The SHA-256 of `token`.
pub(crate) fn hash_token(token: &str) -> TokenHash {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    TokenHash(bytes)
}

/// A new random token.
pub(crate) fn new_token() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for TokenHash {
    type Err = String;

    /// 64 hex digits (either case).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!("token_sha256 must be 64 hex digits (the SHA-256 of the token), not {text:?}")
        };
        if text.len() != 64 || !text.is_ascii() {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
        }
        Ok(TokenHash(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_in_hex_and_parses_back() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let hash = hash_token("abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash.to_string(), hex);
        assert_eq!(hex.parse::<TokenHash>().unwrap(), hash);
        assert_eq!(hex.to_uppercase().parse::<TokenHash>().unwrap(), hash);
        assert!("ba78".parse::<TokenHash>().is_err());
        assert!("zz".repeat(32).parse::<TokenHash>().is_err());
    }

    #[test]
    fn new_tokens_are_prefixed_random_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert!(a.starts_with(TOKEN_PREFIX) && b.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_ne!(a, b);
    }
}
