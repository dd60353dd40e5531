//! The passwords users sign in with: a salted SHA-256 per user, never the clear text.
//!
//! Secret Server keeps local users' passwords and asks Active Directory for domain users'; the
//! emulator stands for both, so it keeps a hash for any user given a password: local users when
//! they are created or their password is changed through the API, domain users through
//! `POST /_sim/users/{id}/password` (the directory's side, which the Secret Server API has no call
//! for). SHA-256 rather than a slow hash because this is a test double whose data generator may
//! give thousands of users passwords; the hash is never served and checked in constant time.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A user's password as kept: a random salt and `SHA-256(salt ‖ password)`, both base64.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordHash {
    pub salt: String,
    pub hash: String,
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

fn digest(salt: &[u8], password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

impl PasswordHash {
    /// The hash of `password` with a fresh random salt.
    pub fn of(password: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        let b64 = base64::engine::general_purpose::STANDARD;
        Self { salt: b64.encode(salt), hash: b64.encode(digest(&salt, password)) }
    }

    /// Whether `password` is the one hashed, compared in constant time.
    pub fn matches(&self, password: &str) -> bool {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(expected)) = (b64.decode(&self.salt), b64.decode(&self.hash)) else {
            return false;
        };
        digest(&salt, password).ct_eq(expected.as_slice()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_hashed_matches_and_the_clear_text_is_not_kept() {
        let kept = PasswordHash::of("Corr3ct-Horse!");
        assert!(kept.matches("Corr3ct-Horse!"));
        assert!(!kept.matches("corr3ct-horse!"));
        assert!(!kept.matches(""));
        let serialized = serde_json::to_string(&kept).unwrap();
        assert!(!serialized.contains("Corr3ct"), "{serialized}");
        assert_eq!(format!("{kept:?}"), "PasswordHash(..)");
    }

    #[test]
    fn the_same_password_is_salted_differently_each_time() {
        assert_ne!(PasswordHash::of("same").hash, PasswordHash::of("same").hash);
    }
}
