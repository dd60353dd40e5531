//! Text helpers shared by the indexes and the mapping.

/// Lower-cases `s` for a case-insensitive key, exactly as the `scim` crate folds index keys
/// (ASCII lower-casing when the text is ASCII, Unicode lower-casing otherwise), so that the keys
/// of the read model's indexes meet the keys of a filter's index plan.
pub fn fold(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

/// Unix milliseconds as an RFC 3339 timestamp with millisecond precision (`meta.created`...).
///
/// Written digit by digit: every read renders two of these (`meta.created`, `meta.lastModified`),
/// and `time`'s formatter, a writer call per component, was a tenth of a read's rendering.
pub fn rfc3339_millis(ms: i64) -> String {
    match rfc3339_millis_digits(ms) {
        Ok(digits) => digits.iter().map(|&b| char::from(b)).collect(),
        Err(at) => formatted(at),
    }
}

/// [`rfc3339_millis`] appended to `out` as ASCII, without a `String` of its own (a user written
/// straight to bytes renders two of these).
pub fn write_rfc3339_millis(out: &mut Vec<u8>, ms: i64) {
    match rfc3339_millis_digits(ms) {
        Ok(digits) => out.extend_from_slice(&digits),
        Err(at) => out.extend_from_slice(formatted(at).as_bytes()),
    }
}

/// The timestamp's 24 ASCII bytes for the years 0 to 9999; the time itself for the others, which
/// `time`'s formatter writes.
fn rfc3339_millis_digits(ms: i64) -> Result<[u8; 24], time::OffsetDateTime> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let Ok(year) = u16::try_from(at.year()) else { return Err(at) };
    if year > 9999 {
        return Err(at);
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, u32::from(year));
    put(5, 2, u32::from(u8::from(at.month())));
    put(8, 2, u32::from(at.day()));
    put(11, 2, u32::from(at.hour()));
    put(14, 2, u32::from(at.minute()));
    put(17, 2, u32::from(at.second()));
    put(20, 3, u32::from(at.millisecond()));
    Ok(out)
}

/// [`rfc3339_millis`] through `time`'s formatter, for the years it does not write itself.
fn formatted(at: time::OffsetDateTime) -> String {
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
    fn timestamps_are_written_as_time_s_formatter_writes_them() {
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        while ms < 253_402_300_799_999 {
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            assert_eq!(rfc3339_millis(ms), formatted(at), "{ms}");
            let mut written = Vec::new();
            write_rfc3339_millis(&mut written, ms);
            assert_eq!(written, formatted(at).into_bytes(), "{ms}");
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ms += i64::try_from(state >> 40).unwrap() * 7_919;
        }
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }

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
