//! Paging: index paging (RFC 7644 §3.4.2.4) and cursor paging (RFC 9865).
//!
//! Index paging: `startIndex` is 1-based (values below 1 mean 1), `count` defaults and is capped by
//! [`PagingLimits`] (a negative count means 0, and `count=0` returns only `totalResults`).
//!
//! Cursor paging: the `cursor` parameter, empty for the first page, then a `nextCursor` or
//! `previousCursor` from an earlier response. Cursors are opaque to clients: base64url of a
//! position, the query's fingerprint and the issue time, sealed with an HMAC-SHA256 tag (verified
//! in constant time) so that a forged, corrupted or foreign cursor is `invalidCursor`, one used for
//! a different query is `invalidCursor`, and one older than the timeout is `expiredCursor`. They
//! are tamper-evident, not secret: the position is an offset into the sorted result. In cursor mode `count` below 1 is
//! `invalidCount`; above the maximum it is capped (RFC 9865 lets a server return fewer).
//!
//! A request with neither `startIndex` nor `cursor` uses index paging, which every client in use
//! understands; a request with both is `invalidValue`.

use crate::error::ScimError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::ops::Range;

/// Default and maximum page sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagingLimits {
    pub default_count: usize,
    pub max_count: usize,
}

impl PagingLimits {
    /// 100 per page by default (Okta imports with `count=100`), at most 1000.
    pub const DEFAULT: PagingLimits = PagingLimits { default_count: 100, max_count: 1000 };
}

impl Default for PagingLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How the client asked to page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// `startIndex` (1-based) and `count`.
    Index { start_index: u64, count: usize },
    /// `cursor` (`None` for the first page) and `count`.
    Cursor { cursor: Option<String>, count: usize },
}

fn parse_int(text: &str, name: &str, cursor_mode: bool) -> Result<i64, ScimError> {
    text.trim().parse::<i64>().map_err(|_| {
        let detail = format!("'{name}' must be an integer");
        if cursor_mode && name == "count" { ScimError::invalid_count(detail) } else { ScimError::invalid_value(detail) }
    })
}

impl PageRequest {
    /// Builds the request from the raw query parameters.
    ///
    /// # Errors
    /// `invalidValue` for a non-integer `startIndex`/`count` or both `startIndex` and `cursor`;
    /// `invalidCount` for a cursor-mode `count` that is not a positive integer.
    pub fn from_params(
        start_index: Option<&str>,
        count: Option<&str>,
        cursor: Option<&str>,
        limits: PagingLimits,
    ) -> Result<Self, ScimError> {
        let start = start_index.map(|s| parse_int(s, "startIndex", false)).transpose()?;
        let count = count.map(|c| parse_int(c, "count", cursor.is_some())).transpose()?;
        Self::from_values(start, count, cursor, limits)
    }

    /// Builds the request from typed values (a `/.search` body).
    ///
    /// # Errors
    /// As [`PageRequest::from_params`].
    pub fn from_values(
        start_index: Option<i64>,
        count: Option<i64>,
        cursor: Option<&str>,
        limits: PagingLimits,
    ) -> Result<Self, ScimError> {
        if start_index.is_some() && cursor.is_some() {
            return Err(ScimError::invalid_value("use either 'startIndex' or 'cursor', not both"));
        }
        if let Some(cursor) = cursor {
            let count = match count {
                None => limits.default_count,
                Some(c) if c < 1 => {
                    return Err(ScimError::invalid_count(format!(
                        "'count' must be between 1 and {} for cursor paging",
                        limits.max_count
                    )));
                }
                Some(c) => usize::try_from(c).unwrap_or(usize::MAX).min(limits.max_count),
            };
            let cursor = (!cursor.trim().is_empty()).then(|| cursor.trim().to_owned());
            return Ok(PageRequest::Cursor { cursor, count });
        }
        let start_index = u64::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = match count {
            None => limits.default_count,
            Some(c) => usize::try_from(c.max(0)).unwrap_or(usize::MAX).min(limits.max_count),
        };
        Ok(PageRequest::Index { start_index, count })
    }

    /// The requested page size.
    pub fn count(&self) -> usize {
        match self {
            PageRequest::Index { count, .. } | PageRequest::Cursor { count, .. } => *count,
        }
    }
}

/// The slice of `total` sorted results that index page (`start_index`, `count`) covers.
pub fn index_window(total: usize, start_index: u64, count: usize) -> Range<usize> {
    let start = usize::try_from(start_index.saturating_sub(1)).unwrap_or(usize::MAX).min(total);
    start..start.saturating_add(count).min(total)
}

/// A short fingerprint of what a cursor is valid for (the filter and sort, canonically printed).
pub fn query_fingerprint(parts: &[&str]) -> [u8; 8] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// What a cursor points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorPosition {
    /// The 0-based offset of the page's first result.
    pub offset: u64,
}

/// Version 2: sealed with HMAC-SHA256 (version 1 used a home-made keyed hash; such cursors are
/// refused as invalid).
const CURSOR_VERSION: u8 = 2;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8;
/// The tag is the HMAC's first 96 bits (RFC 2104 §5 allows truncation to at least half the
/// output; 96 bits is the customary length): a forger has one chance in 2^96 per try.
const TAG_LEN: usize = 12;

