//! A dead-lettered provisioning job as an administrator sees and replays it.
//!
//! A job's passwords never reach a dead letter: they are sealed apart from the payload
//! ([`crate::sealing`]) and the queue drops the sealed part when the job finishes. The payload
//! keeps `null` where each password was. [`DeadJob::decode`] reads the payload and takes even
//! those places out: an inspection shows no password, encrypted or not, and no member that held
//! one, only the JSON Pointers of the places withheld ([`DeadJob::withheld`]).
//!
//! Replaying such a job cannot send the password the client sent: it is gone. A replay of a job
//! with withheld places is therefore refused unless the administrator asks for it to run
//! without them ([`DeadJob::replay_payload`]): a create then makes the user with a generated
//! password (as a create without `password` does), a change of password is left out of the
//! PATCH (refused when nothing else is left).

use crate::job::Job;
use crate::operation::Operation;
use bytes::Bytes;
use prost::Message;
use proto::provisioning::v1 as pb;
use scim::ResourceKind;
use scim::password::{names_password, path_names_password};
use serde_json::Value;
use service_error::{ErrorKind, ServiceError};

/// A dead-lettered job, decoded, its password places taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJob {
    job: Job,
    /// The payload without the password places (`Null` for a delete).
    shown: Value,
    /// The JSON Pointers (into the job's payload) of the places that held a password.
    withheld: Vec<String>,
}

impl DeadJob {
    /// Reads a dead letter's payload (the encoded `ProvisioningJob`, as the queue kept it).
    ///
    /// # Errors
    /// `400` for bytes that are not a valid provisioning job.
    pub fn decode(payload: &[u8]) -> Result<Self, ServiceError> {
        let decoded = pb::ProvisioningJob::decode(payload)
            .map_err(|e| ServiceError::invalid_argument(format!("the job is not a ProvisioningJob: {e}")))?;
        let job = Job::try_from(decoded)?;
        let mut shown = job.payload().clone();
        let mut withheld = Vec::new();
        strip_passwords(&mut shown, "", &mut withheld);
        Ok(Self { job, shown, withheld })
    }

    pub fn connection_id(&self) -> &str {
        self.job.connection_id()
    }

    pub fn kind(&self) -> ResourceKind {
        self.job.kind()
    }

    pub fn operation(&self) -> Operation {
        self.job.operation()
    }

    /// The target's id (empty for a create).
    pub fn resource_id(&self) -> &str {
        self.job.resource_id()
    }

    /// The id of the request that submitted it.
    pub fn request_id(&self) -> &str {
        self.job.request_id()
    }

    /// The SCIM payload without any password place (`Null` for a delete).
    pub fn payload(&self) -> &Value {
        &self.shown
    }

    /// Where the payload held a password (JSON Pointers); empty when it held none.
    pub fn withheld(&self) -> &[String] {
        &self.withheld
    }

    /// The payload to submit again: the dead letter's own bytes when it held no password; with
    /// `without_password`, the job without its password places.
    ///
    /// # Errors
    /// `AlreadyExists` (409: the dead letter's state stands in the way) when the job held a password and `without_password` is false, and when
    /// nothing is left of a PATCH without its password operations.
    pub fn replay_payload(&self, original: &[u8], without_password: bool) -> Result<Bytes, ServiceError> {
        if self.withheld.is_empty() {
            return Ok(Bytes::copy_from_slice(original));
        }
        if !without_password {
            return Err(ServiceError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "this {} of a {} carried a password ({}), which is never kept in a dead letter: a replay cannot \
                 send it. Replay it without the password (a created user gets a generated one; a password \
                 change is left out), or have the client send it again",
                    self.operation().name(),
                    self.kind().name(),
                    self.withheld.join(", ")
                ),
            ));
        }
        if self.operation() == Operation::Patch
            && self.shown.get("Operations").and_then(Value::as_array).is_some_and(|ops| ops.is_empty())
        {
            return Err(ServiceError::new(
                ErrorKind::AlreadyExists,
                "this PATCH only changed the password, which is never kept in a dead letter: nothing is left to replay",
            ));
        }
        Ok(self.job.encode_with_payload(&self.shown))
    }
}

/// Takes out of `value` every member that names a password and every PATCH operation whose path
/// names one, whatever its value (`null` in a dead letter), recording each place's pointer.
fn strip_passwords(value: &mut Value, pointer: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let here = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                if names_password(&key) {
                    map.remove(&key);
                    out.push(here);
                } else if let Some(child) = map.get_mut(&key) {
                    strip_passwords(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for (i, mut item) in std::mem::take(items).into_iter().enumerate() {
                let here = format!("{pointer}/{i}");
                if item.as_object().is_some_and(path_names_password) {
                    out.push(here);
                } else {
                    strip_passwords(&mut item, &here, out);
                    kept.push(item);
                }
            }
            *items = kept;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::JobKeys;
    use serde_json::json;

    const PASSWORD: &str = "Hunter-2-Secret!";

    fn dead(operation: Operation, id: &str, payload: Value) -> (DeadJob, Bytes) {
        let job = Job::new("okta", ResourceKind::User, operation, id, payload).unwrap();
        // What the queue keeps: the sealed job's payload, never its secrets.
        let sealed = job.seal(&JobKeys::ephemeral());
        (DeadJob::decode(&sealed.payload).unwrap(), sealed.payload)
    }

    #[test]
    fn an_inspected_create_shows_no_password_member_and_names_the_place_withheld() {
        let (dead, _) = dead(Operation::Create, "", json!({"userName": "bjensen", "password": PASSWORD}));
        assert_eq!(dead.payload(), &json!({"userName": "bjensen"}));
        assert_eq!(dead.withheld(), ["/password"]);
        assert_eq!(
            (dead.connection_id(), dead.kind(), dead.operation()),
            ("okta", ResourceKind::User, Operation::Create)
        );
    }

    #[test]
    fn a_job_with_a_password_is_replayed_only_without_it_when_asked() {
        let (dead, original) = dead(Operation::Create, "", json!({"userName": "bjensen", "password": PASSWORD}));
        let refused = dead.replay_payload(&original, false).unwrap_err();
        assert!(refused.detail.contains("never kept in a dead letter"), "{}", refused.detail);
        let replayed = dead.replay_payload(&original, true).unwrap();
        let job = Job::open(&replayed, &[], &JobKeys::ephemeral()).unwrap();
        assert_eq!(job.payload(), &json!({"userName": "bjensen"}));
    }

    #[test]
    fn a_patch_loses_only_its_password_operations_and_one_of_only_those_is_refused() {
        let ops = json!({"Operations": [
            {"op": "replace", "path": "password", "value": PASSWORD},
            {"op": "replace", "path": "title", "value": "Boss"}
        ]});
        let (dead, original) = dead(Operation::Patch, "41", ops);
        assert_eq!(dead.withheld(), ["/Operations/0"]);
        let job = Job::open(&dead.replay_payload(&original, true).unwrap(), &[], &JobKeys::ephemeral()).unwrap();
        assert_eq!(job.payload(), &json!({"Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}));

        let only = json!({"Operations": [{"op": "replace", "path": "password", "value": PASSWORD}]});
        let (dead, original) = self::dead(Operation::Patch, "41", only);
        assert!(dead.replay_payload(&original, true).is_err());
    }

    #[test]
    fn a_job_without_a_password_replays_its_own_bytes() {
        let (dead, original) = dead(Operation::Patch, "41", json!({"Operations": [{"op": "remove", "path": "title"}]}));
        assert!(dead.withheld().is_empty());
        assert_eq!(dead.replay_payload(&original, false).unwrap(), original);
    }
}
