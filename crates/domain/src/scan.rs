use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::file::string_newtype;

/// The name of the malware signature a scanner matched, as it reports it
/// (`Eicar-Test-Signature.UNOFFICIAL`, `Win.Test.EICAR_HDB-1`): 1 to 255
/// bytes without control characters, so it is safe to store, log and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignatureName(String);

impl SignatureName {
    pub const MAX_BYTES: usize = 255;

    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let err = |reason: &str| ValidationError::new("signature", reason);
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(err("must be 1 to 255 bytes"));
        }
        if raw.chars().any(char::is_control) {
            return Err(err("must not contain control characters"));
        }
        Ok(Self(raw))
    }
}
string_newtype!(SignatureName);

/// What a malware scan of a file's bytes found, as the file record keeps
/// it. A scan that could not run yet (scanner down) has no verdict: the
/// file waits. One that can never run (the body is over the scanner's
/// limit) is `unscannable`, which quarantines the file like `infected`:
/// scanning fails closed.
///
/// Serialised with a `verdict` tag: `{"verdict":"clean"}`,
/// `{"verdict":"infected","signature":"Eicar-Test-Signature"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ScanVerdict {
    /// No signature matched.
    Clean,
    /// A signature matched.
    Infected { signature: SignatureName },
    /// The scanner cannot scan these bytes (e.g. over its size limit).
    Unscannable { reason: String },
}

impl ScanVerdict {
    pub fn infected(signature: SignatureName) -> Self {
        Self::Infected { signature }
    }

    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Clean)
    }

    /// The signature that matched, for an infected file.
    pub fn signature(&self) -> Option<&SignatureName> {
        match self {
            Self::Clean | Self::Unscannable { .. } => None,
            Self::Infected { signature } => Some(signature),
        }
    }
}

impl fmt::Display for ScanVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Clean => f.write_str("clean"),
            Self::Infected { signature } => write!(f, "infected ({signature})"),
            Self::Unscannable { reason } => write!(f, "unscannable ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_names_are_bounded_printable_text() {
        assert!(SignatureName::new("Eicar-Test-Signature.UNOFFICIAL").is_ok());
        assert!(SignatureName::new("x".repeat(255)).is_ok());
        assert!(SignatureName::new("").is_err());
        assert!(SignatureName::new("x".repeat(256)).is_err());
        assert!(SignatureName::new("Eicar\nFOUND").is_err());
        assert!(SignatureName::new("Eicar\0").is_err());
    }

    #[test]
    fn verdicts_serialise_with_a_tag_and_round_trip() {
        let clean = ScanVerdict::Clean;
        let infected = SignatureName::new("Eicar-Test-Signature")
            .map(ScanVerdict::infected)
            .ok();
        assert_eq!(
            serde_json::to_value(&clean).ok(),
            Some(serde_json::json!({"verdict": "clean"}))
        );
        assert_eq!(
            infected.as_ref().and_then(|v| serde_json::to_value(v).ok()),
            Some(serde_json::json!({"verdict": "infected", "signature": "Eicar-Test-Signature"}))
        );
        for verdict in [Some(clean), infected] {
            let json = verdict.as_ref().and_then(|v| serde_json::to_string(v).ok());
            let back = json.and_then(|j| serde_json::from_str::<ScanVerdict>(&j).ok());
            assert_eq!(back, verdict);
        }
    }

    #[test]
    fn a_stored_verdict_with_an_invalid_signature_is_refused() {
        let json = r#"{"verdict":"infected","signature":""}"#;
        assert!(serde_json::from_str::<ScanVerdict>(json).is_err());
        let json = r#"{"verdict":"infected"}"#;
        assert!(serde_json::from_str::<ScanVerdict>(json).is_err());
    }

    #[test]
    fn accessors_and_display() {
        let signature = SignatureName::new("Eicar-Test-Signature").ok();
        let infected = signature.clone().map(ScanVerdict::infected);
        assert!(ScanVerdict::Clean.is_clean());
        assert_eq!(ScanVerdict::Clean.signature(), None);
        assert_eq!(ScanVerdict::Clean.to_string(), "clean");
        assert_eq!(infected.as_ref().map(ScanVerdict::is_clean), Some(false));
        assert_eq!(
            infected.as_ref().and_then(ScanVerdict::signature),
            signature.as_ref()
        );
        assert_eq!(
            infected.map(|v| v.to_string()).as_deref(),
            Some("infected (Eicar-Test-Signature)")
        );
    }
}
