//! Initial passwords for users created without one.
//!
//! Secret Server requires a password for a local user, and SCIM clients that provision through a
//! directory (Entra ID, Okta) usually send none. The adapter then generates a random one that
//! satisfies Secret Server's default local-user policy (length and the four character classes);
//! it is sent once to Secret Server and never stored, logged or returned. Users sign in through
//! their identity provider or get a password reset from an administrator.

use rand::Rng;
use rand::seq::SliceRandom;
use secrecy::SecretString;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGIT: &[u8] = b"23456789";
const SYMBOL: &[u8] = b"!#$%&*+-=?@^_~";
const LENGTH: usize = 32;

/// A random password of 32 characters with at least one of each class.
pub fn generate() -> SecretString {
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    let mut chars: Vec<u8> =
        [UPPER, LOWER, DIGIT, SYMBOL].iter().map(|set| set[rng.random_range(0..set.len())]).collect();
    while chars.len() < LENGTH {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    SecretString::from(String::from_utf8_lossy(&chars).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_passwords_have_every_character_class_and_differ() {
        let a = generate();
        let b = generate();
        let text = a.expose_secret();
        assert_eq!(text.len(), LENGTH);
        assert!(text.chars().any(|c| c.is_ascii_uppercase()));
        assert!(text.chars().any(|c| c.is_ascii_lowercase()));
        assert!(text.chars().any(|c| c.is_ascii_digit()));
        assert!(text.chars().any(|c| !c.is_alphanumeric()));
        assert_ne!(text, b.expose_secret());
    }
}
