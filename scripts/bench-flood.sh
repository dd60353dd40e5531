#!/usr/bin/env bash
# The flood benchmark of issue 14 (see docs/benchmarks.md, "Gateway under a flood of wrong credentials").
#
#   scripts/bench-flood.sh [DURATION_SECONDS]          # default 10
#   STACK_BIN=path/to/another/stack scripts/bench-flood.sh   # measure another build of the stack example
#
# Starts the gateway's `stack` example (gateway, adapter, Secret Server emulator with its demo seed,
# in-process queue; 2 HTTP workers) and, for each case, floods it for DURATION seconds with wrk from
# 127.0.0.1 (64 connections, 2 threads) while `flood_probe` sends one authenticated
# `GET /scim/v2/Users/{id}` at a time from 127.0.0.2 and samples the stack process's resident memory:
#   quiet      no flood (the reference)
#   same       every request presents the same wrong HTTP Basic credential (the issue's flood)
#   distinct   every request presents another wrong Basic password for one user name
# It prints the legitimate caller's latency percentiles and the process's memory before, at the
# peak and after each case. wrk, the stack and the probe share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
command -v wrk >/dev/null 2>&1 || { echo "bench: wrk is required (apt-get install wrk)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "bench: building the release examples"
cargo build --release --locked --quiet -p scim-gateway --example stack --example flood_probe
TARGET="${CARGO_TARGET_DIR:-target}/release/examples"
STACK_BIN="${STACK_BIN:-$TARGET/stack}"

WORK=$(mktemp -d)
cleanup() {
    [ -n "${STACK_PID:-}" ] && { kill "$STACK_PID" 2>/dev/null || true; wait "$STACK_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(free_port)
RUST_LOG=warn "$STACK_BIN" --port "$PORT" --token-file "$WORK/token" --workers 2 >"$WORK/stack.log" 2>&1 &
STACK_PID=$!
for _ in $(seq 1 600); do
    [ -s "$WORK/token" ] && break
    kill -0 "$STACK_PID" 2>/dev/null || { echo "bench: the stack exited:" >&2; cat "$WORK/stack.log" >&2; exit 1; }
    sleep 0.5
done
[ -s "$WORK/token" ] || { echo "bench: the stack never became ready" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT/scim/v2"
USER_ID=$(curl -fsS -H "Authorization: Bearer $(cat "$WORK/token")" "$BASE/Users?count=1&attributes=id" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Resources"][0]["id"])')
URL="$BASE/Users/$USER_ID"
WRONG="Authorization: Basic $(printf 'okta-sync:not-the-password' | base64)"

# A different wrong password on every request, for one user name.
cat >"$WORK/distinct.lua" <<'LUA'
local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(data)
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
local n = 0
request = function()
  n = n + 1
  local credential = base64('okta-sync:guess-' .. tostring(math.random(1, 1000000000)) .. '-' .. n)
  return wrk.format('GET', nil, { Authorization = 'Basic ' .. credential })
end
LUA

run_case() {
    local name="$1"
    shift
    echo "== $name"
    # Warm: a few legitimate requests first, so that the credential cache and connections are made.
    for _ in 1 2 3; do curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$WORK/token")" "$URL"; done
    "$TARGET/flood_probe" --url "$URL" --token-file "$WORK/token" --from 127.0.0.2 --pid "$STACK_PID" \
        --duration "$DURATION" >"$WORK/probe.out" &
    local probe=$!
    if [ "$#" -gt 0 ]; then
        wrk -t2 -c64 -d"${DURATION}s" "$@" "$URL" >"$WORK/wrk.out" 2>&1 || true
        grep -E "Requests/sec|Non-2xx" "$WORK/wrk.out" | sed 's/^/  wrk: /'
    fi
    wait "$probe"
    sed 's/^/  /' "$WORK/probe.out"
}

run_case quiet
run_case same -H "$WRONG"
run_case distinct -s "$WORK/distinct.lua"
