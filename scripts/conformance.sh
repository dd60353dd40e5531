#!/usr/bin/env bash
# SCIM conformance: runs scim2-tester (the `scim2 test` command of the scim2-cli package) against
# `scim-connector dev` started on free ports with a fresh data directory, and fails on any failed check.
#
#   scripts/conformance.sh
#
# scim2-cli is installed in a virtualenv (target/conformance-venv, or $SCIM2_VENV) when missing.
# CONFORMANCE_STACK=example runs the gateway crate's `stack` example (gateway, adapter, emulator in
# one process) instead of `scim-connector dev`.
# The pinned version is the one the results in docs/conformance.md were recorded with.
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

STACK="${CONFORMANCE_STACK:-dev}"

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

if [ "$STACK" = example ]; then
    echo "conformance: building the gateway's stack example"
    cargo build --locked --quiet -p scim-gateway --example stack
    target/debug/examples/stack --port "$GATEWAY_PORT" --token-file "$DATA_DIR/dev-token" >"$LOG" 2>&1 &
    DEV_PID=$!
else
    echo "conformance: building scim-connector"
    cargo build --locked --quiet -p connector --bin scim-connector
    # In-process queue and SQLite state in the data directory: the conformance run needs no Redis.
    env -u REDIS_URL SCIMC_LOG_FORMAT=json SCIMC_ADAPTER_HTTP_LISTEN="127.0.0.1:$(free_port)" \
        target/debug/scim-connector --data-dir "$DATA_DIR" dev \
        --gateway-listen "127.0.0.1:$GATEWAY_PORT" \
        --adapter-listen "127.0.0.1:$(free_port)" \
        --audit-listen "127.0.0.1:$(free_port)" \
        --sim-listen "127.0.0.1:$(free_port)" \
        --seed demo >"$LOG" 2>&1 &
    DEV_PID=$!
fi

BASE="http://127.0.0.1:$GATEWAY_PORT"
for _ in $(seq 1 240); do
    if ! kill -0 "$DEV_PID" 2>/dev/null; then
        echo "conformance: scim-connector dev exited; its log:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if [ -s "$DATA_DIR/dev-token" ] && curl -fsS "$BASE/readyz" >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null || { echo "conformance: the stack never became ready" >&2; cat "$LOG" >&2; exit 1; }

# The token goes through the environment, not the command line (other users can read that).
SCIM_CLI_HEADERS="Authorization: Bearer $(cat "$DATA_DIR/dev-token")"
export SCIM_CLI_HEADERS
echo "conformance: scim2-tester $("$VENV/bin/pip" show scim2-tester | sed -n 's/^Version: //p') against $BASE/scim/v2"
OUT="$DATA_DIR/scim2-test.txt"
set +e
"$VENV/bin/scim2" --url "$BASE/scim/v2" test --check-status-code --check-content-type >"$OUT" 2>&1
STATUS=$?
set -e
cat "$OUT"; cp "$OUT" "${CONFORMANCE_OUT:-/dev/null}" 2>/dev/null || true
# Every check line starts with its status; anything but SUCCESS (or a documented SKIPPED) fails.
FAILED=$(grep -Ec '^(ERROR|CRITICAL)' "$OUT" || true)
PASSED=$(grep -Ec '^SUCCESS' "$OUT" || true)
SKIPPED=$(grep -Ec '^SKIPPED' "$OUT" || true)
echo "conformance: $PASSED passed, $FAILED failed, $SKIPPED skipped"
if [ "$STATUS" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "$PASSED" -eq 0 ]; then
    echo "conformance: FAILED (exit status $STATUS)" >&2
    exit 1
fi
