//! S3 Object Lock: a bucket's capability, an object's retention and legal
//! hold, and deletion in a versioned (object-lock) bucket.
//!
//! Object Lock binds *versions*: a bucket with it is versioned, a plain
//! `DeleteObject` only lays a delete marker over the bytes, and the store
//! refuses to delete a version whose retention or legal hold still binds.
//! So in such a bucket Coffer deletes every version of the key, and reports
//! a refusal the lock caused as [`S3Error::Refused`] (docs/storage.md,
//! "Object Lock").

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode,
};
use coffer_domain::{Retention, RetentionMode};
use coffer_ports::{ObjectLocation, ObjectLock};
use time::OffsetDateTime;

use crate::S3Error;
use crate::objects::timestamp;

/// Which buckets have Object Lock, asked once per bucket
/// (`GetObjectLockConfiguration`) and then remembered: a bucket's lock
/// cannot be turned off, and `ensure_bucket` records the buckets it creates
/// with one. A bucket given a lock outside Coffer later is seen after a
/// restart.
#[derive(Debug, Clone, Default)]
pub(crate) struct LockedBuckets {
    known: Arc<RwLock<HashMap<String, bool>>>,
}

impl LockedBuckets {
    fn cached(&self, bucket: &str) -> Option<bool> {
        self.known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .copied()
    }

    pub(crate) fn remember(&self, bucket: &str, locked: bool) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bucket.to_owned(), locked);
    }

    /// Whether `bucket` has Object Lock enabled.
    pub(crate) async fn is_locked(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
    ) -> Result<bool, S3Error> {
        if let Some(locked) = self.cached(bucket) {
            return Ok(locked);
        }
        let locked = lock_enabled(client, bucket).await?;
        self.remember(bucket, locked);
        Ok(locked)
    }
}

/// `GetObjectLockConfiguration`: a missing configuration (or a store that
/// has no Object Lock at all) is `false`; a missing bucket is an error.
pub(crate) async fn lock_enabled(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<bool, S3Error> {
    match client
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            == Some(&ObjectLockEnabled::Enabled)),
        Err(e) => match S3Error::sdk("GetObjectLockConfiguration", e) {
            err if err.code() == Some("ObjectLockConfigurationNotFoundError")
                || err.is_not_implemented() =>
            {
                Ok(false)
            }
            err => Err(err),
        },
    }
}

/// What binds one version of an object, as the store reports it.
#[derive(Debug, Clone, Copy, Default)]
struct VersionLock {
    retention: Option<(RetentionMode, OffsetDateTime)>,
    /// `None` when the store did not say (no `s3:GetObjectLegalHold`).
    legal_hold: Option<bool>,
}

impl VersionLock {
    fn binds(&self, now: OffsetDateTime) -> bool {
        self.legal_hold == Some(true) || self.retention_binds(now)
    }

    fn retention_binds(&self, now: OffsetDateTime) -> bool {
        self.retention.is_some_and(|(_, until)| until > now)
    }
}

/// The object's current version and its lock (`HeadObject`).
async fn current(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    version: Option<&str>,
) -> Result<(Option<String>, VersionLock), S3Error> {
    let out = client
        .head_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .map_err(|e| S3Error::sdk("HeadObject", e))?;
    let retention = out
        .object_lock_mode()
        .and_then(coffer_mode)
        .zip(timestamp(out.object_lock_retain_until_date()));
    let legal_hold = out
        .object_lock_legal_hold_status()
        .map(|s| *s == ObjectLockLegalHoldStatus::On);
    Ok((
        out.version_id().map(str::to_owned),
        VersionLock {
            retention,
            legal_hold,
        },
    ))
}

/// The retain-until date as S3 keeps it (whole seconds), rounded up so that
/// what the store holds is never shorter than what Coffer promised, and the
/// same date applied twice is the same to the store.
fn store_date(at: OffsetDateTime) -> DateTime {
    let secs = at.unix_timestamp();
    DateTime::from_secs(if at.nanosecond() > 0 { secs + 1 } else { secs })
}

fn coffer_mode(mode: &ObjectLockMode) -> Option<RetentionMode> {
    match mode {
        ObjectLockMode::Governance => Some(RetentionMode::Governance),
        ObjectLockMode::Compliance => Some(RetentionMode::Compliance),
        _ => None,
    }
}