type HmacSha256 = Hmac<Sha256>;

/// Issues and checks cursors. The key makes cursors unforgeable; give every instance serving the
/// same clients the same key (so that a cursor works on every replica and after a restart), and
/// rotate it to invalidate outstanding cursors.
#[derive(Clone)]
pub struct CursorCodec {
    /// The HMAC keyed once; each cursor clones it.
    mac: HmacSha256,
    timeout_secs: u64,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorCodec").field("timeout_secs", &self.timeout_secs).finish_non_exhaustive()
    }
}

impl CursorCodec {
    /// A codec with `key` and a cursor timeout (`cursorTimeout` in the ServiceProviderConfig).
    pub fn new(key: &[u8], timeout_secs: u64) -> Self {
        // HMAC takes a key of any length (a long one is hashed first): this cannot fail.
        let mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        Self { mac, timeout_secs }
    }

    /// The cursor timeout in seconds.
    pub fn timeout_secs(&self) -> u64 {
        self.timeout_secs
    }

    fn keyed(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let digest = self.keyed(payload).finalize().into_bytes();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&digest[..TAG_LEN]);
        out
    }

    /// A cursor for `offset` in the results of the query with `fingerprint`, issued at `now` (Unix seconds).
    pub fn encode(&self, offset: u64, fingerprint: [u8; 8], now: i64) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        payload.push(CURSOR_VERSION);
        payload.extend_from_slice(&offset.to_be_bytes());
        payload.extend_from_slice(&now.to_be_bytes());
        payload.extend_from_slice(&fingerprint);
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Checks a cursor against the query it is used with and the current time (Unix seconds).
    ///
    /// # Errors
    /// `invalidCursor` for a cursor this codec did not issue or issued for another query;
    /// `expiredCursor` for one older than the timeout.
    pub fn decode(&self, cursor: &str, fingerprint: [u8; 8], now: i64) -> Result<CursorPosition, ScimError> {
        let invalid = || {
            ScimError::invalid_cursor(
                "the cursor is not valid; send an empty cursor for the first page, then nextCursor or previousCursor",
            )
        };
        if cursor.len() > 256 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN || bytes.first() != Some(&CURSOR_VERSION) {
            return Err(invalid());
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        // Compared in constant time (by the hmac crate): the tag is what makes cursors unforgeable.
        self.keyed(payload).verify_truncated_left(tag).map_err(|_| invalid())?;
        let read8 = |at: usize| -> [u8; 8] {
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[at..at + 8]);
            b
        };
        let offset = u64::from_be_bytes(read8(1));
        let issued = i64::from_be_bytes(read8(9));
        if read8(17) != fingerprint {
            return Err(ScimError::invalid_cursor(
                "the cursor belongs to a different query; repeat the query's parameters unchanged",
            ));
        }
        let age = now.saturating_sub(issued);
        if age < 0 || age as u64 > self.timeout_secs {
            return Err(ScimError::expired_cursor(format!(
                "the cursor has expired; request the next page within {} seconds",
                self.timeout_secs
            )));
        }
        Ok(CursorPosition { offset })
    }

    /// The page a cursor request covers in `total` sorted results, with the cursors of the pages
    /// around it (`nextCursor` is `None` on the last page).
    ///
    /// # Errors
    /// As [`CursorCodec::decode`], plus `invalidCursor` for a position past the end.
    pub fn page(
        &self,
        cursor: Option<&str>,
        count: usize,
        total: usize,
        fingerprint: [u8; 8],
        now: i64,
    ) -> Result<CursorPage, ScimError> {
        let offset = match cursor {
            None => 0,
            Some(c) => usize::try_from(self.decode(c, fingerprint, now)?.offset).unwrap_or(usize::MAX),
        };
        if offset > total {
            return Err(ScimError::invalid_cursor("the cursor points past the end of the results"));
        }
        let end = offset.saturating_add(count).min(total);
        let next = (end < total).then(|| self.encode(end as u64, fingerprint, now));
        let previous = (offset > 0).then(|| self.encode(offset.saturating_sub(count) as u64, fingerprint, now));
        Ok(CursorPage { range: offset..end, next_cursor: next, previous_cursor: previous })
    }
}

