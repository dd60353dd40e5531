//! Passwords in provisioning jobs are never at rest in clear: the gateway seals them when it
//! builds the job, and the adapter's worker opens them.
//!
//! - **What is sealed**: every value of the JSON payload under a key that names a password
//!   (`password`, in any case, also URN-prefixed: `urn:ietf:params:scim:schemas:core:2.0:User:password`),
//!   and the `value` of every PATCH operation whose `path` names one. That covers POST and PUT
//!   bodies, PATCH operations with and without a path, and each Bulk operation (one job each). The
//!   payload keeps `null` in each place; the sealed values travel as [`pb::SealedSecrets`] in the
//!   queue's `secrets` field, which the queue drops when the job finishes and never copies to a
//!   dead letter.
//! - **How**: envelope encryption with XChaCha20-Poly1305 (RustCrypto). Each job gets a fresh
//!   random data key that encrypts its values (random 24-byte nonces); the newest configured key
//!   wraps the data key, and its id travels with it. A value's additional data binds it to its
//!   place and to its job (the SHA-256 of the encoded job), so that a sealed value moved to another
//!   job, or another place, does not open.
//! - **Keys** ([`JobKeys`]): one or more, each `<id>:<base64 of 32 bytes>`, oldest first. The last
//!   seals; any opens. To rotate, give every adapter the new key (appended) before the gateways,
//!   then, once the jobs sealed with the old key have finished, remove it.

use crate::job::Job;
use base64::Engine as _;
use bytes::Bytes;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use prost::Message;
use proto::provisioning::v1 as pb;
use scim::password::{names_password, path_names_password};
use serde_json::Value;
use service_error::ServiceError;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::{Arc, LazyLock};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
const DATA_KEY_CONTEXT: &[u8] = b"scim-connector/job-data-key/v1";

/// A key id: what travels with a sealed job to name the key that wrapped its data key.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why a key ring could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no key: give at least one, as <id>:<base64 of 32 random bytes>")]
    Empty,
    #[error("key {position}: {reason}")]
    Invalid { position: usize, reason: String },
    #[error("key id {0:?} is given twice")]
    Duplicate(String),
}

/// The keys that seal and open the secrets of provisioning jobs: the last seals, any opens.
/// `Debug` shows the ids only.
#[derive(Clone)]
pub struct JobKeys {
    keys: Arc<Vec<(String, Zeroizing<[u8; KEY_LEN]>)>>,
}

impl fmt::Debug for JobKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobKeys").field("ids", &self.ids()).field("sealing", &self.sealing_id()).finish()
    }
}

static EPHEMERAL: LazyLock<JobKeys> = LazyLock::new(|| {
    let (keys, _) = JobKeys::generate(&format!("ephemeral-{}", hex::encode(rand::random::<[u8; 4]>())));
    keys
});

impl Default for JobKeys {
    /// [`JobKeys::ephemeral`].
    fn default() -> Self {
        Self::ephemeral()
    }
}

impl JobKeys {
    /// Reads keys written one per line or separated by commas, oldest first, each
    /// `<id>:<base64 of 32 bytes>` (standard or URL-safe alphabet, padded or not). Blank lines
    /// and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// No key, an id that is not 1 to 64 letters, digits, `-`, `_` or `.`, a key that is not 32
    /// bytes of base64, or an id given twice. The message never shows a key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)> = Vec::new();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (i, entry) in entries.enumerate() {
            let invalid = |reason: &str| KeyError::Invalid { position: i + 1, reason: reason.to_owned() };
            let (id, encoded) = entry.split_once(':').ok_or_else(|| invalid("not <id>:<base64>"))?;
            let id = id.trim();
            if !valid_id(id) {
                return Err(invalid("the id must be 1 to 64 letters, digits, '-', '_' or '.'"));
            }
            let encoded = encoded.trim().trim_end_matches('=');
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(encoded)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
                    .map_err(|_| invalid("the key is not base64"))?,
            );
            let key: [u8; KEY_LEN] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| invalid(&format!("the key is {} bytes; it must be {KEY_LEN}", bytes.len())))?;
            if keys.iter().any(|(known, _)| known == id) {
                return Err(KeyError::Duplicate(id.to_owned()));
            }
            keys.push((id.to_owned(), Zeroizing::new(key)));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys: Arc::new(keys) })
    }

    /// A new random key named `id`, and its text as [`JobKeys::parse`] reads it (to keep in a file).
    ///
    /// # Panics
    /// When `id` is not a valid key id.
    pub fn generate(id: &str) -> (Self, Zeroizing<String>) {
        assert!(valid_id(id), "invalid key id {id:?}");
        let key = Zeroizing::new(rand::random::<[u8; KEY_LEN]>());
        let text = Zeroizing::new(format!("{id}:{}", base64::engine::general_purpose::STANDARD.encode(*key)));
        (Self { keys: Arc::new(vec![(id.to_owned(), key)]) }, text)
    }

    /// A random key made once per process and kept nowhere, so that a gateway and an adapter
    /// composed in one process (tests, examples) agree without configuration. A deployment
    /// configures its keys: jobs sealed with this key open in this process only.
    pub fn ephemeral() -> Self {
        EPHEMERAL.clone()
    }

    /// The key ids, oldest first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The id of the key that seals (the last).
    pub fn sealing_id(&self) -> &str {
        self.keys.last().map(|(id, _)| id.as_str()).unwrap_or_default()
    }

    fn sealing(&self) -> (&str, &[u8; KEY_LEN]) {
        let (id, key) = self.keys.last().expect("a key ring has at least one key");
        (id, key)
    }

    fn get(&self, id: &str) -> Option<&[u8; KEY_LEN]> {
        self.keys.iter().find(|(known, _)| known == id).map(|(_, key)| &**key)
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&(*key).into())
}

