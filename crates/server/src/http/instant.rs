//! Instants a client sends (`expires_at`, `retain_until`, `since`,
//! `until`): RFC 3339, in the years every store can hold. SQLite keeps
//! nanoseconds since the epoch in 64 bits (1678 to 2262); the API takes the
//! round range [`EARLIEST_YEAR`]..=[`LATEST_YEAR`] (as written, whatever the
//! offset) and refuses others as invalid instead of failing in a store.

use serde::Deserializer;
use time::OffsetDateTime;

pub const EARLIEST_YEAR: i32 = 1700;
pub const LATEST_YEAR: i32 = 2199;

/// The document's pattern for these instants (with `format: date-time`).
pub const PATTERN: &str = "^(1[7-9]|2[01])[0-9]{2}-";

fn in_range<E: serde::de::Error>(at: OffsetDateTime) -> Result<OffsetDateTime, E> {
    if (EARLIEST_YEAR..=LATEST_YEAR).contains(&at.year()) {
        Ok(at)
    } else {
        Err(E::custom(format!(
            "instants must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
        )))
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    in_range(time::serde::rfc3339::deserialize(d)?)
}

pub mod option {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        time::serde::rfc3339::option::deserialize(d)?
            .map(in_range)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct At {
        #[serde(deserialize_with = "super::deserialize")]
        at: time::OffsetDateTime,
    }

    #[test]
    fn instants_are_taken_in_the_storable_years_only_as_the_pattern_says() {
        let pattern = regex::Regex::new(super::PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for raw in [
            "2026-12-03T10:00:00Z",
            "1700-01-01T00:00:00-23:59",
            "2199-12-31T23:59:59+23:59",
            "1699-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
            "7431-03-27T03:10:42+19:57",
        ] {
            let parsed = serde_json::from_value::<At>(serde_json::json!({ "at": raw }));
            assert_eq!(parsed.is_ok(), pattern.is_match(raw), "{raw}");
            if let Ok(at) = parsed {
                // Every one fits SQLite's 64-bit nanoseconds.
                assert!(i64::try_from(at.at.unix_timestamp_nanos()).is_ok(), "{raw}");
            }
        }
    }
}
