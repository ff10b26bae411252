#!/usr/bin/env bash
# Listing at scale (issue 20): a page of 100 for a tenant of 1,000,000 files
# against the same page for a tenant of 1,000, for each kind of filter, as
# `coffer_app` in the tenant's scope (row-level security on). See
# docs/postgres.md#search-terms.
#
#   scripts/bench/listing.sh
#
# Prints one line per filter: `listing <filter> <ms_1m> <ms_1k> <ratio>`, each
# time the median of BENCH_RUNS runs (after two warm-ups) of the server's
# planning + execution time (EXPLAIN ANALYZE, TIMING OFF), so the client and
# the network are left out.
#
# Environment (all optional):
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   a superuser on the PostgreSQL to use
#   BENCH_BIG=1000000   files of the big tenant
#   BENCH_SMALL=1000    files of the small tenant
#   BENCH_RUNS=9        measured runs per query
#   BENCH_MIGRATIONS    the migrations to apply (default: this checkout's
#                       migrations/postgres), e.g. another checkout's to
#                       measure it
#   BENCH_KEEP=1        keep the database afterwards
#
# Creates (and at the end drops) the database coffer_bench_listing. It is
# migrated by applying each `up.sql` in order with psql, one transaction
# each, as `coffer migrate` does (without diesel's bookkeeping table).
#
# The queries are the SQL `crates/postgres/src/listing.rs` builds, written
# out: when the schema has `file_terms`, a metadata filter or a `q` of three
# characters or more walks the rarest of its terms there; otherwise (and on
# an older schema) the listing walks `files`.
#
# The data: every file has a word in its name (`invoice-…`, `photo-…`, ten
# words), a `dept` in its metadata (ten values), one of ten owners and one of
# ten folders `/d<0-4>/e<0-1>`; ten files of each tenant, evenly spread, are
# `quokka-….pdf` with `"case": "4242"`. Seeding turns triggers off
# (session_replication_role) and fills `file_terms` with one INSERT … SELECT
# before building its indexes, as a bulk load would; the rows are the ones
# the triggers write.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PG="${PG%/}"
DB=coffer_bench_listing
BIG="${BENCH_BIG:-1000000}"
SMALL="${BENCH_SMALL:-1000}"
RUNS="${BENCH_RUNS:-9}"
MIGRATIONS="${BENCH_MIGRATIONS:-$ROOT/migrations/postgres}"
BIG_TENANT=00000000-0000-4000-8000-000000000001
SMALL_TENANT=00000000-0000-4000-8000-000000000002

admin() { psql "$PG/postgres" -X -q -v ON_ERROR_STOP=1 "$@"; }
bench() { psql "$PG/$DB" -X -q -v ON_ERROR_STOP=1 "$@"; }

admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
if [[ "${BENCH_KEEP:-}" != 1 ]]; then
    trap 'admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true' EXIT
fi

