#!/usr/bin/env bash
# SCIM conformance: runs scim2-tester (the `scim2 test` command of the scim2-cli package) against
# `scim-connector dev` started on free ports with a fresh data directory, and fails on any check that
# is not a SUCCESS. Prints a summary by status.
#
#   scripts/conformance.sh
#
# scim2-cli is installed in a virtualenv (target/conformance-venv, or $SCIM2_VENV) when missing.
# The pinned version is the one the results in docs/conformance.md were recorded with.
#
# scim2-tester fills every writable attribute with random values, which some resource types cannot
# take by their nature (a permission names one principal; secrets are read-only through the
# connector). So the run uses a dedicated connection, created through the admin API with the dev
# admin token: User, Group and Container with every operation, the other three types out of scope
# (invisible in discovery, so scim2-tester does not exercise them), and user-name policy
# keepSecretServerName (scim2-tester replaces userName; Secret Server cannot rename), and a rate limit
# of 1000 requests per second (scim2-tester sends its checks as fast as it can, beyond the default
# 50 per second a connection gets; the limiter has tests of its own). The dev connection itself is
# left as it is. docs/conformance.md says which tests cover the other types.
set -euo pipefail
cd "$(dirname "$0")/.."

SCIM2_CLI_VERSION="${SCIM2_CLI_VERSION:-0.6.0}"
VENV="${SCIM2_VENV:-target/conformance-venv}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

INSTALLED=$("$VENV/bin/pip" show scim2-cli 2>/dev/null | sed -n 's/^Version: //p' || true)
if [ ! -x "$VENV/bin/scim2" ] || [ "$INSTALLED" != "$SCIM2_CLI_VERSION" ]; then
    echo "conformance: installing scim2-cli $SCIM2_CLI_VERSION in $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "scim2-cli==$SCIM2_CLI_VERSION"
fi

DATA_DIR=$(mktemp -d)
GATEWAY_PORT=$(free_port)
LOG="$DATA_DIR/dev.log"
cleanup() {
    if [ -n "${DEV_PID:-}" ]; then
        kill "$DEV_PID" 2>/dev/null || true
        wait "$DEV_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

# SCIM_CONNECTOR_BIN: a binary already built (scripts/test.sh passes the one its test build made).
CONNECTOR="${SCIM_CONNECTOR_BIN:-}"
if [ -z "$CONNECTOR" ]; then
    echo "conformance: building scim-connector"
    cargo build --locked --quiet -p connector --bin scim-connector
    CONNECTOR="${CARGO_TARGET_DIR:-target}/debug/scim-connector"
fi
# In-process queue and SQLite state in the data directory: the conformance run needs no Redis.
env -u REDIS_URL SCIMC_LOG_FORMAT=json SCIMC_ADAPTER_HTTP_LISTEN="127.0.0.1:$(free_port)" \
    "$CONNECTOR" --data-dir "$DATA_DIR" dev \
    --gateway-listen "127.0.0.1:$GATEWAY_PORT" \
    --adapter-listen "127.0.0.1:$(free_port)" \
    --audit-listen "127.0.0.1:$(free_port)" \
    --sim-listen "127.0.0.1:$(free_port)" \
    --seed demo >"$LOG" 2>&1 &
DEV_PID=$!

BASE="http://127.0.0.1:$GATEWAY_PORT"
for _ in $(seq 1 240); do
    if ! kill -0 "$DEV_PID" 2>/dev/null; then
        echo "conformance: scim-connector dev exited; its log:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if [ -s "$DATA_DIR/admin-token" ] && curl -fsS "$BASE/readyz" >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null || { echo "conformance: the stack never became ready" >&2; cat "$LOG" >&2; exit 1; }

# The dedicated connection, through the admin API (the admin token is read from the data directory).
# Its first bearer token is in the answer, shown once; it never goes on a command line.
CREATED="$DATA_DIR/conformance-connection.json"
env -u SCIMC_ADMIN_TOKEN "$CONNECTOR" --data-dir "$DATA_DIR" admin --url "$BASE" create conformance \
    --secret-server primary --display-name "scim2-tester conformance run" \
    --resource-type User --resource-type Group --resource-type Container \
    --user-name-change keep-secret-server-name --rate 1000 --burst 1000 >"$CREATED"
TOKEN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"]["token"])' "$CREATED")
python3 - "$CREATED" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["connection"]
types = ", ".join(f"{name} ({', '.join(op for op, on in ops.items() if on)})" for name, ops in c["scope"]["resourceTypes"].items())
print(f"conformance: connection {c['id']}: {types}; userNameChange {c['policies']['userNameChange']}")
PY

# The token goes through the environment, not the command line (other users can read that).
SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN"
export SCIM_CLI_HEADERS
echo "conformance: scim2-tester $("$VENV/bin/pip" show scim2-tester | sed -n 's/^Version: //p') against $BASE/scim/v2"
OUT="$DATA_DIR/scim2-test.txt"
set +e
"$VENV/bin/scim2" --url "$BASE/scim/v2" test --check-status-code --check-content-type >"$OUT" 2>&1
STATUS=$?
set -e
cat "$OUT"; cp "$OUT" "${CONFORMANCE_OUT:-/dev/null}" 2>/dev/null || true
# Every check line starts with its status; anything but SUCCESS fails (scim2 exits non-zero then too).
STATUSES='SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED'
TOTAL=$(grep -Ec "^($STATUSES) " "$OUT" || true)
PASSED=$(grep -Ec '^SUCCESS ' "$OUT" || true)
FAILED=$((TOTAL - PASSED))
SUMMARY=$(grep -Eo "^($STATUSES) " "$OUT" | sort | uniq -c | awk '{printf "%s%s %s", sep, $2, $1; sep=", "}')
echo "conformance: $PASSED of $TOTAL checks passed, $FAILED did not (${SUMMARY:-no check ran})"
if [ "$STATUS" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "$PASSED" -eq 0 ]; then
    echo "conformance: FAILED (scim2 exit status $STATUS)" >&2
    exit 1
fi
echo "conformance: every check passed"
