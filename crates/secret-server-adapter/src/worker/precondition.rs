//! `If-Match`, checked where the change is applied: in the worker, after the target was read
//! fresh from Secret Server, under the per-resource ordering the queue guarantees (no other job
//! on the same resource runs meanwhile).

use crate::meta::etag;
use scim::etag::ETag;
use service_error::ServiceError;

/// Checks an `If-Match` value (`*`, one tag, or a list; weak comparison, as RFC 7644 §3.14 uses
/// weak tags) against the resource's current version.
///
/// # Errors
/// `412 invalidVers` when no listed tag matches; `400 invalidValue` for a malformed header.
pub fn check_if_match(if_match: Option<&str>, current: u64) -> Result<(), ServiceError> {
    let Some(header) = if_match.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(()) };
    let tag = ETag::weak(format!("{current:016x}"));
    scim::etag::check_if_match(Some(header), Some(&tag)).map_err(|e| {
        if e.scim_type == Some(scim::ScimType::InvalidVers) {
            ServiceError::from(scim::ScimError::precondition_failed(format!(
                "If-Match {header} does not match the current version {}; read the resource again",
                etag(current)
            )))
        } else {
            ServiceError::from(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_weak_or_strong_tag_matches() {
        let v = 0x1234;
        assert!(check_if_match(Some(&etag(v)), v).is_ok());
        assert!(check_if_match(Some("\"0000000000001234\""), v).is_ok());
        assert!(check_if_match(Some("W/\"nope\", W/\"0000000000001234\""), v).is_ok());
        assert_eq!(check_if_match(Some("nonsense"), v).unwrap_err().http_status(), 400);
        assert!(check_if_match(Some("*"), v).is_ok());
        assert!(check_if_match(None, v).is_ok());
    }

    #[test]
    fn a_stale_tag_is_a_412_invalid_vers() {
        let err = check_if_match(Some("W/\"0000000000000001\""), 2).unwrap_err();
        assert_eq!(err.http_status(), 412);
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidVers));
    }
}
