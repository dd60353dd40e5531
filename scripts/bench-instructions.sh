#!/usr/bin/env bash
# Instructions per create (see docs/benchmarks.md, "Writes through Redis", "Instructions per create").
#
#   scripts/bench-instructions.sh [CREATES] [BINARY...]      # defaults: 100 creates, target/release/scim-connector
#
# The deployed write path as scripts/bench-writes.sh runs it (`scim-connector dev` with REDIS_URL), but
# under `valgrind --tool=callgrind` and with one create at a time: after a warm-up, the counters are
# zeroed, CREATES `POST /scim/v2/Users` are sent one after the other, and the instructions the process
# retired in user space meanwhile are divided by CREATES. Unlike CPU time on a shared machine, the
# count repeats within about 1.5 %, so a change of a few per cent shows; what it leaves out: the
# kernel's work (sockets, wake-ups), Redis's, and batching under concurrency (one create at a time).
# Valgrind offers no SHA extensions, so hashing (the audit chain) runs sha2's portable code and
# counts several times what it costs natively. Each BINARY is measured in turn, ROUNDS times
# (environment, default 1); ADAPTER_WORKERS as in bench-writes.sh. REDIS_URL (default
# redis://127.0.0.1:6379); keys go under a fresh prefix, deleted at the end. Needs valgrind
# (callgrind_control), curl, python3, redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."

CREATES="${1:-100}"
shift || true
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("${CARGO_TARGET_DIR:-target}/release/scim-connector")
ROUNDS="${ROUNDS:-1}"

for tool in valgrind callgrind_control curl python3 redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench-instructions: $tool is required" >&2; exit 1; }
done
for bin in "${BINS[@]}"; do
    [ -x "$bin" ] || { echo "bench-instructions: no connector binary at $bin (build it first)" >&2; exit 1; }
done

NAME=bench-instructions
# shellcheck source=lib/dev-on-redis.sh
. scripts/lib/dev-on-redis.sh

measure() { # binary
    local bin=$1 prefix out
    prefix="benchi-$(date +%s%N)"
    out="$WORK/callgrind-$prefix.out"
    start_dev "$prefix" "$bin" valgrind --tool=callgrind --callgrind-out-file="$out"
    python3 - "$PORT" "$TOKEN" "$prefix" "$CREATES" "$DEV_PID" <<'PY'
import http.client, json, subprocess, sys, time
port, token, prefix, creates, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
def create(name):
    body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
        "displayName": "Bench User", "emails": [{"value": name + "@example.com", "primary": True}],
        "password": "Str0ng!Passw0rd-bench", "active": True})
    conn.request("POST", "/scim/v2/Users", body,
                 {"Content-Type": "application/scim+json", "Authorization": "Bearer " + token})
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        sys.exit(f"bench-instructions: a create answered {response.status}")
# Warm-up: connections, caches, scripts loaded; then a pause for the audit service to catch up.
for i in range(20):
    create(f"{prefix}-warm-{i}")
time.sleep(2)
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
for i in range(creates):
    create(f"{prefix}-{i}")
# The audit service records the last events a moment after their creates answered.
time.sleep(2)
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
PY
    stop_dev
    local dump instructions
    dump=$(ls "$out".* | head -1)
    instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    python3 -c "import sys; print(f'{sys.argv[1]}: {int(sys.argv[2]) / int(sys.argv[3]) / 1e6:.3f} M instructions per create ({sys.argv[3]} creates, one at a time)')" \
        "$bin" "$instructions" "$CREATES"
}

echo "bench-instructions: $(valgrind --version), Redis at $RHOST:$RPORT"
for round in $(seq 1 "$ROUNDS"); do
    for bin in "${BINS[@]}"; do
        printf 'round %s, ' "$round"
        measure "$bin"
    done
done