fn store_mode(mode: RetentionMode) -> ObjectLockRetentionMode {
    match mode {
        RetentionMode::Governance => ObjectLockRetentionMode::Governance,
        RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
    }
}

/// Set the current version's retention and legal hold to `lock`.
///
/// An expired retention asks for nothing (S3 refuses a date in the past).
/// The retention is sent whenever one is asked for (the store itself decides
/// whether it weakens the one it holds); removing one is sent only when the
/// version has one that still binds; the legal hold only when it changes.
/// The legal hold goes first: the two are independent in S3, and a store
/// that refuses the retention change (SeaweedFS cannot remove one) must not
/// keep a hold Coffer released.
pub(crate) async fn apply(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    lock: &ObjectLock,
    bypass_governance: bool,
) -> Result<(), S3Error> {
    let now = OffsetDateTime::now_utc();
    let (version, held) = current(client, location, None).await?;
    if held.legal_hold != Some(lock.legal_hold) {
        put_legal_hold(client, location, version.as_deref(), lock.legal_hold).await?;
    }
    let wanted = lock.retention.filter(|r| r.is_active(now));
    if wanted.is_some() || held.retention_binds(now) {
        put_retention(
            client,
            location,
            version.as_deref(),
            wanted,
            bypass_governance,
        )
        .await
        .map_err(|err| weakening_refused(err, &held, now, wanted))?;
    }
    Ok(())
}

async fn put_retention(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    version: Option<&str>,
    retention: Option<Retention>,
    bypass_governance: bool,
) -> Result<(), S3Error> {
    // No mode and no date: remove the retention (governance, with bypass).
    let body = match retention {
        Some(r) => ObjectLockRetention::builder()
            .mode(store_mode(r.mode))
            .retain_until_date(store_date(r.retain_until))
            .build(),
        None => ObjectLockRetention::builder().build(),
    };
    client
        .put_object_retention()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .set_version_id(version.map(str::to_owned))
        .retention(body)
        .set_bypass_governance_retention(bypass_governance.then_some(true))
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutObjectRetention", e))?;
    Ok(())
}

async fn put_legal_hold(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    version: Option<&str>,
    on: bool,
) -> Result<(), S3Error> {
    let status = if on {
        ObjectLockLegalHoldStatus::On
    } else {
        ObjectLockLegalHoldStatus::Off
    };
    client
        .put_object_legal_hold()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .set_version_id(version.map(str::to_owned))
        .legal_hold(ObjectLockLegalHold::builder().status(status).build())
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutObjectLegalHold", e))?;
    Ok(())
}

/// A store's refusal to change a retention that still binds is the lock
/// refusing (AWS and SeaweedFS answer `403 AccessDenied`; a store that
/// cannot remove a retention at all, like SeaweedFS 4.48, `400
/// InvalidRequest`). Anything else stays what it was.
fn weakening_refused(
    err: S3Error,
    held: &VersionLock,
    now: OffsetDateTime,
    wanted: Option<Retention>,
) -> S3Error {
    let Some((mode, until)) = held.retention.filter(|_| held.retention_binds(now)) else {
        return err;
    };
    let removal_refused = wanted.is_none() && err.status() == Some(400);
    if err.code() == Some("AccessDenied") || removal_refused {
        S3Error::Refused(format!(
            "the store keeps the object's {mode} retention until {until}: {err}"
        ))
    } else {
        err
    }
}

/// One version (or delete marker) of a key.
struct Version {
    id: String,
    marker: bool,
}

/// Every version and delete marker of exactly `location`'s key, delete
/// markers first, then versions oldest first: deleting in this order keeps
/// the current version for last, so a refusal midway leaves the object
/// readable.
async fn versions(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
) -> Result<Vec<Version>, S3Error> {
    let key = location.key().as_str();
    let (mut markers, mut versions) = (Vec::new(), Vec::new());
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let out = client
            .list_object_versions()
            .bucket(location.bucket().as_str())
            .prefix(key)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .map_err(|e| S3Error::sdk("ListObjectVersions", e))?;
        // The prefix also matches longer keys; only this one's count.
        markers.extend(
            out.delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .filter_map(|m| m.version_id())
                .map(|id| Version {
                    id: id.to_owned(),
                    marker: true,
                }),
        );
        versions.extend(
            out.versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .filter_map(|v| v.version_id())
                .map(|id| Version {
                    id: id.to_owned(),
                    marker: false,
                }),
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        version_marker = out.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            break;
        }
    }
    // S3 lists a key's versions newest first.
    versions.reverse();
    markers.extend(versions);
    Ok(markers)
}

