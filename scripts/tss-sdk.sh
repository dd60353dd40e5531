#!/usr/bin/env bash
# Delinea's own Python SDK (python-tss-sdk from PyPI) against the Secret Server emulator, as an
# outside client: scripts/tss-sdk.py signs in with the password grant, a pre-issued API token and
# the emulated Delinea Platform's client credentials, and reads folders and secrets.
#
#   scripts/tss-sdk.sh
#
# The SDK is installed in a virtualenv (target/tss-sdk-venv, or $TSS_SDK_VENV) when missing. The
# emulator runs with the health check in PascalCase (sim.health_check_casing = pascal): the SDK
# tells a Secret Server by `Healthy` in /api/v1/healthcheck, where the published document writes
# `healthy` (see docs/secret-server-assumptions.md).
set -euo pipefail
cd "$(dirname "$0")/.."

TSS_SDK_VERSION="${TSS_SDK_VERSION:-2.0.1}"
VENV="${TSS_SDK_VENV:-target/tss-sdk-venv}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }

INSTALLED=$("$VENV/bin/pip" show python-tss-sdk 2>/dev/null | sed -n 's/^Version: //p' || true)
if [ ! -x "$VENV/bin/python" ] || [ "$INSTALLED" != "$TSS_SDK_VERSION" ]; then
    echo "tss-sdk: installing python-tss-sdk $TSS_SDK_VERSION in $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "python-tss-sdk==$TSS_SDK_VERSION"
fi

DATA_DIR=$(mktemp -d)
PORT=$(free_port)
LOG="$DATA_DIR/sim.log"
cleanup() {
    if [ -n "${SIM_PID:-}" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

# SCIM_CONNECTOR_BIN: a binary already built (scripts/test.sh passes the one its test build made).
CONNECTOR="${SCIM_CONNECTOR_BIN:-}"
if [ -z "$CONNECTOR" ]; then
    echo "tss-sdk: building scim-connector"
    cargo build --locked --quiet -p connector --bin scim-connector
    CONNECTOR="${CARGO_TARGET_DIR:-target}/debug/scim-connector"
fi

export TSS_USERNAME=scim-api TSS_PASSWORD="Sdk-$(random_secret)" TSS_API_TOKEN="$(random_secret)"
export TSS_CLIENT_ID=scim-connector TSS_CLIENT_SECRET="$(random_secret)"
env SCIMC_SIM_API_PASSWORD="$TSS_PASSWORD" SCIMC_SIM_API_TOKEN="$TSS_API_TOKEN" \
    SCIMC_SIM_PLATFORM_CLIENT_SECRET="$TSS_CLIENT_SECRET" SCIMC_LOG_FORMAT=json \
    "$CONNECTOR" --data-dir "$DATA_DIR" sim --sim-listen "127.0.0.1:$PORT" --seed demo \
    --api-username "$TSS_USERNAME" --sim-platform-client-id "$TSS_CLIENT_ID" \
    --sim-health-check-casing pascal >"$LOG" 2>&1 &
SIM_PID=$!

export TSS_BASE_URL="http://127.0.0.1:$PORT/SecretServer" TSS_PLATFORM_URL="http://127.0.0.1:$PORT/platform"
for _ in $(seq 1 240); do
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
        echo "tss-sdk: the emulator exited; its log:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if curl -fsS "$TSS_BASE_URL/api/v1/healthcheck" >/dev/null 2>&1; then
        break
    fi
    sleep 0.25
done

"$VENV/bin/python" scripts/tss-sdk.py
