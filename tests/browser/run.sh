#!/usr/bin/env bash
# End-to-end test of the pairing page (GET /pair), then of the API reference page (GET /api/docs, docs_page.test.js,
# offline), then of the web client (GET /app, every app_*.test.js), in real headless Chromium (Debian's /usr/bin/chromium
# driven by playwright-core), with the QR codes decoded by zbarimg. Starts the fake upstream (build-test/tests/fake-hermes,
# which the default profile's .env points at) and its own ASan+UBSan daemon on an ephemeral loopback port with a
# throw-away HERMESLINK_HOME, runs the tests against it, then stops that daemon and the fake (SIGTERM to their PIDs only)
# and removes the temp dir, whatever happens. Exits 0 when every check passed, 1 on any failure. When a tool it
# needs (chromium, zbarimg, node, npm's playwright-core) is missing and `./scripts/deps.sh --browser` cannot install it:
# with CI=true that is a failure (exit 1); otherwise it prints "SKIP: ..." and exits 77 (the skip code
# scripts/run-tests.sh reports as skipped, never as passed).
#   HL_BIN=path/to/hermeslink   the binary to test (default build-test/hermeslink, built by `make test-build`)
#   HL_FAKE_BIN=path            the fake upstream (default build-test/tests/fake-hermes)
#   HL_BROWSER_KEEP=1            keep the temp dir (daemon logs, browser profiles) for a look afterwards; the screenshots
#                                are always copied to build-test/browser-screenshots/
#   HL_BROWSER_ONLY=word         run only the test files whose name contains word (e.g. app_devices), for work on one
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

bin=${HL_BIN:-$root/build-test/hermeslink}
chromium_bin=${HL_CHROMIUM:-/usr/bin/chromium}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}

fail() {
    echo "browser: FAIL: $*" >&2
    exit 1
}

