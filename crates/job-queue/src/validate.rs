//! Checks on what callers hand to the queue, shared by both backends so that
//! both refuse the same input with the same error.

use crate::{NewJob, QueueError};

/// Keys are stored inside Redis key names; a generous bound keeps a runaway
/// caller from building megabyte-long keys.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn new_job(job: &NewJob, max_payload_bytes: usize) -> Result<(), QueueError> {
    key("idempotency_key", &job.idempotency_key)?;
    key("ordering_key", &job.ordering_key)?;
    if job.fingerprint.len() > MAX_KEY_BYTES {
        return Err(QueueError::Invalid(format!(
            "fingerprint is {} bytes; the limit is {MAX_KEY_BYTES}",
            job.fingerprint.len()
        )));
    }
    payload(job.payload.len(), max_payload_bytes)
}

pub(crate) fn key(name: &str, value: &str) -> Result<(), QueueError> {
    if value.is_empty() {
        return Err(QueueError::Invalid(format!("{name} is empty")));
    }
    if value.len() > MAX_KEY_BYTES {
        return Err(QueueError::Invalid(format!("{name} is {} bytes; the limit is {MAX_KEY_BYTES}", value.len())));
    }
    Ok(())
}

pub(crate) fn payload(len: usize, max: usize) -> Result<(), QueueError> {
    if len > max {
        return Err(QueueError::Invalid(format!("payload is {len} bytes; the limit is {max}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn job(idempotency_key: &str, ordering_key: &str, payload: usize) -> NewJob {
        NewJob {
            idempotency_key: idempotency_key.to_owned(),
            fingerprint: String::new(),
            ordering_key: ordering_key.to_owned(),
            payload: Bytes::from(vec![0; payload]),
            trace_context: Default::default(),
        }
    }

    #[test]
    fn empty_idempotency_key_is_refused_by_name() {
        let err = new_job(&job("", "k", 1), 10).unwrap_err();
        assert!(matches!(err, QueueError::Invalid(m) if m.contains("idempotency_key")));
    }

    #[test]
    fn oversized_ordering_key_is_refused() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(new_job(&job("i", &long, 1), 10), Err(QueueError::Invalid(_))));
    }

    #[test]
    fn payload_over_the_limit_is_refused_and_at_the_limit_accepted() {
        assert!(new_job(&job("i", "k", 10), 10).is_ok());
        assert!(matches!(new_job(&job("i", "k", 11), 10), Err(QueueError::Invalid(m)) if m.contains("payload")));
    }
}
