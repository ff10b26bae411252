//! The signed part of a storage URL: its query parameters, their canonical
//! form, and the HMAC over it.
//!
//! The canonical form is a version tag, the method, the bucket, the key and
//! every parameter in a fixed order, each written as `-` when absent or
//! `+{len}:{value}` when present, so no two different requests can share a
//! canonical form (no delimiter games, absent ≠ empty).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use coffer_domain::Sha256Digest;
use hmac::Mac;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::signature::SignatureError;
use crate::signing_key::SigningKey;

const VERSION: &str = "COFFER1-HMAC-SHA256";

pub(crate) const EXPIRES: &str = "X-Coffer-Expires";
pub(crate) const CONTENT_TYPE: &str = "X-Coffer-Content-Type";
pub(crate) const CONTENT_LENGTH: &str = "X-Coffer-Content-Length";
pub(crate) const CHECKSUM: &str = "X-Coffer-Checksum-Sha256";
pub(crate) const UPLOAD_ID: &str = "uploadId";
pub(crate) const PART_NUMBER: &str = "partNumber";
pub(crate) const RESPONSE_DISPOSITION: &str = "response-content-disposition";
pub(crate) const RESPONSE_TYPE: &str = "response-content-type";
pub(crate) const SIGNATURE: &str = "X-Coffer-Signature";

/// RFC 3986 unreserved characters stay; everything else is encoded, `+` too,
/// so a decoder that reads `+` as a space cannot change a value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything a storage URL binds, besides method, bucket and key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SignedParams {
    /// Unix seconds after which the URL is refused.
    pub expires: i64,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub checksum: Option<Sha256Digest>,
    pub upload_id: Option<String>,
    pub part_number: Option<u16>,
    pub response_disposition: Option<String>,
    pub response_type: Option<String>,
}

impl SignedParams {
    fn canonical(&self, method: &str, bucket: &str, key: &str) -> String {
        let mut out = String::from(VERSION);
        let mut field = |value: Option<&str>| match value {
            None => out.push_str("\n-"),
            Some(v) => {
                let _ = write!(out, "\n+{}:{v}", v.len());
            }
        };
        field(Some(method));
        field(Some(bucket));
        field(Some(key));
        field(Some(&self.expires.to_string()));
        field(self.content_type.as_deref());
        field(self.content_length.map(|l| l.to_string()).as_deref());
        field(self.checksum.map(|c| c.to_hex()).as_deref());
        field(self.upload_id.as_deref());
        field(self.part_number.map(|n| n.to_string()).as_deref());
        field(self.response_disposition.as_deref());
        field(self.response_type.as_deref());
        out
    }

    pub(crate) fn sign(
        &self,
        key: &SigningKey,
        method: &str,
        bucket: &str,
        object: &str,
    ) -> String {
        let mut mac = key.mac();
        mac.update(self.canonical(method, bucket, object).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Constant-time comparison of `signature` (hex) with the expected one.
    pub(crate) fn verify(
        &self,
        key: &SigningKey,
        method: &str,
        bucket: &str,
        object: &str,
        signature: &[u8],
    ) -> bool {
        let mut mac = key.mac();
        mac.update(self.canonical(method, bucket, object).as_bytes());
        mac.verify_slice(signature).is_ok()
    }

    /// The query string of a signed URL.
    pub(crate) fn to_query(&self, signature: &str) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(id) = &self.upload_id {
            pairs.push((UPLOAD_ID, id.clone()));
        }
        if let Some(n) = self.part_number {
            pairs.push((PART_NUMBER, n.to_string()));
        }
        if let Some(v) = &self.content_type {
            pairs.push((CONTENT_TYPE, v.clone()));
        }
        if let Some(v) = self.content_length {
            pairs.push((CONTENT_LENGTH, v.to_string()));
        }
        if let Some(v) = self.checksum {
            pairs.push((CHECKSUM, v.to_hex()));
        }
        if let Some(v) = &self.response_disposition {
            pairs.push((RESPONSE_DISPOSITION, v.clone()));
        }
        if let Some(v) = &self.response_type {
            pairs.push((RESPONSE_TYPE, v.clone()));
        }
        pairs.push((EXPIRES, self.expires.to_string()));
        pairs.push((SIGNATURE, signature.to_owned()));
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Reads the parameters and the signature back from a query string.
    /// Parameters it does not know are ignored (they are not signed and
    /// change nothing); a known one given twice is refused.
    pub(crate) fn from_query(query: &str) -> Result<(Self, Vec<u8>), SignatureError> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| SignatureError::Malformed(format!("{name} is not UTF-8")))
            };
            let (name, value) = (decode(name)?, decode(value)?);
            if values.insert(name.clone(), value).is_some() {
                return Err(SignatureError::Malformed(format!("{name} is given twice")));
            }
        }
        let signature = values
            .remove(SIGNATURE)
            .ok_or(SignatureError::MissingSignature)?;
        let signature = hex::decode(signature).map_err(|_| SignatureError::SignatureMismatch)?;
        let expires = values
            .remove(EXPIRES)
            .ok_or(SignatureError::MissingSignature)?;
        let params = Self {
            expires: number(EXPIRES, expires)?,
            content_type: values.remove(CONTENT_TYPE),
            content_length: values
                .remove(CONTENT_LENGTH)
                .map(|v| number(CONTENT_LENGTH, v))
                .transpose()?,
            checksum: values
                .remove(CHECKSUM)
                .map(|v| {
                    Sha256Digest::parse(&v).map_err(|_| {
                        SignatureError::Malformed(format!("{CHECKSUM} is not a digest"))
                    })
                })
                .transpose()?,
            upload_id: values.remove(UPLOAD_ID),
            part_number: values
                .remove(PART_NUMBER)
                .map(|v| number(PART_NUMBER, v))
                .transpose()?,
            response_disposition: values.remove(RESPONSE_DISPOSITION),
            response_type: values.remove(RESPONSE_TYPE),
        };
        Ok((params, signature))
    }
}

fn number<T: std::str::FromStr>(name: &str, value: String) -> Result<T, SignatureError> {
    value
        .parse()
        .map_err(|_| SignatureError::Malformed(format!("{name} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_and_absent_differs_from_empty() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::load_or_create(tempfile::tempdir()?.path())?;
        let params = SignedParams {
            expires: 1_900_000_000,
            content_type: Some("application/vnd.a+json; charset=utf-8".to_owned()),
            content_length: Some(42),
            checksum: Some(Sha256Digest::from_bytes([7; 32])),
            response_disposition: Some("attachment; filename*=UTF-8''a%20b".to_owned()),
            ..SignedParams::default()
        };
        let signature = params.sign(&key, "PUT", "files", "t/x/y");
        let (back, raw) = SignedParams::from_query(&params.to_query(&signature))?;
        assert_eq!(back, params);
        assert!(back.verify(&key, "PUT", "files", "t/x/y", &raw));
        assert!(!back.verify(&key, "GET", "files", "t/x/y", &raw));
        let empty_type = SignedParams {
            content_type: Some(String::new()),
            ..SignedParams::default()
        };
        assert_ne!(
            empty_type.sign(&key, "PUT", "b", "k"),
            SignedParams::default().sign(&key, "PUT", "b", "k")
        );
        Ok(())
    }
}
