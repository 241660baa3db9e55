#!/usr/bin/env bash
# bench/requests: request throughput of the daemon on GET /api/v1/bootstrap (and /api/v1/system/version).
#
#   bench/requests.sh [--no-build]
#
# Builds the optimised binary (`make build`; --no-build uses the existing build/hermeslink), starts it on random
# loopback ports with a temporary HERMESLINK_HOME, warms it up, then runs
#   wrk    -t2 -c64 -d10s --latency   HTTP/1.1           http://127.0.0.1:N/api/v1/bootstrap
#   h2load -c64 -m10 -D 10            h2c (prior knowledge) http://127.0.0.1:N/api/v1/bootstrap
#   h2load -c64 -m10 -D 10            h2 over TLS (ALPN)  https://127.0.0.1:M/api/v1/bootstrap
# and shorter runs of the first two on /api/v1/system/version. Prints a table (also written to
# bench/out/requests-<stamp>/table.txt with the raw tool outputs next to it), fails when any request errored or got a
# non-2xx status, and reports whether the issue's targets were met (40,000 req/s HTTP/1.1, 150,000 req/s h2c).
# The load generator shares the machine's cores with the daemon, as intended.
#
# Environment: BENCH_DURATION (seconds per main run, default 10), BENCH_EXTRA_DURATION (seconds per
# /api/v1/system/version run, default 5, 0 skips them). The whole run takes about 50 s with the defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/build/hermeslink"
DURATION=${BENCH_DURATION:-10}
EXTRA_DURATION=${BENCH_EXTRA_DURATION:-5}
TARGET_HTTP1=40000
TARGET_H2C=150000

build=1
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "requests.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

for tool in wrk h2load curl; do
    command -v "$tool" >/dev/null || {
        echo "requests.sh: $tool not found (make deps installs it)" >&2
        exit 1
    }
done

if [ "$build" -eq 1 ]; then
    make -C "$ROOT" --no-print-directory build >/dev/null
fi
[ -x "$BIN" ] || {
    echo "requests.sh: $BIN missing (run make build)" >&2
    exit 1
}

stamp=$(date +%Y%m%d-%H%M%S)
OUT="$ROOT/bench/out/requests-$stamp"
mkdir -p "$OUT"
TMP=$(mktemp -d)
pid=""

