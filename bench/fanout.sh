#!/usr/bin/env bash
# bench/fanout: SSE fan-out of GET /api/v1/conversations/events (issue 4).
#
#   bench/fanout.sh [--no-build] [scenario...]
#
# Builds the optimised daemon (`make build`; --no-build uses the existing build/hermeslink, or $BENCH_BIN) and the
# client bench/fanout.c (plain `cc`, libc only), then runs each scenario against its own freshly started daemon (random
# loopback port, temporary HERMESLINK_HOME, default config: 2 workers) so that every RSS reading starts from the same
# state. Per scenario: pair, get a device token, create a warm-up conversation and PATCH its title 50 times (not
# measured), create the measured conversation, run the client, stop the daemon by its PID.
#
# Scenarios (default: all but `scaling`):
#   a-burst     HTTP/1.1, 1,000 streams, 200 events as fast as 4 PATCH connections go     target p99 <= 50 ms, >= 200,000 deliveries/s
#   a-paced     HTTP/1.1, 1,000 streams, 200 events paced at 250/s (8 PATCH connections)  same targets
#   b-held      HTTP/1.1, 10,000 streams held 16 s (one heartbeat round), then 20 events burst (4 PATCH connections)
#                                                                                          target p99 <= 500 ms, RSS <= 16 KiB/stream
#   b-paced     HTTP/1.1, 10,000 streams, 20 events paced at 10/s                         target p99 <= 500 ms
#   c-h2        h2c, 10 connections x 100 streams, 200 events burst (4 PATCH connections)
#   d-h2-10k    h2c, 100 connections x 100 streams, 20 events burst (4 PATCH connections)
#   e-100k      100,000 streams at once: h2c, 900 connections x 100 streams (h2o 2.2.5 refuses a 101st open stream on a
#               connection), plus 10,000 HTTP/1.1 streams; 20 events burst (4 PATCH connections); every stream must get
#               every event. Not in the default set (`make bench-100k`): ~11,000 descriptors on each side, ~0.7 GB of
#               daemon memory, ~1 minute. FANOUT_100K_H2 / FANOUT_100K_H1 change the two stream counts (e.g. a
#               30,000-stream rehearsal), FANOUT_SOURCE_ADDRS spreads the client over 127.0.0.1..N (default 4).
#   scaling     one stream, 10 rounds of 500 PATCHes on one connection into the same conversation: PATCH cost (and the
#               time of GET /api/v1/conversations after each round) against the conversation's event count (not part of
#               the issue's targets; shows the cost of the unread_count scan)
#
# Output: a table on stdout, also in bench/out/fanout-<stamp>/table.txt, with each client's key=value output and the
# daemon logs next to it. Exit status 1 when a delivery went missing or arrived twice or out of order, or a stream
# failed; the latency and throughput targets are reported, not enforced (the machine is shared).
# Environment: BENCH_BIN (a daemon binary built elsewhere), FANOUT_CC (compiler, default cc), FANOUT_PERF_STAT=1 (count
# the daemon's writev calls with `perf stat` during each client run: daemon_writev= in the scenario's output).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
CC=${FANOUT_CC:-cc}

build=1
scenarios=()
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    a-burst | a-paced | b-held | b-paced | c-h2 | d-h2-10k | e-100k | scaling) scenarios+=("$arg") ;;
    *)
        echo "fanout.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(a-burst a-paced b-held b-paced c-h2 d-h2-10k)

BENCH_NAME=fanout
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
die() { bench_die "$@"; }
bench_require_tools curl "$CC"
bench_build "$build"
bench_setup # OUT (bench/out/fanout-<stamp>), TMP, and the EXIT trap that stops the daemon by its PID
CLIENT="$OUT/fanout"
"$CC" -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$CLIENT" "$ROOT/bench/fanout.c"

