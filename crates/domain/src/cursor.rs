use time::OffsetDateTime;
use uuid::Uuid;

use crate::ValidationError;

/// A keyset position: the sort key `(created_at, id)` of the last item of a
/// page. Clients see it only as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

impl PageCursor {
    /// Every string [`PageCursor::decode`] reads, as a regular expression:
    /// the position's nanoseconds since the epoch (below 9·10¹⁸ either way:
    /// the years 1684 to 2255, within every store's range) and its row id.
    pub const PATTERN: &'static str = r"^-?([0-9]{1,18}|[0-8][0-9]{18})\.[0-9a-f]{32}$";

    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.created_at.unix_timestamp_nanos(),
            self.id.simple()
        )
    }

    /// A cursor is a position, not a secret: every statement it reaches is
    /// scoped to the caller's tenant anyway. Any string of
    /// [`PageCursor::PATTERN`] is one, and no other.
    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let err = || ValidationError::new("cursor", "is not a cursor this API returned");
        let (nanos, id) = raw.split_once('.').ok_or_else(err)?;
        let digits = nanos.strip_prefix('-').unwrap_or(nanos);
        let storable = digits.len() < 19 || (digits.len() == 19 && !digits.starts_with('9'));
        if digits.is_empty() || !storable || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err());
        }
        let nanos: i128 = nanos.parse().map_err(|_| err())?;
        Ok(Self {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| err())?,
            id: Uuid::parse_str(id).map_err(|_| err())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let cursor = PageCursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            id: Uuid::now_v7(),
        };
        assert_eq!(PageCursor::decode(&cursor.encode()), Ok(cursor));
        for bad in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            "1.2",
            "+1.0123456789abcdef0123456789abcdef",
            "1.0123456789ABCDEF0123456789ABCDEF",
            "12345678901234567890.0123456789abcdef0123456789abcdef",
            "9000000000000000000.0123456789abcdef0123456789abcdef",
            "-9284400558311639405.0123456789abcdef0123456789abcdef",
            ".0123456789abcdef0123456789abcdef",
        ] {
            assert!(PageCursor::decode(bad).is_err(), "{bad}");
        }
        // The widest positions there are still read back.
        for nanos in ["8999999999999999999", "-8999999999999999999", "0"] {
            let raw = format!("{nanos}.0123456789abcdef0123456789abcdef");
            assert!(PageCursor::decode(&raw).is_ok(), "{raw}");
        }
    }
}
