#!/usr/bin/env bash
# bench/soak: mixed traffic from many simulated devices for a long time (issue 14).
#
#   bench/soak.sh [--no-build] [--devices N] [--seconds D] [--warmup-s W] [--think-ms MIN,MAX] [--revoke-pct P] [--seed S]
#                                                                 (defaults: 200 devices, 1800 s, warm-up 300 s or D/3)
#
# Builds the optimised daemon (`make build`; --no-build uses the existing build/hermeslink, or $BENCH_BIN), an optimised
# copy of the fake upstream (tests/fake_upstream as committed at HEAD, `cc -O2`, jansson) and the client bench/soak.c
# (`cc -O2`, libcurl and jansson). Starts the fake (`--port 0 --key K --max-runs 1000 --keep-finished-s 60`: a finished
# run is kept 60 s instead of an hour, see below) and the daemon on random loopback
# ports (plain HTTP and TLS) with a temporary HERMESLINK_HOME and HERMES_HOME whose .env points at the fake, and the
# daemon's default config (2 workers, maxStreamsPerDevice 32, …: no cap is raised, so that a leaked stream would show as
# a refused one). Then runs the client: N devices pair over the pairing API and for D seconds refresh their tokens, send
# messages whose runs stream from the fake, keep a conversation event stream that they drop and resume with
# Last-Event-ID now and then, upload, run agent runs directly, and some are revoked and replaced (see bench/soak.c for the
# traffic and every check). The daemon's RSS and descriptors are sampled every 10 s into samples.csv and drawn by
# bench/soak_chart.sh. Afterwards the daemon is stopped with SIGTERM and must exit 0.
#
# Output: a summary on stdout, also in bench/out/soak-<stamp>/summary.txt, next to samples.csv, the client's key=value
# output (soak.txt) and messages (soak.stderr), the daemon's and the fake's logs. Exit status 1 when an event was lost
# or duplicated, a check failed, or a process died. Environment: BENCH_BIN, SOAK_CC (default cc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
CC=${SOAK_CC:-cc}
KEY=bench-soak-key-0123456789

build=1 devices=200 seconds=1800 warmup="" think="1000,4000" revoke="0.25" seed=1
while [ $# -gt 0 ]; do
    case "$1" in
    --no-build) build=0 ;;
    --devices) devices=$2 && shift ;;
    --seconds) seconds=$2 && shift ;;
    --warmup-s) warmup=$2 && shift ;;
    --think-ms) think=$2 && shift ;;
    --revoke-pct) revoke=$2 && shift ;;
    --seed) seed=$2 && shift ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    *)
        echo "soak.sh: unknown argument: $1" >&2
        exit 2
        ;;
    esac
    shift
done
[ -n "$warmup" ] || warmup=$((seconds >= 900 ? 300 : seconds / 3))

BENCH_NAME=soak
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_require_tools curl git tar "$CC"
bench_build "$build"
bench_setup # OUT (bench/out/soak-<stamp>), TMP, and the EXIT trap that stops what we started, by PID

