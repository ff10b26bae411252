//! What makes verified bytes final (docs/integrity.md, docs/decisions.md): a client uploads to
//! its file's staging key; `complete` copies what is there to a fresh key
//! that only Coffer ever writes, once, and verifies the copy — size, SHA-256,
//! type — so no URL handed out, no part URL and no retried complete can change
//! the bytes a file's record points to.

use coffer_domain::{ErrorCode, FileRecord, Sha256Digest};
use coffer_ports::{ObjectLocation, ObjectStore, StoreErrorKind};
use futures::StreamExt as _;

use crate::sniff;
use crate::stream;
use crate::{ErrorKind, ServiceError};

/// A verified copy of a file's bytes.
#[derive(Debug)]
pub(crate) struct Verified {
    pub location: ObjectLocation,
    pub size: u64,
    pub sha256: Sha256Digest,
}

/// Copy the staged bytes of `file` to a verified key and check them there.
/// On a refusal the copy is gone again; the staged object is left to the
/// caller.
pub(crate) async fn verify_staged(
    store: &dyn ObjectStore,
    file: &FileRecord,
    staging: &ObjectLocation,
) -> Result<Verified, ServiceError> {
    let staged = match store.head(staging).await {
        Ok(object) => object,
        Err(err) if err.is(StoreErrorKind::NotFound) => {
            return Err(ServiceError::conflict(
                ErrorCode::UploadMissing,
                "no bytes were uploaded yet: PUT them to the upload URL first",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if staged.size != file.size_bytes {
        return Err(size_mismatch(file.size_bytes, staged.size));
    }
    // In the file's bucket, wherever the bytes were staged (an upload
    // session's prefix may be in another bucket of the tenant).
    let target =
        ObjectLocation::verified(file.tenant_id, file.bucket.clone(), &file.category, file.id);
    store.copy(staging, &target).await?;
    match check_copy(store, file, &target).await {
        Ok(sha256) => Ok(Verified {
            location: target,
            size: file.size_bytes,
            sha256,
        }),
        Err(err) => {
            discard(store, &target).await;
            Err(err)
        }
    }
}

/// Read the copy once: its length, its SHA-256 (against the declared one)
/// and its first bytes (against the declared type).
async fn check_copy(
    store: &dyn ObjectStore,
    file: &FileRecord,
    target: &ObjectLocation,
) -> Result<Sha256Digest, ServiceError> {
    let object = store.get_stream(target, None).await?;
    let (mut body, meter) = stream::meter(object.body, file.size_bytes);
    while let Some(chunk) = body.next().await {
        if let Err(err) = chunk {
            if stream::read(&meter).over_limit {
                break;
            }
            return Err(ServiceError::new(
                ErrorKind::Unavailable,
                ErrorCode::StorageUnavailable,
                format!("reading the uploaded object back: {err}"),
            ));
        }
    }
    let m = stream::read(&meter);
    if m.over_limit || m.bytes != file.size_bytes {
        return Err(size_mismatch(file.size_bytes, m.bytes));
    }
    let digest = m.digest();
    if file
        .checksum_sha256
        .is_some_and(|declared| declared != digest)
    {
        return Err(ServiceError::invalid(
            ErrorCode::ChecksumMismatch,
            "the uploaded bytes do not match checksum_sha256",
        ));
    }
    if let Some(sniffed) = sniff::contradiction(&file.content_type, &m.head) {
        return Err(super::upload::content_mismatch(
            &file.content_type,
            &sniffed,
        ));
    }
    Ok(digest)
}

fn size_mismatch(declared: u64, uploaded: u64) -> ServiceError {
    ServiceError::invalid(
        ErrorCode::SizeMismatch,
        format!("{declared} bytes were declared but {uploaded} were uploaded"),
    )
}

/// Delete an object that must not stay; a failure is left to the reconciler.
pub(crate) async fn discard(store: &dyn ObjectStore, location: &ObjectLocation) {
    if let Err(err) = store.delete(location).await {
        tracing::warn!(key = %location.key(), error = %err, "could not delete a refused object");
    }
}
