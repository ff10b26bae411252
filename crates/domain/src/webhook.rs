//! Signed webhook deliveries. The signature header has the shape Stripe made
//! familiar — `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` —
//! so a receiver can reuse a verifier it already has. The timestamp is
//! signed with the body: a captured delivery cannot be replayed later
//! than the receiver's tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ValidationError;

type HmacSha256 = Hmac<Sha256>;

/// The header a signed delivery carries its signature in.
pub const SIGNATURE_HEADER: &str = "Coffer-Signature";

/// Where a tenant's events are delivered: an absolute `http(s)` URL, kept in
/// the form the WHATWG URL parser gives it (the form reqwest sends to), so
/// the host that is checked is the host that is called — `0x7f000001` is
/// `127.0.0.1` here as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct WebhookUrl(#[serde(serialize_with = "serialize_url")] url::Url);

fn serialize_url<S: serde::Serializer>(url: &url::Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(url.as_str())
}

impl WebhookUrl {
    /// The longest URL accepted.
    pub const MAX_LEN: usize = 2048;

    /// # Errors
    /// Anything but an absolute `http://` or `https://` URL with a host,
    /// without whitespace or credentials, of at most [`Self::MAX_LEN`] bytes.
    /// Whether the host is one Coffer may call is
    /// [`crate::outbound::OutboundPolicy`]'s decision, not this one's.
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let invalid = |why: &str| ValidationError::new("webhook_url", why);
        if raw.len() > Self::MAX_LEN {
            return Err(invalid("at most 2048 bytes"));
        }
        // The parser would strip or encode these silently; refuse them instead.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain whitespace"));
        }
        let url = url::Url::parse(&raw)
            .map_err(|_| invalid("must be an absolute http:// or https:// URL"))?;
        // The parser forgives `https:///host` and `http:host`; a URL an
        // operator reads in the audit log should say what it means.
        let after_scheme = raw
            .get(url.scheme().len()..)
            .and_then(|rest| rest.strip_prefix("://"));
        if !matches!(url.scheme(), "http" | "https")
            || after_scheme.is_none_or(|rest| rest.starts_with(['/', '\\']))
        {
            return Err(invalid("must be an absolute http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid("must name a host (and no credentials)"));
        }
        if url.as_str().len() > Self::MAX_LEN {
            return Err(invalid("at most 2048 bytes"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host, as parsed: a name, or an IPv4 or IPv6 address.
    pub fn host(&self) -> Option<url::Host<&str>> {
        self.0.host()
    }

    /// The host when it is a DNS name (not an IP address).
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Checks a signature header against `body`: one of its `v1` signatures
/// (several may be present while a secret is rotated) must match, in
/// constant time, and its timestamp must be within `tolerance_secs` of `now`.
///
/// # Errors
/// [`SignatureError`].
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            Some(("v1", v)) => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?);
            }
            // Other schemes (`v0`, future versions) are ignored, as Stripe does.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_signature_verifies_and_matches_a_known_vector() {
        let header = sign(SECRET, 1_700_000_000, b"{\"a\":1}");
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            header,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_eq!(
            verify(SECRET, &header, b"{\"a\":1}", 1_700_000_010, 300),
            Ok(())
        );
    }

    #[test]
    fn tampering_staleness_and_bad_headers_are_refused() {
        let header = sign(SECRET, 1_700_000_000, b"body");
        assert_eq!(
            verify(SECRET, &header, b"bodx", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, b"body", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"body", 1_700_000_301, 300),
            Err(SignatureError::Stale)
        );
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                verify(SECRET, bad, b"body", 1, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = sign(SECRET, 5, b"b");
        let v1 = good.split_once(",v1=").map(|(_, v)| v).unwrap_or_default();
        let header = format!("t=5,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, &header, b"b", 5, 0), Ok(()));
    }

    #[test]
    fn webhook_urls_are_absolute_http() {
        assert!(WebhookUrl::new("https://hooks.example.com/coffer?x=1").is_ok());
        assert!(WebhookUrl::new("http://127.0.0.1:9000/hook").is_ok());
        // The host is kept as the parser reads it, the form that is called.
        assert_eq!(
            WebhookUrl::new("http://0x7f000001:9000/hook").map(|u| u.to_string()),
            Ok("http://127.0.0.1:9000/hook".to_owned())
        );
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https:///path",
            "https://user:pw@host/",
            "https://a b/",
            "/relative",
            "https://user@host/",
            "mailto:a@example.com",
            "http:example.com",
            "https:\\\\example.com/",
        ] {
            assert!(WebhookUrl::new(bad).is_err(), "{bad}");
        }
    }
}
