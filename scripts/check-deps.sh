#!/usr/bin/env bash
# The dependency rule: domain <- ports <- service <- adapters/server. The
# inner crates must not reach actix, diesel, the AWS SDK or openidconnect
# through any path of their (normal and build) dependency tree, nor
# coffer-clamav, an adapter with no such crate of its own to give it away
# (it speaks clamd's protocol on tokio sockets). As a positive
# control, the check must also flag an adapter that does depend on one, so a
# broken check cannot pass silently.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FORBIDDEN='^(actix-web|actix-http|actix-rt|diesel|diesel-async|diesel_migrations|aws-sdk-s3|aws-config|aws-smithy-runtime|openidconnect|tokio-postgres|libsqlite3-sys|coffer-clamav)$'

violations() {
    cargo tree -p "$1" --all-features -e normal,build --prefix none --format '{p}' 2>/dev/null \
        | awk '{print $1}' | sort -u | grep -E "$FORBIDDEN" || true
}

status=0
for crate in coffer-domain coffer-ports coffer-service; do
    found="$(violations "$crate")"
    if [[ -n "$found" ]]; then
        echo "dependency rule broken: $crate depends on: $(echo "$found" | tr '\n' ' ')" >&2
        status=1
    else
        echo "ok: $crate has no infrastructure crate in its tree"
    fi
done

if [[ -z "$(violations coffer-s3)" ]]; then
    echo "check-deps is broken: it does not see aws-sdk-s3 under coffer-s3" >&2
    status=1
fi
exit "$status"
