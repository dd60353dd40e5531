//! Reading a job's hash (from `HGETALL`, or from the done message that carries it) into a [`JobState`].

use crate::{JobId, JobState, JobStatus, QueueError};
use bytes::Bytes;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A status as the job hash spells it.
pub(super) fn parse_status(text: &str) -> Option<JobStatus> {
    Some(match text {
        "queued" => JobStatus::Queued,
        "running" => JobStatus::Running,
        "retrying" => JobStatus::Retrying,
        "succeeded" => JobStatus::Succeeded,
        "failed" => JobStatus::Failed,
        "dead_lettered" => JobStatus::DeadLettered,
        "withdrawn" => JobStatus::Withdrawn,
        _ => return None,
    })
}

pub(super) fn parse_state(id: &JobId, fields: HashMap<String, Vec<u8>>) -> Result<Option<JobState>, QueueError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let text = |name: &str| fields.get(name).map(|v| String::from_utf8_lossy(v).into_owned());
    let time =
        |name: &str| text(name).and_then(|v| v.parse::<u64>().ok()).map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
    let status = match text("status").as_deref().and_then(parse_status) {
        Some(status) => status,
        None => return Err(QueueError::Corrupt(format!("job {id} has status {:?}", text("status")))),
    };
    Ok(Some(JobState {
        job_id: id.clone(),
        status,
        ordering_key: text("okey").unwrap_or_default(),
        attempts: text("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
        // A job gets its entry in the ready stream when it heads its ordering key; a withdrawn job
        // keeps where it was.
        behind: match status {
            JobStatus::Queued => fields.get("entry").is_none_or(Vec::is_empty),
            JobStatus::Withdrawn => fields.get("withdrawn").is_some_and(|at| at == b"behind"),
            _ => false,
        },
        result: fields.get("result").map(|r| Bytes::copy_from_slice(r)),
        last_error: text("last_error"),
        submitted_at: time("submitted").unwrap_or(SystemTime::UNIX_EPOCH),
        updated_at: time("updated").unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

/// Splits netstrings (`<len>:<bytes>`) off the front of `rest`.
fn netstrings(mut rest: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let item = (|| {
            let colon = rest.iter().position(|b| *b == b':')?;
            let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
            let value = rest.get(colon + 1..colon.checked_add(1 + len)?)?;
            rest = &rest[colon + 1 + len..];
            Some(value)
        })();
        if item.is_none() {
            rest = &[];
        }
        Some(item)
    })
}

/// The done message: one netstring per job that became final, each holding
/// netstrings: the job id first, then the job hash's field/value pairs. A
/// malformed record is left out (and makes the rest of the message unreadable).
pub(super) fn parse_done(message: &[u8]) -> Vec<JobState> {
    netstrings(message).map_while(|record| record).filter_map(parse_record).collect()
}

fn parse_record(record: &[u8]) -> Option<JobState> {
    let mut parts = netstrings(record);
    let id = JobId(String::from_utf8(parts.next()??.to_vec()).ok()?);
    let mut fields = HashMap::new();
    while let Some(name) = parts.next() {
        fields.insert(String::from_utf8(name?.to_vec()).ok()?, parts.next()??.to_vec());
    }
    parse_state(&id, fields).ok().flatten().filter(|state| state.status.is_final())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netstrings(parts: &[&[u8]]) -> Vec<u8> {
        parts.iter().flat_map(|p| [format!("{}:", p.len()).into_bytes(), p.to_vec()].concat()).collect()
    }

    #[test]
    fn a_done_message_carries_the_final_state_with_a_binary_result() {
        let record = netstrings(&[
            b"j-1",
            b"status",
            b"succeeded",
            b"okey",
            b"User/1",
            b"attempts",
            b"2",
            b"result",
            b"a:b\x00\xff",
            b"submitted",
            b"1000",
            b"updated",
            b"2500",
        ]);
        let states = parse_done(&netstrings(&[&record]));
        assert_eq!(states.len(), 1);
        let state = &states[0];
        assert_eq!(state.job_id, JobId("j-1".to_owned()));
        assert_eq!(state.status, JobStatus::Succeeded);
        assert_eq!(state.attempts, 2);
        assert_eq!(state.result.as_deref(), Some(&b"a:b\x00\xff"[..]));
        assert_eq!(state.updated_at, UNIX_EPOCH + Duration::from_millis(2500));
    }

    #[test]
    fn one_done_message_carries_every_job_of_a_batch() {
        let a = netstrings(&[b"j-1", b"status", b"succeeded"]);
        let b = netstrings(&[b"j-2", b"status", b"dead_lettered", b"last_error", b"503"]);
        let states = parse_done(&netstrings(&[&a, &b]));
        let ids: Vec<&str> = states.iter().map(|s| s.job_id.0.as_str()).collect();
        assert_eq!(ids, ["j-1", "j-2"]);
        assert_eq!(states[1].last_error.as_deref(), Some("503"));
    }

    #[test]
    fn a_truncated_or_unfinished_record_is_ignored() {
        let good = netstrings(&[b"j-1", b"status", b"succeeded"]);
        let running = netstrings(&[b"j-2", b"status", b"running"]);
        let truncated = netstrings(&[&good[..good.len() - 2]]);
        assert!(parse_done(&truncated).is_empty());
        assert_eq!(parse_done(&netstrings(&[&running, &good])).len(), 1);
        assert!(parse_done(b"garbage").is_empty());
        assert!(parse_done(b"99999999999999999999999:x").is_empty());
        let cut = netstrings(&[&good, &good]);
        assert_eq!(parse_done(&cut[..cut.len() - 1]).len(), 1);
    }
}
