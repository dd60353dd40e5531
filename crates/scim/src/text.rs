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

/// The canonical UTC form `YYYY-MM-DDTHH:MM:SSZ` of `t`, when it has no fraction of a second.
pub(crate) fn canonical_utc(t: OffsetDateTime) -> Option<String> {
    let t = t.to_offset(time::UtcOffset::UTC);
    if t.nanosecond() != 0 || !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Whether `s` is surely a valid instant in the canonical UTC form (`2011-05-13T04:42:34Z`), for
/// which string order is time order. Days past the 28th are left to the full parser (February).
pub(crate) fn is_canonical_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return false;
    }
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if !digits.iter().all(|i| b[*i].is_ascii_digit()) {
        return false;
    }
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    (1..=12).contains(&two(5)) && (1..=28).contains(&two(8)) && two(11) <= 23 && two(14) <= 59 && two(17) <= 59
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
    fn canonical_utc_strings_order_like_their_instants() {
        let samples =
            ["2011-05-13T04:42:34Z", "2011-05-13T04:42:35Z", "1999-12-28T23:59:59Z", "2011-05-13T04:42:34.5Z"];
        for a in samples {
            for b in samples {
                if is_canonical_utc(a) && is_canonical_utc(b) {
                    assert_eq!(a.cmp(b), parse_datetime(a).unwrap().cmp(&parse_datetime(b).unwrap()));
                }
            }
        }
        assert!(!is_canonical_utc("2011-02-30T00:00:00Z"), "left to the full parser");
        assert!(!is_canonical_utc("2011-13-01T00:00:00Z"));
        let t = parse_datetime("2011-05-13T06:42:34+02:00").unwrap();
        assert_eq!(canonical_utc(t).as_deref(), Some("2011-05-13T04:42:34Z"));
        assert_eq!(canonical_utc(parse_datetime("2011-05-13T04:42:34.5Z").unwrap()), None);
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
