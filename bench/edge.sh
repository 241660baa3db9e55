#!/usr/bin/env bash
# bench/edge: what one HTTP/2 client can make h2o 2.2.5 hold, and what a rapid-reset flood costs (issue 9, finding 4).
#
#   bench/edge.sh [--no-build]
#
# Builds the optimised binary (`make build`; --no-build uses the existing build/hermeslink), starts it on random
# loopback ports with a temporary HERMESLINK_HOME, then runs bench/h2_exposure.py (Debian's python3-h2) three times, each
# on a fresh daemon:
#   held 6 50   one h2c connection, 6 unauthenticated POSTs with 50 MiB of body each, never ended: first from loopback,
#               which the per-address caps exempt (what h2o alone would hold), then with loopback counted like a remote
#               address (test mode's HERMESLINK_TEST_LOOPBACK_COUNTS=1), where maxBodyMiBPerAddress (160 MiB) applies
#   reset 5     HEADERS + RST_STREAM as fast as the client goes, 5 s
# Each prints one JSON line: the daemon's RSS growth and unlinked temp-file bytes (at the end and at their peak), whether
# the server ended the connection, streams/s and daemon CPU, and GET /api/v1/system/status latencies timed meanwhile.
# Output in bench/out/edge-<stamp>/ (also bench/out/edge-latest.txt). About 40 s.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
BENCH_NAME=edge
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

build=1
[ "${1:-}" = --no-build ] && build=0
bench_build "$build"
/usr/bin/python3 -c 'import h2' 2>/dev/null || bench_die "python3-h2 missing (make deps installs it)"
bench_setup

run_scenario() {
    bench_start_daemon
    # shellcheck disable=SC2086 # the scenario's words are its arguments
    /usr/bin/python3 "$ROOT/bench/h2_exposure.py" "$pid" "$port" $1 | tee -a "$OUT/results.jsonl"
    stop_daemon
}
run_scenario "held 6 50"
HERMESLINK_TEST_MODE=1 HERMESLINK_TEST_LOOPBACK_COUNTS=1 run_scenario "held 6 50"
run_scenario "reset 5"
cp "$OUT/results.jsonl" "$ROOT/bench/out/edge-latest.txt"
