//! Uploads: direct (presigned PUT), multipart (presigned parts) and streamed.

use std::sync::Arc;

use coffer_domain::{
    Action, ContentType, ErrorCode, FeatureKey, FileId, FileRecord, FileStatus, MAX_OBJECT_SIZE,
    MAX_PARTS, ObjectKey, Resource, Sha256Digest, decide, is_storable,
};
use coffer_ports::{
    ByteStream, MetadataError, MetadataErrorKind, NewFile, ObjectFacts, ObjectLocation,
    ObjectStore, PresignPart, PresignPut, PresignedRequest, StoreErrorKind, TenantData,
    TenantScope, UploadedPart,
};
use serde_json::json;
use time::OffsetDateTime;

use super::verify::{self, verify_staged};
use super::{Files, NewFileFields, check, location, require_status};
use crate::effective_config::require_feature;
use crate::sniff;
use crate::stream;
use crate::{Caller, ErrorKind, ServiceError};

/// `POST /files` with JSON: reserve the file and hand out where to PUT it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiateUpload {
    pub file: NewFileFields,
    /// Exact size in bytes; the store refuses any other length.
    pub size: u64,
    /// Upload in parts (large files).
    pub multipart: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatedUpload {
    pub file: FileRecord,
    pub upload: UploadTarget,
}

/// Where the client sends the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// One presigned PUT.
    Single(PresignedRequest),
    /// Parts presigned on request (`POST /files/{id}/parts`).
    Multipart(MultipartUpload),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// Every part but the last must have exactly this size.
    pub part_size: u64,
    pub part_count: u64,
    pub expires_at: OffsetDateTime,
}

/// A part to presign: its number and, when the client has it, its SHA-256
/// (then the store refuses any other bytes for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRequest {
    pub part_number: u16,
    pub checksum_sha256: Option<Sha256Digest>,
}

/// What a multipart upload holds so far, for a client resuming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedParts {
    pub part_size: u64,
    pub part_count: u64,
    pub parts: Vec<UploadedPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPart {
    pub part_number: u16,
    pub request: PresignedRequest,
}

/// `POST /files` with multipart/form-data: the body streams through Coffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamUpload {
    pub file: NewFileFields,
}

impl Files {
    /// Reserve a pending file and presign its upload.
    ///
    /// # Errors
    /// `Forbidden` for a viewer; `PayloadTooLarge`/`UnsupportedMediaType`
    /// over the plan's limits or quota; `Conflict` for a taken path and name;
    /// `Invalid` (`size_out_of_range`) for a size no store can hold.
    pub async fn initiate_upload(
        &self,
        caller: &Caller,
        request: InitiateUpload,
    ) -> Result<InitiatedUpload, ServiceError> {
        self.initiate(caller, request, None).await
    }

