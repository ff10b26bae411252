#!/usr/bin/env bash
# ClamAV's clamd as the test peer of coffer-clamav (the Scanner port).
#
#   scripts/services/clamd.sh start   # install if needed, start, wait, write .test-services/clamd.env
#   scripts/services/clamd.sh stop    # stop what start started
#   scripts/services/clamd.sh run DIR PORT [STREAM_MAX_LENGTH]
#       # one more clamd in the foreground (exec'd: its pid is this script's),
#       # config, database and sockets in DIR, TCP on 127.0.0.1:PORT, the
#       # Unix socket DIR/clamd.sock: for tests that need a clamd of their own
#       # (a small stream limit, or one to kill and restart). Installs nothing.
#
# clamd comes from Debian's `clamav-daemon`, installed with apt-get only
# when clamd is missing. Installing it starts and enables the package's own
# clamav-daemon and clamav-freshclam services (freshclam would try to reach
# the internet); right after an install they are stopped and disabled. A
# clamd that was already on the machine is left alone.
#
# freshclam cannot download anything here, so the database is built locally
# and holds one test signature: `Eicar-Test-Signature`, the 68 bytes of the
# EICAR test file (https://www.eicar.org/download-anti-malware-testfile/)
# anywhere in a body (an .ndb body signature, not sigtool's MD5 of the exact
# file), so a test can also prove that the end of a long, chunked body is
# scanned. clamd reports it as `Eicar-Test-Signature.UNOFFICIAL` (the
# database is not signed).
#
# clamd listens on 127.0.0.1:$CLAMD_PORT (default 27490) and on the Unix
# socket .test-services/clamd/clamd.sock; StreamMaxLength is
# $CLAMD_STREAM_MAX_LENGTH (default 100M). .test-services/clamd.env exports
# COFFER_TEST_CLAMD_TCP (127.0.0.1:PORT), COFFER_TEST_CLAMD_SOCKET (an
# absolute path) and COFFER_TEST_CLAMD_STREAM_MAX_LENGTH. It loads its one signature in
# well under a second, and exits at once on SIGTERM.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES="$ROOT/.test-services"
HOME_DIR="$SERVICES/clamd"
PID_FILE="$HOME_DIR/clamd.pid"
ENV_FILE="$SERVICES/clamd.env"
PORT="${CLAMD_PORT:-27490}"
STREAM_MAX_LENGTH="${CLAMD_STREAM_MAX_LENGTH:-100M}"
READY_TIMEOUT="${CLAMD_READY_TIMEOUT:-30}"

# Split so that this file is not itself the EICAR test file to a scanner.
EICAR_HEAD='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD'
EICAR_TAIL='-ANTIVIRUS-TEST-FILE!$H+H*'

log() { echo "clamd: $*" >&2; }

# clamd lives in /usr/sbin, which a non-root PATH may lack.
find_bin() { command -v "$1" 2>/dev/null || { [[ -x "/usr/sbin/$1" ]] && echo "/usr/sbin/$1"; }; }

# Sends a zero-terminated command to clamd over TCP, prints the answer.
# The TCP socket (not the Unix one) is what both readiness and the tests need.
clamd_says() { # PORT COMMAND
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'z%s\0' "$2" >&3
        timeout 2 cat <&3 | tr -d '\0'
    ) 2>/dev/null
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid from the pid file, if that process is still our clamd (a recycled
# pid of an unrelated process must never be signalled).
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "clamd -c $HOME_DIR/clamd.conf" || return 1
    echo "$pid"
}

# Stop the services the Debian packages start on install, whichever init
# system runs them; disabled so that they do not come back either.
stop_package_services() {
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now clamav-daemon.socket clamav-daemon.service \
            clamav-freshclam.service >/dev/null 2>&1 || true
        return
    fi
    local service
    for service in clamav-daemon clamav-freshclam; do
        if [[ -x "/etc/init.d/$service" ]]; then
            "/etc/init.d/$service" stop >/dev/null 2>&1 || true
            update-rc.d "$service" disable >/dev/null 2>&1 || true
        fi
    done
}

install() {
    if [[ -n "$(find_bin clamd)" ]]; then return; fi
    if ((EUID != 0)); then
        log "clamd is missing; install clamav-daemon (apt-get, as root)"
        exit 1
    fi
    log "installing clamav-daemon with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends clamav-daemon >&2
    stop_package_services
    [[ -n "$(find_bin clamd)" ]] || {
        log "apt-get installed no clamd"
        exit 1
    }
}

# The test database in DIR/db (see the header).
write_database() { # DIR
    local dir="$1" hex
    mkdir -p "$dir/db"
    hex="$(printf '%s%s' "$EICAR_HEAD" "$EICAR_TAIL" | od -An -v -tx1 | tr -d ' \n')"
    echo "Eicar-Test-Signature:0:*:$hex" >"$dir/db/eicar.ndb"
}

