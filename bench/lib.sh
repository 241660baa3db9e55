# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the scripts that source this file
# bench/lib.sh: helpers shared by the bench/*.sh scripts (sourced, not run).
#
# The sourcing script sets BENCH_NAME (prefix of error messages), ROOT and BIN (build/hermeslink, or $BENCH_BIN: a
# binary built elsewhere, e.g. from a clean export of a commit while the working tree has other changes), then calls bench_setup, which creates
# $OUT (bench/out/<BENCH_NAME>-<stamp>) and $TMP and installs the EXIT trap that stops the daemon it started (by PID),
# the background clients registered with bench_track (by PID), and removes $TMP. bench_start_daemon starts
# build/hermeslink on random loopback ports and sets pid, port, tls_port, HTTP and HTTPS; bench_start_fake starts a fake
# upstream binary on a random loopback port and sets fake_pid and fake_port; bench_pair_device enrols a
# device and sets token and refresh_token. run_measured runs a load generator and records the CPU time used meanwhile
# by the daemon, by the load generator and by everything else on the machine (the noise from other work).

bench_die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

bench_require_tools() { # tool...
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || bench_die "$tool not found (make deps installs it)"
    done
}

bench_build() { # $1 = 1 to run `make build` first (not when BENCH_BIN names another binary)
    if [ "$1" -eq 1 ] && [ -z "${BENCH_BIN:-}" ]; then
        make -C "$ROOT" --no-print-directory build >/dev/null
    fi
    [ -x "$BIN" ] || bench_die "$BIN missing (run make build)"
}

bench_setup() {
    BENCH_STAMP=$(date +%Y%m%d-%H%M%S)
    OUT="$ROOT/bench/out/$BENCH_NAME-$BENCH_STAMP"
    mkdir -p "$OUT"
    TMP=$(mktemp -d)
    pid=""
    BENCH_PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

stop_daemon() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local _
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$BENCH_NAME: daemon $pid ignored SIGTERM for 10 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    pid=""
}

# Registers the PID of a background client ($1) that the EXIT trap stops (SIGTERM) if it is still running then;
# bench_untrack forgets it once the script has waited for it (so that a reused PID is never signalled).
bench_track() {
    BENCH_PIDS+=("$1")
}
bench_untrack() {
    local p keep=()
    for p in "${BENCH_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]}")
}

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    stop_daemon
    rm -rf "$TMP"
}

# Starts the daemon with a temporary HERMESLINK_HOME ($TMP/home) and HERMES_HOME ($TMP/hermes), its output in
# $OUT/daemon.stdout and .stderr. With a name ($1), the homes are $TMP/<name>/home and $TMP/<name>/hermes and the output
# goes to $OUT/<name>.daemon.stdout and .stderr (appended: starting the same name again reuses its data). Sets
# DAEMON_HOME (the HERMESLINK_HOME), DAEMON_HERMES_HOME and DAEMON_LOG (the stderr file).
# shellcheck disable=SC2120 # the name is optional
bench_start_daemon() {
    local dir=$TMP log=$OUT/daemon
    if [ -n "${1:-}" ]; then
        dir=$TMP/$1 log=$OUT/$1.daemon
    fi
    DAEMON_HOME=$dir/home DAEMON_HERMES_HOME=$dir/hermes DAEMON_LOG=$log.stderr
    mkdir -p "$dir/home"
    # benches open hundreds or thousands of event streams with one device's token: past the default per-device cap
    # (BENCH_DAEMON_CONFIG replaces that config.json; empty: none, the daemon's defaults)
    local config=${BENCH_DAEMON_CONFIG-'{"maxStreamsPerDevice": 100000}'}
    [ -z "$config" ] || printf '%s\n' "$config" >"$dir/home/config.json"
    : >"$log.stdout" # the ports are read from the new daemon's lines only
    HERMESLINK_HOME="$DAEMON_HOME" HERMES_HOME="$DAEMON_HERMES_HOME" \
        "$BIN" run --port auto --tls-port auto --listen 127.0.0.1 >>"$log.stdout" 2>>"$log.stderr" &
    pid=$!
    port="" tls_port=""
    local _
    for _ in $(seq 100); do
        port=$(sed -n 's/^Hermes Link running on port \([0-9][0-9]*\).*/\1/p' "$log.stdout")
        tls_port=$(sed -n 's/^Hermes Link TLS on port \([0-9][0-9]*\).*/\1/p' "$log.stdout")
        [ -n "$port" ] && [ -n "$tls_port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ] || [ -z "$tls_port" ]; then
        echo "$BENCH_NAME: the daemon did not report its ports; stderr:" >&2
        cat "$log.stderr" >&2
        exit 1
    fi
    HTTP="http://127.0.0.1:$port"
    HTTPS="https://127.0.0.1:$tls_port"
}

# Starts a fake upstream (tests/fake_upstream) that the script built: $1 = a name ("" or a scenario), $2 = the binary,
# the rest = its options (--key, --max-runs, …; --port 0 is added: the fake picks a free loopback port). Its output goes
# to $OUT/fake.stdout and .stderr, or with a name to $OUT/<name>.fake.stdout and .stderr. Waits (5 s at most) for its
# "READY <port>" line, registers its PID with bench_track (the EXIT trap stops it; a script that stops it earlier calls
# bench_untrack after waiting for it), and sets fake_pid and fake_port. Builds nothing.
bench_start_fake() {
    local log=$OUT/fake _
    [ -z "$1" ] || log=$OUT/$1.fake
    local bin=$2
    shift 2
    "$bin" "$@" --port 0 >"$log.stdout" 2>"$log.stderr" &
    fake_pid=$!
    bench_track "$fake_pid"
    fake_port=""
    for _ in $(seq 50); do
        fake_port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$log.stdout")
        [ -n "$fake_port" ] && break
        kill -0 "$fake_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$fake_port" ] || bench_die "the fake did not print READY: $(cat "$log.stderr")"
}

