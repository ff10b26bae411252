#!/usr/bin/env bash
# Run every Coffer test on a fresh machine: starts the test peers it needs
# (SeaweedFS as the S3 store, an oidc-provider issuer shaped like Keycloak,
# ClamAV's clamd as the malware scanner, schemathesis for the schema
# fuzzing tests; PostgreSQL is found or started by
# the test harness itself), runs the whole workspace under nextest plus the
# doctests, and stops what it started.
#
#   scripts/test.sh               # everything
#   scripts/test.sh -p coffer-s3  # extra arguments go to `cargo nextest run`
#   KEEP_SERVICES=1 scripts/test.sh   # leave the peers running afterwards
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVICES=(seaweedfs oidc-issuer clamd schemathesis)

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

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    echo "cargo-nextest not found; falling back to cargo test" >&2
    cargo test --workspace --no-fail-fast "$@"
fi
cargo test --workspace --doc
