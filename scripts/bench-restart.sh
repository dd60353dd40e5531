#!/usr/bin/env bash
# Time to ready of the adapter: its first load, then a restart from its snapshot, against the emulator
# with a generated vault and latency on every call (issue 16 item 7). Real processes: redis-server (on a
# free port), `scim-connector sim`, `scim-connector adapter`.
#
#   scripts/bench-restart.sh                 # 100,000 users, 10,000 groups, 1,000,000 memberships, 20 ms a call
#   USERS=10000 NGROUPS=1000 MEMBERSHIPS=100000 LATENCY_MS=20 scripts/bench-restart.sh
#   BIN=target/release/scim-connector scripts/bench-restart.sh   # default: the debug build
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/scim-connector}"
USERS="${USERS:-100000}" NGROUPS="${NGROUPS:-10000}" MEMBERSHIPS="${MEMBERSHIPS:-1000000}" LATENCY_MS="${LATENCY_MS:-20}"
PASSWORD='Bench-Restart-Passw0rd!'
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

REDIS_PORT=$(free_port) SIM_PORT=$(free_port) GRPC_PORT=$(free_port) HTTP_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
pids+=($!)

echo "bench-restart: generating $USERS users, $NGROUPS groups, $MEMBERSHIPS memberships"
SCIMC_SIM_API_PASSWORD="$PASSWORD" "$BIN" sim generate --data-dir "$WORK/sim" --users "$USERS" --groups "$NGROUPS" \
    --memberships "$MEMBERSHIPS" --folders 1000 >"$WORK/generate.log" 2>&1
SCIMC_SIM_API_PASSWORD="$PASSWORD" RUST_LOG=warn "$BIN" sim --data-dir "$WORK/sim" --sim-listen "127.0.0.1:$SIM_PORT" \
    >"$WORK/sim.log" 2>&1 &
pids+=($!)
until curl -sf -o /dev/null "http://127.0.0.1:$SIM_PORT/SecretServer/api/v1/healthcheck" 2>/dev/null \
    || curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SIM_PORT/SecretServer/oauth2/token" 2>/dev/null | grep -q '^[1-5]'; do
    sleep 0.2
done
TOKEN=$(curl -sf "http://127.0.0.1:$SIM_PORT/SecretServer/oauth2/token" \
    -d grant_type=password -d username=scim-api --data-urlencode "password=$PASSWORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -X PUT "http://127.0.0.1:$SIM_PORT/_sim/faults" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "{\"latencyMs\": $LATENCY_MS}" >/dev/null
echo "bench-restart: the emulator adds $LATENCY_MS ms to every call"

adapter() {
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" SCIMC_REDIS_PREFIX=bench RUST_LOG=info SCIMC_LOG_FORMAT=json \
    SECRET_SERVER_URL="http://127.0.0.1:$SIM_PORT/SecretServer" SECRET_SERVER_USERNAME=scim-api \
    SECRET_SERVER_PASSWORD="$PASSWORD" SECRET_SERVER_ALLOW_INSECURE_HTTP=true \
    SCIMC_ADAPTER_SECRET=bench-restart-gateway-adapter-secret-0123456789 \
    SCIMC_JOB_ENCRYPTION_KEYS=k1:Y2hhb3MtaGFybmVzcy1qb2Ita2V5LTAxMjM0NTY3ODk= \
    "$BIN" adapter --data-dir "$WORK/adapter" --adapter-listen "127.0.0.1:$GRPC_PORT" \
        --http-listen "127.0.0.1:$HTTP_PORT" >>"$WORK/adapter.log" 2>&1 &
    ADAPTER=$!
    pids+=("$ADAPTER")
}
ready_after() {
    local start=$1
    until curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz"; do sleep 0.05; done
    python3 -c "import time; print(f'{time.time() - $start:.1f}')"
}

start=$(python3 -c 'import time; print(time.time())')
adapter
first=$(ready_after "$start")
echo "bench-restart: first load: ready after ${first} s"
kill -TERM "$ADAPTER"; wait "$ADAPTER" || true
ls -l "$WORK/adapter/adapter" | tail -n +2 | awk '{print "bench-restart: snapshot " $NF ": " $5 " bytes"}'
start=$(python3 -c 'import time; print(time.time())')
adapter
again=$(ready_after "$start")
echo "bench-restart: restart from the snapshot: ready after ${again} s"
grep -o '"message":"read model restored[^}]*}[^}]*}' "$WORK/adapter.log" | tail -1 || true