CLIENT="$OUT/soak"
"$CC" -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$CLIENT" "$ROOT/bench/soak.c" -lcurl -ljansson
FAKE="$OUT/fake-hermes"
mkdir -p "$TMP/fake-src"
git -C "$ROOT" archive HEAD tests/fake_upstream | tar -x -C "$TMP/fake-src"
"$CC" -O2 -std=c17 -D_GNU_SOURCE -o "$FAKE" "$TMP/fake-src/tests/fake_upstream"/*.c -ljansson -lm

# The fake keeps a finished run for an hour by default (as upstream does) in a list that every lookup scans: over 30
# minutes of ~40 runs/s it would hold ~70,000 and the fake, not HermesLink, would become the bottleneck (runs piling up,
# which shows as descriptors and memory held by the daemon). --keep-finished-s 60 keeps a finished run for 60 s.
FAKE_OPTS=(--key "$KEY" --max-runs 1000 --keep-finished-s 60)
bench_start_fake "" "$FAKE" "${FAKE_OPTS[@]}" # sets fake_pid and fake_port

# the daemon with its default config.json (no raised cap), its Hermes home's .env pointing at the fake
mkdir -p "$TMP/hermes"
printf '# bench/soak.sh\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%s\nAPI_SERVER_KEY="%s"\n' "$fake_port" "$KEY" >"$TMP/hermes/.env"
BENCH_DAEMON_CONFIG="" bench_start_daemon
echo "soak.sh: daemon $pid on 127.0.0.1:$port (TLS $tls_port), fake $fake_pid on $fake_port; $devices devices for $seconds s" >&2

cmd=("$CLIENT" --port "$port" --tls-port "$tls_port" --home "$DAEMON_HOME" --daemon-pid "$pid" --csv "$OUT/samples.csv"
    --fake-port "$fake_port" --fake-pid "$fake_pid" --devices "$devices" --seconds "$seconds"
    --think-ms "$think" --revoke-pct "$revoke" --seed "$seed")
failed=0
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$(date +%s)
: >"$OUT/soak.stderr" # exists before tail follows it
"${cmd[@]}" >"$OUT/soak.txt" 2>"$OUT/soak.stderr" &
client_pid=$!
bench_track "$client_pid"
tail -n +1 -f "$OUT/soak.stderr" --pid "$client_pid" >&2 &
tail_pid=$!
client_rc=0
wait "$client_pid" || client_rc=$?
bench_untrack "$client_pid"
wait "$tail_pid" 2>/dev/null || true
finished=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
[ "$client_rc" -eq 0 ] || failed=1

daemon_rc="-"
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    daemon_rc=0
    wait "$pid" || daemon_rc=$?
    pid=""
    [ "$daemon_rc" -eq 0 ] || failed=1
else
    echo "soak.sh: the daemon died during the run" >&2
    failed=1
fi
kill -0 "$fake_pid" 2>/dev/null || {
    echo "soak.sh: the fake died during the run" >&2
    failed=1
}
mkdir -p "$OUT/daemon-logs"
cp -r "$DAEMON_HOME/logs/." "$OUT/daemon-logs/" 2>/dev/null || true
log_errors=$(cat "$OUT"/daemon-logs/* 2>/dev/null | grep -c '"level":"error"' || true)
log_warns=$(cat "$OUT"/daemon-logs/* 2>/dev/null | grep -c '"level":"warn"' || true)

val() { awk -v k="$1" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' "$OUT/soak.txt"; }
SUMMARY=$OUT/summary.txt
{
    bench_header "$build"
    echo "run: $started -> $finished ($(($(date +%s) - t0)) s wall), $(nproc) CPUs shared with other work, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "command: bench/soak.sh --devices $devices --seconds $seconds --warmup-s $warmup --think-ms $think --revoke-pct $revoke --seed $seed"
    echo "daemon: default config (2 workers, maxStreamsPerDevice 32); fake: tests/fake_upstream at $(git -C "$ROOT" rev-parse --short HEAD) (cc -O2), --max-runs 1000 --keep-finished-s 60 (finished runs kept 60 s instead of the default 3600 s)"
    echo "daemon exit status after SIGTERM: $daemon_rc; its log: $log_errors error and $log_warns warn lines"
    echo
    echo "result: $(val result)   lost $(val lost), duplicated $(val dups) over $(val events) events; devices with a loss or duplicate: $(val slots_with_loss_or_dup) of $devices (events per device $(val events_per_slot_min)..$(val events_per_slot_max)); problems $(val problems)"
    echo
    sed -n '/^route  /,$p' "$OUT/soak.stderr"
    echo
    "$ROOT/bench/soak_chart.sh" "$OUT/samples.csv" "$warmup" "$seconds"
} >"$SUMMARY"
[ "$(val result)" = pass ] || failed=1
[ "$failed" -eq 0 ] || echo "FAILED: see $OUT" >>"$SUMMARY"
cat "$SUMMARY"
echo "soak.sh: raw output in ${OUT#"$ROOT"/}" >&2
exit "$failed"
