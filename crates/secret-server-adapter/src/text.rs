//! Text helpers shared by the indexes and the mapping.

/// Lower-cases `s` for a case-insensitive key, exactly as the `scim` crate folds index keys
/// (ASCII lower-casing when the text is ASCII, Unicode lower-casing otherwise), so that the keys
/// of the read model's indexes meet the keys of a filter's index plan.
pub fn fold(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

/// Unix milliseconds as an RFC 3339 timestamp with millisecond precision (`meta.created`...).
pub fn rfc3339_millis(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Parses a timestamp as Secret Server sends it (`2024-05-01T10:00:00`, with or without an offset
/// or fraction) into Unix milliseconds; a time without an offset is taken as UTC.
pub fn parse_timestamp_millis(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let parsed = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_with_milliseconds_in_utc() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_714_557_600_123), "2024-05-01T10:00:00.123Z");
    }

    #[test]
    fn secret_server_timestamps_without_offset_are_utc() {
        assert_eq!(parse_timestamp_millis("2024-05-01T10:00:00"), Some(1_714_557_600_000));
        assert_eq!(parse_timestamp_millis("2024-05-01T10:00:00.5Z"), Some(1_714_557_600_500));
        assert_eq!(parse_timestamp_millis("yesterday"), None);
    }

    #[test]
    fn folding_matches_ascii_and_unicode_lower_case() {
        assert_eq!(fold("BJensen"), "bjensen");
        assert_eq!(fold("ÉLODIE"), "élodie");
    }
}
