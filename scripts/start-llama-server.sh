#!/usr/bin/env bash
# Start a real llama-server on a tiny random-weight model, for tests.
#
# Usage:
#   scripts/start-llama-server.sh          # build/cache if needed, start, wait for /health
#   scripts/start-llama-server.sh stop     # stop the server started for $PORT
#   scripts/start-llama-server.sh status   # exit 0 if it is running and healthy
#
# On success stdout holds exactly one line, ONEPASS_LLAMA_URL=http://127.0.0.1:PORT,
# so `eval "$(scripts/start-llama-server.sh)"` works. Everything else goes to stderr.
# Starting when our server is already up and healthy on that port just prints the URL.
#
# Environment:
#   PORT (default 18080), CTX (default 8192): llama-server --port / -c
#   ONEPASS_LLAMA_MODEL     GGUF to serve (default: scripts/tiny-model.py's output)
#   ONEPASS_LLAMA_ALIAS     model name served (default: the model file's name without .gguf)
#   ONEPASS_LLAMA_ARGS      extra llama-server arguments (word-split)
#   ONEPASS_LLAMA_START_TIMEOUT   seconds to wait for /health (default 120)
#   ONEPASS_CI_CACHE, XDG_CACHE_HOME   cache root, as in scripts/llama-server.sh
# Files: $CACHE/run/llama-server-$PORT.{pid,log}; slots saved under $CACHE/slots.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ONEPASS_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/onepass-ci}"
PORT="${PORT:-18080}"
CTX="${CTX:-8192}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
RUN="$CACHE/run"
PIDFILE="$RUN/llama-server-$PORT.pid"
LOGFILE="$RUN/llama-server-$PORT.log"
SLOTS="$CACHE/slots"
TIMEOUT="${ONEPASS_LLAMA_START_TIMEOUT:-120}"
PYTHON="${PYTHON:-python3}"

log() { printf 'start-llama-server.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# pid of our running server for this port, or nothing.
our_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must still be a llama-server.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q llama-server || return 1
    echo "$pid"
}

http_status() { # $1 = path; prints the HTTP status, 000 if no answer
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL$1" 2>/dev/null || true
}

stop_server() {
    local pid
    if ! pid="$(our_pid)"; then
        log "no llama-server of ours running on port $PORT"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping llama-server pid $pid (port $PORT)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

ensure_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || die "curl not found and no apt-get to install it"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    log "apt-get install -y curl"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q curl >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q curl >&2; }
}

case "${1:-start}" in
    stop)
        stop_server
        exit 0
        ;;
    status)
        ensure_curl
        if our_pid >/dev/null && [ "$(http_status /health)" = 200 ]; then
            echo "ONEPASS_LLAMA_URL=$URL"
            exit 0
        fi
        log "not running (or not healthy) on port $PORT"
        exit 1
        ;;
    start) ;;
    *) die "unknown argument '$1' (use: start | stop | status)" ;;
esac

ensure_curl
mkdir -p "$RUN" "$SLOTS"

if pid="$(our_pid)"; then
    if [ "$(http_status /health)" = 200 ]; then
        log "llama-server already running (pid $pid) at $URL"
        echo "ONEPASS_LLAMA_URL=$URL"
        exit 0
    fi
    log "llama-server pid $pid is up but /health is not 200; restarting it"
    stop_server
fi
code="$(http_status /health)"
if [ "$code" != 000 ]; then
    die "something else already answers on $URL (GET /health -> $code); set PORT to a free port"
fi

BIN="$(bash "$SCRIPT_DIR/llama-server.sh" | tail -n1)"
[ -x "$BIN" ] || die "scripts/llama-server.sh did not give a runnable binary (got '$BIN')"
if [ -n "${ONEPASS_LLAMA_MODEL:-}" ]; then
    MODEL="$ONEPASS_LLAMA_MODEL"
else
    MODEL="$("$PYTHON" "$SCRIPT_DIR/tiny-model.py" | tail -n1)"
fi
[ -f "$MODEL" ] || die "model file '$MODEL' not found"

LIBDIR="$(dirname "$(dirname "$BIN")")/lib"
if [ -d "$LIBDIR" ]; then
    export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# shellcheck disable=SC2206
EXTRA=(${ONEPASS_LLAMA_ARGS:-})
# A stable model name ("tiny-llama"), instead of the absolute path llama-server
# reports by default, so /v1/models and the "model" field don't depend on $HOME.
ALIAS="${ONEPASS_LLAMA_ALIAS:-$(basename "$MODEL" .gguf)}"
CMD=("$BIN" -m "$MODEL" --alias "$ALIAS" --host "$HOST" --port "$PORT" -np 1 -c "$CTX" --metrics --slot-save-path "$SLOTS" "${EXTRA[@]}")
log "starting: ${CMD[*]}"
log "log: $LOGFILE"
: >"$LOGFILE"
if command -v setsid >/dev/null 2>&1; then
    setsid nohup "${CMD[@]}" </dev/null >>"$LOGFILE" 2>&1 &
else
    nohup "${CMD[@]}" </dev/null >>"$LOGFILE" 2>&1 &
fi
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PIDFILE"
        log "llama-server exited during startup; last lines of $LOGFILE:"
        tail -n 30 "$LOGFILE" >&2
        die "llama-server failed to start"
    fi
    code="$(http_status /health)"
    [ "$code" = 200 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "GET $URL/health still answers '$code' after ${TIMEOUT}s; last lines of $LOGFILE:"
        tail -n 30 "$LOGFILE" >&2
        stop_server
        die "llama-server did not become healthy"
    fi
    sleep 0.5
done
log "llama-server pid $pid healthy at $URL (stop: scripts/stop-llama-server.sh, or PORT=$PORT $0 stop)"
echo "ONEPASS_LLAMA_URL=$URL"
