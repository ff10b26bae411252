#!/usr/bin/env bash
# Schemathesis, the OpenAPI fuzzer the schema-fuzzing tests run
# (crates/server/tests/it/fuzz.rs), installed from PyPI at the versions pinned
# in scripts/schemathesis/requirements.txt into a venv of its own.
#
#   scripts/services/schemathesis.sh start   # install if needed, write .test-services/schemathesis.env
#   scripts/services/schemathesis.sh stop    # nothing runs in the background: a no-op
#
# The venv is reinstalled only when the pinned requirements change.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES="$ROOT/.test-services"
VENV="$SERVICES/schemathesis"
REQUIREMENTS="$ROOT/scripts/schemathesis/requirements.txt"
ENV_FILE="$SERVICES/schemathesis.env"

log() { echo "schemathesis: $*" >&2; }

install() {
    if [[ -x "$VENV/bin/schemathesis" ]] && cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
        return
    fi
    log "installing the pinned schemathesis into $VENV"
    rm -rf "$VENV"
    mkdir -p "$SERVICES"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
}

case "${1:-}" in
    start)
        install
        echo "export COFFER_TEST_SCHEMATHESIS=$VENV/bin/schemathesis" >"$ENV_FILE"
        ;;
    stop) ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
