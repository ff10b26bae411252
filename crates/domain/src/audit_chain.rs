//! The hash chain of a tenant's audit log: what one entry's hash commits
//! to, in bytes an auditor can rebuild offline (docs/audit.md has the
//! procedure as a short Python script over `coffer audit export`).
//!
//! `hash(n) = SHA-256(hash(n-1) || canonical(entry n))`, `hash(0)` = 32
//! zero bytes. `canonical` is one JSON object of the entry's fields
//! (`seq`, `id`, `tenant_id`, `actor`, `action`, `file_id`, `detail`,
//! `request_id`, `client_addr`, `at`) written with:
//! - object keys sorted by code point, no whitespace, UTF-8;
//! - strings escaped as JSON requires and nothing more (`"`, `\`,
//!   control characters; `\b \f \n \r \t` by name, others `\u00xx`);
//! - a number that is an integer of magnitude ≤ 2^53 as its digits, any
//!   other as the shortest decimal that reads back as the same float64,
//!   formatted like Python's `repr(float)` — so that a value reads back
//!   the same whether a database kept `1.0`, `1` or `1e0`;
//! - `at` as RFC 3339 UTC with exactly six fractional digits
//!   (`2026-12-02T09:30:00.123456Z`); stores keep microseconds.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// A link's hash (SHA-256).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `prev_hash` of a chain's first entry.
    pub const GENESIS: Self = Self([0; 32]);

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From a stored column; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as exported and listed.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// The fields of one audit entry that its hash commits to.
#[derive(Debug, Clone, Copy)]
pub struct ChainedFields<'a> {
    pub seq: u64,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub actor: &'a str,
    pub action: &'a str,
    pub file_id: Option<Uuid>,
    pub detail: &'a serde_json::Value,
    pub request_id: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub at: OffsetDateTime,
}

impl ChainedFields<'_> {
    /// The entry's canonical bytes (see the module documentation).
    pub fn canonical(&self) -> Vec<u8> {
        let opt = |v: Option<&str>| v.map_or(serde_json::Value::Null, |s| s.into());
        let object = serde_json::json!({
            "seq": self.seq,
            "id": self.id.to_string(),
            "tenant_id": self.tenant_id.to_string(),
            "actor": self.actor,
            "action": self.action,
            "file_id": self.file_id.map(|f| f.to_string()),
            "detail": self.detail,
            "request_id": opt(self.request_id),
            "client_addr": opt(self.client_addr),
            "at": canonical_time(self.at),
        });
        let mut out = String::new();
        write_canonical(&mut out, &object);
        out.into_bytes()
    }

    /// This entry's hash after `prev`.
    pub fn hash(&self, prev: &ChainHash) -> ChainHash {
        let mut sha = Sha256::new();
        sha.update(prev.as_bytes());
        sha.update(self.canonical());
        ChainHash(sha.finalize().into())
    }
}

/// `at` cut to the microseconds every store keeps; an entry is hashed and
/// stored with this value.
pub fn chain_time(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at.replace_nanosecond(at.microsecond() * 1_000)
        .unwrap_or(at)
}

/// `at` as the chain writes it: RFC 3339, UTC, six fractional digits.
pub fn canonical_time(at: OffsetDateTime) -> String {
    let at = chain_time(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

fn write_canonical(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(out, v);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON requires, like Python's
    // `json.dumps(s, ensure_ascii=False)`.
    match serde_json::to_string(s) {
        Ok(escaped) => out.push_str(&escaped),
        Err(_) => out.push_str("null"),
    }
}

/// Integers up to 2^53 exactly; the rest as a float64.
const EXACT: f64 = 9_007_199_254_740_992.0;

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64()
        && i.unsigned_abs() <= 1 << 53
    {
        let _ = write!(out, "{i}");
        return;
    }
    if let Some(u) = n.as_u64()
        && u <= 1 << 53
    {
        let _ = write!(out, "{u}");
        return;
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    out.push_str(&python_float(f));
}

/// A float64 as Python's `repr`, except that an integral value of
/// magnitude ≤ 2^53 is written as an integer.
fn python_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() <= EXACT {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "integral and within ±2^53: exact"
        )]
        return format!("{}", f as i64);
    }
    // Rust's `{:e}` is the shortest round-trip digits, as Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        if exp < 0 {
            let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else {
            let point = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() > point {
                let (int, frac) = digits.split_at(point);
                format!("{sign}{int}.{frac}")
            } else {
                let zeros = "0".repeat(point - digits.len());
                format!("{sign}{digits}{zeros}.0")
            }
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{sign}{first}{dot}{rest}e{exp:+03}")
    }
}

/// Where a chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's `seq` is not the one after the previous entry's (an
    /// entry before it was removed, or seqs were rewritten).
    Gap { expected: u64, found: u64 },
    /// The stored hash is not the hash of the entry's fields after the
    /// previous hash (the entry, or one before it, was changed).
    HashMismatch {
        stored: ChainHash,
        computed: ChainHash,
    },
    /// The entry carries no link at all.
    Unchained,
    /// The chain's head says it ends elsewhere (entries at its end were
    /// removed, or the head was changed).
    HeadMismatch {
        head_seq: u64,
        head_hash: ChainHash,
        last_seq: u64,
        last_hash: ChainHash,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gap { expected, found } => {
                write!(
                    f,
                    "seq {found} where seq {expected} was expected (entries missing)"
                )
            }
            Self::HashMismatch { stored, computed } => write!(
                f,
                "stored hash {stored} but the entry hashes to {computed} (entry altered)"
            ),
            Self::Unchained => f.write_str("the entry has no seq or hash"),
            Self::HeadMismatch {
                head_seq,
                head_hash,
                last_seq,
                last_hash,
            } => write!(
                f,
                "the chain head is seq {head_seq} ({head_hash}) but the last entry is seq {last_seq} ({last_hash}) (entries at the end missing)"
            ),
        }
    }
}