# The value of a top-level string field $1 in the JSON on stdin (no jq needed: the fields read here are plain tokens).
json_str() { grep -o "\"$1\" *: *\"[^\"]*\"" | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
# The id of the conversation a POST /api/v1/conversations answered ({"ok":true,"conversation":{"id":"conv_…",…}}).
conv_id() { grep -o '"id" *: *"conv_[0-9a-zA-Z]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }

# Starts a fresh daemon for scenario $1; sets pid, port, token, conv.
start_daemon() {
    local name=$1 home="$TMP/$1" ct warm i
    mkdir -p "$home/home"
    # thousands of streams with one device's token: past the default per-device cap of event streams (32), and past the
    # default cap of connections in total (8,192: b-held alone opens 10,004; e-100k 10,904)
    printf '{"maxStreamsPerDevice": 100000, "maxConnections": 100000}\n' >"$home/home/config.json"
    HERMESLINK_HOME="$home/home" HERMES_HOME="$home/hermes" \
        "$BIN" run --port auto --tls-port 0 --listen 127.0.0.1 >"$OUT/$name.daemon.stdout" 2>"$OUT/$name.daemon.stderr" &
    pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/^Hermes Link running on port \([0-9][0-9]*\).*/\1/p' "$OUT/$name.daemon.stdout")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || die "the daemon did not report its port: $(cat "$OUT/$name.daemon.stderr")"
    local base="http://127.0.0.1:$port/api/v1"
    ct=$(HERMESLINK_HOME="$home/home" "$BIN" pair --json | json_str connect_token)
    [ -n "$ct" ] || die "no connect token from hermeslink pair --json"
    # {"access_token":{"token":"hlat_…",…},…}
    token=$(curl -sf -X POST -H "Authorization: Bearer $ct" -H 'Content-Type: application/json' -d '{}' \
        "$base/auth/device-session" | grep -o '"access_token" *: *{ *"token" *: *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    [ -n "$token" ] || die "no access token"
    local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
    warm=$(curl -sf -X POST "${auth[@]}" -d '{"title":"warm-up"}' "$base/conversations" | conv_id)
    for i in $(seq 50); do
        curl -sf -o /dev/null -X PATCH "${auth[@]}" -d "{\"title\":\"warm-up $i\"}" "$base/conversations/$warm/title"
    done
    conv=$(curl -sf -X POST "${auth[@]}" -d '{"title":"fan-out"}' "$base/conversations" | conv_id)
    if [ -z "$warm" ] || [ -z "$conv" ]; then
        die "could not create the conversations"
    fi
}

failed=0
ROWS="$OUT/rows.tsv"
: >"$ROWS"
COMMANDS="$OUT/commands.txt"
: >"$COMMANDS"

val() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
bad() { awk -F= '$1 ~ /^(duplicates|id_gaps|id_reorders|order_mismatches)$/ { n += $2 } END { print n + 0 }' "$1"; }

# run <name> <proto label> <client args...>
run() {
    local name=$1 label=$2 raw="$OUT/$1.txt" rc=0
    shift 2
    start_daemon "$name"
    echo "fanout.sh: $name: daemon $pid on port $port" >&2
    local argv=("$CLIENT" --port "$port" --token "$token" --conv "$conv" --daemon-pid "$pid" --nonce "$name" "$@")
    echo "$name: bench/fanout --port \$PORT --token \$TOKEN --conv \$CONV --daemon-pid \$PID --nonce $name $*" >>"$COMMANDS"
    local perf_pid=""
    if [ -n "${FANOUT_PERF_STAT:-}" ]; then
        perf stat -e syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendmsg -p "$pid" \
            -o "$OUT/$name.perfstat" &
        perf_pid=$!
        sleep 0.3
    fi
    "${argv[@]}" >"$raw" 2>"$OUT/$name.stderr" || rc=$?
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        awk '/syscalls:sys_enter_writev/ { gsub(",", "", $1); print "daemon_writev=" $1 }' "$OUT/$name.perfstat" >>"$raw"
    fi
    grep '^fanout:' "$OUT/$name.stderr" | sed "s/^fanout:/  $name:/" >&2 || true
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "fanout.sh: $name: the daemon died; stderr:" >&2
        cat "$OUT/$name.daemon.stderr" >&2
        failed=1
    fi
    stop_daemon
    if [ "$rc" -ne 0 ]; then
        echo "fanout.sh: $name: the client reported a failure (exit $rc), see $OUT/$name.stderr" >&2
        failed=1
    fi
    [ -s "$raw" ] || return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" \
        "$(val "$raw" streams)" "$(val "$raw" connections)" "$(val "$raw" events)" "$(val "$raw" rate)" \
        "$(val "$raw" patch_conns)" "$(val "$raw" open_s)" "$(val "$raw" rss_per_stream_kib)" \
        "$(val "$raw" deliveries_per_s)" "$(val "$raw" lat_p50_ms)" "$(val "$raw" lat_p99_ms)" "$(val "$raw" lat_max_ms)" \
        "$(val "$raw" missing)" "$(bad "$raw")" \
        "$(val "$raw" patch_rtt_p50_ms)" "$(val "$raw" cpu_daemon_s)" "$(val "$raw" cpu_client_s)" "$(val "$raw" cpu_other_s)" \
        "$(val "$raw" heartbeats_idle)" "$(val "$raw" rss_idle_kib)" >>"$ROWS"
}

# median of 5 GET /api/v1/conversations (the first page, 20 summaries with their unread counts), in ms
list_ms() {
    local i
    for i in 1 2 3 4 5; do
        curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/conversations"
    done | sort -n | awk 'NR == 3 { printf "%.2f", $1 * 1000 }'
}

scaling() {
    local name=scaling raw="$OUT/scaling.txt" round r
    start_daemon "$name"
    echo "fanout.sh: $name: daemon $pid on port $port" >&2
    echo "$name: 10 x bench/fanout --port \$PORT --token \$TOKEN --conv \$CONV --daemon-pid \$PID --streams 1 --events 500 --patch-conns 1 --idle-ms 0" >>"$COMMANDS"
    printf 'round\tevents_before\tpatch_per_s\tpatch_rtt_p50_ms\tpatch_rtt_p99_ms\tlist_after_ms\n' >"$raw"
    for round in $(seq 10); do
        r="$OUT/scaling-$round.txt"
        "$CLIENT" --port "$port" --token "$token" --conv "$conv" --daemon-pid "$pid" --nonce "s$round" --streams 1 --events 500 \
            --patch-conns 1 --idle-ms 0 >"$r" 2>>"$OUT/scaling.stderr" || failed=1
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$(((round - 1) * 500 + 1))" "$(val "$r" patch_per_s)" "$(val "$r" patch_rtt_p50_ms)" \
            "$(val "$r" patch_rtt_p99_ms)" "$(list_ms)" >>"$raw"
    done
    stop_daemon
}

for s in "${scenarios[@]}"; do
    case "$s" in
    a-burst) run a-burst HTTP/1.1 --streams 1000 --events 200 --patch-conns 4 --idle-ms 2000 ;;
    a-paced) run a-paced HTTP/1.1 --streams 1000 --events 200 --rate 250 --patch-conns 8 --idle-ms 2000 ;;
    b-held) run b-held HTTP/1.1 --streams 10000 --events 20 --patch-conns 4 --idle-ms 16000 ;;
    b-paced) run b-paced HTTP/1.1 --streams 10000 --events 20 --rate 10 --patch-conns 4 --idle-ms 2000 ;;
    c-h2) run c-h2 h2c --h2 --per-conn 100 --streams 1000 --events 200 --patch-conns 4 --idle-ms 2000 ;;
    d-h2-10k) run d-h2-10k h2c --h2 --per-conn 100 --streams 10000 --events 20 --patch-conns 4 --idle-ms 2000 ;;
    e-100k)
        run e-100k h2c+h1 --h2 --per-conn 100 --streams "${FANOUT_100K_H2:-90000}" --h1-streams "${FANOUT_100K_H1:-10000}" \
            --source-addrs "${FANOUT_SOURCE_ADDRS:-4}" --events 20 --patch-conns 4 --idle-ms 5000 --open-timeout-s 180 \
            --drain-ms 30000
        ;;
    scaling) scaling ;;
    esac
