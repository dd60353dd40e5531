# Sourced by the benchmarks that run `scim-connector dev` against a Redis (bench-writes.sh,
# bench-instructions.sh): the Redis address from REDIS_URL (RHOST, RPORT, `rcli`), a work directory
# (WORK) removed at exit with every key prefix a run used (PREFIXES), and `start_dev` / `stop_dev`.
# The sourcing script sets NAME (for its messages) and `set -euo pipefail` first.

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport=${REDIS_URL#*://}
hostport=${hostport##*@}
hostport=${hostport%%/*}
RHOST=${hostport%:*}
RPORT=${hostport##*:}
[ "$RPORT" = "$hostport" ] && RPORT=6379
rcli() { redis-cli -h "$RHOST" -p "$RPORT" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d)
PREFIXES=()
DEV_PID=""
cleanup() {
    stop_dev
    for prefix in "${PREFIXES[@]}"; do
        rcli --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h "$RHOST" -p "$RPORT" UNLINK >/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_dev PREFIX BINARY [LAUNCHER...]: `BINARY dev` (run by LAUNCHER when given, e.g. valgrind) with
# its queue, events and state under key prefix PREFIX, its data in $WORK, every listener on a free
# loopback port, ADAPTER_WORKERS adapter workers when set, RUST_LOG=warn; waits until the gateway
# answers. Sets DEV_PID, PORT (the gateway's) and TOKEN (the dev connection's bearer token).
start_dev() {
    local prefix=$1 bin=$2 data
    shift 2
    PREFIXES+=("$prefix")
    data="$WORK/data-$prefix"
    PORT=$(free_port)
    env REDIS_URL="$REDIS_URL" SCIMC_REDIS_PREFIX="$prefix" SCIMC_DATA_DIR="$data" \
        SCIMC_GATEWAY_LISTEN="127.0.0.1:$PORT" SCIMC_AUDIT_LISTEN="127.0.0.1:$(free_port)" \
        SCIMC_SIM_LISTEN="127.0.0.1:$(free_port)" SCIMC_ADAPTER_LISTEN="127.0.0.1:$(free_port)" \
        ${ADAPTER_WORKERS:+SCIMC_ADAPTER_WORKERS=$ADAPTER_WORKERS} RUST_LOG=warn \
        "$@" "$bin" dev >"$WORK/dev.log" 2>&1 &
    DEV_PID=$!
    TOKEN=""
    for _ in $(seq 1 600); do
        if [ -s "$data/dev-token" ]; then
            TOKEN=$(cat "$data/dev-token")
            curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/scim/v2/Users?count=0" \
                2>/dev/null && return 0
        fi
        kill -0 "$DEV_PID" 2>/dev/null || { echo "$NAME: dev exited:" >&2; cat "$WORK/dev.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "$NAME: dev never became ready" >&2
    exit 1
}

stop_dev() {
    [ -n "$DEV_PID" ] || return 0
    kill "$DEV_PID" 2>/dev/null || true
    wait "$DEV_PID" 2>/dev/null || true
    DEV_PID=""
}
