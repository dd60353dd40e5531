//! Every Redis name the backend uses, in one place, all under the configured
//! prefix; and the job ids, which name the job's hash.

use crate::QueueConfig;
use sha2::{Digest, Sha256};

/// The consumer group of the workers on a job stream.
pub(crate) const WORKER_GROUP: &str = "workers";

/// Hex digits of the idempotency key's digest at the end of every job id.
const DIGEST_HEX: usize = 32;

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `<prefix>:q:<queue>`; the Lua scripts derive the per-job keys from it.
    pub(crate) base: String,
    pub(crate) ready: String,
    pub(crate) dead: String,
    pub(crate) done_channel: String,
    pub(crate) events: String,
}

impl Keys {
    pub(crate) fn new(config: &QueueConfig) -> Self {
        let base = format!("{}:q:{}", config.prefix, config.queue);
        Self {
            ready: format!("{base}:ready"),
            dead: format!("{base}:dead"),
            done_channel: format!("{base}:done"),
            events: format!("{}:ev:{}", config.prefix, config.events_stream),
            base,
        }
    }

    /// The hash of job `id`, or `None` when `id` cannot be one of this
    /// backend's ids (so no job has it).
    pub(crate) fn job(&self, id: &str) -> Option<String> {
        let split = id.len().checked_sub(DIGEST_HEX + 1)?;
        let (head, digest) = id.split_at_checked(split + 1)?;
        let well_formed = split > 0
            && head.ends_with('.')
            && digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| format!("{}:job:{digest}", self.base))
    }
}

/// The digest of an idempotency key that names its job's hash (32 hex digits).
fn key_digest(idempotency_key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut out = String::with_capacity(DIGEST_HEX);
    for byte in &digest[..DIGEST_HEX / 2] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

impl Keys {
    /// The hash that holds the job of an idempotency key, if one is remembered.
    pub(crate) fn job_of_key(&self, idempotency_key: &str) -> String {
        format!("{}:job:{}", self.base, key_digest(idempotency_key))
    }
}

/// A new job id: `<UUIDv7>.<digest of the idempotency key>`. The UUID makes
/// every submission's id unique (a key submitted again after its result
/// expired gets a new id); the digest names the job's hash, so the hash is also
/// the idempotency record and a job costs no key of its own for that.
pub(crate) fn new_job_id(idempotency_key: &str) -> String {
    let mut id = uuid::Uuid::now_v7().hyphenated().to_string();
    id.push('.');
    id.push_str(&key_digest(idempotency_key));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&QueueConfig { prefix: "p".to_owned(), queue: "q".to_owned(), ..QueueConfig::default() })
    }

    #[test]
    fn ids_of_one_idempotency_key_differ_but_name_the_same_hash() {
        let (a, b) = (new_job_id("req-1"), new_job_id("req-1"));
        assert_ne!(a, b);
        assert_eq!(keys().job(&a), keys().job(&b));
        assert_ne!(keys().job(&a), keys().job(&new_job_id("req-2")));
        assert!(keys().job(&a).unwrap().starts_with("p:q:q:job:"));
        assert_eq!(keys().job(&a).unwrap(), keys().job_of_key("req-1"), "the key finds the hash of its jobs");
    }

    #[test]
    fn an_id_the_backend_never_issued_names_no_hash() {
        let digest = "0123456789abcdef0123456789abcdef";
        for id in ["", "x", digest, &format!(".{digest}"), &format!("u.{}", digest.to_uppercase()), "é.é"] {
            assert_eq!(keys().job(id), None, "{id:?}");
        }
        assert!(keys().job(&format!("u.{digest}")).is_some());
    }
}
