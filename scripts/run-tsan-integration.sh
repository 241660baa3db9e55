#!/usr/bin/env bash
# The integration suites of the actor runtime, the store, the SSE fan-out and the run proxy against a daemon built with
# ThreadSanitizer (build-tsan, `make tsan-build`): the threads they exercise (h2o workers, actors, db writers and
# readers, the curl multi thread, the control socket) race only where TSan can see it. One process, suites in turn;
# a TSan report in the daemon's stderr fails its suite (the harness treats any sanitizer report as a failure).
# tests/tsan.supp mutes only reports raised inside the uninstrumented liburcu libraries.
# Usage: scripts/run-tsan-integration.sh [SUITE...]   (default: the list below)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=./build-tsan/tests/integration_tests
[ -x "$bin" ] || { echo "tsan: $bin not built (make tsan-build)" >&2; exit 1; }
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
# TSan's shadow memory multiplies the daemon's RSS: memory bounds are the ASan run's business
export HLT_TSAN=1
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(actor conversations messages blobs stream_auth sse agent_runs)
status=0
for s in "${suites[@]}"; do
    start=$SECONDS
    if CK_RUN_SUITE=$s "$bin"; then
        echo "--- tsan suite $s: passed in $((SECONDS - start)) s"
    else
        echo "--- tsan suite $s: FAILED after $((SECONDS - start)) s"
        status=1
    fi
done
exit $status
