#!/usr/bin/env bash
# Builds every cargo-fuzz target of fuzz/ and runs each for a short fixed time from its seeds, so
# that a target that no longer compiles, or an input that crashes a parser, fails the test run.
#
#   scripts/fuzz-smoke.sh                 # each target for 60 s
#   FUZZ_SECONDS=10 scripts/fuzz-smoke.sh # shorter
#
# Each run starts from a temporary copy of fuzz/seeds/<target>, so the committed seeds are never
# modified; a crashing input is kept in fuzz/artifacts/<target>/ (replay: see docs/fuzzing.md).
# The long runs, with a corpus kept between them, are the commands of docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-60}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "error: fuzzing needs cargo-fuzz: cargo install --locked cargo-fuzz (or SKIP_FUZZ=1 scripts/test.sh)" >&2
    exit 1
fi
# cargo-fuzz uses nightly-only compiler flags (sanitizers, coverage instrumentation); a stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1, so CI needs no second toolchain.
export RUSTC_BOOTSTRAP=1

# fuzz/ is its own workspace: the main workspace's `cargo fmt --all` does not reach it.
cargo fmt --check
targets=$(cargo fuzz list)
cargo fuzz build

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for target in $targets; do
    case "$target" in
        filter) dict=dict/filter.dict ;;
        *) dict=dict/json.dict ;;
    esac
    cp -r "seeds/$target" "$corpus/$target"
    echo "fuzz: $target for ${seconds}s from $(find "$corpus/$target" -type f | wc -l) seeds"
    # A crash, a panic, a leak or a timeout exits non-zero: show the end of the log and stop.
    if ! cargo fuzz run "$target" "$corpus/$target" -- \
        -dict="$dict" -max_total_time="$seconds" -print_final_stats=1 >"$corpus/$target.log" 2>&1; then
        tail -n 60 "$corpus/$target.log" >&2
        echo "error: fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' \
        "$corpus/$target.log" || true
done
echo "fuzz: every target ran ${seconds}s without a crash"