    /// Reserve a pending upload — of a file of its own, or of the next
    /// version of a file (with the tenant's data its use case resolved)
    /// — and presign it.
    pub(super) async fn initiate(
        &self,
        caller: &Caller,
        request: InitiateUpload,
        version_of: Option<(FileId, Arc<TenantData>)>,
    ) -> Result<InitiatedUpload, ServiceError> {
        let (tenant, scope) = self.creator(caller)?;
        // Before the tenant's limits, which a platform admin may set beyond
        // what a store (or a signed 64-bit column) can hold.
        if !is_storable(request.size) {
            return Err(ServiceError::invalid(
                ErrorCode::SizeOutOfRange,
                format!("size must be at most {MAX_OBJECT_SIZE} bytes"),
            ));
        }
        let eff = self.configs.effective_config(tenant).await?;
        if request.multipart {
            require_feature(&eff, FeatureKey::MultipartUploads)?;
        }
        let limits = eff.limits();
        let content_type = request
            .file
            .content_type
            .clone()
            .unwrap_or_else(|| ContentType::guess_from(&request.file.filename));
        limits.check_file(request.size, &content_type)?;
        let part_size = if request.multipart {
            Some(self.part_size_for(&request)?)
        } else {
            None
        };
        let now = self.clock.now();
        let mut new = self.new_file(
            caller,
            tenant,
            request.file,
            content_type,
            request.size,
            now,
        )?;
        // The client's bytes land on the staging key; `complete` copies them
        // to a verified key that becomes the file's (files/verify.rs).
        new.key = ObjectKey::staging(tenant.id, new.id);
        let (version_of, data) = match version_of {
            Some((file, data)) => (Some(file), data),
            None => (None, self.tenant_data.tenant_data(tenant).await?),
        };
        new.version_of = version_of;
        let journal = self.recorder.journal(
            caller,
            "file.upload_initiated",
            Some(new.id),
            json!({
                "size": new.size_bytes,
                "multipart": part_size.is_some(),
                "version_of": version_of,
            }),
        );
        let file = data
            .files
            .reserve_upload(&scope, new, &limits, journal)
            .await
            .map_err(reservation_error)?;
        let store = self.store_of(tenant);
        let upload = match (location(&file), part_size) {
            (Err(err), _) => Err(err.into()),
            (Ok(location), Some(part_size)) => {
                self.start_multipart(store, &data, &scope, &file, &location, part_size)
                    .await
            }
            (Ok(location), None) => {
                self.presign_single(store, &file, location, eff.url_ttl())
                    .await
            }
        };
        let upload = match upload {
            Ok(upload) => upload,
            Err(err) => {
                // Nothing was sent to the store yet: drop the reservation.
                let journal = self.recorder.journal(
                    caller,
                    "file.upload_abandoned",
                    Some(file.id),
                    json!({ "reason": err.code }),
                );
                if let Err(undo) = data.files.remove_file(&scope, file.id, Some(journal)).await {
                    tracing::error!(file = %file.id, error = %undo, "could not release a failed reservation");
                }
                return Err(err);
            }
        };
        Ok(InitiatedUpload { file, upload })
    }

