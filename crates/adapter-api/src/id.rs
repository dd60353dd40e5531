//! Resource ids, exactly as the connector issues them.
//!
//! Every id the connector issues (a resource's `id`, and so the `value` of every reference to it)
//! is the decimal form of a positive Secret Server id: ASCII digits only, without a sign, a leading
//! zero or whitespace. An id is that exact string: `+12`, `012`, `12 ` and ` 12` are not `12`, but
//! no id at all, so that one resource has one spelling. Two spellings of one resource would be two
//! ordering keys (so two chains of jobs running side by side on it) and two things for a client to
//! compare. [`parse`] is the one reader of ids, for the gateway and the adapter alike: in a URL an
//! id it refuses is `404`, in a reference `400 invalidValue`.

/// The Secret Server id an issued resource id names; `None` for any other text.
///
/// ```
/// use adapter_api::id;
/// assert_eq!(id::parse("12"), Some(12));
/// for other in ["+12", "012", "12 ", " 12", "1_2", "-1", "0", "", "99999999999999999999"] {
///     assert_eq!(id::parse(other), None, "{other:?}");
/// }
/// ```
pub fn parse(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let canonical = matches!(bytes.first(), Some(b'1'..=b'9')) && bytes.iter().all(u8::is_ascii_digit);
    // Digits only, so the standard parser can refuse nothing but an overflow.
    canonical.then(|| text.parse::<i64>().ok()).flatten()
}

/// Whether `text` is an id the connector may have issued.
pub fn is_issued(text: &str) -> bool {
    parse(text).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_decimal_form_is_an_id() {
        assert_eq!(parse("1"), Some(1));
        assert_eq!(parse("9223372036854775807"), Some(i64::MAX));
        for other in ["+12", "012", "00", "12 ", " 12", "12\n", "１２", "1e3", "0x1", "9223372036854775808"] {
            assert_eq!(parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn every_issued_id_reads_back_as_itself() {
        for n in [1_i64, 7, 10, 12, 100, 65_535, 1 << 40, i64::MAX] {
            assert_eq!(parse(&n.to_string()), Some(n));
        }
    }
}