for up in "$MIGRATIONS"/*/up.sql; do
    bench -1 -f "$up" >/dev/null
done
terms=$(bench -At -c "SELECT to_regclass('file_terms') IS NOT NULL")

# seed <tenant> <files>
seed() {
    local t=$1 n=$2
    bench <<SQL
SET session_replication_role = replica;
INSERT INTO tenants (id, slug, display_name, plan, status, region, created_at)
VALUES ('$t', 'bench-$n', 'bench $n', 'professional', 'active', 'eu', now());
INSERT INTO users (id, tenant_id, subject)
SELECT gen_random_uuid(), '$t', 'owner-' || k FROM generate_series(0, 9) AS k;
INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path, filename,
                   content_type, size_bytes, visibility, metadata, status, bucket,
                   object_key, created_at, updated_at)
SELECT gen_random_uuid(), '$t', u.id, u.subject, 'documents',
       CASE WHEN i % ($n / 10) = 42 THEN '/rare/case' ELSE '/d' || (i % 5) || '/e' || (i % 2) END,
       CASE WHEN i % ($n / 10) = 42 THEN 'quokka'
            ELSE (ARRAY['invoice', 'photo', 'report', 'notes', 'scan',
                        'draft', 'memo', 'plan', 'sheet', 'letter'])[(i / 7) % 10 + 1]
       END || '-' || i || '.pdf',
       'application/pdf', 1, 'private',
       jsonb_build_object('dept', 'd' || ((i / 11) % 10))
         || CASE WHEN i % ($n / 10) = 42 THEN '{"case": "4242"}'::jsonb ELSE '{}' END,
       'available', 'coffer-files', 't/$t/documents/' || i,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', now()
FROM generate_series(1, $n) AS i
JOIN users u ON u.tenant_id = '$t' AND u.subject = 'owner-' || ((i / 3) % 10);
SQL
}

echo "seeding $BIG + $SMALL files (file_terms: $terms) …" >&2
seed "$BIG_TENANT" "$BIG"
seed "$SMALL_TENANT" "$SMALL"
if [[ "$terms" == t ]]; then
    bench <<'SQL'
SET session_replication_role = replica;
SET maintenance_work_mem = '512MB';
ALTER TABLE file_terms DROP CONSTRAINT file_terms_pkey;
DROP INDEX file_terms_file;
INSERT INTO file_terms (tenant_id, term, created_at, file_id)
SELECT f.tenant_id, t.term, f.created_at, f.id
FROM files f CROSS JOIN LATERAL unnest(coffer_file_terms(f.filename, f.metadata, f.path)) AS t (term);
ALTER TABLE file_terms ADD PRIMARY KEY (tenant_id, term, created_at, file_id);
CREATE INDEX file_terms_file ON file_terms (tenant_id, file_id);
SQL
fi
bench -c "VACUUM ANALYZE"

# The cursor of the 900th file of 1000 (newest first): a deep page.
cursor() {
    local t=$1 n=$2
    bench -At -c "SELECT format('(%L::timestamptz, %L::uuid)', created_at, id) FROM files
                  WHERE tenant_id = '$t' ORDER BY created_at DESC, id DESC
                  OFFSET ($n / 10) * 9 - 1 LIMIT 1"
}

# query <tenant> <filter> → the listing's SQL
query() {
    local t=$1 filter=$2 c=$3
    local where="files.tenant_id = '$t' AND files.status = 'available' AND files.erase_started_at IS NULL"
    local needle_meta='{}' needle_name='' needle_prefix='' cur=''
    case "$filter" in
        no_filter) ;;
        path) where+=" AND files.path = '/d1/e1'" ;;
        prefix) needle_prefix='/d1' ;;
        prefix_rare) needle_prefix='/rare' ;;
        metadata_rare) needle_meta='{"case": "4242"}' ;;
        metadata_common) needle_meta='{"dept": "d3"}' ;;
        q_rare) needle_name='quokka' ;;
        q_common) needle_name='invoice' ;;
        owner) where+=" AND files.owner_subject = 'owner-3'" ;;
        deep_page) cur="$c" ;;
    esac
    [[ "$needle_meta" != '{}' ]] && where+=" AND files.metadata @> '$needle_meta'"
    [[ -n "$needle_name" ]] && where+=" AND lower(files.filename) LIKE '%$needle_name%'"
    [[ -n "$needle_prefix" ]] && where+=" AND (files.path = '$needle_prefix' OR files.path LIKE '$needle_prefix/%')"
    [[ -n "$cur" ]] && where+=" AND (files.created_at, files.id) < $cur"
    if [[ "$terms" == t && ("$needle_meta" != '{}' || ${#needle_name} -ge 3 || -n "$needle_prefix") ]]; then
        echo "SELECT files.* FROM file_terms INNER JOIN files
                ON files.tenant_id = file_terms.tenant_id AND files.id = file_terms.file_id
              WHERE file_terms.tenant_id = '$t'
                AND file_terms.term = (SELECT d.term
                    FROM (SELECT coffer_metadata_terms('$needle_meta')
                                 || coffer_name_terms('$needle_name')
                                 || (SELECT array_agg('p:' || p) FROM (SELECT '$needle_prefix' AS p) AS f
                                     WHERE p <> '') AS terms) AS n,
                         unnest(n.terms) AS d (term)
                    ORDER BY (SELECT count(*) FROM (SELECT FROM file_terms x
                              WHERE x.tenant_id = '$t' AND x.term = d.term
                              LIMIT greatest(100, 1000 / cardinality(n.terms))) AS s),
                             d.term
                    LIMIT 1)
                AND $where
              ORDER BY file_terms.created_at DESC, file_terms.file_id DESC LIMIT 101"
    else
        echo "SELECT files.* FROM files WHERE $where
              ORDER BY files.created_at DESC, files.id DESC LIMIT 101"
    fi
}

# ms <tenant> <sql> → median planning + execution time of RUNS runs
ms() {
    local t=$1 sql=$2 script="" i
    for ((i = 0; i < RUNS + 2; i++)); do
        script+="BEGIN; SET LOCAL ROLE coffer_app;
                 SELECT set_config('coffer.tenant_id', '$t', true) \\g /dev/null
                 EXPLAIN (ANALYZE, TIMING OFF) $sql;
                 ROLLBACK;"$'\n'
    done
    bench -At <<<"$script" |
        awk '/^Planning Time:/ { p = $3 } /^Execution Time:/ { if (++n > 2) print p + $3 }' |
        sort -g |
        awk '{ v[NR] = $1 }
             END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

big_cursor=$(cursor "$BIG_TENANT" "$BIG")
small_cursor=$(cursor "$SMALL_TENANT" "$SMALL")
for filter in no_filter path prefix prefix_rare metadata_rare metadata_common q_rare q_common owner deep_page; do
    big=$(ms "$BIG_TENANT" "$(query "$BIG_TENANT" "$filter" "$big_cursor")")
    small=$(ms "$SMALL_TENANT" "$(query "$SMALL_TENANT" "$filter" "$small_cursor")")
    ratio=$(awk -v a="$big" -v b="$small" 'BEGIN { printf "%.2f", a / b }')
    echo "listing $filter $big $small $ratio"
done
