#!/usr/bin/env bash
# The project's one test command: formatting, lints, every test of the workspace (including the
# integration tests against a real Redis and the Secret Server emulator), a short run of every fuzz
# target, and the SCIM conformance check.
#
#   scripts/test.sh            # everything
#   SKIP_CONFORMANCE=1 scripts/test.sh   # without the scim2-tester run
#   SKIP_FUZZ=1 scripts/test.sh          # without the fuzz targets' short runs (FUZZ_SECONDS: 60 each)
#   SKIP_TSS_SDK=1 scripts/test.sh       # without the python-tss-sdk run against the emulator
#   SKIP_CHAOS=1 scripts/test.sh         # without the chaos harness's short runs (about 2 minutes)
#
# When REDIS_URL is unset, a throwaway redis-server (from PATH) is started on a free port for the run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# One build, from scratch: incremental compilation only adds to the disk it needs (gigabytes).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Where cargo builds (CARGO_TARGET_DIR, build.target-dir), as cargo itself says.
target_dir=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
# What the run occupies, after each build: a CI machine's disk may be small.
disk() { printf 'disk: %s in %s; %s free\n' "$(du -sh "$target_dir" 2>/dev/null | cut -f1)" "$target_dir" \
    "$(df -h . | awk 'NR==2 {print $4}')"; }

cleanup() {
    if [ -n "${REDIS_PID:-}" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
    if [ -n "${REDIS_DIR:-}" ]; then rm -rf "$REDIS_DIR"; fi
}
trap cleanup EXIT

if [ -z "${REDIS_URL:-}" ]; then
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "error: the tests need Redis: install redis-server or set REDIS_URL" >&2
        exit 1
    fi
    REDIS_DIR=$(mktemp -d)
    REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' --appendonly no \
        --daemonize no >"$REDIS_DIR/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then break; fi
        sleep 0.1
    done
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    echo "test: started redis-server on $REDIS_URL"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
disk

step "cargo test"
if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
    # nextest does not run doctests
    cargo test --workspace --locked --doc
else
    cargo test --workspace --locked --no-fail-fast
fi
disk

# The test build made both binaries the later steps run (the connector and the chaos harness have
# integration tests, so cargo builds their binaries with the tests' features, which only add
# modules): using them saves a second build of every dependency.
export SCIM_CONNECTOR_BIN="$target_dir/debug/scim-connector"
chaos_bin="$target_dir/debug/chaos"
for bin in "$SCIM_CONNECTOR_BIN" "$chaos_bin"; do
    if [ ! -x "$bin" ]; then
        echo "error: the test build did not make $bin (a build.target set in the cargo configuration?)" >&2
        exit 1
    fi
done

if [ -z "${SKIP_CHAOS:-}" ]; then
    # Every role in its own process on a Redis of its own (needs redis-server on PATH): faults and
    # crashes, then a rolling restart of the adapters; see crates/chaos and README "Operations".
    step "chaos harness, short form: faults and crashes, then a rolling restart of the adapters"
    "$chaos_bin" --short --scenario chaos --binary "$SCIM_CONNECTOR_BIN"
    "$chaos_bin" --short --scenario rolling --binary "$SCIM_CONNECTOR_BIN"
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
    step "fuzz targets: build, and run each from its seeds (${FUZZ_SECONDS:-60}s)"
    scripts/fuzz-smoke.sh
    disk
fi

step "deployment files (docker-compose, kustomize, Kubernetes schemas)"
scripts/validate-deploy.sh

if [ -z "${SKIP_CONFORMANCE:-}" ] && [ -x scripts/conformance.sh ]; then
    step "SCIM conformance (scim2-tester)"
    scripts/conformance.sh
fi

if [ -z "${SKIP_TSS_SDK:-}" ]; then
    step "Delinea's Python SDK (python-tss-sdk) against the emulator"
    scripts/tss-sdk.sh
fi

step "all checks passed"
