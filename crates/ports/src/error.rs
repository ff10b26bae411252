use std::error::Error as StdError;
use std::fmt;

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// Defines a port's error: a kind, a message for logs and a source chain.
macro_rules! port_error {
    ($(#[$meta:meta])* $name:ident, $kind:ident) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        #[error("{kind}: {message}")]
        pub struct $name {
            kind: $kind,
            message: String,
            #[source]
            source: Option<Source>,
        }

        impl $name {
            pub fn new(kind: $kind, message: impl Into<String>) -> Self {
                Self { kind, message: message.into(), source: None }
            }

            /// Keeps `source` in the chain, for logs; never shown to clients.
            pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
                self.source = Some(Box::new(source));
                self
            }

            pub fn kind(&self) -> $kind {
                self.kind
            }

            pub fn message(&self) -> &str {
                &self.message
            }

            pub fn is(&self, kind: $kind) -> bool {
                self.kind == kind
            }
        }
    };
}

/// Kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// No such object, bucket or multipart upload.
    NotFound,
    /// A precondition failed (e.g. the object changed, parts do not match).
    Conflict,
    /// The request was refused before it was sent: a key outside the
    /// tenant's prefix, an invalid range, a body over the announced size.
    Refused,
    /// The store could not be reached or answered with a server error; retry later.
    Unavailable,
    /// Anything else, including a store answering with something unexpected.
    Internal,
}

/// Kinds of [`MetadataError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataErrorKind {
    NotFound,
    /// A uniqueness rule was violated (duplicate slug, duplicate live path…).
    Conflict,
    /// Not enough quota for the reservation.
    QuotaExceeded,
    /// A state transition that is not allowed (e.g. completing a deleted file).
    InvalidState,
    /// The database could not be reached; retry later.
    Unavailable,
    /// The tenant's data is being moved and this write cannot land where
    /// it was aimed (its old home's audit chain is sealed); retry shortly,
    /// when it lands in the new one.
    Moving,
    Internal,
}

/// Kinds of [`IdentityError`]. All but `Unavailable` mean "401" to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityErrorKind {
    /// Malformed, badly signed, wrong issuer/audience/algorithm, unknown key.
    Invalid,
    /// Expired, or not yet valid.
    Expired,
    /// The token names no tenant, or several without a valid selection.
    TenantMissing,
    /// `X-Tenant` names a tenant the token does not hold.
    TenantNotAllowed,
    /// The provider (discovery, JWKS) could not be reached.
    Unavailable,
    Internal,
}

/// Kinds of [`ScanError`]. None of them is a verdict: the body was not
/// scanned, and the caller decides what an unscanned body may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanErrorKind {
    /// The scanner could not be reached, went away during the scan, or did
    /// not answer in time; retry later.
    Unavailable,
    /// The body is longer than the scanner accepts (clamd's
    /// `StreamMaxLength`): it can never be scanned as it is.
    TooLarge,
    /// The body stream failed, or the scanner answered something unexpected.
    Internal,
}

macro_rules! kind_display {
    ($kind:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($kind::$variant => $text),+ })
            }
        }
    };
}

kind_display!(StoreErrorKind {
    NotFound => "not found",
    Conflict => "conflict",
    Refused => "refused",
    Unavailable => "unavailable",
    Internal => "internal",
});
kind_display!(MetadataErrorKind {
    NotFound => "not found",
    Conflict => "conflict",
    QuotaExceeded => "quota exceeded",
    InvalidState => "invalid state",
    Unavailable => "unavailable",
    Moving => "tenant moving",
    Internal => "internal",
});
kind_display!(IdentityErrorKind {
    Invalid => "invalid token",
    Expired => "expired token",
    TenantMissing => "no tenant",
    TenantNotAllowed => "tenant not allowed",
    Unavailable => "unavailable",
    Internal => "internal",
});

port_error!(
    /// What an [`crate::ObjectStore`] call can fail with.
    StoreError,
    StoreErrorKind
);
port_error!(
    /// What a call of a metadata port can fail with.
    MetadataError,
    MetadataErrorKind
);
kind_display!(ScanErrorKind {
    Unavailable => "unavailable",
    TooLarge => "too large to scan",
    Internal => "internal",
});

port_error!(
    /// What a [`crate::Scanner`] call can fail with.
    ScanError,
    ScanErrorKind
);
port_error!(
    /// What an [`crate::IdentityProvider`] call can fail with.
    IdentityError,
    IdentityErrorKind
);