SKIP_CODE=77
missing_tools() {
    missing=()
    [ -x "$chromium_bin" ] || missing+=("chromium ($chromium_bin)")
    command -v zbarimg >/dev/null 2>&1 || missing+=("zbarimg (zbar-tools)")
    if ! command -v node >/dev/null 2>&1; then
        missing+=("node (nodejs)")
    elif [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
        missing+=("node >= 20 (playwright-core; found $(node --version 2>/dev/null))")
    fi
    [ -d "$here/node_modules/playwright-core" ] || missing+=("playwright-core (npm ci in tests/browser)")
    [ ${#missing[@]} -gt 0 ]
}
if missing_tools; then
    echo "browser: missing: ${missing[*]}; trying ./scripts/deps.sh --browser" >&2
    ./scripts/deps.sh --browser >&2 || true
    if missing_tools; then
        # CI must run every test: a tool missing there is a failure, never a pass or a skip
        [ "${CI:-}" = true ] && fail "${missing[*]} not installed and ./scripts/deps.sh --browser could not install it (CI=true)"
        echo "SKIP: browser test: ${missing[*]} not installed and ./scripts/deps.sh --browser could not install it"
        exit $SKIP_CODE
    fi
fi
[ -x "$bin" ] || fail "$bin not built (run: make test-build)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hl-browser.XXXXXX") || fail "mktemp"
daemon_pid=
fake_pid=
cleanup() {
    local rc=$?
    if [ -n "$fake_pid" ] && kill -0 "$fake_pid" 2>/dev/null; then
        kill -TERM "$fake_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$fake_pid" 2>/dev/null && kill -KILL "$fake_pid" 2>/dev/null
    fi
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$daemon_pid" 2>/dev/null && kill -KILL "$daemon_pid" 2>/dev/null
    fi
    # Chromium processes of this run's profile left behind if node was killed (found by our own temp path).
    local p
    for p in $(grep -l -a -F -- "$tmp/chromium-profile" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        kill -KILL "$p" 2>/dev/null
    done
    # `hermeslink pair` starts a daemon itself when ours is gone, and a test may run a daemon of its own in a home of its
    # own (home-<name>, e.g. app_restart.test.js): stop any such stray one of these homes too.
    local stray pidfile
    for pidfile in "$tmp"/home/hermeslink.pid "$tmp"/home-*/hermeslink.pid; do
        stray=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$stray" ] && [ "$stray" != "$daemon_pid" ] && kill -0 "$stray" 2>/dev/null; then
            echo "browser: stopping a stray daemon of $(dirname "$pidfile") (pid $stray)" >&2
            kill -TERM "$stray" 2>/dev/null
        fi
    done
    # the screenshots of the main screens (phone and desktop) are the run's artefacts: kept next to the build
    local shots=$root/build-test/browser-screenshots
    if ls "$tmp"/*.png >/dev/null 2>&1; then
        rm -rf "$shots" && mkdir -p "$shots" && cp "$tmp"/*.png "$shots"/ && echo "browser: screenshots in $shots" >&2
    fi
    if [ "${HL_BROWSER_KEEP:-0}" = 1 ]; then
        echo "browser: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/home" "$tmp/hermes"
export HERMESLINK_HOME=$tmp/home HERMES_HOME=$tmp/hermes HERMESLINK_TEST_MODE=1

# The fake upstream (tests/fake_upstream, built with the tests) the web client test's messages go to: the default
# profile's .env points the daemon at it, as the integration harness and bench/proxy.sh do.
fake_bin=${HL_FAKE_BIN:-$root/build-test/tests/fake-hermes}
[ -x "$fake_bin" ] || fail "$fake_bin not built (run: make test-build)"
fake_key=browser-test-key
"$fake_bin" --port 0 --key "$fake_key" --listen 127.0.0.1 >"$tmp/fake.out" 2>"$tmp/fake.err" &
fake_pid=$!
fake_port=
for _ in $(seq 1 50); do
    fake_port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$tmp/fake.out" | head -n1)
    [ -n "$fake_port" ] && break
    kill -0 "$fake_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$fake_port" ] || fail "the fake upstream did not print READY: $(cat "$tmp/fake.err")"
printf '# tests/browser/run.sh\nAPI_SERVER_ENABLED=true\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%s\nAPI_SERVER_KEY=%s\n' \
    "$fake_port" "$fake_key" >"$tmp/hermes/.env"

"$bin" run --port auto --tls-port 0 --listen 127.0.0.1 >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
daemon_pid=$!
port=
for _ in $(seq 1 150); do
    port=$(sed -n 's/^Hermes Link running on port \([0-9][0-9]*\).*/\1/p' "$tmp/daemon.out" | head -n1)
    [ -n "$port" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "--- daemon stdout:" >&2; cat "$tmp/daemon.out" >&2
    echo "--- daemon stderr:" >&2; tail -n 40 "$tmp/daemon.err" >&2
    fail "the daemon did not report its port within 15 s"
fi

wanted() { [ -z "${HL_BROWSER_ONLY:-}" ] || [[ $1 == *"$HL_BROWSER_ONLY"* ]]; }

rc=0
wanted pair_page.test.js && {
HL_BIN=$bin HL_BASE_URL="http://127.0.0.1:$port" HL_DAEMON_PID=$daemon_pid HL_TMP=$tmp HL_CHROMIUM=$chromium_bin \
    timeout -k 5 55 node "$here/pair_page.test.js"
rc=$?
}
[ $rc -eq $SKIP_CODE ] && rc=1 # a failure must never read as a skip
if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "browser: the test timed out (55 s)" >&2
    echo "--- daemon stderr (last 40 lines):" >&2; tail -n 40 "$tmp/daemon.err" >&2
    exit $rc
fi

# The API reference page (GET /api/docs), offline, against the same daemon.
rc=0
wanted docs_page.test.js && {
HL_BIN=$bin HL_BASE_URL="http://127.0.0.1:$port" HL_DAEMON_PID=$daemon_pid HL_TMP=$tmp HL_CHROMIUM=$chromium_bin \
    timeout -k 5 55 node "$here/docs_page.test.js"
rc=$?
}
[ $rc -eq $SKIP_CODE ] && rc=1
if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "browser: the docs page test timed out (55 s)" >&2
    echo "--- daemon stderr (last 40 lines):" >&2; tail -n 40 "$tmp/daemon.err" >&2
    exit $rc
fi

# The web client (GET /app): every app_*.test.js in turn (pairing from the URL fragment, conversations, the fake's
# streamed answers, …), each pairing a browser of its own.
for t in "$here"/app_*.test.js; do
    wanted "$(basename "$t")" || continue
    HL_BIN=$bin HL_BASE_URL="http://127.0.0.1:$port" HL_DAEMON_PID=$daemon_pid HL_TMP=$tmp HL_CHROMIUM=$chromium_bin \
        timeout -k 5 55 node "$t"
    rc=$?
    [ $rc -eq $SKIP_CODE ] && rc=1
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "browser: $(basename "$t") timed out (55 s)" >&2
        echo "--- daemon stderr (last 40 lines):" >&2; tail -n 40 "$tmp/daemon.err" >&2
        echo "--- fake upstream stderr (last 20 lines):" >&2; tail -n 20 "$tmp/fake.err" >&2
        exit $rc
    fi
done

# The daemon must still be up and stop cleanly (exit 0, no sanitizer report) on SIGTERM.
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died during the test"
kill -TERM "$daemon_pid"
status=
for _ in $(seq 1 100); do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        wait "$daemon_pid"
        status=$?
        break
    fi
    sleep 0.1
done
if [ -z "$status" ]; then
    echo "--- daemon stderr (last 40 lines):" >&2; tail -n 40 "$tmp/daemon.err" >&2
    fail "the daemon did not exit within 10 s of SIGTERM"
fi
daemon_pid=
if [ "$status" -ne 0 ] || grep -q -E 'Sanitizer|runtime error:' "$tmp/daemon.err"; then
    echo "--- daemon stderr (last 60 lines):" >&2; tail -n 60 "$tmp/daemon.err" >&2
    fail "the daemon exited with status $status or reported a sanitizer error"
fi
echo "browser: daemon stopped cleanly"