bench_check_alive() {
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "$BENCH_NAME: the daemon died during the benchmark; stderr:" >&2
        cat "$DAEMON_LOG" >&2
        exit 1
    fi
}

# Enrols a device on the running daemon and sets token (hlat_…, its access token) and refresh_token (hlrt_…): a
# pairing session from the CLI (`hermeslink pair --json`), then POST /api/v1/auth/device-session with its connect
# token. $1 = device label (default "bench"). Needs jq.
bench_pair_device() {
    local label=${1:-bench} connect
    HERMESLINK_HOME="$DAEMON_HOME" HERMES_HOME="$DAEMON_HERMES_HOME" "$BIN" pair --json >"$TMP/pair.json" \
        2>"$OUT/pair.stderr" || bench_die "hermeslink pair --json failed: $(cat "$OUT/pair.stderr")"
    connect=$(jq -r '.connect_token // empty' "$TMP/pair.json")
    [ -n "$connect" ] || bench_die "no connect_token in the output of hermeslink pair --json"
    curl -s -X POST -H "Authorization: Bearer $connect" -H 'Content-Type: application/json' \
        -d "{\"device_label\":\"$label\",\"device_platform\":\"cli\"}" "$HTTP/api/v1/auth/device-session" >"$TMP/session.json"
    token=$(jq -r '.access_token.token // empty' "$TMP/session.json")
    refresh_token=$(jq -r '.refresh_token.token // empty' "$TMP/session.json")
    case "$token" in
    hlat_*) ;;
    *) bench_die "POST /api/v1/auth/device-session gave no access token: $(cat "$TMP/session.json")" ;;
    esac
}

# Fails unless the URL answers 200 over the given protocol. $1 = curl protocol flag, $2 = url, then extra curl args.
check_200() {
    local flag=$1 url=$2 code
    shift 2
    code=$(curl -sk "$flag" "$@" -o /dev/null -w '%{http_code}' "$url")
    [ "$code" = 200 ] || bench_die "$url ($flag) answered $code, expected 200"
}

daemon_ticks() { # utime + stime of the daemon, in clock ticks
    proc_ticks "$pid"
}
proc_ticks() { # utime + stime of process $1 (all its threads), in clock ticks
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}
machine_ticks() { # busy clock ticks of all CPUs in process context (user nice system) plus steal; irq/softirq excluded
    awk '$1 == "cpu" { print $2 + $3 + $4 + $9; exit }' /proc/stat
}
children_seconds() { # sets CHILD_S: CPU seconds used by this shell's finished children (the load generators)
    times >"$TMP/times" # in this shell: in a $(...) subshell `times` would not see our children
    CHILD_S=$(awk 'NR == 2 {
        s = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
        printf "%.2f", s
    }' "$TMP/times")
}

