//! Case-insensitive text comparison without allocating in the common (ASCII) case, and the
//! dateTime parsing shared by filters and sorting.
//!
//! `caseExact: false` attributes compare by Unicode lowercase; when both sides are ASCII the
//! byte-wise ASCII folding gives the same answer without building new strings, which matters when a
//! filter runs over 100,000 resources.

use std::cmp::Ordering;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Lowercases `s` for case-insensitive comparison.
pub(crate) fn fold(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

/// `s` equals the already-folded `folded`, ignoring case.
pub(crate) fn eq_folded(s: &str, folded: &str) -> bool {
    if s.is_ascii() && folded.is_ascii() { s.eq_ignore_ascii_case(folded) } else { s.to_lowercase() == folded }
}

/// `s` contains the already-folded `folded`, ignoring case.
pub(crate) fn contains_folded(s: &str, folded: &str) -> bool {
    if s.is_ascii() && folded.is_ascii() {
        let (h, n) = (s.as_bytes(), folded.as_bytes());
        if n.is_empty() {
            return true;
        }
        h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        s.to_lowercase().contains(folded)
    }
}

/// `s` starts with the already-folded `folded`, ignoring case.
pub(crate) fn starts_with_folded(s: &str, folded: &str) -> bool {
    if s.is_ascii() && folded.is_ascii() {
        s.len() >= folded.len() && s.as_bytes()[..folded.len()].eq_ignore_ascii_case(folded.as_bytes())
    } else {
        s.to_lowercase().starts_with(folded)
    }
}

/// `s` ends with the already-folded `folded`, ignoring case.
pub(crate) fn ends_with_folded(s: &str, folded: &str) -> bool {
    if s.is_ascii() && folded.is_ascii() {
        s.len() >= folded.len() && s.as_bytes()[s.len() - folded.len()..].eq_ignore_ascii_case(folded.as_bytes())
    } else {
        s.to_lowercase().ends_with(folded)
    }
}

/// Orders `s` against the already-folded `folded`, ignoring case.
pub(crate) fn cmp_folded(s: &str, folded: &str) -> Ordering {
    if s.is_ascii() && folded.is_ascii() {
        s.bytes().map(|b| b.to_ascii_lowercase()).cmp(folded.bytes())
    } else {
        s.to_lowercase().as_str().cmp(folded)
    }
}

/// Parses an RFC 7643 `dateTime` (xsd:dateTime): RFC 3339 with an offset, or without one (then UTC,
/// as several clients send `2011-05-13T04:42:34`).
pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if s.len() < 64 && s.contains('T') && !s.ends_with(['Z', 'z']) {
        return OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_comparisons_agree_with_lowercasing() {
        let cases = ["BJensen", "bjensen", "ÉLODIE", "élodie", "", "Straße", "O'Malley"];
        for a in cases {
            for b in cases {
                let fb = fold(b);
                let la = a.to_lowercase();
                assert_eq!(eq_folded(a, &fb), la == fb, "{a} eq {b}");
                assert_eq!(contains_folded(a, &fb), la.contains(&fb), "{a} co {b}");
                assert_eq!(starts_with_folded(a, &fb), la.starts_with(&fb), "{a} sw {b}");
                assert_eq!(ends_with_folded(a, &fb), la.ends_with(&fb), "{a} ew {b}");
                assert_eq!(cmp_folded(a, &fb), la.as_str().cmp(&fb), "{a} cmp {b}");
            }
        }
    }

    #[test]
    fn datetimes_with_and_without_offsets_parse() {
        assert!(parse_datetime("2011-05-13T04:42:34Z").is_some());
        assert!(parse_datetime("2011-05-13T04:42:34.123+02:00").is_some());
        assert_eq!(parse_datetime("2011-05-13T04:42:34"), parse_datetime("2011-05-13T04:42:34Z"));
        assert!(parse_datetime("yesterday").is_none());
        assert!(parse_datetime("2011-13-13T04:42:34Z").is_none());
    }
}
