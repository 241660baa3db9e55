#!/usr/bin/env bash
# Runs the integration suites in JOBS processes of build-test/tests/integration_tests (default 2) that share the suites
# through a queue file: each takes the next suite nobody has taken yet, so the slow ones do not line up behind each other.
# Each process's output is printed whole when all have ended, followed by the per-suite times, slowest first. Exits
# non-zero when any process failed. Usage: scripts/run-integration.sh [JOBS]
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-${HLT_JOBS:-2}}
bin=./build-test/tests/integration_tests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 0 >"$work/queue"
pids=()
for ((i = 0; i < jobs; i++)); do
    HLT_SUITE_QUEUE="$work/queue" "$bin" >"$work/out.$i" 2>&1 &
    pids+=($!)
done
status=0
for ((i = 0; i < jobs; i++)); do
    rc=0
    wait "${pids[$i]}" || rc=$?
    echo "=== integration process $((i + 1)) of $jobs (exit $rc)"
    cat "$work/out.$i"
    [ $rc -eq 0 ] || status=1
done
echo "=== suite times (slowest first)"
grep -h '^--- suite ' "$work"/out.* | sort -t" " -k6 -gr
exit $status
