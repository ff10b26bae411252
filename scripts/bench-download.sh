#!/usr/bin/env bash
# Whole-request load benchmark of DESIGN.md §9: `GET /api/v1/files/{id}/download?redirect=false`
# on a release build of `coffer serve` (PostgreSQL + SeaweedFS + the test OIDC
# issuer, RS256 tokens), against PostgreSQL's own primary-key SELECT rate
# (`pgbench -S`) on the same machine, both with 64 connections. See docs/benchmarks.md.
#
#   scripts/bench-download.sh
#
# Environment (all optional):
#   BENCH_DURATION=30     seconds per measured run
#   BENCH_CONNECTIONS=64  concurrent connections (wrk) / clients (pgbench)
#   BENCH_THREADS=2       wrk threads / pgbench jobs
#   BENCH_PORT=28490      where the server listens
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   a superuser on the PostgreSQL to use
#   BENCH_PGBENCH_SCALE=10
#   BENCH_EXTRA=1         also load GET /healthz and GET /api/v1/files/{id}, to
#                         split the download's cost into HTTP, auth + query, audit + presign
#   BENCH_PERF=1          record a system-wide CPU profile (perf) during the download run
#   BENCH_BIN             a `coffer` binary to use instead of building target/release/coffer
#   BENCH_SYNC_COMMIT=off sets synchronous_commit on the throwaway database (what the
#                         audit insert's commit costs); COFFER__* variables reach the server
#   RUST_LOG              the server's log filter (its default: info)
#
# Creates and drops the databases coffer_bench and coffer_pgbench. Services this
# script started are stopped at the end; ones already running are left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="$ROOT/.test-services"
OUT="$SERVICES/bench"
DURATION="${BENCH_DURATION:-30}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
PORT="${BENCH_PORT:-28490}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
SCALE="${BENCH_PGBENCH_SCALE:-10}"
BASE="http://127.0.0.1:$PORT"
DB=coffer_bench
PGBENCH_DB=coffer_pgbench
# The service role's password; the test harness of coffer-postgres uses the same.
APP_PASSWORD=coffer_app
BIN="${BENCH_BIN:-$ROOT/target/release/coffer}"

log() { echo "bench: $*" >&2; }
fail() { log "$*"; exit 1; }

pg_host_port="${PG#*@}"
pg_host="${pg_host_port%%:*}"
pg_port="${pg_host_port##*:}"
psql_su() { PGOPTIONS="-c client_min_messages=warning" psql "$PG/${2:-postgres}" -v ON_ERROR_STOP=1 -qAtc "$1"; }

mkdir -p "$OUT"
started=()
server_pid=""

cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    psql_su "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
    psql_su "DROP DATABASE IF EXISTS $PGBENCH_DB WITH (FORCE)" 2>/dev/null || true
    for service in "${started[@]}"; do "$ROOT/scripts/services/$service.sh" stop || true; done
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
for tool in pgbench psql curl jq; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done

# --- peers -------------------------------------------------------------------
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
alive "$SERVICES/seaweedfs/weed.pid" || started+=(seaweedfs)
alive "$SERVICES/oidc-issuer/issuer.pid" || started+=(oidc-issuer)
"$ROOT/scripts/services/seaweedfs.sh" start
"$ROOT/scripts/services/oidc-issuer.sh" start
# shellcheck disable=SC1091
source "$SERVICES/seaweedfs.env"
# shellcheck disable=SC1091
source "$SERVICES/oidc-issuer.env"

# --- server ------------------------------------------------------------------
if [[ -z "${BENCH_BIN:-}" ]]; then
    log "cargo build --release -p coffer-server"
    (cd "$ROOT" && cargo build --release -q -p coffer-server)
fi

psql_su "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql_su "CREATE DATABASE $DB"
export COFFER__METADATA__BACKEND=postgres
export COFFER__METADATA__URL="postgres://coffer_app:$APP_PASSWORD@$pg_host:$pg_port/$DB"
COFFER__METADATA__MIGRATION_URL="$PG/$DB" "$BIN" migrate >/dev/null
[[ -n "${BENCH_SYNC_COMMIT:-}" ]] && psql_su "ALTER DATABASE $DB SET synchronous_commit = $BENCH_SYNC_COMMIT"
# coffer_app is cluster-wide; give it a login only if it has none that works.
if ! PGPASSWORD="$APP_PASSWORD" psql -h "$pg_host" -p "$pg_port" -U coffer_app -d "$DB" -qAtc "SELECT 1" >/dev/null 2>&1; then
    psql_su "ALTER ROLE coffer_app WITH LOGIN PASSWORD '$APP_PASSWORD'"
