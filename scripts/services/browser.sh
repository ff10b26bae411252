#!/usr/bin/env bash
# The browser the browser tests drive (crates/server/tests/browser): Debian's
# `chromium`, driven by `playwright-core` from npm (pinned by
# scripts/browser/package-lock.json). Nothing runs between tests — each
# test launches its own headless Chromium — so `start` only installs what
# is missing and writes .test-services/browser.env.
#
#   scripts/services/browser.sh start   # apt-get install chromium if missing, npm ci if needed
#   scripts/services/browser.sh stop    # nothing to stop
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/scripts/browser"
SERVICES="$ROOT/.test-services"
HOME_DIR="$SERVICES/browser"
ENV_FILE="$SERVICES/browser.env"

log() { echo "browser: $*" >&2; }

chromium_path() { command -v chromium || command -v chromium-browser || true; }

install_chromium() {
    [[ -n "$(chromium_path)" ]] && return
    if [[ "$(id -u)" != 0 ]]; then
        log "chromium is not installed; run: sudo apt-get install chromium"
        exit 1
    fi
    log "installing chromium (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [[ -n "$(chromium_path)" ]] || { log "apt-get installed no chromium"; exit 1; }
}

# shellcheck source=scripts/services/npm-ci.sh
source "$ROOT/scripts/services/npm-ci.sh"

case "${1:-}" in
    start)
        install_chromium
        npm_ci_into "$SRC" "$HOME_DIR"
        cat >"$ENV_FILE" <<EOF
export COFFER_TEST_CHROMIUM=$(chromium_path)
export COFFER_TEST_BROWSER_MODULES=$HOME_DIR/node_modules
EOF
        log "ready: $(chromium_path), playwright-core in $HOME_DIR"
        ;;
    stop)
        log "nothing to stop"
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
