#!/usr/bin/env bash
# Run every Coffer test on a fresh machine: starts the test peers it needs
# (SeaweedFS as the S3 store, an oidc-provider issuer shaped like Keycloak,
# ClamAV's clamd as the malware scanner, schemathesis for the schema
# fuzzing tests, Debian's chromium with playwright-core for the browser
# tests; PostgreSQL is found or started by
# the test harness itself), runs the whole workspace under nextest plus the
# doctests, and stops what it started.
#
#   scripts/test.sh               # everything
#   scripts/test.sh -p coffer-s3  # extra arguments go to `cargo nextest run`
#   KEEP_SERVICES=1 scripts/test.sh   # leave the peers running afterwards
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVICES=(seaweedfs oidc-issuer clamd schemathesis browser)

stop_services() {
    [[ "${KEEP_SERVICES:-0}" == 1 ]] && return 0
    for service in "${SERVICES[@]}"; do
        scripts/services/"$service".sh stop || true
    done
}
trap stop_services EXIT

for service in "${SERVICES[@]}"; do
    scripts/services/"$service".sh start
    # shellcheck disable=SC1090
    source .test-services/"$service".env
done

# What a failed run leaves to go on: a CI log shows only this script's
# output, and a peer that broke mid-run (a store answering InternalError to
# every test after some point) says why in its own log.
diagnose() {
    echo "== after the failed run: disk, memory, and the peers' complaints" >&2
    df -h . "${TMPDIR:-/tmp}" >&2 || true
    free -m >&2 || true
    for log in .test-services/seaweedfs/weed.log .test-services/*/*.log; do
        [[ -f "$log" ]] || continue
        echo "-- $log" >&2
        grep -iE "error|fail|panic|full|read.?only|no space" "$log" | tail -n 30 >&2 || true
    done
}

status=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
    echo "cargo-nextest not found; falling back to cargo test" >&2
    cargo test --workspace --no-fail-fast "$@" || status=$?
fi
cargo test --workspace --doc || status=$?
if ((status != 0)); then
    diagnose
fi
exit "$status"