/// `nonce ‖ ciphertext` of `plaintext` under `key`, with a fresh random nonce.
fn encrypt(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = cipher(key)
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad })
        .expect("XChaCha20-Poly1305 encrypts any message of a job's size");
    [&nonce[..], &sealed].concat()
}

/// The plaintext of `nonce ‖ ciphertext`, or `None` when it does not authenticate.
fn decrypt(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    cipher(key).decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad }).ok().map(Zeroizing::new)
}

fn value_aad(pointer: &str, job_digest: &[u8]) -> Vec<u8> {
    [pointer.as_bytes(), &[0], job_digest].concat()
}

fn data_key_aad(key_id: &str) -> Vec<u8> {
    [DATA_KEY_CONTEXT, &[0], key_id.as_bytes()].concat()
}

fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Takes every password value out of `value` (leaving `null`), with its JSON Pointer.
fn take_passwords(value: &mut Value, pointer: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            // A PATCH operation whose path names the password carries it as its `value`.
            let path_names_password = path_names_password(map);
            for (key, child) in map.iter_mut() {
                let here = format!("{pointer}/{}", pointer_token(key));
                if names_password(key) || (path_names_password && key.eq_ignore_ascii_case("value")) {
                    if !child.is_null() {
                        out.push((here, child.take()));
                    }
                } else {
                    take_passwords(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                take_passwords(child, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A job's payload and secrets as the queue carries them.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedJob {
    /// The encoded `ProvisioningJob`: `null` where each password was.
    pub payload: Bytes,
    /// The encoded [`pb::SealedSecrets`]; empty when the job holds no password.
    pub secrets: Bytes,
}

impl fmt::Debug for SealedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedJob")
            .field("payload_bytes", &self.payload.len())
            .field("secrets_bytes", &self.secrets.len())
            .finish()
    }
}

/// Seals `job`'s passwords with `keys` and encodes it.
pub(crate) fn seal(job: &Job, keys: &JobKeys) -> SealedJob {
    let mut payload = job.payload().clone();
    let mut taken = Vec::new();
    take_passwords(&mut payload, "", &mut taken);
    let encoded = job.encode_with_payload(&payload);
    if taken.is_empty() {
        return SealedJob { payload: encoded, secrets: Bytes::new() };
    }
    let digest = Sha256::digest(&encoded);
    let data_key = Zeroizing::new(rand::random::<[u8; KEY_LEN]>());
    let values = taken
        .into_iter()
        .map(|(pointer, value)| {
            let json = Zeroizing::new(serde_json::to_vec(&value).expect("a JSON value serializes"));
            let ciphertext = encrypt(&data_key, &json, &value_aad(&pointer, &digest));
            pb::SealedValue { pointer, ciphertext }
        })
        .collect();
    let (key_id, key) = keys.sealing();
    let secrets = pb::SealedSecrets {
        key_id: key_id.to_owned(),
        wrapped_data_key: encrypt(key, &*data_key, &data_key_aad(key_id)),
        values,
    };
    SealedJob { payload: encoded, secrets: Bytes::from(secrets.encode_to_vec()) }
}

/// Opens the secrets sealed for the encoded job `payload`: each value and its JSON Pointer.
///
/// # Errors
/// `Internal` (the worker's configuration, not the client's request) when the secrets do not
/// decode, name a key `keys` lacks, or do not authenticate against this job.
pub(crate) fn open(payload: &[u8], secrets: &[u8], keys: &JobKeys) -> Result<Vec<(String, Value)>, ServiceError> {
    if secrets.is_empty() {
        return Ok(Vec::new());
    }
    let sealed = pb::SealedSecrets::decode(secrets)
        .map_err(|e| ServiceError::internal(format!("the job's sealed secrets do not decode: {e}")))?;
    let key = keys.get(&sealed.key_id).ok_or_else(|| {
        ServiceError::internal(format!(
            "the job's password is sealed with key {:?}, which this adapter does not have (it has {:?}): give \
             every adapter every key the gateways seal with",
            sealed.key_id,
            keys.ids()
        ))
    })?;
    let data_key = decrypt(key, &sealed.wrapped_data_key, &data_key_aad(&sealed.key_id)).ok_or_else(|| {
        ServiceError::internal(format!("the job's data key does not open with key {:?}", sealed.key_id))
    })?;
    let data_key: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(
        data_key
            .as_slice()
            .try_into()
            .map_err(|_| ServiceError::internal("the job's data key has the wrong length"))?,
    );
    let digest = Sha256::digest(payload);
    sealed
        .values
        .into_iter()
        .map(|value| {
            let json = decrypt(&data_key, &value.ciphertext, &value_aad(&value.pointer, &digest)).ok_or_else(|| {
                ServiceError::internal("a sealed value of the job does not open: it belongs elsewhere")
            })?;
            let opened = serde_json::from_slice(&json)
                .map_err(|_| ServiceError::internal("a sealed value of the job is not JSON"))?;
            Ok((value.pointer, opened))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn taken(mut payload: Value) -> (Value, Vec<(String, Value)>) {
        let mut out = Vec::new();
        take_passwords(&mut payload, "", &mut out);
        (payload, out)
    }

    #[test]
    fn every_form_of_a_password_in_a_payload_is_taken_and_nothing_else() {
        let (left, found) = taken(json!({
            "userName": "bjensen",
            "Password": "top-level",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "urn-prefixed",
            "Operations": [
                {"op": "replace", "path": "password", "value": "by-path"},
                {"op": "Replace", "PATH": "urn:ietf:params:scim:schemas:core:2.0:User:password", "Value": "by-urn"},
                {"op": "replace", "value": {"password": "path-less", "active": true}},
                {"op": "replace", "path": "displayName", "value": "Barbara"},
                {"op": "remove", "path": "password"}
            ]
        }));
        let values: Vec<&str> = found.iter().filter_map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["top-level", "urn-prefixed", "by-path", "by-urn", "path-less"]);
        assert_eq!(found[0].0, "/Password");
        assert_eq!(found[2].0, "/Operations/0/value");
        assert_eq!(left["Operations"][3]["value"], "Barbara", "other values stay");
        assert_eq!(left["Operations"][2]["value"]["active"], true);
        assert!(!left.to_string().contains("top-level") && !left.to_string().contains("path-less"));
    }

    #[test]
    fn keys_read_one_per_line_or_by_commas_and_the_last_seals() {
        let (_, old) = JobKeys::generate("2025-01");
        let (_, new) = JobKeys::generate("2026-01");
        let keys = JobKeys::parse(&format!("# oldest first\n{}\n\n{}\n", *old, *new)).unwrap();
        assert_eq!(keys.ids(), ["2025-01", "2026-01"]);
        assert_eq!(keys.sealing_id(), "2026-01");
        assert_eq!(JobKeys::parse(&format!("{},{}", *old, *new)).unwrap().ids(), keys.ids());
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        assert!(matches!(JobKeys::parse(" \n# nothing\n"), Err(KeyError::Empty)));
        let short = JobKeys::parse("k1:c2hvcnQ=").unwrap_err();
        assert!(short.to_string().contains("5 bytes"), "{short}");
        assert!(!short.to_string().contains("c2hvcnQ"), "{short}");
        assert!(matches!(JobKeys::parse("no-colon"), Err(KeyError::Invalid { position: 1, .. })));
        assert!(matches!(JobKeys::parse("bad id:AAAA"), Err(KeyError::Invalid { .. })));
        let (_, text) = JobKeys::generate("same");
        assert!(
            matches!(JobKeys::parse(&format!("{},{}", *text, *text)), Err(KeyError::Duplicate(id)) if id == "same")
        );
    }

    #[test]
    fn debug_shows_the_key_ids_only() {
        let (keys, text) = JobKeys::generate("k1");
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains(text.split_once(':').unwrap().1), "{shown}");
    }
}