fi

rm -rf "$OUT/data"
export COFFER__DATA_DIR="$OUT/data"
export COFFER__SERVER__LISTEN="127.0.0.1:$PORT"
export COFFER__SERVER__PUBLIC_URL="$BASE"
export COFFER__BOOTSTRAP__TENANT=""
export COFFER__METADATA__MIGRATE_ON_START=false
export COFFER__STORAGE__BACKEND=s3
# One bucket for every run: each new bucket is a SeaweedFS collection that takes
# volumes of its own, and a test server runs out of them.
export COFFER__STORAGE__BUCKET=coffer-bench
export COFFER__STORAGE__CORS_ORIGINS="$COFFER_TEST_S3_ALLOWED_ORIGIN"
export COFFER__STORAGE__S3__ENDPOINT="$COFFER_TEST_S3_ENDPOINT"
export COFFER__STORAGE__S3__REGION="$COFFER_TEST_S3_REGION"
export COFFER__STORAGE__S3__ACCESS_KEY_ID="$COFFER_TEST_S3_ACCESS_KEY_ID"
export COFFER__STORAGE__S3__SECRET_ACCESS_KEY="$COFFER_TEST_S3_SECRET_ACCESS_KEY"
export COFFER__STORAGE__S3__FORCE_PATH_STYLE=true
export COFFER__IDENTITY__BACKEND=keycloak
export COFFER__IDENTITY__ISSUER="$COFFER_TEST_OIDC_ISSUER"
export COFFER__IDENTITY__AUDIENCE="$COFFER_TEST_OIDC_AUDIENCE"
# One user makes every request: rates far above what the run reaches, so the
# limiter is on the path (its cost is measured) but never refuses.
for plan in STARTER PROFESSIONAL ENTERPRISE; do
    export "COFFER__PLANS__${plan}__REQUESTS_PER_MINUTE=1000000000"
    export "COFFER__PLANS__${plan}__USER_REQUESTS_PER_MINUTE=1000000000"
done
"$BIN" serve >"$OUT/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
    curl -sf -o /dev/null "$BASE/readyz" && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$OUT/server.log" >&2; fail "the server exited"; }
    sleep 0.1
done
curl -sf -o /dev/null "$BASE/readyz" || { tail -n 20 "$OUT/server.log" >&2; fail "the server is not ready"; }

