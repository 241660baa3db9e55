#!/usr/bin/env bash
# bench/proxy: the run proxy — agent runs relayed from a Hermes API server (issue 8).
#
#   bench/proxy.sh [--no-build] [throughput-1] [throughput-1-retry] [throughput-100] [latency-1000] [conv-100]
#                                                                                            (default: all five)
#
# Builds the optimised daemon (`make build`; --no-build uses the existing build/hermeslink, or $BENCH_BIN), an optimised
# copy of the fake upstream (tests/fake_upstream as committed at HEAD, `cc -O2`, jansson; PROXY_FAKE_WORKTREE=1 builds
# the working tree's instead) and the client bench/proxy.c (plain `cc`, libc only). Each scenario gets its own fake
# (`fake-hermes --port 0 --key K --max-runs 200 --max-deltas 100000`: scripts up to 100,000 deltas) and its own freshly started daemon (random loopback ports, temporary
# HERMESLINK_HOME and HERMES_HOME whose .env points at the fake: API_SERVER_HOST/PORT/KEY), a paired device, and both
# are stopped by their PIDs afterwards.
#
#   throughput-1    3 rounds of: a run `[[fake:stream;deltas=99998;gap_ms=0]]` (100,000 events: the deltas,
#                   reasoning.available, run.completed) POSTed to the fake and read directly by one subscriber (the
#                   reference), then the same run shape POSTed to HermesLink (POST /api/v1/runs) and read by one
#                   subscriber of GET /api/v1/runs/:id/events. Events/s = frames / (last frame − first frame).
#                                                                       target: >= 50,000 events/s to one subscriber
#   throughput-1-retry  1 round as throughput-1, but a relay subscriber whose stream is ended early (see below) waits
#                   the stream's `retry:` (3,000 ms from HermesLink) before it reconnects, as a browser EventSource does
#   throughput-100  1 round, 100 subscribers (HTTP/1.1, one connection each) on the one relay: deliveries/s in all,
#                   per-subscriber rate and completion time; the direct reference as above
#   latency-1000    `[[fake:slow;first_delay_ms=1000;deltas=10000;gap_ms=1]]` twice at once: one run read directly at
#                   the fake, one through HermesLink; latency = receipt (CLOCK_REALTIME) − the event's `timestamp`
#                   (the fake's wall clock); added p99 = relay p99 − direct p99       target: added p99 <= 2 ms
#   conv-100        100 conversations, one SSE stream each; GET /api/v1/bootstrap every 5 ms on one keep-alive
#                   connection (sequential) for 3 s, then one message per conversation `[[fake:stream;deltas=200;
#                   gap_ms=20]]` (100 concurrent runs streaming ~4 s) and the probe goes on until every run ended
#                                                                       target: bootstrap p99 during the runs < 10 ms
#
# Why deltas=99998 and not 100000: with gap_ms=0 the fake produces the whole run in one turn of its loop, before any
# subscriber can attach, and it buffers at most 100,000 events per unsubscribed run: 100,000 deltas would push out
# reasoning.available and run.completed (the stream would end without a terminal event). Both subscribers (direct and
# HermesLink's) therefore attach after the fake has produced everything and receive it as fast as the fake writes.
#
# Every relay subscriber must get frame ids 1..100,000 (10,002 for latency) exactly once and in order, ending with
# run.completed; a subscriber whose stream ends early (HermesLink ends a stream that falls more than its ring behind,
# ": behind, reconnect with Last-Event-ID") reconnects with Last-Event-ID at once (throughput-1-retry: after retry:):
# counted as reconnects, with the frames received before the first such end and the time from the ends to the next frame.
#
# Output: a summary on stdout, also in bench/out/proxy-<stamp>/summary.txt, with each client's key=value output, the
# daemon and fake logs next to it. Exit status 1 when a frame went missing or arrived twice, a stream or run failed, or a
# process died; the targets are reported, not enforced (the machine is shared: compare the ratios of one run).
# Environment: BENCH_BIN, PROXY_CC (default cc), PROXY_FAKE_WORKTREE=1, PROXY_PERF=1 (perf record -g of the daemon
# during each scenario: <scenario>.perf.txt). About a minute.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/hermeslink}
CC=${PROXY_CC:-cc}
KEY=bench-proxy-key-0123456789
TARGET_EPS=50000
TARGET_ADDED_P99_MS=2
TARGET_BOOT_P99_MS=10

build=1
scenarios=()
for arg in "$@"; do
    case "$arg" in
    --no-build) build=0 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    throughput-1 | throughput-1-retry | throughput-100 | latency-1000 | conv-100) scenarios+=("$arg") ;;
    *)
        echo "proxy.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(throughput-1 throughput-1-retry throughput-100 latency-1000 conv-100)

