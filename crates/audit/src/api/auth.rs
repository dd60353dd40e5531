//! Admin bearer tokens: the settings hold only their SHA-256 digests, and a presented token is
//! hashed and compared to each digest in constant time.

use super::error::ApiError;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The accepted token digests.
#[derive(Debug, Clone)]
pub struct AdminTokens {
    digests: Vec<[u8; 32]>,
}

impl AdminTokens {
    /// From hex digests (already validated by the settings; malformed ones are skipped).
    pub fn from_hex(digests: &[String]) -> Self {
        Self {
            digests: digests
                .iter()
                .filter_map(|d| hex::decode(d.trim()).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()))
                .collect(),
        }
    }

    /// True when `token` hashes to one of the digests.
    pub fn accepts(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Check every digest, so that the time taken does not tell which one matched.
        self.digests.iter().fold(subtle::Choice::from(0), |found, d| found | d.ct_eq(&digest)).into()
    }

    /// Admits a request carrying `Authorization: Bearer <accepted token>`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Unauthenticated`] otherwise.
    pub fn admit(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let token = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token {
            Some(token) if !token.is_empty() && self.accepts(token) => Ok(()),
            _ => Err(ApiError::Unauthenticated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_whose_digest_is_configured_are_accepted() {
        let digest = hex::encode(Sha256::digest(b"right-token"));
        let tokens = AdminTokens::from_hex(&[digest]);
        assert!(tokens.accepts("right-token"));
        assert!(!tokens.accepts("wrong-token"));
        assert!(!AdminTokens::from_hex(&[]).accepts("right-token"));
    }
}
