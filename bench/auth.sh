#!/usr/bin/env bash
# bench/auth: authenticated against unauthenticated request rate, in the same run (issue 3).
#
#   bench/auth.sh [--no-build] [--tls]
#
# Builds the optimised binary (`make build`; --no-build uses the existing build/hermeslink), starts it on random
# loopback ports with a temporary HERMESLINK_HOME, pairs a device (`hermeslink pair --json`, then
# POST /api/v1/auth/device-session with the connect token) to get an access token, warms up, then alternates
#   GET /api/v1/bootstrap (no credentials)  and  GET /api/v1/auth/me (Authorization: Bearer hlat_...)
# with  wrk -t2 -c64 -d5s --latency  (HTTP/1.1)  and  h2load -c64 -m10 -D 5  (h2c; with --tls also h2 over TLS),
# in BENCH_ROUNDS rounds per protocol, the order flipping every round (bootstrap, auth/me, auth/me, bootstrap, ...)
# so that a drift of the machine's load does not favour one route. Each round is a pair; the script prints every
# rate, the pair ratios auth/me / bootstrap and their mean per protocol, and whether the issue's target (mean ratio
# >= 0.80) is met. The same ratio is also given for requests per daemon CPU second, the figure least disturbed by
# other work on the machine. Fails (exit 1) when any request errored or was not answered 200: wrk's non-2xx count,
# the bytes read per response against the size of the 200 answer, h2load's status classes, and curl checks before
# and after the runs. Table and raw outputs in bench/out/auth-<stamp>/ (table also in bench/out/auth-latest.txt).
#
# Environment: BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS (pairs per protocol, default 2), BENCH_BIN
# (a binary to use instead of building build/hermeslink). About 50 s with the defaults, about 70 s with --tls.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
BENCH_NAME=auth
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-2}
TARGET_RATIO=0.80

build=1 tls=0
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    --tls) tls=1 ;;
    -h | --help)
        sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "auth.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done
case "$DURATION$ROUNDS" in *[!0-9]*) bench_die "BENCH_DURATION and BENCH_ROUNDS must be positive integers" ;; esac
if [ "$DURATION" -eq 0 ] || [ "$ROUNDS" -eq 0 ]; then
    bench_die "BENCH_DURATION and BENCH_ROUNDS must be positive integers"
fi

bench_require_tools wrk h2load curl jq
bench_build "$build"
bench_setup
bench_start_daemon

BOOT=/api/v1/bootstrap
ME=/api/v1/auth/me

# A device access token: a pairing session from the CLI, then enrolment with its connect token.
bench_pair_device bench
AUTH="Authorization: Bearer $token"

# Every URL answers 200 over every protocol it will be benchmarked with (and auth/me without the token does not).
check_all() {
    check_200 --http1.1 "$HTTP$BOOT"
    check_200 --http1.1 "$HTTP$ME" -H "$AUTH"
    check_200 --http2-prior-knowledge "$HTTP$BOOT"
    check_200 --http2-prior-knowledge "$HTTP$ME" -H "$AUTH"
    if [ "$tls" -eq 1 ]; then
        check_200 --http2 "$HTTPS$BOOT"
        check_200 --http2 "$HTTPS$ME" -H "$AUTH"
    fi
}
check_all
code=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP$ME")
[ "$code" = 401 ] || bench_die "$ME without a token answered $code, expected 401"

# Size (status line + headers + body) of each 200 answer over HTTP/1.1, against which wrk's bytes read per response
# are checked: a 401 (device_access_token_invalid) would be a different size.
size_of() { curl -s --http1.1 "$@" -o /dev/null -w '%{size_header} %{size_download}' | awk '{ print $1 + $2 }'; }
SIZE_BOOT=$(size_of "$HTTP$BOOT")
SIZE_ME=$(size_of "$HTTP$ME" -H "$AUTH")

ROWS="$OUT/results.tsv"
printf 'name\tprotocol\troute\tround\treq_per_s\tp50_ms\tp99_ms\tmean_ms\tmax_ms\terrors\tnon2xx\tserver_cpu_s\tclient_cpu_s\tother_cpu_s\treq_per_daemon_cpu_s\tcommand\n' >"$ROWS"
failed=0