stop_daemon() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "requests.sh: daemon $pid ignored SIGTERM for 10 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    pid=""
}
cleanup() {
    stop_daemon
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HERMESLINK_HOME="$TMP/home" HERMES_HOME="$TMP/hermes" \
    "$BIN" run --port 0 --tls-port 0 --listen 127.0.0.1 >"$OUT/daemon.stdout" 2>"$OUT/daemon.stderr" &
pid=$!

port="" tls_port=""
for _ in $(seq 100); do
    port=$(sed -n 's/^Hermes Link running on port \([0-9][0-9]*\).*/\1/p' "$OUT/daemon.stdout")
    tls_port=$(sed -n 's/^Hermes Link TLS on port \([0-9][0-9]*\).*/\1/p' "$OUT/daemon.stdout")
    [ -n "$port" ] && [ -n "$tls_port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ] || [ -z "$tls_port" ]; then
    echo "requests.sh: the daemon did not report its ports; stderr:" >&2
    cat "$OUT/daemon.stderr" >&2
    exit 1
fi

HTTP="http://127.0.0.1:$port"
HTTPS="https://127.0.0.1:$tls_port"
BOOT=/api/v1/bootstrap
VERSION=/api/v1/system/version

# Sanity: every URL answers 200 over the protocol it will be benchmarked with.
check_200() { # $1 = curl protocol flag, $2 = url
    local code
    code=$(curl -sk "$1" -o /dev/null -w '%{http_code}' "$2")
    if [ "$code" != 200 ]; then
        echo "requests.sh: $2 ($1) answered $code, expected 200" >&2
        exit 1
    fi
}
check_200 --http1.1 "$HTTP$BOOT"
check_200 --http2-prior-knowledge "$HTTP$BOOT"
check_200 --http2 "$HTTPS$BOOT"
check_200 --http1.1 "$HTTP$VERSION"

clk_tck=$(getconf CLK_TCK)
daemon_ticks() { # utime + stime of the daemon, in clock ticks
    local stat
    stat=$(<"/proc/$pid/stat")
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
    local raw=$1 d0 m0 c0 d1 m1 c1
    shift
    children_seconds
    d0=$(daemon_ticks) m0=$(machine_ticks) c0=$CHILD_S
    "$@" >"$raw" 2>&1 || {
        echo "requests.sh: $* failed" >&2
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

ROWS="$OUT/results.tsv"
printf 'name\tprotocol\treq_per_s\tp50_ms\tp99_ms\tmean_ms\tmax_ms\terrors\tnon2xx\tserver_cpu_s\tclient_cpu_s\tother_cpu_s\tcommand\treq_per_daemon_cpu_s\n' >"$ROWS"
failed=0

row() { # name protocol rps p50 p99 mean max errors non2xx command (CPU use from run_measured)
    local per_cpu
    per_cpu=$(awk -v n="$M_REQUESTS" -v c="$M_SERVER" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "-" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${@:1:9}" "$M_SERVER" "$M_CLIENT" "$M_OTHER" "${10}" \
        "$per_cpu" >>"$ROWS"
    if [ "$8" != 0 ] || [ "$9" != 0 ]; then
        echo "requests.sh: $1: $8 errors, $9 non-2xx responses" >&2
        failed=1
    fi
}

run_wrk() { # name path duration
    local name=$1 url="$HTTP$2" cmd raw
    local -a argv=(wrk -t2 -c64 "-d${3}s" --latency "$url")
    cmd="${argv[*]}"
    raw="$OUT/$name.txt"
    run_measured "$raw" "${argv[@]}"
    local rps p50 p99 mean max sock non2xx
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$raw")
    M_REQUESTS=$(awk '/ requests in / { print $1 }' "$raw")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$raw")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$raw")")
    mean=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $2; exit }' "$raw")")
    max=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $4; exit }' "$raw")")
    # "Socket errors: connect 0, read 0, write 0, timeout 0" and "Non-2xx or 3xx responses: N" appear only when non-zero.
    sock=$(awk '/Socket errors:/ { gsub(",", ""); s = $4 + $6 + $8 + $10 } END { print s + 0 }' "$raw")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$raw")
    [ -n "$rps" ] || {
        echo "requests.sh: cannot parse $raw" >&2
        exit 1
    }
    row "$name" "HTTP/1.1" "$rps" "$p50" "$p99" "$mean" "$max" "$sock" "$non2xx" "$cmd"
}

run_h2load() { # name base path duration expected-alpn
    local name=$1 url="$2$3" cmd raw
    local -a argv=(h2load -c64 -m10 -D "$4" "$url")
    cmd="${argv[*]}"
    raw="$OUT/$name.txt"
    run_measured "$raw" "${argv[@]}"
    local proto rps mean max errors done_ ok2xx non2xx
    proto=$(awk '/^Application protocol:/ { print $3 }' "$raw")
    if [ "$proto" != "$5" ]; then
        echo "requests.sh: $name negotiated '${proto}', expected $5" >&2
        exit 1
    fi
    rps=$(awk '/^finished in/ { printf "%.0f", $4 }' "$raw")
    mean=$(to_ms "$(awk '/^time for request:/ { print $6 }' "$raw")")
    max=$(to_ms "$(awk '/^time for request:/ { print $5 }' "$raw")")
    # requests: T total, S started, D done, OK succeeded, F failed, E errored, TO timeout
    errors=$(awk '/^requests:/ { print $10 + $12 + $14 }' "$raw")
    done_=$(awk '/^requests:/ { print $6 }' "$raw")
    M_REQUESTS=$done_
    # status codes: A 2xx, B 3xx, C 4xx, D 5xx
    ok2xx=$(awk '/^status codes:/ { print $3 }' "$raw")
    non2xx=$(awk '/^status codes:/ { print $5 + $7 + $9 }' "$raw")
    if [ -z "$rps" ] || [ -z "$errors" ] || [ -z "$ok2xx" ]; then
        echo "requests.sh: cannot parse $raw" >&2
        exit 1
    fi
    if [ "$ok2xx" != "$done_" ]; then
        echo "requests.sh: $name: $done_ requests done but only $ok2xx answered 2xx" >&2
        failed=1
    fi
    local label="h2c"
    [ "$5" = h2 ] && label="h2 (TLS)"
    row "$name" "$label" "$rps" "-" "-" "$mean" "$max" "$errors" "$non2xx" "$cmd"
}

echo "requests.sh: daemon pid $pid on $HTTP and $HTTPS; raw output in ${OUT#"$ROOT"/}" >&2

# Warm-up (not recorded): the HTTP/1.1 path, then short h2c and TLS runs so allocators and TLS are warm.
wrk -t2 -c64 -d2s "$HTTP$BOOT" >"$OUT/warmup-wrk.txt" 2>&1
h2load -c64 -m10 -n 20000 "$HTTP$BOOT" >"$OUT/warmup-h2load-h2c.txt" 2>&1
h2load -c64 -m10 -n 20000 "$HTTPS$BOOT" >"$OUT/warmup-h2load-tls.txt" 2>&1

run_wrk http1-bootstrap "$BOOT" "$DURATION"
run_h2load h2c-bootstrap "$HTTP" "$BOOT" "$DURATION" h2c
run_h2load h2tls-bootstrap "$HTTPS" "$BOOT" "$DURATION" h2
if [ "$EXTRA_DURATION" != 0 ]; then
    run_wrk http1-version "$VERSION" "$EXTRA_DURATION"
    run_h2load h2c-version "$HTTP" "$VERSION" "$EXTRA_DURATION" h2c
fi

if ! kill -0 "$pid" 2>/dev/null; then
    echo "requests.sh: the daemon died during the benchmark; stderr:" >&2
    cat "$OUT/daemon.stderr" >&2
    exit 1
fi
stop_daemon

# Report.
rps_of() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$ROWS"; }
http1=$(rps_of http1-bootstrap)
h2c=$(rps_of h2c-bootstrap)
h2tls=$(rps_of h2tls-bootstrap)
verdict() { if [ "$1" -ge "$2" ]; then echo "met"; else echo "NOT MET"; fi; }
{
    echo "bench/requests  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(nproc) CPUs  kernel $(uname -r)  commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || echo ' (+ uncommitted changes in src/include)')  binary built $(date -u -r "$BIN" '+%H:%M:%S UTC')$([ "$build" -eq 1 ] || echo ' (--no-build: may predate the commit)')"
    echo
    awk -F'\t' 'NR == 1 { next } {
        printf "%-16s %-9s %7s req/s  p50 %5s ms  p99 %6s ms  mean %5s ms  max %6s ms  err %s  non-2xx %s  CPU s daemon %4s client %4s other %4s  %7s req/daemon-CPU-s\n",
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14
    }' "$ROWS"
    echo
    echo "commands:"
    awk -F'\t' 'NR > 1 { printf "  %-16s %s\n", $1, $13 }' "$ROWS"
    echo
    echo "targets: HTTP/1.1 >= $TARGET_HTTP1 req/s: $http1 ($(verdict "$http1" "$TARGET_HTTP1"))," \
        "h2c >= $TARGET_H2C req/s: $h2c ($(verdict "$h2c" "$TARGET_H2C"))"
    awk -v a="$http1" -v b="$h2c" -v c="$h2tls" -v ta="$TARGET_HTTP1" -v tb="$TARGET_H2C" 'BEGIN {
        printf "ratios (same run): h2c/HTTP1 %.2f, h2-TLS/h2c %.2f, HTTP1/target %.2f, h2c/target %.2f\n",
            b / a, c / b, a / ta, b / tb
    }'
    echo "(p50/p99 from wrk; h2load reports only min/max/mean/sd per request. CPU s: CPU seconds used during the run by"
    echo " the daemon, the load generator and everything else on the machine; 'other' well above 0 means a noisy run."
    echo " req/daemon-CPU-s: requests served per CPU second of the daemon, the figure least sensitive to that noise)"
    awk -F'\t' 'NR > 1 && $12 > 0.5 { printf "WARNING: %s: other processes used %s CPU s during the run: numbers are unreliable\n", $1, $12 }' "$ROWS"
} | tee "$OUT/table.txt"
cp "$OUT/table.txt" "$ROOT/bench/out/requests-latest.txt"

if [ "$failed" -ne 0 ]; then
    echo "requests.sh: FAILED: some requests errored or were not 2xx (see $OUT)" >&2
    exit 1
fi
