//! What one side writes, the other reads back unchanged: responses as the
//! server writes them and a client reads them, requests as a client writes
//! them and the server reads them.

use coffer_api::{
    AuditQueryParams, CreateTenantBody, FileDto, GrantBody, GrantDto, InitiateBody, MoveTenantBody,
    PageDto, PartsBody, Problem, RetentionBody, TenantViewDto, UpdateTenantBody,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// `json` read as a `T` and written again is `json`.
fn round_trips<T: Serialize + DeserializeOwned>(json: &Value) {
    let read: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}: {json}"));
    let written = serde_json::to_value(&read).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&written, json, "{}", std::any::type_name::<T>());
}

fn file() -> Value {
    json!({
        "id": "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b10",
        "filename": "contract.pdf",
        "path": "/contracts/2026",
        "category": "documents",
        "content_type": "application/pdf",
        "size": 48213,
        "checksum_sha256": null,
        "visibility": "private",
        "metadata": { "case": "A-1" },
        "status": "deleted",
        "scan": { "verdict": "clean" },
        "owner": "alice",
        "created_at": "2026-03-01T09:30:00Z",
        "updated_at": "2026-03-01T09:30:02Z",
        "deleted_at": "2026-03-02T10:00:00Z",
        "retention": { "mode": "compliance", "retain_until": "2030-01-01T00:00:00Z" },
        "legal_hold": true,
        "version": 2,
        "version_of": "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b11"
    })
}

#[test]
fn responses_round_trip() {
    round_trips::<FileDto>(&file());
    round_trips::<PageDto<FileDto>>(&json!({ "items": [file()], "next_cursor": "abc" }));
    round_trips::<GrantDto>(&json!({
        "id": "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b12",
        "subject": "role:auditor",
        "access": "read",
        "expires_at": null
    }));
    round_trips::<Problem>(&json!({
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "filename is empty",
        "code": "invalid_filename",
        "field": "filename"
    }));
    round_trips::<TenantViewDto>(&json!({
        "id": "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b13",
        "slug": "acme",
        "display_name": "Acme",
        "plan": "starter",
        "status": "active",
        "region": "eu-west",
        "dedicated_bucket": null,
        "dedicated_database": null,
        "dedicated_schema": "coffer_s_0196b1d46f1e7c3a9a432a1c5e0f9b13",
        "metadata_region": "eu-west",
        "limit_overrides": { "max_files": 10 },
        "created_at": "2026-01-01T00:00:00Z",
        "suspended_at": null,
        "cancelled_at": null,
        "purge_after": null,
        "writes_frozen_at": "2026-01-02T00:00:00Z",
        "placement_status": "moving:copy_rows",
        "move": {
            "state": "running", "current_step": "copy_rows",
            "steps_done": ["provision", "freeze"], "attempts": 1, "last_error": null,
            "from": { "dedicated_database": null, "dedicated_schema": null, "dedicated_bucket": null, "metadata_region": "eu-west", "region": "eu-west" },
            "to": { "dedicated_database": "coffer_t_1", "dedicated_schema": null, "dedicated_bucket": "acme-own", "metadata_region": null, "region": "eu-west" },
            "updated_at": "2026-01-02T00:00:01Z"
        },
        "limits": {
            "max_file_size": 1, "max_total_bytes": 2, "max_files": 3,
            "allowed_content_types": ["image/*"], "url_ttl_secs": 900,
            "retention_days": 30, "requests_per_minute": 0, "user_requests_per_minute": 0
        },
        "usage": { "used_bytes": 1, "file_count": 1, "reserved_bytes": 0, "reserved_files": 0 },
        "onboarding": null,
        "billing": null
    }));
}

#[test]
fn a_response_without_its_optional_fields_reads() {
    let mut sparse = file();
    if let Value::Object(fields) = &mut sparse {
        for optional in ["scan", "deleted_at", "retention", "version_of"] {
            fields.remove(optional);
        }
    }
    round_trips::<FileDto>(&sparse);
}

#[test]
fn requests_round_trip() {
    round_trips::<InitiateBody>(&json!({
        "filename": "contract.pdf",
        "size": 48213,
        "content_type": "application/pdf",
        "category": "documents",
        "path": "/contracts/2026",
        "visibility": "tenant",
        "metadata": { "case": "A-1" },
        "checksum_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "multipart": false
    }));
    round_trips::<PartsBody>(&json!({
        "part_numbers": [1, 2],
        "checksums_sha256": {
            "2": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        }
    }));
    round_trips::<GrantBody>(&json!({
        "subject": "user:bob",
        "access": "read",
        "expires_at": "2026-12-03T09:00:00Z"
    }));
    round_trips::<RetentionBody>(&json!({
        "mode": "governance",
        "retain_until": "2030-01-01T00:00:00Z",
        "bypass_governance": true
    }));
    round_trips::<CreateTenantBody>(&json!({
        "slug": "globex",
        "display_name": "Globex",
        "plan": "professional",
        "region": "eu-west",
        "limit_overrides": { "max_file_size": 1024 },
        "dedicated_bucket": null,
        "dedicated_database": true,
        "dedicated_schema": false,
        "admin_subject": "alice"
    }));
    round_trips::<UpdateTenantBody>(&json!({
        "display_name": null,
        "plan": "starter",
        "status": null,
        "limit_overrides": null
    }));
    round_trips::<MoveTenantBody>(&json!({
        "dedicated_database": true,
        "dedicated_schema": null,
        "dedicated_bucket": "acme-records",
        "region": "us-east",
        "confirm_region_change": true
    }));
    round_trips::<AuditQueryParams>(&json!({
        "actor": null,
        "action": "file.read",
        "file_id": null,
        "since": "2026-01-01T00:00:00Z",
        "until": null,
        "cursor": null,
        "limit": 50
    }));
}

#[test]
fn requests_are_read_as_the_server_reads_them() {
    // unknown fields are refused
    assert!(
        serde_json::from_value::<GrantBody>(json!({
            "subject": "user:bob", "access": "read", "extra": 1
        }))
        .is_err()
    );
    // a struct field is read from an object only, `null` being absent
    assert!(
        serde_json::from_value::<UpdateTenantBody>(json!({ "limit_overrides": [null] })).is_err()
    );
    let body: CreateTenantBody = serde_json::from_value(json!({
        "slug": "globex", "display_name": "Globex", "plan": "starter",
        "region": "eu-west", "limit_overrides": null
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        body.limit_overrides,
        coffer_domain::LimitOverrides::default()
    );
    // an instant far away is the latest one stored
    let grant: GrantBody = serde_json::from_value(json!({
        "subject": "user:bob", "access": "read", "expires_at": "9999-12-31T23:59:59Z"
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(grant.expires_at, Some(coffer_api::instant::LATEST));
}