row() { # name protocol route round rps p50 p99 mean max errors non2xx command (CPU use from run_measured)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${@:1:11}" "$M_SERVER" "$M_CLIENT" \
        "$M_OTHER" "$(per_cpu "$M_REQUESTS" "$M_SERVER")" "${12}" >>"$ROWS"
    if [ "${10}" != 0 ] || [ "${11}" != 0 ]; then
        echo "auth.sh: $1: ${10} errors, ${11} non-2xx responses" >&2
        failed=1
    fi
}

# The shown command: the token elided, so that the table can be pasted into RESULTS.md.
shown() { local s="$*"; echo "${s//$token/hlat_…}"; }

run_wrk() { # route(boot|me) round
    local route=$1 round=$2 name="http1-$1-$2" raw expected
    local -a argv=(wrk -t2 -c64 "-d${DURATION}s" --latency)
    if [ "$route" = me ]; then
        argv+=(-H "$AUTH" "$HTTP$ME")
        expected=$SIZE_ME
    else
        argv+=("$HTTP$BOOT")
        expected=$SIZE_BOOT
    fi
    raw="$OUT/$name.txt"
    run_measured "$raw" "${argv[@]}"
    parse_wrk "$raw"
    M_REQUESTS=$W_REQUESTS
    # wrk prints the bytes read with two decimals (e.g. 1.52GB): within 1 % of requests x the 200 answer's size
    if ! awk -v b="$W_BYTES" -v n="$W_REQUESTS" -v e="$expected" 'BEGIN { r = b / (n * e); exit !(r > 0.99 && r < 1.01) }'; then
        echo "auth.sh: $name: $W_BYTES bytes read for $W_REQUESTS responses, expected $expected bytes each" >&2
        failed=1
    fi
    row "$name" "HTTP/1.1" "$route" "$round" "$W_RPS" "$W_P50" "$W_P99" "$W_MEAN" "$W_MAX" "$W_SOCK" "$W_NON2XX" \
        "$(shown "${argv[@]}")"
}

run_h2load() { # route(boot|me) round base expected-alpn
    local route=$1 round=$2 base=$3 alpn=$4 name raw label
    if [ "$alpn" = h2 ]; then name="h2tls-$1-$2" label="h2 (TLS)"; else name="h2c-$1-$2" label="h2c"; fi
    local -a argv=(h2load -c64 -m10 -D "$DURATION")
    if [ "$route" = me ]; then
        argv+=(-H "authorization: Bearer $token" "$base$ME")
    else
        argv+=("$base$BOOT")
    fi
    raw="$OUT/$name.txt"
    run_measured "$raw" "${argv[@]}"
    parse_h2load "$raw"
    [ "$H_PROTO" = "$alpn" ] || bench_die "$name negotiated '${H_PROTO}', expected $alpn"
    M_REQUESTS=$H_DONE
    if [ "$H_OK2XX" != "$H_DONE" ]; then
        echo "auth.sh: $name: $H_DONE requests done but only $H_OK2XX answered 2xx" >&2
        failed=1
    fi
    row "$name" "$label" "$route" "$round" "$H_RPS" "-" "-" "$H_MEAN" "$H_MAX" "$H_ERRORS" "$H_NON2XX" "$(shown "${argv[@]}")"
}

# One protocol: ROUNDS pairs, bootstrap first in odd rounds and auth/me first in even ones.
series() { # runner [runner args after route and round]
    local runner=$1 r
    shift
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then
            "$runner" boot "$r" "$@"
            "$runner" me "$r" "$@"
        else
            "$runner" me "$r" "$@"
            "$runner" boot "$r" "$@"
        fi
    done
}

echo "auth.sh: daemon pid $pid on $HTTP and $HTTPS; raw output in ${OUT#"$ROOT"/}" >&2

