//! Share links: one file, downloadable by people outside the tenant through
//! a public page (`/s/{token}`), for a limited time, optionally behind a
//! password and a download limit.
//!
//! The token in the URL is the only key: Coffer keeps its SHA-256
//! ([`LinkDigest`]), never the token, so a leaked database does not leak
//! working links.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use crate::{FileId, ShareLinkId, Subject, TenantId, ValidationError};

/// How long a link may live at most: a link is a standing door into a
/// tenant's records, so it must close on its own.
pub const MAX_LINK_LIFETIME: Duration = Duration::days(365);

/// The most downloads a link may allow.
pub const MAX_LINK_DOWNLOADS: u32 = 1_000_000;

/// Wrong passwords allowed per link within [`LINK_PASSWORD_WINDOW`]; the
/// next attempt waits for the window to end.
pub const LINK_PASSWORD_ATTEMPTS: u32 = 5;

/// See [`LINK_PASSWORD_ATTEMPTS`].
pub const LINK_PASSWORD_WINDOW: Duration = Duration::minutes(15);

/// Random bytes in a token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

/// The secret part of a public link's URL: a share link's (`/s/…`) or an
/// upload request's (`/u/…`).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    /// A token from fresh random bytes (the caller draws them: the domain
    /// does no I/O).
    pub fn from_random(bytes: [u8; TOKEN_BYTES]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as a URL carries it.
    ///
    /// # Errors
    /// Anything but the 43 URL-safe base64 characters of 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match URL_SAFE_NO_PAD.decode(raw) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => Ok(Self(raw.to_owned())),
            _ => Err(ValidationError::new("token", "not a link token")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What Coffer keeps instead of the token.
    pub fn digest(&self) -> LinkDigest {
        LinkDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(…)")
    }
}

/// The SHA-256 of a [`LinkToken`]: how a link is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkDigest([u8; 32]);

impl LinkDigest {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A password a link's creator chose; never logged, never stored as is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkPassword(String);

impl TryFrom<String> for LinkPassword {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, ValidationError> {
        Self::new(raw)
    }
}

impl From<LinkPassword> for String {
    fn from(password: LinkPassword) -> Self {
        password.0
    }
}

impl LinkPassword {
    /// # Errors
    /// Fewer than 8 or more than 256 characters.
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let chars = raw.chars().count();
        if !(8..=256).contains(&chars) {
            return Err(ValidationError::new(
                "password",
                "must be 8 to 256 characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkPassword(…)")
    }
}

/// What a new link allows, checked against the time it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTerms {
    pub expires_at: OffsetDateTime,
    pub max_downloads: Option<u32>,
}

/// Why [`LinkTerms::new`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LinkTermsError {
    #[error("expires_at must lie in the future")]
    ExpiryInPast,
    #[error("a link may live at most 365 days")]
    ExpiryTooFar,
    #[error("max_downloads must be 1 to 1000000")]
    DownloadsOutOfRange,
}

impl LinkTerms {
    /// # Errors
    /// An expiry not after `now` or beyond [`MAX_LINK_LIFETIME`]; a
    /// download limit of 0 or above [`MAX_LINK_DOWNLOADS`].
    pub fn new(
        expires_at: OffsetDateTime,
        max_downloads: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<Self, LinkTermsError> {
        if expires_at <= now {
            return Err(LinkTermsError::ExpiryInPast);
        }
        if expires_at - now > MAX_LINK_LIFETIME {
            return Err(LinkTermsError::ExpiryTooFar);
        }
        if max_downloads.is_some_and(|n| n == 0 || n > MAX_LINK_DOWNLOADS) {
            return Err(LinkTermsError::DownloadsOutOfRange);
        }
        Ok(Self {
            expires_at,
            max_downloads,
        })
    }
}

/// A share link as Coffer keeps it (without its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    pub id: ShareLinkId,
    pub tenant_id: TenantId,
    pub file_id: FileId,
    pub expires_at: OffsetDateTime,
    pub max_downloads: Option<u32>,
    pub downloads: u32,
    pub password_protected: bool,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Subject,
    pub created_at: OffsetDateTime,
}

/// Why a link no longer opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDead {
    Revoked,
    Expired,
    UsedUp,
}

impl LinkDead {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::UsedUp => "used_up",
        }
    }
}

impl ShareLink {
    /// Why the link is dead at `now`, if it is.
    pub fn dead(&self, now: OffsetDateTime) -> Option<LinkDead> {
        if self.revoked_at.is_some() {
            Some(LinkDead::Revoked)
        } else if self.expires_at <= now {
            Some(LinkDead::Expired)
        } else if self.max_downloads.is_some_and(|max| self.downloads >= max) {
            Some(LinkDead::UsedUp)
        } else {
            None
        }
    }

    /// Who acts when someone uses the link: the audit log's actor for the
    /// outside party, who has no account.
    pub fn actor(&self) -> Subject {
        Subject::link(self.id)
    }
}

/// Wrong passwords tried on a link in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PasswordAttempts {
    pub failures: u32,
    pub window_started_at: Option<OffsetDateTime>,
}