/// Walks one chain entry by entry, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainWalk {
    pub seq: u64,
    pub hash: ChainHash,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            seq: 0,
            hash: ChainHash::GENESIS,
        }
    }
}

impl ChainWalk {
    /// The next entry, whose stored link is `stored` (`seq`, `hash`).
    ///
    /// # Errors
    /// The [`ChainBreak`] at this entry.
    pub fn step(
        &mut self,
        fields: &ChainedFields<'_>,
        stored: ChainHash,
    ) -> Result<(), ChainBreak> {
        let expected = self.seq + 1;
        if fields.seq != expected {
            return Err(ChainBreak::Gap {
                expected,
                found: fields.seq,
            });
        }
        let computed = fields.hash(&self.hash);
        if computed != stored {
            return Err(ChainBreak::HashMismatch { stored, computed });
        }
        *self = Self {
            seq: fields.seq,
            hash: stored,
        };
        Ok(())
    }

    /// The end of the walk against the chain's recorded head.
    ///
    /// # Errors
    /// [`ChainBreak::HeadMismatch`] when they differ.
    pub fn finish(&self, head_seq: u64, head_hash: ChainHash) -> Result<(), ChainBreak> {
        if (head_seq, head_hash) == (self.seq, self.hash) {
            Ok(())
        } else {
            Err(ChainBreak::HeadMismatch {
                head_seq,
                head_hash,
                last_seq: self.seq,
                last_hash: self.hash,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &serde_json::Value) -> String {
        let mut out = String::new();
        write_canonical(&mut out, v);
        out
    }

    #[test]
    fn numbers_read_the_same_whatever_form_a_database_kept() {
        let one: serde_json::Value =
            serde_json::from_str("[1, 1.0, 1e0, 10000000000000000, 1e16]").unwrap_or_default();
        assert_eq!(canon(&one), "[1,1,1,1e+16,1e+16]");
        assert_eq!(
            canon(&json!([1.5, 0.0001, 0.00001, -2.5e-7, 1.5e300])),
            "[1.5,0.0001,1e-05,-2.5e-07,1.5e+300]"
        );
        assert_eq!(
            canon(&json!([9007199254740992_u64, 9007199254740993_u64])),
            "[9007199254740992,9007199254740992]"
        );
        assert_eq!(
            canon(&json!([123456789.125, 1e15 + 0.5])),
            "[123456789.125,1000000000000000.5]"
        );
    }

    #[test]
    fn objects_sort_keys_and_strings_escape_only_what_json_needs() {
        let v = json!({"b": "é\n\u{1}\"", "a": [true, null], "ä": {}});
        assert_eq!(
            canon(&v),
            "{\"a\":[true,null],\"b\":\"é\\n\\u0001\\\"\",\"ä\":{}}"
        );
    }

    #[test]
    fn times_are_microseconds_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(canonical_time(at), "2023-11-14T22:13:20.123456Z");
        assert_eq!(chain_time(at).nanosecond(), 123_456_000);
    }

    fn fields(seq: u64, detail: &serde_json::Value) -> ChainedFields<'_> {
        ChainedFields {
            seq,
            id: Uuid::from_u128(seq.into()),
            tenant_id: Uuid::from_u128(7),
            actor: "alice",
            action: "file.read",
            file_id: None,
            detail,
            request_id: Some("r1"),
            client_addr: None,
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn canonical_bytes_are_the_documented_object() {
        let detail = json!({"q": "x"});
        let bytes = fields(1, &detail).canonical();
        assert_eq!(
            String::from_utf8(bytes).unwrap_or_default(),
            "{\"action\":\"file.read\",\"actor\":\"alice\",\"at\":\"1970-01-01T00:00:00.000000Z\",\
             \"client_addr\":null,\"detail\":{\"q\":\"x\"},\"file_id\":null,\
             \"id\":\"00000000-0000-0000-0000-000000000001\",\"request_id\":\"r1\",\"seq\":1,\
             \"tenant_id\":\"00000000-0000-0000-0000-000000000007\"}"
        );
    }

    #[test]
    fn a_walk_finds_a_gap_an_edit_and_a_cut_end() {
        let detail = json!({});
        let h1 = fields(1, &detail).hash(&ChainHash::GENESIS);
        let h2 = fields(2, &detail).hash(&h1);
        assert_ne!(h1, h2);

        let mut walk = ChainWalk::default();
        assert_eq!(walk.step(&fields(1, &detail), h1), Ok(()));
        assert_eq!(walk.step(&fields(2, &detail), h2), Ok(()));
        assert_eq!(walk.finish(2, h2), Ok(()));
        assert!(matches!(
            walk.finish(3, h2),
            Err(ChainBreak::HeadMismatch { .. })
        ));

        let mut gap = ChainWalk::default();
        assert_eq!(
            gap.step(&fields(2, &detail), h2),
            Err(ChainBreak::Gap {
                expected: 1,
                found: 2
            })
        );

        let edited = json!({"x": 1});
        let mut walk = ChainWalk::default();
        assert!(matches!(
            walk.step(&fields(1, &edited), h1),
            Err(ChainBreak::HashMismatch { .. })
        ));
    }
}
