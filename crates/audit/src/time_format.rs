//! Record times: microseconds since the Unix epoch in the store (exact, ordered, cheap to index),
//! RFC 3339 UTC with six fractional digits on the wire.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Now, in microseconds since the epoch.
pub(crate) fn now_micros() -> i64 {
    micros_of_datetime(OffsetDateTime::now_utc())
}

pub(crate) fn micros_of_datetime(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// A protobuf timestamp in microseconds (saturating).
pub(crate) fn micros_of(t: &prost_types::Timestamp) -> i64 {
    t.seconds.saturating_mul(1_000_000).saturating_add(i64::from(t.nanos) / 1_000)
}

/// RFC 3339, UTC, microseconds: `2024-05-01T12:00:00.000123Z`.
pub fn format_micros(micros: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| micros.to_string())
}

/// Parses an RFC 3339 time into microseconds.
///
/// # Errors
///
/// A message naming the expected format.
pub fn parse_rfc3339_micros(text: &str) -> Result<i64, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(micros_of_datetime)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc3339() {
        let micros = parse_rfc3339_micros("2024-05-01T12:00:00.000123+02:00").unwrap();
        assert_eq!(format_micros(micros), "2024-05-01T10:00:00.000123Z");
        assert!(parse_rfc3339_micros("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