    /// Presign the PUTs of some parts of a multipart upload.
    ///
    /// # Errors
    /// `Conflict` unless the file is a pending multipart upload; `Invalid`
    /// for part numbers outside the upload.
    pub async fn presign_parts(
        &self,
        caller: &Caller,
        id: FileId,
        requested: Vec<PartRequest>,
    ) -> Result<Vec<PresignedPart>, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Write)
            .await?
            .file;
        require_status(&file, FileStatus::Pending)?;
        let ttl = self.configs.effective_config(tenant).await?.url_ttl();
        let upload_id = multipart_id(&file)?;
        let part_size = self.part_size_of(&file);
        let part_count = file.size_bytes.div_ceil(part_size).max(1);
        if requested.is_empty() || requested.len() > 1000 {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidParts,
                "ask for 1 to 1000 parts at a time",
            ));
        }
        if let Some(bad) = requested
            .iter()
            .map(|p| p.part_number)
            .find(|n| *n == 0 || u64::from(*n) > part_count)
        {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidParts,
                format!("part {bad} is outside 1..={part_count}"),
            ));
        }
        let location = location(&file)?;
        let store = self.store_of(tenant);
        let now = self.clock.now();
        let mut parts = Vec::with_capacity(requested.len());
        for part in requested {
            // Every part but the last is exactly `part_size` long.
            let start = u64::from(part.part_number - 1) * part_size;
            let request = PresignPart {
                location: location.clone(),
                upload_id: upload_id.to_owned(),
                part_number: part.part_number,
                content_length: part_size.min(file.size_bytes - start),
                checksum_sha256: part.checksum_sha256,
                now,
                expires_in: ttl,
            };
            parts.push(PresignedPart {
                part_number: part.part_number,
                request: store.presign_part(request).await?,
            });
        }
        Ok(parts)
    }

    /// The parts of a pending multipart upload the store already holds, so
    /// that a client can resume an interrupted upload with the rest.
    ///
    /// # Errors
    /// `Conflict` unless the file is a pending multipart upload.
    pub async fn received_parts(
        &self,
        caller: &Caller,
        id: FileId,
    ) -> Result<ReceivedParts, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Write)
            .await?
            .file;
        require_status(&file, FileStatus::Pending)?;
        let upload_id = multipart_id(&file)?;
        let part_size = self.part_size_of(&file);
        let parts = match self
            .store_of(tenant)
            .list_parts(&location(&file)?, upload_id)
            .await
        {
            Ok(parts) => parts,
            // Assembled by a `complete` that then failed verification: no
            // part is left to resume from.
            Err(err) if err.is(StoreErrorKind::NotFound) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        Ok(ReceivedParts {
            part_size,
            part_count: file.size_bytes.div_ceil(part_size).max(1),
            parts,
        })
    }

    /// Verify a direct upload and make the file available. Idempotent: an
    /// available file is returned as it is, its bytes untouched.
    ///
    /// # Errors
    /// `Conflict` when the object is not (completely) there yet; `Invalid`
    /// (422) when size, checksum or content do not match — the object is then
    /// deleted and the file stays pending for another attempt.
    pub async fn complete_upload(
        &self,
        caller: &Caller,
        id: FileId,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = match self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Write)
            .await
        {
            Ok(stored) => stored.file,
            Err(err) if err.kind == ErrorKind::NotFound => {
                // A new version's upload is gone once folded into its
                // file: a retried complete answers that file.
                let Some(file) = data.versions.folded_upload(&scope, id).await? else {
                    return Err(err);
                };
                return Ok(self
                    .access
                    .authorized_file(&data, caller, &scope, file, Action::Write)
                    .await?
                    .file);
            }
            Err(err) => return Err(err),
        };
        match file.status {
            // Complete already: a retry changes nothing, bytes included.
            FileStatus::Scanning | FileStatus::Available | FileStatus::Quarantined => {
                return Ok(file);
            }
            FileStatus::Deleted => {
                return require_status(&file, FileStatus::Pending).map(|()| file);
            }
            FileStatus::Pending => {}
        }
        let staging = location(&file)?;
        let store = self.store_of(tenant);
        if let Some(upload_id) = &file.multipart_upload_id {
            self.assemble_parts(store, &file, &staging, upload_id)
                .await?;
        }
        self.finish_upload(caller, &data, &file, &staging, json!({}))
            .await
    }

    /// Verify what lies at `source` as `file`'s bytes and make the file
    /// available with a verified copy; `source` goes once it is copied.
    /// On a verification failure the source is deleted too (refused bytes
    /// never stay) and the file stays pending.
    pub(super) async fn finish_upload(
        &self,
        caller: &Caller,
        data: &TenantData,
        file: &FileRecord,
        staging: &ObjectLocation,
        detail: serde_json::Value,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let (id, store) = (file.id, self.store_of(tenant));
        let verified = match verify_staged(store, file, staging).await {
            Ok(verified) => verified,
            Err(err) => {
                if err.kind == ErrorKind::Invalid {
                    // Refused bytes go; the client may PUT again.
                    verify::discard(store, staging).await;
                }
                return Err(err);
            }
        };
        let now = self.clock.now();
        // The copy exists from here on: any failure before the record names
        // it removes it again, or it would be an object no row names.
        let (awaits_scan, retention) = match self.record_rules(tenant, file, now).await {
            Ok(rules) => rules,
            Err(err) => {
                verify::discard(store, &verified.location).await;
                return Err(err);
            }
        };
        let facts = ObjectFacts {
            key: verified.location.key().clone(),
            size_bytes: verified.size,
            checksum_sha256: Some(verified.sha256),
            content_type: file.content_type.clone(),
            at: now,
            awaits_scan,
            retention,
        };
        let mut detail = detail;
        if let Some(fields) = detail.as_object_mut() {
            fields.insert("size".into(), json!(facts.size_bytes));
            fields.insert("checksum_sha256".into(), json!(verified.sha256.to_hex()));
        }
        if let (Some(target), false) = (file.version_of, facts.awaits_scan) {
            return self
                .fold_version(caller, data, file, target, &verified, None)
                .await;
        }
        let journal = self
            .recorder
            .announce(caller, "file.uploaded", file, detail);
        let available = match data.files.mark_available(&scope, id, facts, journal).await {
            Ok(available) => available,
            Err(err) => {
                // A connection lost during the commit leaves it unknown
                // whether the record now names the copy: ask again, and
                // remove the copy only when it certainly does not.
                match data.files.get_file(&scope, id).await {
                    Ok(stored) if stored.file.key == *verified.location.key() => stored.file,
                    Ok(_) => {
                        verify::discard(store, &verified.location).await;
                        return Err(err.into());
                    }
                    Err(_) => {
                        tracing::warn!(
                            key = %verified.location.key(),
                            "left a verified copy for the reconciler: the database did not say whether its record names it"
                        );
                        return Err(err.into());
                    }
                }
            }
        };
        if available.key == *verified.location.key() {
            // What a reused upload URL sends from now on lands on a key no
            // record names; the reconciler removes it.
            verify::discard(store, staging).await;
        } else {
            // A concurrent complete made the file available first, with its
            // own copy: this one is not needed.
            verify::discard(store, &verified.location).await;
        }
        if available.retention.is_some() {
            self.lock_in_store(tenant, &available, false).await;
        }
        Ok(available)
    }

    /// Stream a body into the store, enforcing limits while it flows, then
    /// record the file as available.
    ///
    /// # Errors
    /// As [`Files::initiate_upload`], plus `PayloadTooLarge` as soon as the
    /// body passes the limit, `Invalid` when it contradicts the declared
    /// type or checksum; nothing is left behind on any failure.
    pub async fn upload_stream(
        &self,
        caller: &Caller,
        request: StreamUpload,
        body: ByteStream,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = self.creator(caller)?;
        let eff = self.configs.effective_config(tenant).await?;
        require_feature(&eff, FeatureKey::StreamedUploads)?;
        let limits = eff.limits();
        let declared = request.file.content_type.clone();
        let guessed = declared
            .clone()
            .unwrap_or_else(|| ContentType::guess_from(&request.file.filename));
        limits.check_content_type(&guessed)?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let usage = data.files.usage(&scope).await?;
        usage.admits(&limits, 0)?;
        let room = limits
            .max_total_bytes
            .saturating_sub(usage.used_bytes.saturating_add(usage.reserved_bytes));
        let cap = limits.max_file_size.min(room);

        let id = FileId::new_v7();
        let category = request
            .file
            .category
            .clone()
            .unwrap_or_else(coffer_domain::Category::default_category);
        let bucket = self.config.placement.bucket_for(tenant, &category);
        let location = ObjectLocation::for_file(tenant.id, bucket, &category, id);
        let (body, meter) = stream::meter(body, cap);
        let store = self.store_of(tenant);
        let stored = store.put_stream(&location, &guessed, body).await;
        let (size, digest, head, over_limit, body_failed) = {
            let m = stream::read(&meter);
            (
                m.bytes,
                m.digest(),
                m.head.clone(),
                m.over_limit,
                m.body_failed,
            )
        };
        if let Err(err) = stored {
            self.discard(store, &location).await;
            return Err(if over_limit {
                if cap == limits.max_file_size {
                    ServiceError::new(
                        ErrorKind::PayloadTooLarge,
                        ErrorCode::FileTooLarge,
                        format!("the file is larger than {cap} bytes, this tenant's limit"),
                    )
                } else {
                    ServiceError::new(
                        ErrorKind::PayloadTooLarge,
                        ErrorCode::QuotaExceeded,
                        format!("storage quota exceeded: only {cap} bytes are left"),
                    )
                }
            } else if body_failed {
                ServiceError::new(
                    ErrorKind::Invalid,
                    ErrorCode::BodyIncomplete,
                    "the upload body ended with an error",
                )
            } else {
                err.into()
            });
        }
        let content_type = match &declared {
            Some(declared) => declared.clone(),
            None => sniff::refine(guessed.clone(), &head),
        };
        let verified = verify_streamed(&request.file, &content_type, &digest, &head);
        if let Err(err) = verified {
            self.discard(store, &location).await;
            return Err(err);
        }
        let now = self.clock.now();
        let mut fields = request.file;
        fields.checksum_sha256 = Some(digest);
        let mut new = self.new_file(caller, tenant, fields, content_type.clone(), size, now)?;
        new.id = id;
        new.category = category;
        new.bucket = location.bucket().clone();
        new.key = location.key().clone();
        // The bytes are already stored: the row is written as pending and
        // made available at once, one record each.
        let journal = self.recorder.journal(
            caller,
            "file.upload_initiated",
            Some(new.id),
            json!({ "size": size, "streamed": true }),
        );
        let file = match data
            .files
            .reserve_upload(&scope, new, &limits, journal)
            .await
        {
            Ok(file) => file,
            Err(err) => {
                self.discard(store, &location).await;
                return Err(reservation_error(err));
            }
        };
        let (awaits_scan, retention) = self.record_rules(tenant, &file, now).await?;
        let facts = ObjectFacts {
            key: file.key.clone(),
            size_bytes: size,
            checksum_sha256: Some(digest),
            content_type,
            at: now,
            awaits_scan,
            retention,
        };
        let journal = self.recorder.announce(
            caller,
            "file.uploaded",
            &file,
            json!({ "size": size, "streamed": true }),
        );
        let available = data
            .files
            .mark_available(&scope, file.id, facts, journal)
            .await?;
        if available.retention.is_some() {
            self.lock_in_store(tenant, &available, false).await;
        }
        Ok(available)
    }

    /// The caller's tenant, if the caller may create files in it.
    pub(super) fn creator<'c>(
        &self,
        caller: &'c Caller,
    ) -> Result<(&'c coffer_domain::Tenant, TenantScope), ServiceError> {
        let (tenant, scope) = caller.member()?;
        check(decide(
            &caller.principal,
            Resource::Tenant(tenant.id),
            Action::Create,
            &[],
            self.clock.now(),
        ))?;
        Ok((tenant, scope))
    }

    pub(super) fn new_file(
        &self,
        caller: &Caller,
        tenant: &coffer_domain::Tenant,
        fields: NewFileFields,
        content_type: ContentType,
        size: u64,
        now: OffsetDateTime,
    ) -> Result<NewFile, ServiceError> {
        let owner_id = caller
            .principal
            .user_id
            .ok_or_else(|| ServiceError::internal("caller has no user record"))?;
        let id = FileId::new_v7();
        let category = fields
            .category
            .unwrap_or_else(coffer_domain::Category::default_category);
        Ok(NewFile {
            id,
            owner_id,
            owner: caller.principal.subject.clone(),
            bucket: self.config.placement.bucket_for(tenant, &category),
            key: ObjectKey::for_file(tenant.id, &category, id),
            category,
            path: fields.path.unwrap_or_else(coffer_domain::LogicalPath::root),
            filename: fields.filename,
            content_type,
            size_bytes: size,
            checksum_sha256: fields.checksum_sha256,
            visibility: fields.visibility.unwrap_or_default(),
            metadata: fields.metadata.unwrap_or_default(),
            upload_expires_at: now + self.config.upload_window,
            created_at: now,
            version_of: None,
        })
    }

    fn part_size_for(&self, request: &InitiateUpload) -> Result<u64, ServiceError> {
        if request.size < self.config.multipart_min_part_size {
            return Err(ServiceError::invalid(
                ErrorCode::MultipartTooSmall,
                format!(
                    "multipart needs at least {} bytes; use a single PUT",
                    self.config.multipart_min_part_size
                ),
            ));
        }
        Ok(self.part_size_by_size(request.size))
    }

    /// Every part but the last of a multipart upload of `size` bytes has
    /// this size: the configured one, or larger where S3's 10 000 parts
    /// would not hold the file.
    fn part_size_by_size(&self, size: u64) -> u64 {
        self.config
            .multipart_part_size
            .max(size.div_ceil(MAX_PARTS))
    }

    fn part_size_of(&self, file: &FileRecord) -> u64 {
        self.part_size_by_size(file.size_bytes)
    }

    /// The part numbers of `file` not (or not fully) among `parts`; a part
    /// of another length than its URL bound counts as missing.
    fn missing_parts(&self, file: &FileRecord, parts: &[UploadedPart]) -> Vec<u64> {
        let part_size = self.part_size_of(file);
        let count = file.size_bytes.div_ceil(part_size).max(1);
        (1..=count)
            .filter(|&n| {
                let expected = part_size.min(file.size_bytes - (n - 1) * part_size);
                !parts
                    .iter()
                    .any(|p| u64::from(p.part_number) == n && p.size == expected)
            })
            .collect()
    }

    async fn start_multipart(
        &self,
        store: &dyn ObjectStore,
        data: &TenantData,
        scope: &TenantScope,
        file: &FileRecord,
        location: &ObjectLocation,
        part_size: u64,
    ) -> Result<UploadTarget, ServiceError> {
        let upload_id = store.create_multipart(location, &file.content_type).await?;
        if let Err(err) = data
            .files
            .set_multipart_upload(scope, file.id, &upload_id)
            .await
        {
            let _ = store.abort_multipart(location, &upload_id).await;
            return Err(err.into());
        }
        Ok(UploadTarget::Multipart(MultipartUpload {
            part_size,
            part_count: file.size_bytes.div_ceil(part_size),
            expires_at: file.upload_expires_at.unwrap_or(file.created_at),
        }))
    }

    async fn presign_single(
        &self,
        store: &dyn ObjectStore,
        file: &FileRecord,
        location: ObjectLocation,
        expires_in: std::time::Duration,
    ) -> Result<UploadTarget, ServiceError> {
        let request = PresignPut {
            location,
            content_type: file.content_type.clone(),
            content_length: file.size_bytes,
            checksum_sha256: file.checksum_sha256,
            now: self.clock.now(),
            expires_in,
        };
        Ok(UploadTarget::Single(store.presign_put(request).await?))
    }

    /// Complete a multipart upload from the parts the store holds, so the
    /// client need not collect ETags. A retry after a crash finds the upload
    /// gone but the object assembled, and goes on to verification.
    async fn assemble_parts(
        &self,
        store: &dyn ObjectStore,
        file: &FileRecord,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), ServiceError> {
        let parts = match store.list_parts(location, upload_id).await {
            Ok(parts) => parts,
            Err(err) if err.is(StoreErrorKind::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        // Stores assemble whatever parts they hold, gaps included: only a
        // full set is assembled, so that a part still missing leaves the
        // upload open to resume instead of failing its verification.
        let missing = self.missing_parts(file, &parts);
        if !missing.is_empty() {
            return Err(ServiceError::conflict(
                ErrorCode::UploadIncomplete,
                format!(
                    "parts still to upload (GET /parts lists what arrived): {}",
                    missing
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        match store.complete_multipart(location, upload_id, parts).await {
            Ok(_) => Ok(()),
            Err(err) if err.is(StoreErrorKind::Conflict) => Err(ServiceError::conflict(
                ErrorCode::UploadIncomplete,
                "the uploaded parts do not form a complete object",
            )),
            Err(err) => Err(err.into()),
        }
    }

    /// Delete an object that must not stay; a failure is left to the reaper.
    pub(crate) async fn discard(&self, store: &dyn ObjectStore, location: &ObjectLocation) {
        verify::discard(store, location).await;
    }
}

fn verify_streamed(
    fields: &NewFileFields,
    content_type: &ContentType,
    digest: &coffer_domain::Sha256Digest,
    head: &[u8],
) -> Result<(), ServiceError> {
    if fields
        .checksum_sha256
        .is_some_and(|declared| declared != *digest)
    {
        return Err(ServiceError::invalid(
            ErrorCode::ChecksumMismatch,
            "the uploaded bytes do not match checksum_sha256",
        ));
    }
    match sniff::contradiction(content_type, head) {
        Some(sniffed) => Err(content_mismatch(content_type, &sniffed)),
        None => Ok(()),
    }
}

pub(super) fn content_mismatch(declared: &ContentType, sniffed: &str) -> ServiceError {
    ServiceError::invalid(
        ErrorCode::ContentMismatch,
        format!(
            "the bytes look like {sniffed}, not the declared {}",
            declared.essence()
        ),
    )
}

fn multipart_id(file: &FileRecord) -> Result<&str, ServiceError> {
    file.multipart_upload_id.as_deref().ok_or_else(|| {
        ServiceError::conflict(
            ErrorCode::NotMultipart,
            "this upload is a single PUT, not multipart",
        )
    })
}

pub(super) fn reservation_error(err: MetadataError) -> ServiceError {
    match err.kind() {
        MetadataErrorKind::Conflict => ServiceError::conflict(
            ErrorCode::DuplicatePath,
            "a file with this name already exists in this folder; new bytes for it are a new version (POST /api/v1/files/{id}/versions)",
        ),
        _ => err.into(),
    }
}