impl PasswordAttempts {
    /// Until when the link refuses passwords, when it does at `now`.
    pub fn locked_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let ends = self.window_started_at? + LINK_PASSWORD_WINDOW;
        (self.failures >= LINK_PASSWORD_ATTEMPTS && ends > now).then_some(ends)
    }

    /// A window that started at or before this, seen at `now`, is over: the
    /// next failure starts a new one.
    pub fn window_cutoff(now: OffsetDateTime) -> OffsetDateTime {
        now - LINK_PASSWORD_WINDOW
    }

    /// The attempts after one more failure at `now` (adapters that update
    /// in SQL follow the same rule through [`PasswordAttempts::window_cutoff`]).
    #[must_use]
    pub fn after_failure(self, now: OffsetDateTime) -> Self {
        match self.window_started_at {
            Some(started) if started > Self::window_cutoff(now) => Self {
                failures: self.failures.saturating_add(1),
                window_started_at: Some(started),
            },
            _ => Self {
                failures: 1,
                window_started_at: Some(now),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + secs)
    }

    fn link(max: Option<u32>, downloads: u32) -> ShareLink {
        ShareLink {
            id: ShareLinkId::new_random(),
            tenant_id: TenantId::new_random(),
            file_id: FileId::from_uuid(uuid::Uuid::nil()),
            expires_at: at(100),
            max_downloads: max,
            downloads,
            password_protected: false,
            revoked_at: None,
            created_by: Subject::system(),
            created_at: at(0),
        }
    }

    #[test]
    fn a_token_round_trips_and_its_digest_is_its_sha256() {
        let token = LinkToken::from_random([7; 32]);
        assert_eq!(token.as_str().len(), 43);
        assert_eq!(LinkToken::parse(token.as_str()), Ok(token.clone()));
        let expected: [u8; 32] = Sha256::digest(token.as_str().as_bytes()).into();
        assert_eq!(token.digest().as_bytes(), &expected);
        assert_ne!(
            LinkToken::from_random([8; 32]).digest(),
            token.digest(),
            "other bytes, other digest"
        );
    }

    #[test]
    fn anything_but_a_token_is_refused() {
        for raw in [
            "",
            "abc",
            &"A".repeat(44),
            &"+".repeat(43),
            "../../etc/passwd",
        ] {
            assert!(LinkToken::parse(raw).is_err(), "{raw:?} parsed");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let token = LinkToken::from_random([1; 32]);
        assert!(!format!("{token:?}").contains(token.as_str()));
        let password = LinkPassword::new("correct horse");
        assert!(password.is_ok());
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn passwords_are_8_to_256_characters() {
        assert!(LinkPassword::new("1234567").is_err());
        assert!(LinkPassword::new("12345678").is_ok());
        assert!(
            LinkPassword::new("é".repeat(256)).is_ok(),
            "characters, not bytes"
        );
        assert!(LinkPassword::new("x".repeat(257)).is_err());
    }

    #[test]
    fn terms_need_a_near_future_expiry_and_a_sane_limit() {
        let now = at(0);
        assert_eq!(
            LinkTerms::new(now, None, now),
            Err(LinkTermsError::ExpiryInPast)
        );
        assert_eq!(
            LinkTerms::new(now + MAX_LINK_LIFETIME + Duration::SECOND, None, now),
            Err(LinkTermsError::ExpiryTooFar)
        );
        assert!(LinkTerms::new(now + MAX_LINK_LIFETIME, None, now).is_ok());
        for bad in [0, MAX_LINK_DOWNLOADS + 1] {
            assert_eq!(
                LinkTerms::new(at(10), Some(bad), now),
                Err(LinkTermsError::DownloadsOutOfRange)
            );
        }
        assert!(LinkTerms::new(at(10), Some(1), now).is_ok());
    }

    #[test]
    fn a_link_dies_revoked_expired_or_used_up() {
        assert_eq!(link(None, 1_000).dead(at(99)), None);
        assert_eq!(link(None, 0).dead(at(100)), Some(LinkDead::Expired));
        assert_eq!(link(Some(2), 1).dead(at(0)), None);
        assert_eq!(link(Some(2), 2).dead(at(0)), Some(LinkDead::UsedUp));
        let mut revoked = link(Some(2), 2);
        revoked.revoked_at = Some(at(1));
        assert_eq!(
            revoked.dead(at(200)),
            Some(LinkDead::Revoked),
            "revocation says most"
        );
    }

    #[test]
    fn the_actor_names_the_link() {
        let l = link(None, 0);
        assert_eq!(l.actor().as_str(), format!("link:{}", l.id));
    }

    #[test]
    fn five_wrong_passwords_lock_a_link_until_its_window_ends() {
        let mut attempts = PasswordAttempts::default();
        for i in 0..LINK_PASSWORD_ATTEMPTS {
            assert_eq!(attempts.locked_until(at(i.into())), None);
            attempts = attempts.after_failure(at(i.into()));
        }
        let ends = at(0) + LINK_PASSWORD_WINDOW;
        assert_eq!(attempts.locked_until(at(10)), Some(ends));
        assert_eq!(attempts.locked_until(ends), None, "the window is over");
        let fresh = attempts.after_failure(ends);
        assert_eq!(
            fresh.failures, 1,
            "a failure after the window starts another"
        );
        assert_eq!(fresh.window_started_at, Some(ends));
    }
}
