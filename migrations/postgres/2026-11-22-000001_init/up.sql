-- Coffer's metadata schema. Run as the owner role (the one that owns the
-- tables); the service connects as `coffer_app`, which owns nothing, so the
-- row-level security below binds it (FORCE makes it bind the owner too).

-- Roles are cluster-wide: create the service role only once per cluster.
-- It starts without LOGIN; `coffer_postgres::migrate_with` gives it a
-- password and LOGIN when asked to.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coffer_app') THEN
        CREATE ROLE coffer_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;

-- Trigram search on filenames when the extension is available (it is a
-- trusted extension since PostgreSQL 13, so a database owner may create it).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%); filename search uses a prefix index', SQLERRM;
END
$$;

-- The tenant of the current transaction, set by the adapter with
-- `SET LOCAL coffer.tenant_id` (set_config(…, true)). NULL when unset or
-- reset, so policies match nothing rather than failing on ''::uuid.
CREATE FUNCTION coffer_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('coffer.tenant_id', true), '')::uuid $$;

-- Whether the transaction is on the explicit platform path
-- (`SET LOCAL coffer.platform = 'on'`): tenant onboarding and administration.
CREATE FUNCTION coffer_platform() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('coffer.platform', true), '') = 'on' $$;

CREATE TABLE tenants (
    id               uuid PRIMARY KEY,
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{3,63}$'),
    display_name     text NOT NULL,
    plan             text NOT NULL CHECK (plan IN ('starter', 'professional', 'enterprise')),
    status           text NOT NULL CHECK (status IN ('provisioning', 'provisioning_failed', 'active', 'suspended', 'cancelled')),
    region           text NOT NULL,
    dedicated_bucket text,
    limit_overrides  jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    suspended_at     timestamptz,
    cancelled_at     timestamptz,
    purge_after      timestamptz
);
CREATE INDEX tenants_keyset ON tenants (created_at, id);

CREATE TABLE tenant_settings (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE tenant_features (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key        text NOT NULL,
    enabled    boolean NOT NULL,
    expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject      text NOT NULL,
    roles        text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, subject),
    -- Target of the composite foreign key from files: an owner is always a
    -- user of the file's own tenant.
    UNIQUE (tenant_id, id)
);

CREATE TABLE files (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    owner_id            uuid NOT NULL,
    owner_subject       text NOT NULL,
    category            text NOT NULL,
    path                text NOT NULL,
    filename            text NOT NULL,
    content_type        text NOT NULL,
    size_bytes          bigint NOT NULL CHECK (size_bytes >= 0),
    checksum_sha256     bytea CHECK (octet_length(checksum_sha256) = 32),
    visibility          text NOT NULL CHECK (visibility IN ('private', 'tenant')),
    metadata            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    status              text NOT NULL CHECK (status IN ('pending', 'available', 'deleted')),
    bucket              text NOT NULL,
    object_key          text NOT NULL,
    multipart_upload_id text,
    upload_expires_at   timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    -- Object keys always lie under the tenant's prefix.
    CHECK (starts_with(object_key, 't/' || tenant_id::text || '/')),
    UNIQUE (tenant_id, id)
);
-- Keyset listing, newest first (scanned backwards).
CREATE INDEX files_keyset ON files (tenant_id, created_at, id);
-- Folder listing.
CREATE INDEX files_folder ON files (tenant_id, path, created_at, id);
-- Listing by owner.
CREATE INDEX files_owner ON files (tenant_id, owner_subject, created_at, id);
-- Metadata containment (`metadata @> …`).
CREATE INDEX files_metadata ON files USING gin (metadata jsonb_path_ops);
-- One live file per (tenant, path, filename); trash does not count.
CREATE UNIQUE INDEX files_live_name ON files (tenant_id, path, filename)
    WHERE status IN ('pending', 'available');
-- Reaping expired pending uploads.
CREATE INDEX files_pending_expiry ON files (upload_expires_at) WHERE status = 'pending';
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX files_filename_search ON files USING gin (lower(filename) gin_trgm_ops)';
    ELSE
        EXECUTE 'CREATE INDEX files_filename_search ON files (tenant_id, lower(filename) text_pattern_ops)';
    END IF;
END
$$;

CREATE TABLE grants (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    file_id    uuid NOT NULL,
    subject    text NOT NULL CHECK (subject ~ '^(user|role):.+'),
    access     text NOT NULL CHECK (access IN ('read', 'write', 'manage')),
    expires_at timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (file_id, subject)
);

CREATE TABLE usage_counters (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    used_bytes     bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    file_count     bigint NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    reserved_bytes bigint NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0),
    reserved_files bigint NOT NULL DEFAULT 0 CHECK (reserved_files >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Append-only: coffer_app may INSERT and SELECT, nothing else. file_id has
-- no foreign key so the record outlives the file.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor       text NOT NULL,
    action      text NOT NULL,
    file_id     uuid,
    detail      jsonb NOT NULL DEFAULT '{}',
    request_id  text,
    client_addr text,
    at          timestamptz NOT NULL
);
CREATE INDEX audit_events_keyset ON audit_events (tenant_id, at, id);

-- Events to publish later (transactional outbox): written in the same
-- transaction as the change they announce.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    topic        text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

-- Row-level security: every tenant table sees only the transaction's tenant.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_settings', 'tenant_features', 'users', 'files',
                             'grants', 'usage_counters', 'audit_events', 'outbox']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                            USING (tenant_id = coffer_current_tenant())
                            WITH CHECK (tenant_id = coffer_current_tenant())', t);
    END LOOP;
END
$$;

-- The tenants table: the platform path sees and changes every row; a tenant
-- transaction may read its own row only.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON tenants
    USING (coffer_platform()) WITH CHECK (coffer_platform());
CREATE POLICY tenant_reads_itself ON tenants FOR SELECT
    USING (id = coffer_current_tenant());

GRANT USAGE ON SCHEMA public TO coffer_app;
GRANT EXECUTE ON FUNCTION coffer_current_tenant(), coffer_platform() TO coffer_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON tenants, tenant_settings, tenant_features, users, files, grants, usage_counters, outbox
    TO coffer_app;
GRANT SELECT, INSERT ON audit_events TO coffer_app;
