#!/usr/bin/env bash
# Writes through Redis (see docs/benchmarks.md, "Writes through Redis (issue 20 goal 1)").
#
#   scripts/bench-writes.sh [DURATION] [ROUNDS]          # defaults: 15s per measurement, 1 round
#
# The deployed write path: `scim-connector dev` with REDIS_URL (gateway, adapter, audit service and
# the Secret Server emulator in one process; the job queue, the events stream and the state store
# in Redis, under a fresh key prefix that is deleted at the end). In the same run it measures:
#   1. raw XADD of that Redis with redis-benchmark, no pipelining, 16 and 50 clients;
#   2. POST /scim/v2/Users at 16 connections with wrk (each request a new userName), with the CPU
#      the connector process and Redis spent per create and Redis's commands per create
#      (INFO commandstats deltas), the audit service's events per transaction, then the round trips per create (MONITOR over a few creates);
#   3. the queue alone (`queue_bench`, echo handler) with 16 submitters and as many workers as the
#      adapter runs.
#
# Environment: REDIS_URL (default redis://127.0.0.1:6379); BIN, the connector binary (default
# target/release/scim-connector); BASELINE_BIN, a second binary (or several, separated by `:`)
# measured alternately with BIN, round by round, so that the machine's load moves them alike; QUEUE_BENCH (default
# target/release/examples/queue_bench; skipped when missing); CONNECTIONS (16); ADAPTER_WORKERS
# (the connector's default when unset); MONITOR_CREATES (20; 0 skips it), creates sent one at a time
# under MONITOR after each measurement, to count round trips per create. Nothing is built: build first with
#   cargo build --release -p connector --bin scim-connector -p job-queue --example queue_bench
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-15s}"
ROUNDS="${2:-1}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="${BIN:-$TARGET/release/scim-connector}"
QUEUE_BENCH="${QUEUE_BENCH:-$TARGET/release/examples/queue_bench}"
CONNECTIONS="${CONNECTIONS:-16}"
MONITOR_CREATES="${MONITOR_CREATES:-20}"

for tool in wrk redis-benchmark redis-cli curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench-writes: $tool is required" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench-writes: no connector binary at $BIN (build it first)" >&2; exit 1; }

NAME=bench-writes
# shellcheck source=lib/dev-on-redis.sh
. scripts/lib/dev-on-redis.sh

cat >"$WORK/post.tmpl" <<'LUA'
-- Each request creates a new user: the name carries the start time, the thread and a counter.
local counter = 0
local threads = {}
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end
request = function()
    counter = counter + 1
    local name = string.format("w-%s-%d-%d", run_id, tid, counter)
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
        '","displayName":"Bench User","emails":[{"value":"' .. name .. '@example.com","primary":true}],' ..
        '"password":"Str0ng!Passw0rd-bench","active":true}'
    return wrk.format("POST", nil, {["Content-Type"] = "application/scim+json", ["Authorization"] = "Bearer " .. token}, body)
end
LUA

