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
# /api/v1/system/version run, default 5, 0 skips them), BENCH_BIN (a binary to use instead of building
# build/hermeslink). The whole run takes about 50 s with the defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
BENCH_NAME=requests
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${BENCH_DURATION:-10}
EXTRA_DURATION=${BENCH_EXTRA_DURATION:-5}
TARGET_HTTP1=40000
TARGET_H2C=150000

build=1
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "requests.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

bench_require_tools wrk h2load curl
bench_build "$build"
bench_setup
bench_start_daemon

BOOT=/api/v1/bootstrap
VERSION=/api/v1/system/version

# Sanity: every URL answers 200 over the protocol it will be benchmarked with.
check_200 --http1.1 "$HTTP$BOOT"
check_200 --http2-prior-knowledge "$HTTP$BOOT"
check_200 --http2 "$HTTPS$BOOT"
check_200 --http1.1 "$HTTP$VERSION"

ROWS="$OUT/results.tsv"
printf 'name\tprotocol\treq_per_s\tp50_ms\tp99_ms\tmean_ms\tmax_ms\terrors\tnon2xx\tserver_cpu_s\tclient_cpu_s\tother_cpu_s\tcommand\treq_per_daemon_cpu_s\n' >"$ROWS"
failed=0

row() { # name protocol rps p50 p99 mean max errors non2xx command (CPU use from run_measured)
    local per_cpu
    per_cpu=$(per_cpu "$M_REQUESTS" "$M_SERVER")
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
    parse_wrk "$raw"
    M_REQUESTS=$W_REQUESTS
    row "$name" "HTTP/1.1" "$W_RPS" "$W_P50" "$W_P99" "$W_MEAN" "$W_MAX" "$W_SOCK" "$W_NON2XX" "$cmd"
}

run_h2load() { # name base path duration expected-alpn
    local name=$1 url="$2$3" cmd raw
    local -a argv=(h2load -c64 -m10 -D "$4" "$url")
    cmd="${argv[*]}"
    raw="$OUT/$name.txt"
    run_measured "$raw" "${argv[@]}"
    parse_h2load "$raw"
    [ "$H_PROTO" = "$5" ] || bench_die "$name negotiated '${H_PROTO}', expected $5"
    M_REQUESTS=$H_DONE
    if [ "$H_OK2XX" != "$H_DONE" ]; then
        echo "requests.sh: $name: $H_DONE requests done but only $H_OK2XX answered 2xx" >&2
        failed=1
    fi
    local label="h2c"
    [ "$5" = h2 ] && label="h2 (TLS)"
    row "$name" "$label" "$H_RPS" "-" "-" "$H_MEAN" "$H_MAX" "$H_ERRORS" "$H_NON2XX" "$cmd"
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

bench_check_alive
stop_daemon

# Report.
rps_of() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$ROWS"; }
http1=$(rps_of http1-bootstrap)
h2c=$(rps_of h2c-bootstrap)
h2tls=$(rps_of h2tls-bootstrap)
verdict() { if [ "$1" -ge "$2" ]; then echo "met"; else echo "NOT MET"; fi; }
{
    bench_header "$build"
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
