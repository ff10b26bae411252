//! Diesel's view of `migrations/postgres` (kept by hand: the schema is small
//! and `diesel print-schema` would need libpq).

diesel::table! {
    tenants (id) {
        id -> Uuid,
        slug -> Text,
        display_name -> Text,
        plan -> Text,
        status -> Text,
        region -> Text,
        dedicated_bucket -> Nullable<Text>,
        dedicated_database -> Nullable<Text>,
        dedicated_schema -> Nullable<Text>,
        metadata_region -> Nullable<Text>,
        limit_overrides -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        suspended_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        purge_after -> Nullable<Timestamptz>,
        writes_frozen_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        subject -> Text,
        roles -> Array<Text>,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    files (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        owner_id -> Uuid,
        owner_subject -> Text,
        category -> Text,
        path -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        checksum_sha256 -> Nullable<Bytea>,
        visibility -> Text,
        metadata -> Jsonb,
        status -> Text,
        bucket -> Text,
        object_key -> Text,
        multipart_upload_id -> Nullable<Text>,
        upload_expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        erase_started_at -> Nullable<Timestamptz>,
        object_missing_at -> Nullable<Timestamptz>,
        scan_verdict -> Nullable<Jsonb>,
        retention_mode -> Nullable<Text>,
        retain_until -> Nullable<Timestamptz>,
        legal_hold -> Bool,
        version -> Int4,
        version_of -> Nullable<Uuid>,
    }
}

diesel::table! {
    /// Search terms of a file (migration `file_terms`), kept by triggers.
    file_terms (tenant_id, term, created_at, file_id) {
        tenant_id -> Uuid,
        term -> Text,
        created_at -> Timestamptz,
        file_id -> Uuid,
    }
}

diesel::table! {
    file_versions (tenant_id, file_id, version) {
        tenant_id -> Uuid,
        file_id -> Uuid,
        version -> Int4,
        bucket -> Text,
        object_key -> Text,
        size_bytes -> Int8,
        checksum_sha256 -> Nullable<Bytea>,
        content_type -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamptz,
        upload_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    legal_holds (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        file_id -> Uuid,
        reason -> Text,
        placed_by -> Text,
        placed_at -> Timestamptz,
    }
}

diesel::joinable!(legal_holds -> files (file_id));

diesel::table! {
    scan_jobs (tenant_id, file_id) {
        tenant_id -> Uuid,
        file_id -> Uuid,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        not_before -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        queued_at -> Timestamptz,
    }
}

diesel::table! {
    grants (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        file_id -> Uuid,
        subject -> Text,
        access -> Text,
        expires_at -> Nullable<Timestamptz>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    usage_counters (tenant_id) {
        tenant_id -> Uuid,
        used_bytes -> Int8,
        file_count -> Int8,
        reserved_bytes -> Int8,
        reserved_files -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        actor -> Text,
        action -> Text,
        file_id -> Nullable<Uuid>,
        detail -> Jsonb,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        at -> Timestamptz,
        seq -> Nullable<Int8>,
        hash -> Nullable<Bytea>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        topic -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        dead_at -> Nullable<Timestamptz>,
        passed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tenant_settings (tenant_id, key) {
        tenant_id -> Uuid,
        key -> Text,
        value -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    platform_audit (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        tenant_slug -> Text,
        actor -> Text,
        action -> Text,
        detail -> Jsonb,
        at -> Timestamptz,
    }
}

diesel::table! {
    tenant_features (tenant_id, key) {
        tenant_id -> Uuid,
        key -> Text,
        enabled -> Bool,
        expires_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    billing_events (id) {
        id -> Text,
        kind -> Text,
        tenant_id -> Nullable<Uuid>,
        outcome -> Text,
        detail -> Jsonb,
        occurred_at -> Nullable<Timestamptz>,
        received_at -> Timestamptz,
        stream -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_heads (tenant_id) {
        tenant_id -> Uuid,
        seq -> Int8,
        hash -> Bytea,
        sealed_at -> Nullable<Timestamptz>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    users,
    files,
    file_terms,
    file_versions,
    legal_holds,
    grants,
    usage_counters,
    audit_events,
    audit_chain_heads,
    outbox,
    tenant_settings,
    platform_audit,
    tenant_features,
    billing_events
);

diesel::table! {
    tenant_onboardings (tenant_id) {
        tenant_id -> Uuid,
        state -> Text,
        admin_subject -> Nullable<Text>,
        current_step -> Nullable<Text>,
        steps_done -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        queued_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    upload_sessions (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        created_by -> Text,
        bucket -> Text,
        expires_at -> Timestamptz,
        registrable_until -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    share_links (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        file_id -> Uuid,
        token_digest -> Bytea,
        password_hash -> Nullable<Text>,
        expires_at -> Timestamptz,
        max_downloads -> Nullable<Int4>,
        downloads -> Int4,
        wrong_passwords -> Int4,
        wrong_since -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    upload_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        token_digest -> Bytea,
        path -> Text,
        expires_at -> Timestamptz,
        max_files -> Int4,
        max_size -> Int8,
        allowed_types -> Array<Text>,
        message -> Nullable<Text>,
        files_received -> Int4,
        closed_at -> Nullable<Timestamptz>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Tenant moves (migration `tenant_moves`), on the platform path.
    tenant_moves (tenant_id) {
        tenant_id -> Uuid,
        state -> Text,
        source_database -> Nullable<Text>,
        source_schema -> Nullable<Text>,
        source_bucket -> Nullable<Text>,
        target_database -> Nullable<Text>,
        target_schema -> Nullable<Text>,
        target_bucket -> Nullable<Text>,
        source_metadata_region -> Nullable<Text>,
        target_metadata_region -> Nullable<Text>,
        source_region -> Nullable<Text>,
        target_region -> Nullable<Text>,
        steps_done -> Text,
        current_step -> Nullable<Text>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        queued_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}