# Redis's CPU seconds so far (user + system).
redis_cpu() { rcli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'; }
# A process's CPU seconds so far (utime + stime, clock ticks of 1/100 s).
proc_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# The audit service's transactions and records so far (from the gateway's /metrics, which `dev` shares).
audit_counts() { # port
    curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '/^scim_audit_batch_duration_seconds_count/ {b += $NF} /^scim_audit_records_total/ {r += $NF} END {printf "%d %d", b, r}'
}
commandstats() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p'; }

raw_xadd() { # clients
    local stream
    stream="benchw-raw-$$-$1"
    rcli DEL "$stream" >/dev/null
    redis-benchmark -h "$RHOST" -p "$RPORT" -q -c "$1" -n 100000 XADD "$stream" '*' id 0190c4b5-0000-7000-8000-000000000000 |
        tr '\r' '\n' | awk -F': ' '/requests per second/ {split($2, a, " "); v = a[1]} END {print v}'
    rcli DEL "$stream" >/dev/null
}

measure() { # label binary
    local label=$1 bin=$2 prefix
    prefix="benchw-$(date +%s%N)"
    start_dev "$prefix" "$bin"
    local port=$PORT token=$TOKEN base="http://127.0.0.1:$PORT/scim/v2"
    # Warm up (connections, caches, scripts loaded), with names of their own.
    { echo "run_id = \"warm-$prefix\"; token = \"$token\""; cat "$WORK/post.tmpl"; } >"$WORK/post.lua"
    wrk -t2 -c"$CONNECTIONS" -d2s -s "$WORK/post.lua" "$base/Users" >/dev/null 2>&1 || true
    { echo "run_id = \"$prefix\"; token = \"$token\""; cat "$WORK/post.tmpl"; } >"$WORK/post.lua"
    commandstats >"$WORK/cmd.before"
    local audit0 audit1
    audit0=$(audit_counts "$port")
    local rcpu0 pcpu0 rcpu1 pcpu1
    rcpu0=$(redis_cpu)
    pcpu0=$(proc_cpu "$DEV_PID")
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" "$base/Users" >"$WORK/wrk.txt" 2>&1
    rcpu1=$(redis_cpu)
    pcpu1=$(proc_cpu "$DEV_PID")
    commandstats >"$WORK/cmd.after"
    audit1=$(audit_counts "$port")
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    python3 - "$label" "$WORK" "$rcpu0" "$rcpu1" "$pcpu0" "$pcpu1" "$load" "$audit0" "$audit1" <<'PY'
import re, sys, pathlib
label, work, r0, r1, p0, p1, load = sys.argv[1], pathlib.Path(sys.argv[2]), *map(float, sys.argv[3:7]), sys.argv[7]
(b0, n0), (b1, n1) = (map(int, a.split()) if a.strip() else (0, 0) for a in sys.argv[8:10])
text = (work / "wrk.txt").read_text()
def lat(p):
    m = re.search(rf"^\s*{p}%\s+(\S+)", text, re.M)
    return m.group(1) if m else "?"
rps = float(re.search(r"Requests/sec:\s+(\S+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
def stats(name):
    out = {}
    for line in (work / name).read_text().splitlines():
        cmd, calls, usec = line.split()
        out[cmd] = (int(calls), int(usec))
    return out
before, after = stats("cmd.before"), stats("cmd.after")
delta = {c: (after[c][0] - before.get(c, (0, 0))[0], after[c][1] - before.get(c, (0, 0))[1]) for c in after}
busy = sorted(((c, n, u) for c, (n, u) in delta.items() if n > 0), key=lambda x: -x[2])[:8]
print(f"{label}: POST /Users, {total} in the run: {rps:.0f} creates/s, p50 {lat(50)}, p99 {lat(99)}, "
      f"non-2xx {non2xx.group(1) if non2xx else 0}; load average {load}")
print(f"  CPU per create: connector {1e6 * (p1 - p0) / total:.0f} µs, Redis {1e6 * (r1 - r0) / total:.0f} µs")
if b1 > b0:
    print(f"  audit service: {n1 - n0} events recorded in {b1 - b0} transactions, {(n1 - n0) / (b1 - b0):.1f} per transaction")
print("  Redis commands per create (calls, µs inside Redis), all clients of this Redis: " +
      ", ".join(f"{c} {n / total:.2f} ({u / total:.1f} µs)" for c, n, u in busy))
PY
    [ "$MONITOR_CREATES" -gt 0 ] && monitor_creates "$base" "$token" "$prefix"
    stop_dev
}

# Redis commands and round trips per create, by MONITOR over MONITOR_CREATES creates sent one at a
# time: what the connector's own connections sent (found by their ports; the commands its Lua
# scripts run are not theirs: see commandstats above), a MULTI...EXEC block counted as one round
# trip. Idle polls of the workers in that time count too.
monitor_creates() { # base token prefix
    local base=$1 token=$2 prefix=$3 mon
    # redis-cli itself in the background (not through rcli, a function: its subshell would be
    # stopped, not the client).
    redis-cli -h "$RHOST" -p "$RPORT" MONITOR >"$WORK/monitor-$prefix.txt" &
    mon=$!
    for i in $(seq 1 "$MONITOR_CREATES"); do
        local name="m-$prefix-$i"
        curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/scim+json" \
            -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"'"$name"'","displayName":"Bench User","emails":[{"value":"'"$name"'@example.com","primary":true}],"password":"Str0ng!Passw0rd-bench","active":true}' \
            "$base/Users"
    done
    kill "$mon" 2>/dev/null || true
    wait "$mon" 2>/dev/null || true
    ss -tnpH >"$WORK/sockets.txt"
    python3 - "$WORK" "$DEV_PID" "$RPORT" "$MONITOR_CREATES" "$WORK/monitor-$prefix.txt" <<'PY'
import collections, re, sys, pathlib
work, pid, rport, n = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
monitor = pathlib.Path(sys.argv[5])
ports = set()
for line in (work / "sockets.txt").read_text().splitlines():
    fields = line.split()
    if f"pid={pid}," in line and len(fields) >= 5:
        local, peer = fields[3], fields[4]
        if peer.rsplit(":", 1)[-1] == rport:
            ports.add(local.rsplit(":", 1)[-1])
commands, trips, in_multi = collections.Counter(), 0, {}
for line in monitor.read_text(errors="replace").splitlines():
    m = re.match(r'^[0-9.]+ \[\d+ [^\]]*:(\d+)\] "([^"]+)"', line)
    if not m or m.group(1) not in ports:
        continue
    port, cmd = m.group(1), m.group(2).upper()
    commands[cmd] += 1
    if cmd == "MULTI":
        in_multi[port] = True
        trips += 1
    elif cmd == "EXEC":
        in_multi[port] = False
    elif not in_multi.get(port):
        trips += 1
print(f"  by MONITOR over {n} creates one at a time: {trips / n:.1f} round trips to Redis per create; commands sent: " +
      ", ".join(f"{c} {k / n:.2f}" for c, k in commands.most_common()))
PY
}

echo "bench-writes: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), Redis at $RHOST:$RPORT"
echo "raw XADD (redis-benchmark, no pipelining): 16 clients $(raw_xadd 16)/s, 50 clients $(raw_xadd 50)/s"
for round in $(seq 1 "$ROUNDS"); do
    if [ -n "${BASELINE_BIN:-}" ]; then
        IFS=: read -ra baselines <<<"$BASELINE_BIN"
        for baseline in "${baselines[@]}"; do
            measure "round $round, $(basename "$baseline")" "$baseline"
        done
    fi
    measure "round $round, $(basename "$BIN")" "$BIN"
done
echo "raw XADD again: 16 clients $(raw_xadd 16)/s"
if [ -x "$QUEUE_BENCH" ]; then
    echo "queue alone (queue_bench, echo handler, 16 submitters, ${ADAPTER_WORKERS:-8} workers):"
    REDIS_URL="$REDIS_URL" "$QUEUE_BENCH" --jobs 30000 --submitters 16 --workers "${ADAPTER_WORKERS:-8}" | sed 's/^/  /'
fi