/// One cursor page: which results, and the cursors around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPage {
    pub range: Range<usize>,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;

    const L: PagingLimits = PagingLimits { default_count: 10, max_count: 50 };

    #[test]
    fn index_paging_defaults_caps_and_clamps() {
        assert_eq!(
            PageRequest::from_params(None, None, None, L).unwrap(),
            PageRequest::Index { start_index: 1, count: 10 }
        );
        assert_eq!(
            PageRequest::from_params(Some("0"), Some("-5"), None, L).unwrap(),
            PageRequest::Index { start_index: 1, count: 0 }
        );
        assert_eq!(
            PageRequest::from_params(Some("11"), Some("500"), None, L).unwrap(),
            PageRequest::Index { start_index: 11, count: 50 }
        );
        let e = PageRequest::from_params(Some("one"), None, None, L).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn index_window_is_one_based_and_bounded() {
        assert_eq!(index_window(25, 1, 10), 0..10);
        assert_eq!(index_window(25, 21, 10), 20..25);
        assert_eq!(index_window(25, 30, 10), 25..25);
        assert_eq!(index_window(25, 1, 0), 0..0);
        assert_eq!(index_window(0, u64::MAX, usize::MAX), 0..0);
    }

    #[test]
    fn cursor_mode_rejects_non_positive_counts_and_both_methods_at_once() {
        let e = PageRequest::from_params(None, Some("0"), Some(""), L).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCount));
        let e = PageRequest::from_params(None, Some("x"), Some(""), L).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCount));
        let e = PageRequest::from_params(Some("1"), None, Some(""), L).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            PageRequest::from_params(None, None, Some(""), L).unwrap(),
            PageRequest::Cursor { cursor: None, count: 10 }
        );
    }

    #[test]
    fn cursors_walk_forward_and_back_through_the_results() {
        let codec = CursorCodec::new(b"key", 600);
        let fp = query_fingerprint(&["userName sw \"J\""]);
        let first = codec.page(None, 10, 25, fp, 1000).unwrap();
        assert_eq!(first.range, 0..10);
        assert!(first.previous_cursor.is_none());
        let second = codec.page(first.next_cursor.as_deref(), 10, 25, fp, 1001).unwrap();
        assert_eq!(second.range, 10..20);
        let third = codec.page(second.next_cursor.as_deref(), 10, 25, fp, 1002).unwrap();
        assert_eq!(third.range, 20..25);
        assert!(third.next_cursor.is_none(), "no nextCursor on the last page");
        let back = codec.page(third.previous_cursor.as_deref(), 10, 25, fp, 1003).unwrap();
        assert_eq!(back.range, 10..20);
        assert!(first.next_cursor.unwrap().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn forged_foreign_and_expired_cursors_are_refused() {
        let codec = CursorCodec::new(b"key", 600);
        let fp = query_fingerprint(&["a"]);
        let c = codec.encode(10, fp, 1000);
        assert_eq!(codec.decode(&c, fp, 1100).unwrap().offset, 10);
        for bad in ["", "!!!", "AAAA", &c[..c.len() - 1]] {
            assert_eq!(codec.decode(bad, fp, 1100).unwrap_err().scim_type, Some(ScimType::InvalidCursor), "{bad}");
        }
        let mut tampered = URL_SAFE_NO_PAD.decode(&c).unwrap();
        tampered[8] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(tampered);
        assert_eq!(codec.decode(&tampered, fp, 1100).unwrap_err().scim_type, Some(ScimType::InvalidCursor));
        let other_key = CursorCodec::new(b"other", 600);
        assert_eq!(other_key.decode(&c, fp, 1100).unwrap_err().scim_type, Some(ScimType::InvalidCursor));
        let other_query = query_fingerprint(&["b"]);
        assert_eq!(codec.decode(&c, other_query, 1100).unwrap_err().scim_type, Some(ScimType::InvalidCursor));
        let e = codec.decode(&c, fp, 1601).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::ExpiredCursor));
        assert_eq!(e.status, 400);
    }

    /// A cursor built by hand: version, offset, issue time and fingerprint, then the first 12 bytes
    /// of HMAC-SHA256(key, those 25 bytes).
    fn sealed_by_hand(key: &[u8], version: u8, offset: u64, issued: i64, fp: [u8; 8]) -> String {
        let mut payload = vec![version];
        payload.extend_from_slice(&offset.to_be_bytes());
        payload.extend_from_slice(&issued.to_be_bytes());
        payload.extend_from_slice(&fp);
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(&payload);
        payload.extend_from_slice(&mac.finalize().into_bytes()[..12]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    #[test]
    fn cursors_are_sealed_with_hmac_sha256() {
        let codec = CursorCodec::new(b"the shared key", 600);
        let fp = query_fingerprint(&["a"]);
        let by_hand = sealed_by_hand(b"the shared key", 2, 30, 1000, fp);
        assert_eq!(codec.encode(30, fp, 1000), by_hand);
        assert_eq!(codec.decode(&by_hand, fp, 1010).unwrap().offset, 30);
    }

    #[test]
    fn a_cursor_works_on_any_codec_with_the_same_key_and_on_no_other() {
        let fp = query_fingerprint(&["a"]);
        let issued = CursorCodec::new(b"k1", 600).encode(10, fp, 1000);
        assert_eq!(CursorCodec::new(b"k1", 600).decode(&issued, fp, 1001).unwrap().offset, 10);
        let e = CursorCodec::new(b"k2", 600).decode(&issued, fp, 1001).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
    }

    #[test]
    fn a_cursor_of_an_earlier_version_is_refused_as_invalid() {
        let fp = query_fingerprint(&["a"]);
        let old = sealed_by_hand(b"key", 1, 10, 1000, fp);
        let e = CursorCodec::new(b"key", 600).decode(&old, fp, 1001).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
    }
}