# Warm-up (not recorded): both routes over each protocol.
wrk -t2 -c64 -d1s "$HTTP$BOOT" >"$OUT/warmup-wrk-boot.txt" 2>&1
wrk -t2 -c64 -d1s -H "$AUTH" "$HTTP$ME" >"$OUT/warmup-wrk-me.txt" 2>&1
h2load -c64 -m10 -n 20000 "$HTTP$BOOT" >"$OUT/warmup-h2c-boot.txt" 2>&1
h2load -c64 -m10 -n 20000 -H "authorization: Bearer $token" "$HTTP$ME" >"$OUT/warmup-h2c-me.txt" 2>&1
if [ "$tls" -eq 1 ]; then
    h2load -c64 -m10 -n 20000 "$HTTPS$BOOT" >"$OUT/warmup-tls-boot.txt" 2>&1
    h2load -c64 -m10 -n 20000 -H "authorization: Bearer $token" "$HTTPS$ME" >"$OUT/warmup-tls-me.txt" 2>&1
fi

series run_wrk
series run_h2load "$HTTP" h2c
if [ "$tls" -eq 1 ]; then
    series run_h2load "$HTTPS" h2
fi

bench_check_alive
check_all # the token still works: no run measured 401s
stop_daemon

# Report. Pair ratios per protocol, from the rows of the same round.
RATIOS="$OUT/ratios.tsv"
awk -F'\t' 'NR == 1 { next } {
    k = $2 SUBSEP $4
    if ($3 == "boot") { b[k] = $5; bc[k] = $15 } else { m[k] = $5; mc[k] = $15 }
    if (!($2 in seen)) { seen[$2] = 1; order[++np] = $2 }
    if ($4 > nr) nr = $4
} END {
    for (i = 1; i <= np; i++) {
        p = order[i]; s = 0; sc = 0; n = 0; nc = 0; pairs = ""
        for (r = 1; r <= nr; r++) {
            k = p SUBSEP r
            if (!(k in b) || !(k in m) || b[k] <= 0) continue
            x = m[k] / b[k]; s += x; n++
            pairs = pairs sprintf("%s%.3f", n > 1 ? " " : "", x)
            if (bc[k] > 0 && mc[k] > 0) { sc += mc[k] / bc[k]; nc++ }
        }
        printf "%s\t%.3f\t%s\t%s\n", p, n ? s / n : 0, nc ? sprintf("%.3f", sc / nc) : "-", pairs
    }
}' "$ROWS" >"$RATIOS"
{
    bench_header "$build"
    echo "access token of one enrolled device; 200 answers: bootstrap $SIZE_BOOT bytes, auth/me $SIZE_ME bytes (HTTP/1.1, headers included)"
    echo
    awk -F'\t' 'NR == 1 { next } {
        printf "%-16s %-9s %-9s %7s req/s  p50 %5s ms  p99 %6s ms  mean %5s ms  max %6s ms  err %s  non-2xx %s  CPU s daemon %4s client %4s other %4s  %7s req/daemon-CPU-s\n",
            $1, $2, ($3 == "me" ? "auth/me" : "bootstrap"), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
    }' "$ROWS"
    echo
    echo "commands (ports differ per run):"
    awk -F'\t' 'NR > 1 && $4 == 1 { printf "  %-16s %s\n", $1, $16 }' "$ROWS"
    echo
    echo "auth/me / bootstrap, same run (target: mean of the pair ratios >= $TARGET_RATIO):"
    while IFS=$'\t' read -r proto mean cpu pairs; do
        verdict="NOT MET"
        if awk -v m="$mean" -v t="$TARGET_RATIO" 'BEGIN { exit !(m >= t) }'; then verdict=met; fi
        printf '  %-9s req/s ratio %s (pairs: %s): %s;  req per daemon-CPU-s ratio %s\n' "$proto" "$mean" "$pairs" \
            "$verdict" "$cpu"
    done <"$RATIOS"
    echo "(CPU s: CPU seconds used during the run by the daemon, the load generator and everything else on the machine;"
    echo " 'other' well above 0 means a noisy run. req/daemon-CPU-s: requests served per CPU second of the daemon)"
    awk -F'\t' 'NR > 1 && $14 > 0.5 { printf "WARNING: %s: other processes used %s CPU s during the run: numbers are unreliable\n", $1, $14 }' "$ROWS"
} | tee "$OUT/table.txt"
cp "$OUT/table.txt" "$ROOT/bench/out/auth-latest.txt"

if [ "$failed" -ne 0 ]; then
    echo "auth.sh: FAILED: some requests errored or were not answered 200 (see $OUT)" >&2
    exit 1
fi
