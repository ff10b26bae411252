use coffer_domain::{
    Access, BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, Grant,
    GrantId, GrantSubject, LogicalPath, Metadata, ObjectKey, Principal, Role, Subject, TenantId,
    UserId, Visibility,
};
use time::OffsetDateTime;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

pub fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

pub fn principal(tenant: TenantId, sub: &str, roles: &[Role]) -> Principal {
    Principal {
        subject: subject(sub),
        tenant: Some(tenant),
        user_id: None,
        roles: roles.to_vec(),
    }
}

pub fn file(tenant: TenantId, owner: &str, visibility: Visibility) -> FileRecord {
    let id = FileId::new_v7();
    let category = Category::default_category();
    FileRecord {
        id,
        tenant_id: tenant,
        owner_id: UserId::new_random(),
        owner: subject(owner),
        key: ObjectKey::for_file(tenant, &category, id),
        category,
        path: LogicalPath::root(),
        filename: Filename::new("report.pdf").unwrap(),
        content_type: ContentType::new("application/pdf").unwrap(),
        size_bytes: 1,
        checksum_sha256: None,
        visibility,
        metadata: Metadata::default(),
        status: FileStatus::Available,
        bucket: BucketName::new("coffer").unwrap(),
        multipart_upload_id: None,
        upload_expires_at: None,
        scan_verdict: None,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
        retention: None,
        legal_hold: false,
        version: 1,
        version_of: None,
    }
}

pub fn grant(
    file: &FileRecord,
    to: GrantSubject,
    access: Access,
    expires_at: Option<OffsetDateTime>,
) -> Grant {
    Grant {
        id: GrantId::new_random(),
        tenant_id: file.tenant_id,
        file_id: file.id,
        subject: to,
        access,
        expires_at,
        created_by: subject("granter"),
        created_at: now(),
    }
}