# clamd.conf for a clamd with everything in DIR. MaxFileSize and MaxScanSize
# follow the stream limit, so nothing clamd accepts goes unscanned.
write_config() { # DIR PORT STREAM_MAX_LENGTH
    local dir="$1" port="$2" max="$3"
    local socket="$dir/clamd.sock"
    if ((${#socket} > 100)); then
        log "socket path $socket is too long for a Unix socket; use a shorter directory"
        exit 1
    fi
    mkdir -p "$dir/tmp"
    cat >"$dir/clamd.conf" <<EOF
DatabaseDirectory $dir/db
TemporaryDirectory $dir/tmp
TCPSocket $port
TCPAddr 127.0.0.1
LocalSocket $socket
LocalSocketMode 660
FixStaleSocket yes
Foreground yes
PidFile $dir/clamd.pid
LogFile $dir/clamd.log
LogTime yes
StreamMaxLength $max
MaxFileSize $max
MaxScanSize $max
MaxThreads 8
SelfCheck 0
Bytecode no
EOF
}

write_env() {
    cat >"$ENV_FILE" <<EOF
export COFFER_TEST_CLAMD_TCP=127.0.0.1:$PORT
export COFFER_TEST_CLAMD_SOCKET=$HOME_DIR/clamd.sock
export COFFER_TEST_CLAMD_STREAM_MAX_LENGTH=$STREAM_MAX_LENGTH
EOF
}

# `run DIR PORT [STREAM_MAX_LENGTH]`: a clamd of a test's own, in the foreground.
run() {
    local dir="${1:?usage: run DIR PORT [STREAM_MAX_LENGTH]}" port="${2:?usage: run DIR PORT [STREAM_MAX_LENGTH]}"
    local max="${3:-$STREAM_MAX_LENGTH}"
    local clamd
    clamd="$(find_bin clamd)" || { log "clamd is not installed: run '$0 start' first"; exit 1; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    write_database "$dir"
    write_config "$dir" "$port" "$max"
    exec "$clamd" -c "$dir/clamd.conf"
}

start() {
    if pid="$(running_pid)" && [[ "$(clamd_says "$PORT" PING || true)" == PONG ]]; then
        write_env
        log "already running (pid $pid) on 127.0.0.1:$PORT"
        return
    fi
    if pid="$(running_pid)"; then
        log "stale process $pid does not answer; stopping it"
        stop
    fi
    if port_answers "$PORT"; then
        log "port $PORT is taken by another process; set CLAMD_PORT to a free port"
        exit 1
    fi
    install
    local clamd
    clamd="$(find_bin clamd)"
    rm -rf "$HOME_DIR"
    mkdir -p "$HOME_DIR"
    write_database "$HOME_DIR"
    write_config "$HOME_DIR" "$PORT" "$STREAM_MAX_LENGTH"
    log "starting clamd on 127.0.0.1:$PORT and $HOME_DIR/clamd.sock (log: $HOME_DIR/clamd.log)"
    # setsid: the server outlives this script and gets its own process group.
    # clamd writes the same pid to its PidFile; writing it here too means
    # `stop` finds it even if clamd dies before it gets there.
    setsid "$clamd" -c "$HOME_DIR/clamd.conf" >"$HOME_DIR/clamd.out" 2>&1 </dev/null &
    local started=$!
    echo "$started" >"$PID_FILE"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until [[ "$(clamd_says "$PORT" PING || true)" == PONG ]]; do
        # Whether the process lives, not what it is called: until setsid has
        # exec'd clamd its command line is still this script's.
        if ! kill -0 "$started" 2>/dev/null; then
            log "clamd exited during start-up; last log lines:"
            tail -n 30 "$HOME_DIR/clamd.out" "$HOME_DIR/clamd.log" >&2 2>/dev/null || true
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            log "no PONG after ${READY_TIMEOUT}s; last log lines:"
            tail -n 30 "$HOME_DIR/clamd.out" "$HOME_DIR/clamd.log" >&2 2>/dev/null || true
            stop
            exit 1
        fi
        sleep 0.1
    done
    write_env
    log "ready on 127.0.0.1:$PORT; env in $ENV_FILE"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
        running_pid >/dev/null || break
        sleep 0.05
    done
    if running_pid >/dev/null; then
        log "pid $pid ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # clamd removes its socket on a clean exit, not after SIGKILL.
    rm -f "$PID_FILE" "$HOME_DIR/clamd.sock"
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
    echo "usage: $0 start|stop|run DIR PORT [STREAM_MAX_LENGTH]" >&2
    exit 2
    ;;
esac
