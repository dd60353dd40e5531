#!/usr/bin/env bash
# Load benchmark of the SCIM gateway with wrk on loopback (see docs/benchmarks.md, "gateway").
#
#   scripts/bench-gateway.sh [USERS] [DURATION]      # defaults: 100000 users, 15s per run
#
# Starts the gateway's `stack` example (gateway + adapter + Secret Server emulator generated with
# USERS users + in-process queue) and the `ceiling` example (a bare actix-web JSON handler), both
# with the same number of HTTP workers, then measures with wrk, in the same run:
#   1. the ceiling:                 GET /user                                  (bare actix-web)
#   2. GET /scim/v2/Users/{id}
#   3. GET /scim/v2/Users?filter=userName eq "…"
#   4. POST /scim/v2/Users          (each request creates a new user through the job queue)
# and prints requests per second with p50 and p99 latency for each, and the CPU time each server
# process spent per request served (from /proc/<pid>/stat before and after the run: user + system
# time, all threads). BENCH_READS_ONLY=1 skips cases 3 and 4. BENCH_STACK=<path> measures another
# build of the `stack` example (an older one, to compare in the same run). BENCH_NO_BUILD=1 uses the
# release examples as they are. wrk shares the machine's
# cores with the servers, so absolute numbers are lower than on a dedicated load generator; the
# ratio to the ceiling is the figure to compare.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS="${1:-100000}"
DURATION="${2:-15s}"
WORKERS="${BENCH_WORKERS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
THREADS="${BENCH_THREADS:-2}"

command -v wrk >/dev/null 2>&1 || { echo "bench: wrk is required (apt-get install wrk)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

READS_ONLY="${BENCH_READS_ONLY:-0}"
STACK="${BENCH_STACK:-${CARGO_TARGET_DIR:-target}/release/examples/stack}"

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    echo "bench: building the release examples"
    cargo build --release --locked --quiet -p scim-gateway --example stack --example ceiling
fi

WORK=$(mktemp -d)
cleanup() {
    for pid in ${STACK_PID:-} ${CEILING_PID:-}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

GW_PORT=$(free_port)
CEIL_PORT=$(free_port)
echo "bench: starting the stack with $USERS users (generating and loading takes a while)"
RUST_LOG=warn "$STACK" --port "$GW_PORT" --token-file "$WORK/token" --users "$USERS" --workers "$WORKERS" \
    >"$WORK/stack.log" 2>&1 &
STACK_PID=$!
"${CARGO_TARGET_DIR:-target}"/release/examples/ceiling --port "$CEIL_PORT" --workers "$WORKERS" >"$WORK/ceiling.log" 2>&1 &
CEILING_PID=$!

for _ in $(seq 1 1800); do
    [ -s "$WORK/token" ] && break
    kill -0 "$STACK_PID" 2>/dev/null || { echo "bench: the stack exited:" >&2; cat "$WORK/stack.log" >&2; exit 1; }
    sleep 1
done
[ -s "$WORK/token" ] || { echo "bench: the stack never became ready" >&2; exit 1; }
TOKEN=$(cat "$WORK/token")
BASE="http://127.0.0.1:$GW_PORT/scim/v2"
AUTH="Authorization: Bearer $TOKEN"

# A user from the middle of the data set.
SAMPLE=$(curl -fsS -H "$AUTH" "$BASE/Users?startIndex=$((USERS / 2))&count=1&attributes=userName")
USER_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["Resources"][0]["id"])' <<<"$SAMPLE")
USER_NAME=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["Resources"][0]["userName"])' <<<"$SAMPLE")
TOTAL=$(curl -fsS -H "$AUTH" "$BASE/Users?count=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])')
FILTER=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "userName eq \"$USER_NAME\"")
echo "bench: $TOTAL users loaded; sample user $USER_ID ($USER_NAME)"

cat >"$WORK/post.lua" <<LUA
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end
function init(args)
    thread_id = tid
end
request = function()
    counter = counter + 1
    local name = string.format("bench-%d-%d-%d", os.time(), thread_id, counter)
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
        '","displayName":"Bench User","emails":[{"value":"' .. name .. '@example.com","primary":true}],' ..
        '"password":"Str0ng!Passw0rd-bench","active":true}'
    return wrk.format("POST", nil, {["Content-Type"] = "application/scim+json", ["Authorization"] = "Bearer $TOKEN"}, body)
end
LUA

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

run() { # slug, name, server pid, url, extra wrk args...
    local slug=$1 name=$2 pid=$3 url=$4
    shift 4
    local before after
    before=$(cpu_ticks "$pid")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$WORK/$slug.txt" 2>&1
    after=$(cpu_ticks "$pid")
    local rps p50 p99 non2xx requests cpu
    rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$slug.txt")
    p50=$(awk '$1=="50%" {print $2}' "$WORK/$slug.txt")
    p99=$(awk '$1=="99%" {print $2}' "$WORK/$slug.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$WORK/$slug.txt")
    requests=$(awk '/requests in/ {print $1}' "$WORK/$slug.txt")
    cpu=$(python3 -c 'import sys; t, n, hz = map(float, sys.argv[1:]); print(f"{1e6 * t / hz / max(n, 1):.1f} µs")' \
        "$((after - before))" "${requests:-0}" "$TICKS_PER_SECOND")
    printf '| %-44s | %10s | %8s | %8s | %10s | %s |\n' "$name" "$rps" "$p50" "$p99" "$cpu" "${non2xx:-0}"
    echo "$rps" >"$WORK/$slug.rps"
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $WORKERS HTTP workers per server, $(nproc) cores shared with wrk;" \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-44s | %10s | %8s | %8s | %10s | %s |\n' "endpoint" "req/s" "p50" "p99" "CPU/req" "non-2xx"
run ceiling "ceiling: bare actix-web GET /user" "$CEILING_PID" "http://127.0.0.1:$CEIL_PORT/user"
run get "GET /Users/{id}" "$STACK_PID" "$BASE/Users/$USER_ID" -H "$AUTH"
if [ "$READS_ONLY" != 1 ]; then
    run filter "GET /Users?filter=userName eq \"...\"" "$STACK_PID" "$BASE/Users?filter=$FILTER" -H "$AUTH"
    CONNECTIONS=${BENCH_POST_CONNECTIONS:-8} run post "POST /Users" "$STACK_PID" "$BASE/Users" -s "$WORK/post.lua"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$WORK" <<'PY'
import sys, pathlib
work = pathlib.Path(sys.argv[1])
rps = lambda n: float((work / f"{n}.rps").read_text() or 0)
ceiling = rps("ceiling")
for slug, name in [("get", "GET /Users/{id}"), ("filter", 'GET /Users?filter=userName eq "..."'), ("post", "POST /Users")]:
    if not (work / f"{slug}.rps").exists():
        continue
    print(f"{name}: {100 * rps(slug) / ceiling:.1f}% of the ceiling")
PY
