//! Defence in depth against secrets in change records.
//!
//! Producers never put a password, token or secret value in an event's before/after JSON. Should
//! one slip through anyway (a new mapped field, a bug), it must still not be kept: any object key
//! that names a credential is replaced, at any depth, by the producer's builder before the event
//! is published, and again by the audit store before the record is hashed and written.

use serde_json::Value;

/// What replaces a scrubbed value: shows that the field was present without showing it.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments that name a credential (compared case-insensitively, ignoring `_` and `-`).
/// `itemvalue` is Secret Server's name for a secret field's value. Plain `secret` is matched only
/// as a whole key: `secretId` and `secretName` identify a secret, they are not its value.
const SECRET_KEY_FRAGMENTS: [&str; 9] =
    ["password", "passwd", "passphrase", "token", "apikey", "privatekey", "clientsecret", "secretvalue", "itemvalue"];

/// True when an object key names a credential (`password`, `newPassword`, `client_secret`,
/// `accessToken`, `api-key`, `itemValue`...).
pub fn is_secret_key(key: &str) -> bool {
    let normalized: String = key.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
    normalized == "secret" || SECRET_KEY_FRAGMENTS.iter().any(|fragment| normalized.contains(fragment))
}

/// Replaces the value of every credential-named key in `value`, recursively; returns how many
/// values were replaced.
pub fn scrub_secrets(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut count = 0;
            for (key, item) in map.iter_mut() {
                if is_secret_key(key) {
                    if !item.is_null() {
                        *item = Value::String(REDACTED.to_owned());
                        count += 1;
                    }
                } else {
                    count += scrub_secrets(item);
                }
            }
            count
        }
        Value::Array(items) => items.iter_mut().map(scrub_secrets).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrub_replaces_password_keys_at_any_depth_and_keeps_the_rest() {
        let mut value = json!({
            "userName": "alice",
            "password": "hunter2",
            "nested": {"NewPassword": "x", "items": [{"client_secret": "s"}, {"displayName": "A"}]},
            "accessToken": "t",
            "items": [{"fieldName": "Password", "itemValue": "p4ss"}],
            "passwordLastChanged": null
        });
        assert_eq!(scrub_secrets(&mut value), 5);
        assert_eq!(
            value,
            json!({
                "userName": "alice",
                "password": REDACTED,
                "nested": {"NewPassword": REDACTED, "items": [{"client_secret": REDACTED}, {"displayName": "A"}]},
                "accessToken": REDACTED,
                "items": [{"fieldName": "Password", "itemValue": REDACTED}],
                "passwordLastChanged": null
            })
        );
    }

    #[test]
    fn ordinary_keys_are_not_secret() {
        for key in ["userName", "displayName", "enabled", "domainId", "isApplicationAccount", "secretId", "secretName"]
        {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
