#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, -DHL_FUZZ=ON, in build-fuzz/) and runs them (issue 14).
#
#   scripts/fuzz.sh [--seconds N] [target...]   fuzz each target (default: all, in turn) for N seconds (default
#                                              $FUZZ_SECONDS, else 600); prints per target the executions, the coverage
#                                              (cov: edges, ft: features) and any crash, leak or timeout file
#   scripts/fuzz.sh --replay [target...]       run every target once over its checked-in corpus (fuzz/corpus/<name>/),
#                                              no fuzzing: what `make test` runs, so a fixed bug that comes back fails
#   scripts/fuzz.sh --build-only               build the targets and stop
#   --no-build                                 use build-fuzz/ as it is (make test builds it beforehand)
#
# New inputs found while fuzzing go to build-fuzz/corpus/<name>/ (the checked-in corpus is only read); crash inputs to
# build-fuzz/artifacts/<name>/: add one to fuzz/corpus/<name>/ with the fix, so the replay keeps it fixed.
# clang and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev; scripts/deps.sh installs them) are required: when they
# are missing this exits 77 (the skip code of scripts/run-tests.sh), or 1 with CI=true, where nothing may be skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=$root/build-fuzz
JOBS=${JOBS:-2}

mode=fuzz
do_build=1
seconds=${FUZZ_SECONDS:-600}
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --replay) mode=replay ;;
    --build-only) mode=build ;;
    --no-build) do_build=0 ;;
    --seconds)
        seconds=$2
        shift
        ;;
    -h | --help)
        sed -n '2,16p' "$0"
        exit 0
        ;;
    -*)
        echo "usage: $0 [--replay | --build-only] [--no-build] [--seconds N] [target...]" >&2
        exit 2
        ;;
    *) targets+=("$1") ;;
    esac
    shift
done

SKIP_CODE=77
# clang with libFuzzer's runtime for this machine's architecture
have_libfuzzer() {
    command -v clang >/dev/null 2>&1 || return 1
    local dir
    dir=$(clang --print-runtime-dir 2>/dev/null) || return 1
    [ -f "$dir/libclang_rt.fuzzer-$(uname -m).a" ]
}
if ! have_libfuzzer; then
    msg="clang with libFuzzer (Debian: clang libclang-rt-14-dev, installed by scripts/deps.sh) is not installed"
    if [ "${CI:-}" = true ]; then
        echo "fuzz: FAIL: $msg (CI=true)" >&2
        exit 1
    fi
    echo "SKIP: fuzz: $msg"
    exit $SKIP_CODE
fi

if [ $do_build -eq 1 ]; then
    CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHL_FUZZ=ON -DHL_BUILD_TESTS=OFF >/dev/null || exit 1
    cmake --build "$build" -j "$JOBS" --target fuzz_all >/dev/null || {
        echo "fuzz: build failed (cmake --build $build --target fuzz_all)" >&2
        exit 1
    }
fi
[ "$mode" = build ] && exit 0

if [ ${#targets[@]} -eq 0 ]; then
    for src in fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        targets+=("${name#fuzz_}")
    done
fi

# the longest input each target is given while fuzzing (its inputs' natural size: a path, a header, a file)
max_len_of() {
    case $1 in
    router | headers | filename) echo 512 ;;
    log_lines) echo 2048 ;;
    query) echo 1024 ;;
    node_import) echo 16384 ;;
    *) echo 8192 ;;
    esac
}

# libFuzzer's options of a target beyond the common ones. routes: the daemon's threads allocate and free across inputs,
# so nearly every input would be run a second time for a whole-heap leak scan (a third of the speed); its leaks are
# found by LeakSanitizer when the process exits instead (the daemon is stopped first), in replays and fuzzing alike.
extra_flags_of() {
    case $1 in
    routes) echo -detect_leaks=0 ;;
    esac
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
for t in "${targets[@]}"; do
    bin=$build/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is not built (run: $0 --build-only)" >&2
        failed+=("$t")
        continue
    fi
    corpus=$root/fuzz/corpus/$t
    dict=()
    [ -f "$root/fuzz/dict/$t.dict" ] && dict=("-dict=$root/fuzz/dict/$t.dict")
    if [ "$mode" = replay ]; then
        # every checked-in input once, no mutation: libFuzzer runs the files it is given and exits
        mapfile -t files < <(find "$corpus" -type f 2>/dev/null | sort)
        if [ ${#files[@]} -eq 0 ]; then
            echo "fuzz: $t: no corpus in fuzz/corpus/$t" >&2
            failed+=("$t")
            continue
        fi
        log=$(mktemp)
        # shellcheck disable=SC2046 # the options are single words
        if "$bin" $(extra_flags_of "$t") "${files[@]}" >"$log" 2>&1; then
            echo "replay $t: ${#files[@]} inputs, no failure"
        else
            echo "replay $t: FAILED"
            tail -40 "$log"
            failed+=("$t")
        fi
        rm -f "$log"
        continue
    fi
    work=$build/corpus/$t
    artifacts=$build/artifacts/$t
    mkdir -p "$work" "$artifacts"
    log=$build/fuzz-$t.log
    stamp=$build/.fuzz-$t.start
    touch "$stamp"
    start=$SECONDS
    # shellcheck disable=SC2046 # the options are single words
    "$bin" -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        $(extra_flags_of "$t") "${dict[@]}" -artifact_prefix="$artifacts/" "$work" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    crashes=$(find "$artifacts" -type f -newer "$stamp" 2>/dev/null | tr '\n' ' ')
    echo "fuzz $t: $((SECONDS - start)) s, ${execs:-?} executions, ${stats:-cov: ? ft: ?}, exit $rc${crashes:+, artifacts: $crashes} (log: $log)"
    if [ $rc -ne 0 ] || [ -n "$crashes" ]; then
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
exit 0
