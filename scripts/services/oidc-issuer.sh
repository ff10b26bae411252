#!/usr/bin/env bash
# The test OIDC issuer (scripts/oidc-issuer/issuer.mjs, oidc-provider 9) that
# coffer-keycloak and the end-to-end tests verify tokens from (see docs/identity.md).
#
#   scripts/services/oidc-issuer.sh start   # npm ci if needed, start, wait, write .test-services/oidc-issuer.env
#   scripts/services/oidc-issuer.sh stop    # stop what start started
#
# The issuer listens on 127.0.0.1:$OIDC_ISSUER_PORT (default 28470); realm
# `coffer` is at /realms/coffer, and any other realm name is created on first
# use (tests that rotate keys use a realm of their own). Its keys are new at
# every start, which is what tests want.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/scripts/oidc-issuer"
SERVICES="$ROOT/.test-services"
HOME_DIR="$SERVICES/oidc-issuer"
PID_FILE="$HOME_DIR/issuer.pid"
LOG_FILE="$HOME_DIR/issuer.log"
ENV_FILE="$SERVICES/oidc-issuer.env"
PORT="${OIDC_ISSUER_PORT:-28470}"
BASE="http://127.0.0.1:$PORT"
READY_TIMEOUT="${OIDC_ISSUER_READY_TIMEOUT:-30}"
PASSWORD="coffer-test-password"
CLI_SECRET="coffer-cli-secret"
SERVICE_SECRET="coffer-svc-secret"

log() { echo "oidc-issuer: $*" >&2; }

running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

answers() { curl -sf -o /dev/null --max-time 2 "$BASE/admin/health"; }

# shellcheck source=scripts/services/npm-ci.sh
source "$ROOT/scripts/services/npm-ci.sh"

install() {
    npm_ci_into "$SRC" "$HOME_DIR"
    cp "$SRC/issuer.mjs" "$HOME_DIR/issuer.mjs"
}

write_env() {
    cat >"$ENV_FILE" <<EOV
export COFFER_TEST_OIDC_BASE=$BASE
export COFFER_TEST_OIDC_REALM=coffer
export COFFER_TEST_OIDC_ISSUER=$BASE/realms/coffer
export COFFER_TEST_OIDC_ADMIN=$BASE/admin
export COFFER_TEST_OIDC_AUDIENCE=coffer
export COFFER_TEST_OIDC_CLI_CLIENT_ID=coffer-cli
export COFFER_TEST_OIDC_CLI_SECRET=$CLI_SECRET
export COFFER_TEST_OIDC_SERVICE_CLIENT_ID=coffer-svc
export COFFER_TEST_OIDC_SERVICE_SECRET=$SERVICE_SECRET
export COFFER_TEST_OIDC_PASSWORD=$PASSWORD
EOV
}

start() {
    install
    if answers; then
        log "already answering on $BASE"
        write_env
        return
    fi
    log "starting on $BASE (log: $LOG_FILE)"
    (
        cd "$HOME_DIR"
        PORT="$PORT" COFFER_TEST_OIDC_PASSWORD="$PASSWORD" COFFER_TEST_OIDC_CLI_SECRET="$CLI_SECRET" \
            COFFER_TEST_OIDC_SERVICE_SECRET="$SERVICE_SECRET" \
            nohup node issuer.mjs >"$LOG_FILE" 2>&1 &
        echo $! >"$PID_FILE"
    )
    local waited=0
    until answers; do
        if ! running_pid >/dev/null; then
            log "the issuer exited during start; last log lines:"
            tail -n 20 "$LOG_FILE" >&2
            exit 1
        fi
        if ((waited >= READY_TIMEOUT * 10)); then
            log "not ready after ${READY_TIMEOUT}s; last log lines:"
            tail -n 20 "$LOG_FILE" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    write_env
    log "ready: issuer $BASE/realms/coffer"
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped (pid $pid)"
    else
        log "not running"
    fi
    rm -f "$PID_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