# --- seed: a tenant, a user, one uploaded file --------------------------------
mint() {
    curl -sf -X POST "$COFFER_TEST_OIDC_ADMIN/realms/coffer/mint" -H 'content-type: application/json' \
        -d "{\"claims\": $1}" | jq -er .token
}
api() { # method path token [json body]
    local data=()
    [[ $# -ge 4 ]] && data=(-d "$4")
    curl -sf -X "$1" "$BASE$2" -H "authorization: Bearer $3" -H 'content-type: application/json' "${data[@]}"
}
slug="bench-$(date +%s)"
admin=$(mint '{"sub": "bench-admin", "tenant": null, "realm_access": {"roles": ["platform-admin"]}}')
tenant_id=$(api POST /api/v1/tenants "$admin" \
    "{\"slug\": \"$slug\", \"display_name\": \"Bench\", \"plan\": \"starter\", \"region\": \"eu-west\", \"limit_overrides\": {}}" | jq -er .id)
# Onboarding is a job (202 provisioning): wait until the worker made it active.
for _ in $(seq 1 100); do
    status=$(api GET "/api/v1/tenants/$tenant_id" "$admin" | jq -er .status)
    [[ "$status" == provisioning ]] || break
    sleep 0.1
done
[[ "$status" == active ]] || fail "the bench tenant ended $status, not active"
token=$(mint "{\"sub\": \"bench-user\", \"tenant\": \"$slug\", \"realm_access\": {\"roles\": [\"editor\"]}}")
body='%PDF-1.7 benchmark file'
initiated=$(api POST /api/v1/files "$token" "{\"filename\": \"report.pdf\", \"size\": ${#body}}")
file_id=$(jq -er .file.id <<<"$initiated")
put_headers=()
while IFS= read -r header; do put_headers+=(-H "$header"); done \
    < <(jq -r '.upload.headers | to_entries[] | select(.key != "content-length") | "\(.key): \(.value)"' <<<"$initiated")
curl -sf -X PUT "$(jq -er .upload.url <<<"$initiated")" "${put_headers[@]}" --data-binary "$body" >/dev/null
api POST "/api/v1/files/$file_id/complete" "$token" >/dev/null
download="$BASE/api/v1/files/$file_id/download?redirect=false"
api GET "${download#"$BASE"}" "$token" | jq -e .url >/dev/null || fail "the download does not answer 200 with a url"

# --- load ----------------------------------------------------------------------
# wrk prints "Requests/sec:" and, with --latency, a "99%" line; any non-2xx fails the run.
run_wrk() { # name url
    local report="$OUT/wrk-$1.txt"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "authorization: Bearer $token" "$2" >"$report"
    if grep -q "Non-2xx" "$report"; then cat "$report" >&2; fail "$1: error responses under load"; fi
    printf '%s %s %s\n' "$1" "$(awk '/Requests\/sec/ {print $2}' "$report")" "$(awk '$1 == "99%" {print $2}' "$report")"
}
results=()
log "warm-up (5 s), then ${DURATION}s of $CONNECTIONS connections on the download"
wrk -t"$THREADS" -c"$CONNECTIONS" -d5s -H "authorization: Bearer $token" "$download" >/dev/null
if [[ "${BENCH_PERF:-}" == 1 ]]; then
    # System-wide: the split between server, PostgreSQL, wrk (and whatever else runs) matters.
    perf record -a -g -F 499 -o "$OUT/perf.data" -- sleep "$((DURATION / 2))" >/dev/null 2>&1 &
    perf_pid=$!
fi
# Transactions per request (a pool checkout's ping counts as one): stats reach
# pg_stat_database within a second of going idle.
xacts() { sleep 1.5; psql_su "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }
xacts_before=$(xacts)
results+=("$(run_wrk download "$download")")
xacts_per_request=$(awk -v a="$xacts_before" -v b="$(xacts)" '/requests in/ {printf "%.2f", (b - a) / $1}' "$OUT/wrk-download.txt")
if [[ -n "${perf_pid:-}" ]]; then
    wait "$perf_pid" || true
    {
        echo "## CPU by thread name"
        perf report -i "$OUT/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 25 || true
        echo "## server: top symbols"
        perf report -i "$OUT/perf.data" --no-children --pid "$server_pid" --sort dso,symbol --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -n 60 || true
    } >"$OUT/perf-top.txt"
    log "profile: $OUT/perf-top.txt"
fi
if [[ "${BENCH_EXTRA:-}" == 1 ]]; then
    results+=("$(run_wrk healthz "$BASE/healthz")")
    results+=("$(run_wrk file_metadata "$BASE/api/v1/files/$file_id")")
fi
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=""

# --- pgbench -S ------------------------------------------------------------------
log "pgbench: initialising scale $SCALE, then -S for ${DURATION}s with $CONNECTIONS clients"
psql_su "DROP DATABASE IF EXISTS $PGBENCH_DB WITH (FORCE)"
psql_su "CREATE DATABASE $PGBENCH_DB"
pgbench -q -i -s "$SCALE" "$PG/$PGBENCH_DB" >/dev/null 2>&1
rm -f "$OUT"/pgbench_log.*
(cd "$OUT" && pgbench -S -n -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" -l --log-prefix=pgbench_log \
    "$PG/$PGBENCH_DB" >"$OUT/pgbench.txt")
pg_tps=$(awk '/^tps/ {print $3; exit}' "$OUT/pgbench.txt")
# Per-transaction log: column 3 is the latency in µs.
pg_p99=$(cat "$OUT"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {printf "%.2fms", v[int(NR * 0.99)] / 1000}')
rm -f "$OUT"/pgbench_log.*

# --- report --------------------------------------------------------------------------
{
    echo "=== $(date -u +%FT%TZ), $(nproc) cores, $CONNECTIONS connections, ${DURATION}s per run"
    printf '%-16s %12s %10s\n' run "req/s" p99
    for line in "${results[@]}"; do
        read -r name rate p99 <<<"$line"
        printf '%-16s %12s %10s\n' "$name" "$rate" "$p99"
    done
    printf '%-16s %12s %10s\n' "pgbench -S" "$pg_tps" "$pg_p99"
    read -r _ rate p99 <<<"${results[0]}"
    awk -v r="$rate" -v t="$pg_tps" -v p="$p99" 'BEGIN {
        ms = p; if (p ~ /us$/) ms = p / 1000; else if (p ~ /ms$/) ms = p + 0; else if (p ~ /s$/) ms = p * 1000;
        printf "download / pgbench -S = %.1f %% (target >= 50 %%); download p99 = %.2f ms (target <= 10 ms)\n", 100 * r / t, ms
    }'
    echo "PostgreSQL transactions per download request: $xacts_per_request"
} | tee -a "$OUT/results.txt"