# Runs a load generator (argv after $1) with its output in $1, and sets M_SERVER, M_CLIENT and M_OTHER: CPU seconds
# used meanwhile by the daemon, by the load generator, and by anything else on the machine (noise from other work).
run_measured() {
    local raw=$1 d0 m0 c0 d1 m1 c1 clk_tck
    shift
    clk_tck=$(getconf CLK_TCK)
    children_seconds
    d0=$(daemon_ticks) m0=$(machine_ticks) c0=$CHILD_S
    "$@" >"$raw" 2>&1 || {
        echo "$BENCH_NAME: $* failed" >&2
        cat "$raw" >&2
        exit 1
    }
    children_seconds
    d1=$(daemon_ticks) m1=$(machine_ticks) c1=$CHILD_S
    M_SERVER=$(awk -v t=$((d1 - d0)) -v h="$clk_tck" 'BEGIN { printf "%.1f", t / h }')
    M_CLIENT=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }')
    M_OTHER=$(awk -v m=$((m1 - m0)) -v h="$clk_tck" -v s="$M_SERVER" -v c="$M_CLIENT" \
        'BEGIN { o = m / h - s - c; if (o < 0) o = 0; printf "%.1f", o }')
}

# Converts a wrk/h2load duration ("583.00us", "1.43ms", "2.5s") to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v == "") { print "-"; exit }
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}

# Parses wrk output ($1, from a run with --latency) into W_RPS, W_REQUESTS, W_BYTES (total read), W_P50, W_P99,
# W_MEAN, W_MAX (ms), W_SOCK (socket errors) and W_NON2XX (wrk counts statuses >= 400 there).
parse_wrk() {
    local raw=$1
    W_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$raw")
    W_REQUESTS=$(awk '/ requests in / { print $1 }' "$raw")
    W_BYTES=$(awk '/ requests in / {
        v = $(NF - 1); n = v + 0
        if (v ~ /KB$/) n *= 1024; else if (v ~ /MB$/) n *= 1048576; else if (v ~ /GB$/) n *= 1073741824
        printf "%.0f", n
    }' "$raw")
    W_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$raw")")
    W_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$raw")")
    W_MEAN=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $2; exit }' "$raw")")
    W_MAX=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $4; exit }' "$raw")")
    # "Socket errors: connect 0, read 0, write 0, timeout 0" and "Non-2xx or 3xx responses: N" appear only when non-zero.
    W_SOCK=$(awk '/Socket errors:/ { gsub(",", ""); s = $4 + $6 + $8 + $10 } END { print s + 0 }' "$raw")
    W_NON2XX=$(awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$raw")
    if [ -z "$W_RPS" ] || [ -z "$W_REQUESTS" ]; then
        bench_die "cannot parse $raw"
    fi
}

# Parses h2load output ($1) into H_PROTO (negotiated), H_RPS, H_DONE, H_OK2XX, H_ERRORS (failed + errored +
# timeout), H_NON2XX (3xx + 4xx + 5xx), H_MEAN and H_MAX (ms per request).
parse_h2load() {
    local raw=$1
    H_PROTO=$(awk '/^Application protocol:/ { print $3 }' "$raw")
    H_RPS=$(awk '/^finished in/ { printf "%.0f", $4 }' "$raw")
    H_MEAN=$(to_ms "$(awk '/^time for request:/ { print $6 }' "$raw")")
    H_MAX=$(to_ms "$(awk '/^time for request:/ { print $5 }' "$raw")")
    # requests: T total, S started, D done, OK succeeded, F failed, E errored, TO timeout
    H_ERRORS=$(awk '/^requests:/ { print $10 + $12 + $14 }' "$raw")
    H_DONE=$(awk '/^requests:/ { print $6 }' "$raw")
    # status codes: A 2xx, B 3xx, C 4xx, D 5xx
    H_OK2XX=$(awk '/^status codes:/ { print $3 }' "$raw")
    H_NON2XX=$(awk '/^status codes:/ { print $5 + $7 + $9 }' "$raw")
    if [ -z "$H_RPS" ] || [ -z "$H_ERRORS" ] || [ -z "$H_OK2XX" ]; then
        bench_die "cannot parse $raw"
    fi
}

# requests per CPU second of the daemon ($1 requests, $2 CPU seconds), or "-"
per_cpu() {
    awk -v n="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "-" }'
}

bench_header() { # the first line of a table: name, date, machine, commit, binary ($1 = 1 when built by the script)
    local binary
    if [ -n "${BENCH_BIN:-}" ]; then
        binary="binary $BENCH_BIN (BENCH_BIN, built $(date -u -r "$BIN" '+%H:%M:%S UTC'))"
    else
        binary="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || echo ' (+ uncommitted changes in src/include)')  binary built $(date -u -r "$BIN" '+%H:%M:%S UTC')$([ "$1" -eq 1 ] || echo ' (--no-build: may predate the commit)')"
    fi
    echo "bench/$BENCH_NAME  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(nproc) CPUs  kernel $(uname -r)  $binary"
}
