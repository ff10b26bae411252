use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}:{}",
            self.created_at.unix_timestamp_nanos(),
            self.id.simple()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let err = || ValidationError::new("cursor", "is not a cursor this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| err())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| err())?;
        let (nanos, id) = text.split_once(':').ok_or_else(err)?;
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
        for bad in ["", "!!", "bm90IGEgY3Vyc29y", "MTox"] {
            assert!(PageCursor::decode(bad).is_err(), "{bad}");
        }
    }
}
