#!/usr/bin/env bash
# Runs every test binary built by `make test-build` (ASan + UBSan) and `make tsan-build` (TSan), and fails if any
# fails or reports a sanitizer error. Called by `make test`. Its last line is "N passed, N failed, N skipped" (suites);
# exits non-zero when any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# Check kills a test after 4 s by default; a loaded 2-core machine can exceed that without anything being wrong
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}

# A suite run with --may-skip that exits 77 (the automake convention) was skipped: reported as such, never as passed.
# Under CI=true a skip counts as a failure. The summary counts suites.
SKIP_CODE=77
passed=()
failed=()
skipped=()
run() {
    local may_skip=0
    if [ "$1" = --may-skip ]; then
        may_skip=1
        shift
    fi
    local name=$1
    shift
    echo "=== $name"
    local start=$SECONDS rc=0
    "$@" || rc=$?
    if [ $rc -eq 0 ]; then
        echo "--- $name passed in $((SECONDS - start)) s"
        passed+=("$name")
    elif [ $may_skip -eq 1 ] && [ $rc -eq $SKIP_CODE ] && [ "${CI:-}" != true ]; then
        echo "--- $name SKIPPED after $((SECONDS - start)) s"
        skipped+=("$name")
    else
        echo "--- $name FAILED (exit $rc) after $((SECONDS - start)) s"
        failed+=("$name")
    fi
}

run "layers (includes point down)" bash -c './scripts/check-layers.sh --self-test && ./scripts/check-layers.sh'
run "unit (ASan+UBSan)" ./build-test/tests/unit_tests
run "concurrency (ASan+UBSan)" ./build-test/tests/unit_concurrency
run "concurrency (TSan)" ./build-tsan/tests/unit_concurrency
if [ -x ./build-test/tests/integration_tests ]; then
    # two processes share the suites (most of their time is spent waiting on daemons, timers and child processes)
    run "integration (ASan+UBSan daemon)" ./scripts/run-integration.sh 2
fi
# the actor, store, SSE and run-proxy suites again, against a ThreadSanitizer daemon (`make tsan` runs them all)
run "integration (TSan daemon: actor, store, SSE, run proxy)" ./scripts/run-tsan-integration.sh
run --may-skip "browser (pair page, docs page, web client)" ./tests/browser/run.sh
# every fuzz target once over its checked-in corpus (no fuzzing; make fuzz-build built them): a fixed bug stays fixed
run --may-skip "fuzz corpora (replay)" ./scripts/fuzz.sh --replay --no-build

if [ ${#skipped[@]} -gt 0 ]; then
    echo "SKIPPED: ${skipped[*]}"
fi
status=0
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    status=1
elif [ ${#skipped[@]} -gt 0 ]; then
    echo "All tests that ran passed; ${#skipped[@]} skipped."
else
    echo "All tests passed."
fi
echo "${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
exit $status
