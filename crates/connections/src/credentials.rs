//! Making and checking credentials: random bearer tokens and OAuth2 client
//! secrets (shown once, stored as hashes), Argon2 password hashes for HTTP
//! Basic and client secrets, and constant-time comparisons.
//!
//! Bearer tokens are 32 random bytes, base64url, behind a recognisable prefix
//! (`scimc_` for static tokens, `scimo_` for OAuth2 access tokens) so that a
//! leaked token is easy to spot in a log or a secret scanner. Because they are
//! long and random, a fast SHA-256 is enough to store them and lets the
//! gateway find the connection from the token in one lookup. Passwords and
//! client secrets are chosen (or at least seen) by people, so they get a slow
//! Argon2id hash instead.

use crate::model::{BasicCredential, OAuthClient, TokenCredential};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// The prefix of every static bearer token the connector issues.
pub const STATIC_TOKEN_PREFIX: &str = "scimc_";
/// The prefix of every OAuth2 access token the connector issues.
pub const ACCESS_TOKEN_PREFIX: &str = "scimo_";
/// The prefix of every OAuth2 client secret the connector issues.
pub const CLIENT_SECRET_PREFIX: &str = "scims_";

/// Random bytes behind each token's prefix (256 bits).
const TOKEN_BYTES: usize = 32;

/// A credential could not be hashed (never a verification failure, which is just `false`).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the credential: {0}")]
pub struct HashError(String);

/// A fresh random token with `prefix`: `prefix` + base64url(32 random bytes).
pub fn random_token(prefix: &str) -> SecretString {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    SecretString::from(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A short random public id (`tok_1a2b3c4d5e6f`), to name a credential without revealing it.
pub fn random_id(prefix: &str) -> String {
    let bytes: [u8; 6] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The lower-case hex SHA-256 of `token`: how tokens are stored and indexed.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// An Argon2id PHC string of `password` with a random salt.
///
/// # Errors
/// [`HashError`] when Argon2 refuses the input (it never does for inputs under 4 GiB).
pub fn hash_password(password: &SecretString) -> Result<String, HashError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A static bearer token just issued: the stored credential and the token itself, shown once.
#[derive(Debug)]
pub struct IssuedToken {
    pub credential: TokenCredential,
    pub token: SecretString,
}

/// Issues a static bearer token (`scimc_…`), valid until `expires_at` when given.
pub fn issue_token(label: Option<String>, expires_at: Option<OffsetDateTime>) -> IssuedToken {
    let token = random_token(STATIC_TOKEN_PREFIX);
    let credential = TokenCredential {
        id: random_id("tok_"),
        sha256: sha256_hex(token.expose_secret()),
        label,
        created_at: Some(OffsetDateTime::now_utc()),
        expires_at,
    };
    IssuedToken { credential, token }
}

/// An OAuth2 client just registered: the stored client and its secret, shown once.
#[derive(Debug)]
pub struct IssuedClient {
    pub client: OAuthClient,
    pub client_secret: SecretString,
}

/// Registers an OAuth2 client-credentials client whose access tokens live `token_ttl_seconds`.
///
/// # Errors
/// [`HashError`] when the secret cannot be hashed.
pub fn issue_oauth_client(token_ttl_seconds: u32) -> Result<IssuedClient, HashError> {
    let client_secret = random_token(CLIENT_SECRET_PREFIX);
    let client =
        OAuthClient { client_id: random_id("client_"), secret_hash: hash_password(&client_secret)?, token_ttl_seconds };
    Ok(IssuedClient { client, client_secret })
}

/// An HTTP Basic credential for `username` and `password` (stored as an Argon2 hash).
///
/// # Errors
/// [`HashError`] when the password cannot be hashed.
pub fn basic_credential(username: &str, password: &SecretString) -> Result<BasicCredential, HashError> {
    Ok(BasicCredential { username: username.to_owned(), password_hash: hash_password(password)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_prefixed_random_and_stored_only_as_their_hash() {
        let a = issue_token(Some("okta".into()), None);
        let b = issue_token(None, None);
        let token = a.token.expose_secret();
        assert!(token.starts_with(STATIC_TOKEN_PREFIX));
        assert!(token.len() >= STATIC_TOKEN_PREFIX.len() + 43, "32 bytes of base64url: {token}");
        assert_ne!(token, b.token.expose_secret());
        assert_eq!(a.credential.sha256, sha256_hex(token));
        assert!(!serde_json::to_string(&a.credential).unwrap().contains(token));
        assert!(a.credential.id.starts_with("tok_"));
    }

    #[test]
    fn a_password_verifies_against_its_hash_and_nothing_else() {
        let hash = hash_password(&SecretString::from("correct horse")).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn an_oauth_client_secret_verifies_against_the_stored_hash() {
        let issued = issue_oauth_client(600).unwrap();
        assert!(issued.client.client_id.starts_with("client_"));
        assert!(verify_password(issued.client_secret.expose_secret(), &issued.client.secret_hash));
        assert_eq!(issued.client.token_ttl_seconds, 600);
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
