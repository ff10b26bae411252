//! Instants a client sends (`expires_at`, `retain_until`, `since`,
//! `until`): any RFC 3339 instant, brought into the years every store can
//! hold. SQLite keeps nanoseconds since the epoch in 64 bits (1678 to
//! 2262); an instant before [`EARLIEST`] or after [`LATEST`] means the same
//! as those bounds for every use the API has (an expiry or a retention
//! centuries away is "never", a listing bound before 1700 is "from the
//! start"), so it is taken as the bound rather than refused — `9999-12-31`
//! is a common way to write "never".
//!
//! Use it as `#[serde(with = "crate::instant")]`: instants are written as
//! RFC 3339, as sent.

use serde::{Deserializer, Serializer};
use time::OffsetDateTime;
use time::macros::datetime;

/// The earliest instant stored.
pub const EARLIEST: OffsetDateTime = datetime!(1700-01-01 00:00 UTC);
/// The latest instant stored.
pub const LATEST: OffsetDateTime = datetime!(2199-12-31 23:59:59 UTC);

fn storable(at: OffsetDateTime) -> OffsetDateTime {
    at.clamp(EARLIEST, LATEST)
}

/// An RFC 3339 instant, brought into the storable years.
///
/// # Errors
/// Anything but an RFC 3339 instant.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(d).map(storable)
}

/// The instant as RFC 3339.
///
/// # Errors
/// An instant RFC 3339 cannot write (a year beyond 9999).
pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::serialize(at, s)
}

/// The same for an optional instant (`null` is none).
pub mod option {
    use super::*;

    /// An RFC 3339 instant or `null`, brought into the storable years.
    ///
    /// # Errors
    /// Anything but an RFC 3339 instant or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Ok(time::serde::rfc3339::option::deserialize(d)?.map(storable))
    }

    /// The instant as RFC 3339, or `null`.
    ///
    /// # Errors
    /// An instant RFC 3339 cannot write (a year beyond 9999).
    pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(at, s)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use time::macros::datetime;

    #[derive(Deserialize, Serialize)]
    struct At {
        #[serde(with = "super")]
        at: time::OffsetDateTime,
    }

    fn at(raw: &str) -> time::OffsetDateTime {
        serde_json::from_value::<At>(serde_json::json!({ "at": raw }))
            .map(|a| a.at)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn instants_are_brought_into_the_storable_years() {
        assert_eq!(
            at("2026-12-03T10:00:00+01:00"),
            datetime!(2026-12-03 09:00 UTC)
        );
        assert_eq!(at("9999-12-31T23:59:59Z"), super::LATEST);
        assert_eq!(at("7431-03-27T03:10:42+19:57"), super::LATEST);
        assert_eq!(at("0001-01-01T00:00:00Z"), super::EARLIEST);
        for bound in [super::EARLIEST, super::LATEST] {
            assert!(i64::try_from(bound.unix_timestamp_nanos()).is_ok());
        }
    }

    #[test]
    fn instants_are_written_as_rfc_3339() {
        let written = serde_json::to_value(At {
            at: datetime!(2026-12-03 09:00 UTC),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written["at"], "2026-12-03T09:00:00Z");
    }
}
