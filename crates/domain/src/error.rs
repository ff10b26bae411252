use thiserror::Error;

/// Why a value was refused by a domain constructor.
///
/// `field` names the input (as the API calls it) so the HTTP layer can point
/// the client at what to fix; `reason` is a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
