#!/usr/bin/env bash
# The dependency rule: domain <- ports <- service <- adapters/server. The
# inner crates must not reach actix, diesel, the AWS SDK or openidconnect
# through any path of their (normal and build) dependency tree, nor
# coffer-clamav, an adapter with no such crate of its own to give it away
# (it speaks clamd's protocol on tokio sockets). As a positive
# control, the check must also flag an adapter that does depend on one, so a
# broken check cannot pass silently.
#
# coffer-api (the API's types, shared by the server and its clients) sits
# beside the domain: it may depend on exactly coffer-domain, serde,
# serde_json, time, uuid and utoipa, never on the ports, the use cases or
# infrastructure, and only the server (or a client) may depend on it.
#
# coffer-client and coffer-cli (the client library and commands) talk HTTP
# to a server: they must not reach the ports, the use cases, an adapter, the
# server or the infrastructure those use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FORBIDDEN='^(actix-web|actix-http|actix-rt|diesel|diesel-async|diesel_migrations|aws-sdk-s3|aws-config|aws-smithy-runtime|openidconnect|tokio-postgres|libsqlite3-sys|coffer-clamav)$'
API_ALLOWED='^(coffer-domain|serde|serde_json|time|uuid|utoipa)$'
API_USERS='^(coffer-server|coffer-client|coffer-cli)$'
CLIENT_FORBIDDEN='^(coffer-ports|coffer-service|coffer-s3|coffer-postgres|coffer-keycloak|coffer-fs|coffer-sqlite|coffer-clamav|coffer-server|actix-web|actix-http|diesel|diesel-async|aws-sdk-s3|aws-config|libsqlite3-sys)$'

tree() {
    cargo tree -p "$1" --all-features -e normal,build --prefix none --format '{p}' "${@:2}" 2>/dev/null \
        | awk '{print $1}' | sort -u
}

violations() {
    tree "$1" | grep -E "${2:-$FORBIDDEN}" || true
}

status=0
# `$1` must have nothing matching `$2` in its tree; `$3` names what that is.
forbid() {
    local found
    found="$(violations "$1" "$2")"
    if [[ -n "$found" ]]; then
        echo "dependency rule broken: $1 depends on: $(echo "$found" | tr '\n' ' ')" >&2
        status=1
    else
        echo "ok: $1 has no $3 in its tree"
    fi
}

for crate in coffer-domain coffer-ports coffer-service coffer-api; do
    forbid "$crate" "$FORBIDDEN" "infrastructure crate"
done

# `$2` (crate names, one a line) must all match `$3`; `$1` says what they are.
only() {
    local outside
    outside="$(echo "$2" | grep -vE "$3" || true)"
    if [[ -z "$2" ]]; then
        echo "check-deps is broken: it sees no $1" >&2
        status=1
    elif [[ -n "$outside" ]]; then
        echo "dependency rule broken: $1 include $(echo "$outside" | tr '\n' ' ')" >&2
        status=1
    else
        echo "ok: $1 are $(echo "$2" | tr '\n' ' ')"
    fi
}

# Depth 1: the crate itself and its direct dependencies (or dependents).
only "coffer-api's dependencies" "$(tree coffer-api --depth 1 | grep -vx coffer-api)" "$API_ALLOWED"
only "coffer-api's dependents" \
    "$(cargo tree -i coffer-api --workspace -e normal,build --depth 1 --prefix none --format '{p}' 2>/dev/null \
        | awk '{print $1}' | sort -u | grep -vx coffer-api)" "$API_USERS"

for crate in coffer-client coffer-cli; do
    forbid "$crate" "$CLIENT_FORBIDDEN" "server-side crate"
done
if [[ -z "$(violations coffer-server "$CLIENT_FORBIDDEN")" ]]; then
    echo "check-deps is broken: it sees no server-side crate under coffer-server" >&2
    status=1
fi

if [[ -z "$(violations coffer-s3)" ]]; then
    echo "check-deps is broken: it does not see aws-sdk-s3 under coffer-s3" >&2
    status=1
fi
exit "$status"