/// Delete every version of the object, so its bytes are really gone. A
/// version the lock keeps is `Refused` (checked with a `HeadObject` of
/// that version: a `403` for another reason stays what it is). A missing
/// object is success.
pub(crate) async fn delete_all_versions(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
) -> Result<(), S3Error> {
    for version in versions(client, location).await? {
        let result = client
            .delete_object()
            .bucket(location.bucket().as_str())
            .key(location.key().as_str())
            .version_id(&version.id)
            .send()
            .await;
        let Err(e) = result else { continue };
        match S3Error::sdk("DeleteObject", e) {
            // Gone in the meantime (a concurrent delete).
            err if err.status() == Some(404) && err.code() != Some("NoSuchBucket") => {}
            err if !version.marker && err.code() == Some("AccessDenied") => {
                return Err(locked_version(client, location, &version.id, err).await);
            }
            err => return Err(err),
        }
    }
    Ok(())
}

async fn locked_version(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    version: &str,
    err: S3Error,
) -> S3Error {
    let now = OffsetDateTime::now_utc();
    match current(client, location, Some(version)).await {
        Ok((_, lock)) if lock.binds(now) => {
            let why = match (lock.legal_hold, lock.retention) {
                (Some(true), _) => "a legal hold".to_owned(),
                (_, Some((mode, until))) => format!("{mode} retention until {until}"),
                _ => "a lock".to_owned(),
            };
            S3Error::Refused(format!(
                "the store keeps version {version} of the object under {why}: {err}"
            ))
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn dates_round_up_to_whole_seconds() {
        assert_eq!(
            store_date(datetime!(2030-01-01 00:00:00.000_001 UTC)).secs(),
            datetime!(2030-01-01 00:00:01 UTC).unix_timestamp()
        );
        assert_eq!(
            store_date(datetime!(2030-01-01 00:00:00 UTC)).secs(),
            datetime!(2030-01-01 00:00:00 UTC).unix_timestamp()
        );
    }

    #[test]
    fn only_a_binding_retention_turns_a_denial_into_a_refusal() {
        let now = datetime!(2030-01-01 00:00:00 UTC);
        let denied = || S3Error::Service {
            operation: "PutObjectRetention",
            status: 403,
            code: "AccessDenied".to_owned(),
            message: String::new(),
            source: "denied".into(),
        };
        let binding = VersionLock {
            retention: Some((RetentionMode::Compliance, now + time::Duration::days(1))),
            legal_hold: Some(false),
        };
        let expired = VersionLock {
            retention: Some((RetentionMode::Compliance, now - time::Duration::days(1))),
            legal_hold: Some(false),
        };
        assert!(matches!(
            weakening_refused(denied(), &binding, now, None),
            S3Error::Refused(_)
        ));
        // Wrong permissions on an object nothing binds stay an error.
        assert!(matches!(
            weakening_refused(denied(), &expired, now, None),
            S3Error::Service { .. }
        ));
        assert!(matches!(
            weakening_refused(denied(), &VersionLock::default(), now, None),
            S3Error::Service { .. }
        ));
        // A store that cannot remove a retention (SeaweedFS: 400) refuses
        // the removal; a 400 to setting one is not a lock's refusal.
        let invalid = || S3Error::Service {
            operation: "PutObjectRetention",
            status: 400,
            code: "InvalidRequest".to_owned(),
            message: String::new(),
            source: "invalid".into(),
        };
        assert!(matches!(
            weakening_refused(invalid(), &binding, now, None),
            S3Error::Refused(_)
        ));
        let extension = Some(Retention {
            mode: RetentionMode::Compliance,
            retain_until: now + time::Duration::days(2),
        });
        assert!(matches!(
            weakening_refused(invalid(), &binding, now, extension),
            S3Error::Service { .. }
        ));
    }
}
