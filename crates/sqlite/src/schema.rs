//! Diesel's view of `migrations/sqlite` (kept by hand, like the Postgres one).
//! UUIDs are text, timestamps integer nanoseconds, JSON text.

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        display_name -> Text,
        plan -> Text,
        status -> Text,
        region -> Text,
        dedicated_bucket -> Nullable<Text>,
        dedicated_database -> Nullable<Text>,
        dedicated_schema -> Nullable<Text>,
        metadata_region -> Nullable<Text>,
        limit_overrides -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        suspended_at -> Nullable<BigInt>,
        cancelled_at -> Nullable<BigInt>,
        purge_after -> Nullable<BigInt>,
        writes_frozen_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        tenant_id -> Text,
        subject -> Text,
        roles -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    files (id) {
        id -> Text,
        tenant_id -> Text,
        owner_id -> Text,
        owner_subject -> Text,
        category -> Text,
        path -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        checksum_sha256 -> Nullable<Binary>,
        visibility -> Text,
        metadata -> Text,
        status -> Text,
        bucket -> Text,
        object_key -> Text,
        multipart_upload_id -> Nullable<Text>,
        upload_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        erase_started_at -> Nullable<BigInt>,
        object_missing_at -> Nullable<BigInt>,
        scan_verdict -> Nullable<Text>,
        retention_mode -> Nullable<Text>,
        retain_until -> Nullable<BigInt>,
        legal_hold -> Bool,
        version -> Integer,
        version_of -> Nullable<Text>,
    }
}

diesel::table! {
    file_versions (tenant_id, file_id, version) {
        tenant_id -> Text,
        file_id -> Text,
        version -> Integer,
        bucket -> Text,
        object_key -> Text,
        size_bytes -> BigInt,
        checksum_sha256 -> Nullable<Binary>,
        content_type -> Text,
        uploaded_by -> Text,
        uploaded_at -> BigInt,
        upload_id -> Nullable<Text>,
    }
}

diesel::table! {
    legal_holds (id) {
        id -> Text,
        tenant_id -> Text,
        file_id -> Text,
        reason -> Text,
        placed_by -> Text,
        placed_at -> BigInt,
    }
}

diesel::table! {
    scan_jobs (tenant_id, file_id) {
        tenant_id -> Text,
        file_id -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        not_before -> BigInt,
        lease_until -> Nullable<BigInt>,
        queued_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        tenant_id -> Text,
        file_id -> Text,
        subject -> Text,
        access -> Text,
        expires_at -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    usage_counters (tenant_id) {
        tenant_id -> Text,
        used_bytes -> BigInt,
        file_count -> BigInt,
        reserved_bytes -> BigInt,
        reserved_files -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        tenant_id -> Text,
        actor -> Text,
        action -> Text,
        file_id -> Nullable<Text>,
        detail -> Text,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        at -> BigInt,
        seq -> Nullable<BigInt>,
        hash -> Nullable<Binary>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        tenant_id -> Text,
        topic -> Text,
        payload -> Text,
        created_at -> BigInt,
        published_at -> Nullable<BigInt>,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        dead_at -> Nullable<BigInt>,
        passed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tenant_settings (tenant_id, key) {
        tenant_id -> Text,
        key -> Text,
        value -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    platform_audit (id) {
        id -> Text,
        tenant_id -> Text,
        tenant_slug -> Text,
        actor -> Text,
        action -> Text,
        detail -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    tenant_purges (tenant_id) {
        tenant_id -> Text,
    }
}

diesel::table! {
    tenant_features (tenant_id, key) {
        tenant_id -> Text,
        key -> Text,
        enabled -> Bool,
        expires_at -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    billing_events (id) {
        id -> Text,
        kind -> Text,
        tenant_id -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
        occurred_at -> Nullable<BigInt>,
        received_at -> BigInt,
        stream -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain_heads (tenant_id) {
        tenant_id -> Text,
        seq -> BigInt,
        hash -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    users,
    files,
    file_versions,
    legal_holds,
    grants,
    usage_counters,
    audit_events,
    audit_chain_heads,
    outbox,
    tenant_settings,
    platform_audit,
    tenant_purges,
    tenant_features,
    billing_events
);

diesel::table! {
    tenant_onboardings (tenant_id) {
        tenant_id -> Text,
        state -> Text,
        admin_subject -> Nullable<Text>,
        current_step -> Nullable<Text>,
        steps_done -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        queued_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    upload_sessions (id) {
        id -> Text,
        tenant_id -> Text,
        created_by -> Text,
        bucket -> Text,
        expires_at -> BigInt,
        registrable_until -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    share_links (id) {
        id -> Text,
        tenant_id -> Text,
        file_id -> Text,
        token_digest -> Binary,
        password_hash -> Nullable<Text>,
        expires_at -> BigInt,
        max_downloads -> Nullable<BigInt>,
        downloads -> BigInt,
        wrong_passwords -> BigInt,
        wrong_since -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    upload_requests (id) {
        id -> Text,
        tenant_id -> Text,
        token_digest -> Binary,
        path -> Text,
        expires_at -> BigInt,
        max_files -> BigInt,
        max_size -> BigInt,
        allowed_types -> Text,
        message -> Nullable<Text>,
        files_received -> BigInt,
        closed_at -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> BigInt,
    }
}