BENCH_NAME=proxy
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_require_tools curl jq git tar "$CC"
[ -z "${PROXY_PERF:-}" ] || bench_require_tools perf
bench_build "$build"
bench_setup # OUT (bench/out/proxy-<stamp>), TMP, and the EXIT trap that stops what we started, by PID

CLIENT="$OUT/proxy"
"$CC" -O2 -std=c17 -D_GNU_SOURCE -pthread -Wall -Wextra -o "$CLIENT" "$ROOT/bench/proxy.c"
FAKE="$OUT/fake-hermes"
fake_src="$TMP/fake-src/tests/fake_upstream"
mkdir -p "$fake_src"
if [ -n "${PROXY_FAKE_WORKTREE:-}" ]; then
    cp "$ROOT"/tests/fake_upstream/*.[ch] "$fake_src/"
    fake_from="the working tree's tests/fake_upstream"
else
    git -C "$ROOT" archive HEAD tests/fake_upstream | tar -x -C "$TMP/fake-src"
    fake_from="tests/fake_upstream at $(git -C "$ROOT" rev-parse --short HEAD)"
fi
"$CC" -O2 -std=c17 -D_GNU_SOURCE -o "$FAKE" "$fake_src"/*.c -ljansson -lm
# The throughput scenarios stream 99,998 deltas: --max-deltas 100000 (the fake's default today) says so explicitly, so
# that a lower default would not cut them.
FAKE_OPTS=(--key "$KEY" --max-runs 200 --max-deltas 100000)

SUMMARY="$OUT/summary.txt"
COMMANDS="$OUT/commands.txt"
: >"$COMMANDS"
failed=0
fake_pid=""
summary() { echo "$*" >>"$SUMMARY"; }
val() { awk -v k="$2" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' "$1"; }
verdict() { # value op bound  ->  met / NOT MET
    if [ -z "$1" ]; then
        echo "-"
    elif awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? v >= b : op == "<" ? v < b : v <= b) }'; then
        echo met
    else
        echo "NOT MET"
    fi
}
num() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else { s = sprintf("%.0f", v); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r } }'; }

stop_fake() { # SIGTERM, then its exit status must be 0
    local rc=0 _
    [ -n "$fake_pid" ] || return 0
    kill -TERM "$fake_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$fake_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$fake_pid" 2>/dev/null; then
        echo "proxy.sh: the fake $fake_pid ignored SIGTERM for 5 s, killing it" >&2
        kill -KILL "$fake_pid" 2>/dev/null || true
    fi
    wait "$fake_pid" 2>/dev/null || rc=$?
    bench_untrack "$fake_pid"
    fake_pid=""
    if [ "$rc" -ne 0 ]; then
        echo "proxy.sh: the fake exited with status $rc" >&2
        failed=1
    fi
}

# run <scenario> <client mode and args...>
run() {
    local name=$1 raw="$OUT/$1.txt" rc=0 perf_pid=""
    shift
    bench_start_fake "$name" "$FAKE" "${FAKE_OPTS[@]}" # sets fake_pid and fake_port
    mkdir -p "$TMP/$name/hermes"
    printf '# bench/proxy.sh\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%s\nAPI_SERVER_KEY="%s"\n' "$fake_port" "$KEY" >"$TMP/$name/hermes/.env"
    bench_start_daemon "$name"
    bench_pair_device "bench-proxy"
    echo "proxy.sh: $name: daemon $pid on $HTTP, fake $fake_pid on port $fake_port" >&2
    echo "$name: proxy $* --port \$PORT --token \$TOKEN --fake-port \$FAKE_PORT --key $KEY --daemon-pid \$PID --fake-pid \$FAKE_PID" >>"$COMMANDS"
    if [ -n "${PROXY_PERF:-}" ]; then
        perf record -g -p "$pid" -o "$OUT/$name.perf.data" >/dev/null 2>"$OUT/$name.perf.stderr" &
        perf_pid=$!
        bench_track "$perf_pid"
        sleep 0.5
    fi
    "$CLIENT" "$@" --port "$port" --token "$token" --fake-port "$fake_port" --key "$KEY" --daemon-pid "$pid" \
        --fake-pid "$fake_pid" >"$raw" 2>"$OUT/$name.stderr" || rc=$?
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        bench_untrack "$perf_pid"
        perf report -i "$OUT/$name.perf.data" --stdio --no-children --percent-limit 1 2>/dev/null | grep -v '^$' | head -150 \
            >"$OUT/$name.perf.txt" || true
    fi
    sed 's/^proxy:/  '"$name"':/' "$OUT/$name.stderr" >&2
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "proxy.sh: $name: the daemon died; stderr:" >&2
        cat "$DAEMON_LOG" >&2
        failed=1
    fi
    if ! kill -0 "$fake_pid" 2>/dev/null; then
        echo "proxy.sh: $name: the fake died; stderr:" >&2
        cat "$OUT/$name.fake.stderr" >&2
        failed=1
    fi
    stop_daemon
    stop_fake
    if [ "$rc" -ne 0 ]; then
        echo "proxy.sh: $name: the client reported a failure (exit $rc), see $OUT/$name.stderr" >&2
        failed=1
    fi
}

for s in "${scenarios[@]}"; do
    case "$s" in
    throughput-1) run throughput-1 throughput --subs 1 --rounds 3 --deltas 99998 --deadline-s 60 ;;
    throughput-1-retry) run throughput-1-retry throughput --subs 1 --rounds 1 --deltas 99998 --honour-retry --deadline-s 60 ;;
    throughput-100) run throughput-100 throughput --subs 100 --rounds 1 --deltas 99998 --deadline-s 90 ;;
    latency-1000) run latency-1000 latency --deltas 10000 --gap-ms 1 --first-delay-ms 1000 --deadline-s 40 ;;
    conv-100) run conv-100 conv --convs 100 --deltas 200 --gap-ms 20 --boot-interval-ms 5 --baseline-ms 3000 --deadline-s 60 ;;
    esac
done

# ---- report ----
: >"$SUMMARY"
summary "$(bench_header "$build")"
summary "fake: $fake_from (cc -O2), --key K --max-runs 200 --max-deltas 100000; client: bench/proxy.c (cc -O2)"
cpu() { # scenario-file prefix -> "daemon/fake/client/other"
    echo "$(val "$1" "${2}_cpu_daemon_s")/$(val "$1" "${2}_cpu_fake_s")/$(val "$1" "${2}_cpu_client_s")/$(val "$1" "${2}_cpu_other_s")"
}
for s in "${scenarios[@]}"; do
    f="$OUT/$s.txt"
    [ -s "$f" ] || {
        summary ""
        summary "$s: no output (see $s.stderr)"
        continue
    }
    summary ""
    case "$s" in
    throughput-*)
        n=$(val "$f" subs)
        rounds=$(val "$f" rounds)
        summary "$s: $(val "$f" expected_frames) events per run (scenario $(val "$f" scenario)), $n relay subscriber(s), $rounds round(s)"
        summary "  events/s per subscriber: first -> last frame (from opening the stream -> last frame); relay: median (min) over subscribers"
        summary "  round  fake made it in  direct ev/s           relay ev/s per subscriber        relay deliveries/s  reconnects (max/sub, 1st cut at frame)  done p50/max after 202 (ms)  bad  CPU s relay phase d/f/c/o"
        for r in $(seq "$rounds"); do
            summary "$(printf '  %5s  %14ss  %-20s  %-31s  %18s  %38s  %27s  %3s  %s' "$r" "$(val "$f" "direct_r${r}_fake_production_s")" \
                "$(num "$(val "$f" "direct_r${r}_events_per_s")") ($(num "$(val "$f" "direct_r${r}_open_to_last_events_per_s")"))" \
                "$(num "$(val "$f" "relay_r${r}_sub_events_per_s_median")") ($(num "$(val "$f" "relay_r${r}_sub_open_to_last_events_per_s_median")")) min $(num "$(val "$f" "relay_r${r}_sub_events_per_s_min")")" \
                "$(num "$(val "$f" "relay_r${r}_deliveries_per_s")")" \
                "$(val "$f" "relay_r${r}_reconnects") ($(val "$f" "relay_r${r}_reconnects_max"), $(val "$f" "relay_r${r}_first_cut_after_frames"))" \
                "$(val "$f" "relay_r${r}_sub_done_after_202_p50_ms")/$(val "$f" "relay_r${r}_sub_done_after_202_max_ms")" \
                "$(awk -v a="$(val "$f" "relay_r${r}_bad_subs")" -v b="$(val "$f" "direct_r${r}_bad")" 'BEGIN { print a + b }')" \
                "$(cpu "$f" "relay_r${r}")")"
        done
        for r in $(seq "$rounds"); do
            rc=$(val "$f" "relay_r${r}_reconnects")
            if [ -n "$rc" ] && [ "$rc" != 0 ]; then
                summary "  round $r: $rc relay stream(s) ended early (\": behind, reconnect with Last-Event-ID\": $(val "$f" "relay_r${r}_behind_comments")), the first after $(val "$f" "relay_r${r}_first_cut_after_frames") frames; from those ends to the next frame (reconnect + replay) $(awk -v t="$(val "$f" "relay_r${r}_reconnect_gap_ms_total")" -v n="$rc" 'BEGIN { printf "%.1f", t / n }') ms on average"
            fi
        done
        d=$(val "$f" direct_events_per_s)
        e=$(val "$f" relay_sub_events_per_s)
        summary "  median: direct $(num "$d") events/s, relay $(num "$e") events/s per subscriber ($(val "$f" relay_over_direct) of direct), $(num "$(val "$f" relay_deliveries_per_s)") deliveries/s in all; from opening the stream: direct $(num "$(val "$f" direct_open_to_last_events_per_s)"), relay $(num "$(val "$f" relay_sub_open_to_last_events_per_s)") events/s"
        if [ "$(val "$f" honour_retry)" = 1 ]; then
            summary "  (subscribers cut early waited the stream's retry: before reconnecting, as an EventSource does)"
        fi
        if [ "$n" = 1 ]; then
            o=$(val "$f" relay_sub_open_to_last_events_per_s)
            summary "  target: >= $(num $TARGET_EPS) events/s to one subscriber: first -> last frame $(num "$e") -> $(verdict "$e" '>=' "$TARGET_EPS"); from opening the stream $(num "$o") -> $(verdict "$o" '>=' "$TARGET_EPS")"
        fi
        ;;
    latency-1000)
        summary "latency-1000: scenario $(val "$f" scenario) — the fake paced it at $(num "$(val "$f" fake_pacing_events_per_s)") events/s ($(val "$f" fake_stream_s) s)"
        summary "  subscriber          n      p50 ms   p90 ms   p99 ms  p99.9 ms   max ms  reconnects"
        for k in direct relay; do
            summary "$(printf '  %-14s %7s %9s %8s %8s %9s %8s %11s' "$k" "$(val "$f" "${k}_lat_n")" "$(val "$f" "${k}_lat_p50_ms")" \
                "$(val "$f" "${k}_lat_p90_ms")" "$(val "$f" "${k}_lat_p99_ms")" "$(val "$f" "${k}_lat_p999_ms")" \
                "$(val "$f" "${k}_lat_max_ms")" "$(val "$f" "${k}_reconnects")")"
        done
        a=$(val "$f" added_p99_ms)
        summary "  added by HermesLink: p50 $(val "$f" added_p50_ms) ms, p99 $a ms; CPU s d/f/c/o $(cpu "$f" latency); bad subscribers $(val "$f" bad_subs)"
        summary "  target: added p99 <= $TARGET_ADDED_P99_MS ms at ~1,000 events/s: $a ms -> $(verdict "$a" '<=' "$TARGET_ADDED_P99_MS")"
        ;;
    conv-100)
        summary "conv-100: $(val "$f" convs) conversations, one message each (scenario $(val "$f" scenario)); GET /api/v1/bootstrap every $(val "$f" boot_interval_ms) ms, sequential, one keep-alive connection"
        summary "  bootstrap          n     p50 ms   p90 ms   p99 ms   max ms   CPU s d/f/c/o"
        for k in before during; do
            summary "$(printf '  %-12s %7s %9s %8s %8s %8s   %s' "$k" "$(val "$f" "boot_${k}_n")" "$(val "$f" "boot_${k}_p50_ms")" \
                "$(val "$f" "boot_${k}_p90_ms")" "$(val "$f" "boot_${k}_p99_ms")" "$(val "$f" "boot_${k}_max_ms")" "$(cpu "$f" "$k")")"
        done
        summary "  runs completed $(val "$f" runs_completed)/$(val "$f" convs) in $(val "$f" during_s) s; messages posted within $(val "$f" posts_span_ms) ms (POST p50 $(val "$f" message_post_p50_ms) / p99 $(val "$f" message_post_p99_ms) ms); run duration p50 $(val "$f" run_duration_p50_ms) / max $(val "$f" run_duration_max_ms) ms; $(num "$(val "$f" message_updated_events)") message.updated events"
        b=$(val "$f" boot_during_p99_ms)
        summary "  p99 during / before = $(awk -v a="$b" -v b="$(val "$f" boot_before_p99_ms)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'), p50 during / before = $(awk -v a="$(val "$f" boot_during_p50_ms)" -v b="$(val "$f" boot_before_p50_ms)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
        summary "  target: bootstrap p99 < $TARGET_BOOT_P99_MS ms with 100 conversation runs streaming: $b ms -> $(verdict "$b" '<' "$TARGET_BOOT_P99_MS")"
        ;;
    esac
done
summary ""
summary "commands (bench/proxy.sh; \$PORT etc. are the scenario's daemon and fake):"
sed 's/^/  /' "$COMMANDS" >>"$SUMMARY"
[ "$failed" -eq 0 ] || summary "FAILED: see the messages above and $OUT"
cat "$SUMMARY"
echo "proxy.sh: raw output in ${OUT#"$ROOT"/}" >&2
exit "$failed"
