#!/usr/bin/env bash
# Runs every test binary built by `make test-build` (ASan + UBSan) and `make tsan-build` (TSan), and fails if any
# fails or reports a sanitizer error. Called by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# Check kills a test after 4 s by default; a loaded 2-core machine can exceed that without anything being wrong
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}

failed=()
run() {
    local name=$1
    shift
    echo "=== $name"
    local start=$SECONDS
    if "$@"; then
        echo "--- $name passed in $((SECONDS - start)) s"
    else
        echo "--- $name FAILED (exit $?) after $((SECONDS - start)) s"
        failed+=("$name")
    fi
}

run "unit (ASan+UBSan)" ./build-test/tests/unit_tests
run "concurrency (ASan+UBSan)" ./build-test/tests/unit_concurrency
run "concurrency (TSan)" ./build-tsan/tests/unit_concurrency
if [ -x ./build-test/tests/integration_tests ]; then
    run "integration (ASan+UBSan daemon)" ./build-test/tests/integration_tests
fi
run "browser (pair page)" ./tests/browser/run.sh

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "All tests passed."