done

# Report.
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "") print "-"; else if ((op == "le" && v + 0 <= t) || (op == "ge" && v + 0 >= t)) print "met"; else print "NOT MET" }'; }
{
    echo "bench/fanout $BENCH_STAMP  commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src include CMakeLists.txt || echo '+dirty')" \
        " nproc $(nproc)  $(uname -r)  binary ${BIN#"$ROOT"/}"
    echo
    if [ -s "$ROWS" ]; then
        printf '%-9s %-8s %6s %5s %4s %5s %2s %7s %8s %10s %8s %8s %8s %5s %5s %9s %14s %6s\n' scenario proto streams conns evts rate P \
            open_s KiB/strm deliv/s p50_ms p99_ms max_ms miss bad patch_p50 cpu_d/c/o_s hbeats
        awk -F'\t' '{ printf "%-9s %-8s %6s %5s %4s %5s %2s %7s %8s %10s %8s %8s %8s %5s %5s %9s %14s %6s\n",
            $1, $2, $3, $4, $5, ($6 + 0 > 0 ? $6 : "burst"), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 "/" $18 "/" $19, $20 }' "$ROWS"
        echo
        echo "(P = PATCH connections; bad = duplicates + id gaps + reorders + order mismatches; KiB/strm = daemon RSS growth"
        echo " per open idle stream; cpu = CPU seconds of the daemon / the client / everything else during the event phase)"
        echo
        while IFS=$'\t' read -r name _ streams _ _ _ _ _ kib dps _ p99 _; do
            case "$name" in
            a-*) echo "target $name: p99 $p99 ms <= 50: $(verdict "$p99" 50 le); $dps deliveries/s >= 200000: $(verdict "$dps" 200000 ge); RSS $kib KiB/stream <= 16: $(verdict "$kib" 16 le)" ;;
            b-*) echo "target $name: $streams streams held; p99 $p99 ms <= 500: $(verdict "$p99" 500 le); RSS $kib KiB/stream <= 16: $(verdict "$kib" 16 le)" ;;
            *) echo "$name (no target): p99 $p99 ms, $dps deliveries/s, RSS $kib KiB/stream" ;;
            esac
        done <"$ROWS"
    fi
    if [ -s "$OUT/e-100k.txt" ]; then
        r="$OUT/e-100k.txt"
        echo
        echo "e-100k: $(val "$r" streams_open) of $(val "$r" streams) streams open ($(val "$r" h2_streams) h2c on $(val "$r" h2_connections)" \
            "connections, $(val "$r" h1_streams) HTTP/1.1) in $(val "$r" open_s) s, $(val "$r" streams_alive_after) still open after the events"
        echo "  latency ms p50/p99/max: all $(val "$r" lat_p50_ms)/$(val "$r" lat_p99_ms)/$(val "$r" lat_max_ms)," \
            "h2c $(val "$r" h2_lat_p50_ms)/$(val "$r" h2_lat_p99_ms)/$(val "$r" h2_lat_max_ms)," \
            "HTTP/1.1 $(val "$r" h1_lat_p50_ms)/$(val "$r" h1_lat_p99_ms)/$(val "$r" h1_lat_max_ms)"
        echo "  daemon RSS $(val "$r" rss_before_kib) KiB before, $(val "$r" rss_idle_kib) KiB with the streams open" \
            "($(val "$r" rss_per_stream_kib) KiB/stream), $(val "$r" rss_after_kib) KiB after the events"
        echo "  daemon CPU: $(val "$r" cpu_daemon_idle_pct)% of a core holding the idle streams; $(val "$r" cpu_daemon_s) s in the" \
            "$(val "$r" events_wall_s)-s event phase ($(val "$r" cpu_client_s) s client, $(val "$r" cpu_other_s) s everything else)"
    fi
    if [ -s "$OUT/scaling.txt" ]; then
        echo
        echo "scaling: PATCH /title on one connection, one stream, against the conversation's event count"
        column -t "$OUT/scaling.txt"
    fi
    echo
    echo "commands:"
    sed 's/^/  /' "$COMMANDS"
} | tee "$OUT/table.txt"
echo "fanout.sh: raw output in ${OUT#"$ROOT"/}" >&2
exit "$failed"
